#!/usr/bin/env python3
"""Benchmark the real scripts on a synthetic de-identification corpus and print what they cost.

    python bench/bench_imgcmp.py --pairs 2000 --changed 0.1            # multiT, 2 workers
    python bench/bench_imgcmp.py --pairs 200 --frames 120 --changed 1  # multi-frame memory
    python bench/bench_imgcmp.py --pairs 2000 --changed 0 --cat        # against `cat` of both trees (warm)
    python bench/bench_imgcmp.py --pairs 2000 --changed 0 --cat --cold # both reading from disk (root)
    python bench/bench_imgcmp.py --pairs 2000 --classifier             # the classifier against `cp -r`
    python bench/bench_imgcmp.py --pairs 20000 --size 64 --kill-at 0.5  # SIGKILL half way, then resume
    python bench/bench_imgcmp.py --real-headers --pairs 10000          # real headers, de-identified by dicognito
    python bench/bench_imgcmp.py --real-headers --pairs 10000 --header-check off --profile off  # neither header check
    python bench/bench_imgcmp.py --pairs 200000 --size 16 --changed 0 --set-check off  # the set judgement's cost

Every timed run starts afresh (``--restart``: the saved state of the previous run is thrown away); with
``--kill-at F`` a full run is followed by one killed (SIGKILL, all its processes) after F of its wall time and by
the run that continues it, whose wall time is printed against the full run's.

The corpus: N pairs of 512x512 16-bit CT-like images (a phantom with texture and noise, each image different) in
a PATIENT/STUDY/SERIES tree of extension-less files; a fraction F of the de-identified copies has a burned-in-
text-like block blanked (in the middle frame when --frames K > 1). It is cached under --workdir by its parameters.
Printed: wall time, pairs/s, pages/s, each stage's time (from the run's log), and the peak RSS of the largest
process (the script or one of its workers).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the package, and the samples built from real files


def make_corpus(root: Path, pairs: int, changed: float, frames: int, size: int, text: bool = False,
                clean_headers: bool = False) -> Path:
    """Write (or reuse) the corpus for these parameters; returns its folder. ``text``: the patient's ID and a
    date written into every image (where the changed ones are blanked), for the text check. ``clean_headers``:
    the de-identified headers hold none of the source's identity (the header check's usual case); otherwise
    they keep all of it but the UIDs and the patient's ID (its worst case: every file has findings)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    from sampledata import load_source

    folder = root / (f"corpus2_{pairs}p_{changed:g}c_{frames}f_{size}px{'_text' if text else ''}"
                     f"{'_cleanhdr' if clean_headers else ''}")
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(42)
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    phantom = np.where(xx ** 2 / 0.16 + yy ** 2 / 0.2 < 1, 40, -1000).astype(np.int16)
    phantom[(xx ** 2 + yy ** 2) < 0.01] = 300
    texture = (60 * np.sin(xx * 40) * np.cos(yy * 30)).astype(np.int16)
    noise = [rng.normal(0, 12, (size, size)).astype(np.int16) for _ in range(16)]

    template = load_source("CT_small.dcm", "bench")
    template.file_meta = FileMetaDataset(template.file_meta)
    template.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    template.Rows = template.Columns = size
    template.BitsAllocated, template.BitsStored, template.HighBit, template.PixelRepresentation = 16, 16, 15, 1
    template.WindowCenter, template.WindowWidth = 40, 400
    template.RescaleSlope, template.RescaleIntercept = 1, 0  # the values are HU: the window shows the phantom
    if frames > 1:
        template.NumberOfFrames = frames
    deid_template = _without_identity(template) if clean_headers else template
    n_changed = round(pairs * changed)
    changed_ids = set(np.linspace(0, pairs - 1, n_changed).astype(int)) if n_changed else set()
    lines = ["id_old,id_new"]
    for i in range(pairs):
        patient, study, series = i // 100, (i // 50) % 2, (i // 25) % 2
        rel = Path(f"PAT{patient:04d}", f"STUDY{study}", f"SERIES{series}", f"IM{i:06d}")
        stack = np.stack([phantom + texture + np.roll(noise[(i + k) % 16], i + k, axis=1)
                          for k in range(frames)])
        if text:
            stack[:, _written(f"P{patient:04d}  20190304", size)] = 1200
        # a study of one series per 50 images
        uids = {k: generate_uid(entropy_srcs=["bench", str(i if k == "sop" else i // 50), k])
                for k in ("study", "series", "sop")}
        deid_uids = {k: generate_uid(entropy_srcs=["bench-deid", str(i if k == "sop" else i // 50), k]) for k in uids}
        lines += [f"{uids[k]},{deid_uids[k]}" for k in ("sop",)]
        if i % 50 == 0:
            lines += [f"{uids[k]},{deid_uids[k]}" for k in ("study", "series")]
        _write(template, folder / "source" / rel, stack, uids, f"P{patient:04d}", i)
        if i in changed_ids:
            stack[frames // 2, 20:60, 20:240] = -1000  # a burned-in name blanked
        _write(deid_template, folder / "deid" / rel, stack, deid_uids, f"ANON{patient:04d}", i)
    (folder / "map.csv").write_text("\n".join(lines) + "\n")
    os.sync()  # written pages must not be flushed to disk while the run is timed
    (folder / "done").write_text(json.dumps(dict(pairs=pairs, changed=n_changed, frames=frames, size=size)))
    return folder


def _written(text: str, size: int) -> np.ndarray:
    """Where ``text`` (Pillow's default font, 14 px) covers a size x size image, at rows 30-44, from column 30."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (size, size))
    ImageDraw.Draw(image).text((30, 30), text, fill=255, font=ImageFont.load_default(size=14))
    return np.asarray(image) > 127


def _write(template, path: Path, stack: np.ndarray, uids: dict, patient: str, i: int) -> None:
    template.StudyInstanceUID, template.SeriesInstanceUID = uids["study"], uids["series"]
    template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = uids["sop"]
    template.PatientID, template.InstanceNumber = patient, i
    template.PixelData = stack.astype("<i2").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    template.save_as(path, enforce_file_format=True)


def _without_identity(template):
    """A copy of the template as a de-identification leaves it: the Confidentiality Profile's attributes, the
    person names, dates, private elements and instance UIDs removed (the study's, series' and image's are set
    per file)."""
    import copy

    from dicomimgcmp.checks.profile import ATTRIBUTES

    clean = copy.deepcopy(template)
    clean.remove_private_tags()

    def callback(dataset, elem):
        kept = ("SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
        if (elem.VR in ("DA", "DT", "PN") or (elem.VR == "UI" and elem.keyword not in kept)
                or (int(elem.tag) in ATTRIBUTES and elem.VR not in ("SQ", "UI"))):
            del dataset[elem.tag]
    clean.walk(callback)
    return clean


def drop_caches() -> None:
    """Empty the page cache (root only), so that the next run reads from disk."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as exc:
        sys.exit(f"--cold needs root to drop the page cache: {exc}")


def time_cat(folder: Path, cold: bool) -> float:
    """Seconds for `cat` to read both trees, from disk (cold) or from the page cache (warm, read once first)."""
    cmd = f"find '{folder}/source' '{folder}/deid' -type f -print0 | xargs -0 cat > /dev/null"
    if cold:
        drop_caches()
    else:
        subprocess.run(cmd, shell=True, check=True)
    start = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True)
    return time.perf_counter() - start


def run_script(folder: Path, multi: bool, cpus: int, *, restart: bool = True, kill_after: float | None = None,
               pages: str = "all", text_check: str = "off", recipe: str = "", header_check: str = "on",
               profile: str = "auto", set_check: str = "on") -> dict:
    """Run a script on the corpus; wall time, stage times and the largest process's peak RSS. ``kill_after``
    seconds: SIGKILL the script and its workers then (nothing is returned)."""
    cfg = folder / "config.json"
    cfg.write_text(json.dumps({"run_name": "bench", "input_data_path": "deid", "pre_deID_data_path": "source",
                               "uid_mapping_file": "map.csv", "output_data_path": "out",
                               "log_path": "out/logs", "multiprocessing_cpus": str(cpus), "pages": pages,
                               "text_check": text_check, "text_modalities": "*", "recipe": recipe,
                               "header_check": header_check, "profile": profile, "set_check": set_check}))
    log = folder / "out" / "logs" / "imgCmpLog.log"
    log.unlink(missing_ok=True)
    script = REPO / ("run_DICOMImgCmp_multiT.py" if multi else "run_DICOMImgCmp.py")
    cmd = [sys.executable, str(script), str(cfg), *(["--restart"] if restart else [])]
    start = time.perf_counter()
    if kill_after is not None:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=kill_after)
            sys.exit("the run ended before it was to be killed: use a larger corpus")
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return {}
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"script failed ({proc.returncode}): {proc.stderr}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # largest descendant waited for
    timing = re.findall(r"timing: (.*)", log.read_text())[-1]
    stages = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)s", timing)}
    reused = re.search(r"Reused from an earlier run of this run_name: (.*) \(", proc.stdout)
    identity = re.search(r"IDENTITY FOUND IN PIXELS: (\d+)", proc.stdout)
    return dict(wall=wall, stages=stages, peak_mb=peak_kib / 1024, reused=reused[1] if reused else "nothing",
                identity=int(identity[1]) if identity else 0)


def pdf_navigation(run_dir: Path) -> dict[str, int]:
    """Pages, outline items and links of the run's PDFs (read with pikepdf), and the review thumbnails."""
    import pikepdf

    found = {"pdfs": 0, "pages": 0, "outline items": 0, "summary links": 0}
    for path in sorted(run_dir.glob("comparison_results*.pdf")):
        with pikepdf.open(path) as pdf:
            found["pdfs"] += 1
            found["pages"] += len(pdf.pages)
            found["summary links"] += sum(len(page.obj.get("/Annots", [])) for page in pdf.pages)
            with pdf.open_outline() as outline:
                stack = list(outline.root)
                while stack:
                    item = stack.pop()
                    found["outline items"] += 1
                    stack.extend(item.children)
    found["review thumbnails"] = len(list((run_dir / "review").glob("*.png")))
    return found


def bench_classifier(folder: Path, cpus: int) -> None:
    """Sort the corpus's source tree with the classifier (copy mode) and copy it with `cp -r`, one after the
    other in one sitting; print files/s of both."""
    src = folder / "source"
    n = sum(1 for p in src.rglob("*") if p.is_file())
    timings = {}
    for label, cmd in (("cp -r", ["cp", "-r", str(src), str(folder / "cp_dest")]),
                       ("classifier", [sys.executable, str(REPO / "dicom_file_classifier.py"), str(src),
                                       str(folder / "cls_dest"), "--processes", str(cpus)])):
        for target in ("cp_dest", "cls_dest"):
            shutil.rmtree(folder / target, ignore_errors=True)
        os.sync()
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        timings[label] = time.perf_counter() - start
        print(f"{label}: {timings[label]:.2f} s   {n / timings[label]:.0f} files/s")
    for target in ("cp_dest", "cls_dest"):
        shutil.rmtree(folder / target, ignore_errors=True)
    print(f"classifier speed / cp -r speed: {timings['cp -r'] / timings['classifier']:.2f} "
          f"(copy mode, {cpus} processes, {n} files)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--changed", type=float, default=0.1, help="fraction of pairs with a blanked block")
    parser.add_argument("--frames", type=int, default=1)
    parser.add_argument("--size", type=int, default=512, help="rows = columns")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--single", action="store_true", help="run run_DICOMImgCmp.py instead of multiT")
    parser.add_argument("--cat", action="store_true", help="also time `cat` reading both trees")
    parser.add_argument("--repeat", type=int, default=1, help="runs of the script (each is printed)")
    parser.add_argument("--cold", action="store_true",
                        help="drop the page cache (root) before each timed run, so files are read from disk")
    parser.add_argument("--classifier", action="store_true",
                        help="benchmark dicom_file_classifier.py against cp -r on the source tree instead")
    parser.add_argument("--kill-at", type=float, metavar="F",
                        help="after a full run, SIGKILL a run at F of its wall time and time the run continuing it")
    parser.add_argument("--pages", choices=("all", "per_group"), default="all",
                        help="the config key pages (a series is 50 images; its changed images share one change)")
    parser.add_argument("--text-check", choices=("off", "changed", "all"), default="off",
                        help="the config key text_check (every modality read); the corpus then has text written "
                             "in every image")
    parser.add_argument("--header-check", choices=("on", "off"), default="on", help="the config key header_check")
    parser.add_argument("--profile", default="auto", help="the config key profile (auto, off, or options)")
    parser.add_argument("--set-check", choices=("on", "off"), default="on", help="the config key set_check")
    parser.add_argument("--clean-headers", action="store_true",
                        help="de-identified headers without the source's identity (else they keep all but UIDs)")
    parser.add_argument("--recipe", default="",
                        help="the config key recipe (deid:default names none of the corpus's GE CT images; a table "
                             "of boxes, e.g. bench/boxes_any.csv, names them all)")
    parser.add_argument("--real-headers", action="store_true",
                        help="the corpus of real headers de-identified by dicognito (bench/real_headers.py): 64x64 "
                             "images, --pairs pairs")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dicomimgcmp-bench"))
    args = parser.parse_args()

    start = time.perf_counter()
    if args.real_headers:
        from real_headers import make_real_header_corpus

        folder = make_real_header_corpus(args.workdir, args.pairs)
        info = {"changed": 0, **json.loads((folder / "done").read_text())}
        print(f"corpus: {folder} ({info['pairs']} pairs, headers of {info['templates']} real images, "
              f"{info['patients']} patients, de-identified by dicognito; ready in {time.perf_counter() - start:.1f} s)")
    else:
        folder = make_corpus(args.workdir, args.pairs, args.changed, args.frames, args.size,
                             args.text_check != "off", args.clean_headers)
        info = json.loads((folder / "done").read_text())
        print(f"corpus: {folder} ({info['pairs']} pairs, {info['changed']} changed, {args.frames} frame(s) of "
              f"{args.size}x{args.size}; ready in {time.perf_counter() - start:.1f} s)")
    if args.classifier:
        bench_classifier(folder, args.cpus)
        return
    print(f"script: {'run_DICOMImgCmp.py' if args.single else f'run_DICOMImgCmp_multiT.py, {args.cpus} cpus'}")
    walls = []
    for _ in range(args.repeat):
        if args.cold:
            drop_caches()
        result = run_script(folder, not args.single, args.cpus, pages=args.pages, text_check=args.text_check,
                            recipe=str(Path(args.recipe).resolve()) if args.recipe and not args.recipe.startswith(
                                "deid:") else args.recipe, header_check=args.header_check,
                            profile=args.profile, set_check=args.set_check)
        wall = result["wall"]
        walls.append(wall)
        pages = pdf_navigation(folder / "out" / "bench")
        print(f"wall: {wall:.2f} s   pairs/s: {info['pairs'] / wall:.1f}   pages/s: {pages['pages'] / wall:.1f}   "
              "stages: " + "  ".join(f"{k} {v:.2f} s" for k, v in result["stages"].items()))
        print("PDF(s): " + ", ".join(f"{k} {v}" for k, v in pages.items()))
        if args.text_check != "off":
            read = info["pairs"] if args.text_check == "all" else info["changed"]
            print(f"text check: {read} images read in the compare stage's {result['stages']['compare']:.2f} s: "
                  f"{read / result['stages']['compare']:.1f} images/s; identity found in {result['identity']}")
    print(f"peak RSS of the largest process (all runs): {result['peak_mb']:.0f} MB")
    if args.kill_at:
        run_script(folder, not args.single, args.cpus, kill_after=args.kill_at * min(walls))
        resumed = run_script(folder, not args.single, args.cpus, restart=False)
        print(f"killed at {args.kill_at:.0%} of {min(walls):.2f} s, continued in {resumed['wall']:.2f} s: "
              f"{resumed['wall'] / min(walls):.2f}x of a full run (reused {resumed['reused']})")
    if args.cat:
        cat = time_cat(folder, args.cold)
        print(f"cat of both trees ({'cold' if args.cold else 'warm'}): {cat:.2f} s   "
              f"best script run / cat: {min(walls) / cat:.1f}x")


if __name__ == "__main__":
    main()
