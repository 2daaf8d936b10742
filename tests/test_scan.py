"""The fast header scan against pydicom, the reference: every real file and every damaged copy gives the same
record both ways, and the scan answers for the standard files (it is not a test that passes by declining)."""

from __future__ import annotations

import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from helpers import damage
from sampledata import TEST_FILES

from dicomimgcmp.base.workers import local_workers
from dicomimgcmp.read.fastscan import scan_record
from dicomimgcmp.read.record import read_record
from dicomimgcmp.read.walk import iter_file_paths
from dicomimgcmp.run.pipeline import index_trees
from dicomimgcmp.run.store import RunState
from dicomimgcmp.run.store.base import DEID

pytest.importorskip("dicomsdl", reason="pip install -r requirements.txt")


def _pydicom_data() -> Path | None:
    try:
        import data_store  # pydicom-data's package
    except ImportError:
        return None
    return Path(data_store.__file__).parent / "data"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """pydicom's and pydicom-data's test files, and copies of a few with the robustness tests' damages."""
    root = tmp_path_factory.mktemp("scan")
    shutil.copytree(TEST_FILES, root / "pydicom")
    if _pydicom_data() is not None:
        shutil.copytree(_pydicom_data(), root / "pydicom-data")
    for name in ("CT_small.dcm", "MR_small.dcm", "SC_rgb_rle.dcm", "JPEG2000.dcm", "rtdose.dcm", "MR_small_RLE.dcm"):
        for how in ("zero", "truncated-header", "truncated-pixels", "bitflip", "header-bitflip"):
            (root / "damaged").mkdir(exist_ok=True)
            shutil.copy(TEST_FILES / name, root / "damaged" / f"{how}-{name}")
            damage(root / "damaged" / f"{how}-{name}", how)
    return root


#: Attributes a recipe may read (config key recipe): text, several values, decimal strings, numbers, tags, a
#: sequence, a path into one, a file meta attribute; both readers must give each the same text.
RECIPE_ATTRIBUTES = ("Manufacturer", "ManufacturerModelName", "ImageType", "Modality", "BurnedInAnnotation", "Rows",
                     "Columns", "WindowWidth", "PixelSpacing", "[0018,0050]", "0x00080060", "SeriesDescription",
                     "ImplementationVersionName", "SequenceOfUltrasoundRegions",
                     "ReferencedImageSequence::ReferencedSOPClassUID")


def _both_ways(root: str) -> list[tuple[str, object, object]]:
    """(path, scan record or None, pydicom record) of every file, with the recipe attributes; run in a worker
    process (a crash must not end the test run)."""
    out = []
    for path in map(Path, iter_file_paths(Path(root))):
        ref = read_record(path, Path(root), attributes=RECIPE_ATTRIBUTES)
        out.append((str(path), scan_record(str(path), ref.rel_path, RECIPE_ATTRIBUTES), ref))
    return out


def test_every_file_gives_the_same_record_both_ways(corpus):
    with ProcessPoolExecutor(1) as pool:
        results = pool.submit(_both_ways, str(corpus)).result()
    answered = [(path, fast, ref) for path, fast, ref in results if fast is not None]
    for path, fast, ref in answered:
        assert fast == ref, path
    assert sum(bool(ref.attributes[0]) for _, _, ref in answered) > 50  # Manufacturer read from most
    # the standard files are read by the scan: most of pydicom's images, every undamaged CT_small-like file
    pydicom_images = [p for p, _, ref in results if "/pydicom/" in p and ref.has_pixel_data and not ref.error]
    assert len([p for p, _, _ in answered if "/pydicom/" in p]) >= 0.6 * len(pydicom_images)
    assert any("pydicom-data" in p for p, _, _ in answered) or _pydicom_data() is None
    assert not any("/damaged/zero-" in p or "/damaged/truncated-header-" in p for p, _, _ in answered)
    cut = {Path(p).name for p, _, _ in answered if "/damaged/truncated-pixels-" in p}
    assert cut <= {"truncated-pixels-JPEG2000.dcm", "truncated-pixels-MR_small_RLE.dcm"}  # only where the header
    # cannot tell (encapsulated data has no length): the decoder finds it, as with pydicom's record


def test_the_pipeline_reads_headers_the_same_in_workers_and_in_process(corpus, tmp_path):
    """Workers use the scan (their crash is survivable: MR_truncated.dcm is among the files); the single
    process uses pydicom only. The records must not depend on which."""
    results = []
    for count, folder in ((2, "fast"), (1, "pydicom")):
        with local_workers(count) as workers, RunState(tmp_path / folder, {}) as state:
            index_trees([corpus], workers, state)
            results.append([rec for page in state.pairing_batches(DEID) for rec in page.records()])
    assert results[0] == results[1]
    assert len(results[0]) > 250


def test_a_scan_that_crashes_its_worker_is_read_again_by_pydicom(tree):
    from conftest import faulty_env
    from helpers import run_with

    for i in range(5):
        tree.add(f"ok{i}.dcm", "CT_small.dcm")
    tree.add("CRASHME.dcm", "MR_small.dcm")
    proc = run_with(tree.config(), faulty_env("scan-kill:CRASHME"))
    assert proc.returncode == 0, proc.stderr
    import pandas as pd

    csv = pd.read_csv(tree.root / "out" / "run" / "comparison_summary.csv", keep_default_na=False)
    assert set(csv.status) == {"identical"} and len(csv) == 6  # not unreadable: the retry read it with pydicom


def _frames_both_ways(root: str) -> list[tuple[str, str]]:
    """(path, what differs) for every native image whose frames read in place differ from pydicom's
    ``iter_pixels(path)``; and the number of images compared, as ("", count)."""
    import numpy as np
    from pydicom.pixels import iter_pixels

    from dicomimgcmp.errors import DecodeError
    from dicomimgcmp.pixels.decode import decoding_plugin, iter_frames, quiet_pydicom

    differ, compared = [], 0
    for path in map(Path, iter_file_paths(Path(root))):
        rec = read_record(path, Path(root))
        if rec.error or rec.pixel_offset is None or rec.format.encoding_mismatch:
            continue
        try:
            if decoding_plugin(rec.format.transfer_syntax_uid) != "":
                continue
        except DecodeError:
            continue
        try:
            with quiet_pydicom():
                ref = list(iter_pixels(str(path)))
        except Exception as exc:  # noqa: BLE001 - any failure of the reference must be a failure of ours
            ref = type(exc).__name__
        try:
            ours = list(iter_frames(rec))
        except DecodeError as exc:
            ours = str(exc)
        compared += 1
        if isinstance(ref, str) or isinstance(ours, str):
            if not (isinstance(ref, str) and isinstance(ours, str)):
                differ.append((str(path), f"pydicom {ref if isinstance(ref, str) else 'decoded'}, "
                                          f"ours {ours if isinstance(ours, str) else 'decoded'}"))
        elif len(ref) != len(ours) or any(a.dtype != b.dtype or not np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
                                          for a, b in zip(ref, ours)):
            differ.append((str(path), "frames differ"))
    return differ + [("", compared)]


def test_native_frames_read_in_place_are_pydicoms_frames(corpus):
    """Native pixel data is decoded from where the index found it, without parsing the data set again; the
    frames (and the failures) must be what pydicom's iter_pixels gives from the file."""
    with ProcessPoolExecutor(1) as pool:
        *differ, (_, compared) = pool.submit(_frames_both_ways, str(corpus)).result()
    # Where iter_pixels(path) refuses a file that dcmread(force=True), and so the index, reads: NumberOfFrames
    # "1A" (read as 1, as pydicom's lenient IS does) and a file with no meta header (implicit VR little endian).
    readable = {"badVR.dcm": "pydicom ValueError, ours decoded",
                "OT-PAL-8-face.dcm": "pydicom AttributeError, ours decoded"}
    assert {Path(path).name: what for path, what in differ} == {
        name: what for name, what in readable.items() if name != "OT-PAL-8-face.dcm" or _pydicom_data()}
    assert compared >= 60


def _with_tail(path: Path, tail: str) -> None:
    """Rewrite a copy of CT_small (Data Set Trailing Padding after its pixel data) with another tail."""
    import pydicom

    ds = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    pixel_header = b"\xe0\x7f\x10\x00OW\x00\x00" + len(ds.PixelData).to_bytes(4, "little")
    if tail in ("last", "fake in a header value"):
        del ds[0xFFFCFFFC]
    if tail == "signature after":
        ds.add_new(0xFFFAFFFA, "SQ", [])
    if tail == "fake in a header value":
        ds.add_new(0x00091010, "LO", "ACME")
        ds.add_new(0x00091011, "OB", pixel_header + b"\x00" * 4)  # an element header quoted in a private value
    if tail == "long header":  # the pixel data's tag in a private blob read first, an overlay after the blob
        ds.add_new(0x00290010, "LO", "ACME")
        ds.add_new(0x00291010, "OB", b"\xe0\x7f\x10\x00" + bytes(range(256)) * 80)
        for elem, vr, value in ((0x0010, "US", ds.Rows), (0x0011, "US", ds.Columns), (0x0040, "CS", "G"),
                                (0x0050, "SS", [1, 1]), (0x0100, "US", 1), (0x0102, "US", 0),
                                (0x3000, "OB", b"\x0f" * (ds.Rows * ds.Columns // 8))):
            ds.add_new(0x60000000 | elem, vr, value)
    ds.save_as(path, enforce_file_format=True)


@pytest.mark.parametrize("tail", ["padding", "last", "signature after", "fake in a header value", "long header"])
def test_the_pixel_data_element_is_found_whatever_follows_it(tmp_path, tail):
    """The scan first looks where the pixel data would end the file (alone or before Data Set Trailing
    Padding), then searches; a copy of its element header in a header value must not be taken for it."""
    path = tmp_path / "x.dcm"
    _with_tail(path, tail)
    ref = read_record(path, tmp_path)
    with ProcessPoolExecutor(1) as pool:
        fast = pool.submit(scan_record, str(path), ref.rel_path).result()
    assert ref.pixel_offset and not ref.error
    assert ("overlay 6000" in ref.layers) == (tail == "long header")
    if tail == "fake in a header value":
        assert fast is None or fast == ref  # two element headers: pydicom decides
    else:
        assert fast == ref
