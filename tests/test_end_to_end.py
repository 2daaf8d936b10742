"""The user's story: run the scripts on trees built from real DICOM files and read what they wrote."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pydicom
import pytest
from conftest import REPO, bump, pdf_pages, run_script, summary_pages, tree_digest
from sampledata import TEST_FILES

from dicomimgcmp.model import CSV_COLUMNS

SAMPLE = REPO / "examples" / "sample"


@pytest.fixture(scope="module")
def sample_copy(tmp_path_factory):
    """The shipped sample and example config, copied so the runs write outside the repo."""
    root = tmp_path_factory.mktemp("sample")
    shutil.copytree(SAMPLE, root / "examples" / "sample")
    shutil.copy(REPO / "config_example_linux.json", root / "config.json")
    return root


@pytest.fixture(scope="module")
def sample_runs(sample_copy):
    before = tree_digest(sample_copy / "examples")
    single = run_script(sample_copy / "config.json")
    csv_single = single.csv
    single.pages = pdf_pages(single.run_dir / "comparison_results.pdf")  # the multiT run then removes it
    multi = run_script(sample_copy / "config.json", multi=True)
    assert tree_digest(sample_copy / "examples") == before, "inputs were modified"
    return single, csv_single, multi


def test_sample_statuses_match_what_was_built(sample_runs):
    single, csv, _ = sample_runs
    expected = pd.read_csv(SAMPLE / "expected_status.csv")
    got = {(f"(source) {r.source_file}" if r.status == "source_only" else r.deid_file): r.status
           for r in csv.itertuples()}
    assert got == dict(zip(expected.file, expected.status))
    assert tuple(csv.columns) == CSV_COLUMNS


def test_sample_known_changes_have_exact_boxes_and_frames(sample_runs):
    _, csv, _ = sample_runs
    rows = csv.set_index("deid_file")
    blank = rows.loc["PAT003/CT/CT0001.dcm"]
    assert (blank.bbox_row0, blank.bbox_row1, blank.bbox_col0, blank.bbox_col1) == ("200", "224", "130", "330")
    assert blank.changed_pixels == str(24 * 200)
    crop = rows.loc["PAT003/MR/MR0001.dcm"]
    assert (crop.bbox_row0, crop.bbox_row1, crop.bbox_col0, crop.bbox_col1) == ("0", "30", "0", "484")
    assert "kept source rows 30:300" in crop.reason
    dose = rows.loc["PAT004/RT/RTDOSE1.dcm"]
    assert (dose.changed_pixels, dose.changed_frames, dose.max_abs_diff) == ("1", "7", "1")
    assert (dose.bbox_row0, dose.bbox_row1, dose.bbox_col0, dose.bbox_col1) == ("4", "5", "6", "7")
    colour = rows.loc["PAT004/SC/SC0001.dcm"]
    assert (colour.bbox_row0, colour.bbox_row1, colour.bbox_col0, colour.bbox_col1) == ("10", "20", "60", "90")


def test_single_pdf_has_summary_then_one_page_per_change(sample_runs):
    single, csv, _ = sample_runs
    changed = csv[csv.status == "changed"]
    summary = summary_pages(csv, "comparison_results.pdf")
    assert summary >= 1 and single.pages == summary + len(changed)
    assert sorted(changed.pdf_page.astype(int)) == list(range(summary + 1, summary + 1 + len(changed)))
    assert set(changed.pdf_file) == {"comparison_results.pdf"}
    assert (csv[csv.status != "changed"].pdf_page == "").all()


def test_multit_gives_same_csv_and_balanced_pdfs(sample_runs):
    _, csv_single, multi = sample_runs
    csv_multi = multi.csv
    other = [c for c in CSV_COLUMNS if not c.startswith("pdf_")]
    pd.testing.assert_frame_equal(csv_single[other], csv_multi[other])
    changed = csv_multi[csv_multi.status == "changed"]
    pdfs = sorted(p.name for p in multi.run_dir.glob("*.pdf"))  # the single run's PDF is gone: CSV matches
    assert pdfs == ["comparison_results_0.pdf", "comparison_results_1.pdf"]
    per_pdf = changed.groupby("pdf_file").size().to_dict()
    assert per_pdf == {"comparison_results_0.pdf": 2, "comparison_results_1.pdf": 2}
    for name, n in per_pdf.items():
        assert pdf_pages(multi.run_dir / name) == summary_pages(csv_multi, name) + n
    # pages follow the same order as the single PDF, split into contiguous blocks
    single_order = csv_single[csv_single.status == "changed"].sort_values("pdf_page", key=lambda s: s.astype(int))
    multi_order = changed.sort_values(["pdf_file", "pdf_page"], key=lambda s: s.str.zfill(9))
    assert list(single_order.deid_file) == list(multi_order.deid_file)


def test_multit_writes_one_pdf_per_cpu_even_with_fewer_changes(tree):
    tree.add("a.dcm", "CT_small.dcm", bump((5, 5)))
    tree.add("b.dcm", "MR_small.dcm")
    run = run_script(tree.config(multiprocessing_cpus="3"), multi=True)
    pages = [pdf_pages(run.run_dir / f"comparison_results_{k}.pdf") for k in range(3)]
    assert pages == [2, 1, 1]


def test_outputs_are_deterministic(tree):
    for i, name in enumerate(["CT_small.dcm", "MR_small.dcm", "SC_rgb_rle.dcm"]):
        tree.add(f"f{i}.dcm", name, bump((1, 2)))
    cfg = tree.config()
    first = run_script(cfg, multi=True)
    pdf_a = (first.run_dir / "comparison_results_0.pdf").read_bytes()
    csv_a = (first.run_dir / "comparison_summary.csv").read_bytes()
    second = run_script(cfg, multi=True)
    assert (second.run_dir / "comparison_results_0.pdf").read_bytes() == pdf_a
    assert (second.run_dir / "comparison_summary.csv").read_bytes() == csv_a


def test_duplicate_and_unreadable_and_no_pixel_data(tree):
    _, deid = tree.add("ok.dcm", "MR_small.dcm")
    shutil.copy(tree.deid / "ok.dcm", tree.deid / "copy_of_ok")
    tree.add("trunc.dcm", "MR_truncated.dcm")
    tree.add("badjpeg.dcm", "JPGExtended.dcm", _with_pixel_data_of("JPEG-lossy.dcm"))  # a scan libjpeg refuses
    tree.add("sr.dcm", "test-SR.dcm")
    (tree.deid / "empty.dcm").write_bytes(b"")
    run = run_script(tree.config())
    # several de-identified copies of one UID: each is compared, and each names the other
    assert run.row("ok.dcm").status == run.row("copy_of_ok").status == "identical"
    assert "copy_of_ok" in run.row("ok.dcm").reason and "ok.dcm" in run.row("copy_of_ok").reason
    trunc = run.row("trunc.dcm")
    assert trunc.status == "unreadable" and "decode" in trunc.reason
    assert run.row("badjpeg.dcm").status == "unreadable" and "misplaced marker" in run.row("badjpeg.dcm").reason
    assert run.row("sr.dcm").status == "no_pixel_data"
    assert run.row("empty.dcm").status == "unreadable"
    assert "unreadable" in run.proc.stdout
    # a line in the log for each file a reviewer must look at, none for an identical one
    log = (tree.root / "logs" / "imgCmpLog.log").read_text()
    assert f"WARNING unreadable: empty.dcm - {run.row('empty.dcm').reason}\n" in log
    assert "WARNING no_pixel_data: sr.dcm - no pixel data" in log and ": ok.dcm" not in log
    # the review page's table: the series as a reviewer reads it, none for a file whose header is unreadable
    html = (run.run_dir / "review.html").read_text()
    rows = json.loads(html.split('<script type="application/json" id="row-data">')[1].split("</script>")[0])[:-1]
    series = {row[1]: row[2] for row in rows}
    mr = pydicom.dcmread(TEST_FILES / "MR_small.dcm", stop_before_pixels=True)
    assert series["ok.dcm"] == f"{mr.SeriesNumber} {mr.get('SeriesDescription', '')}".strip()
    assert series["empty.dcm"] == "" and len(rows) == len(run.csv)


def test_no_match_warns_and_still_writes_pdf(tree):
    tree.add("a.dcm", "CT_small.dcm", mapped=False)
    run = run_script(tree.config())
    assert "WARNING: no de-identified file was paired" in run.proc.stdout
    assert pdf_pages(run.run_dir / "comparison_results.pdf") == 1
    assert list(run.csv.status) == ["unmapped", "source_only"]


def test_legacy_thread_count_and_string_values(tree):
    tree.add("a.dcm", "CT_small.dcm", bump((3, 4)))
    cfg = tree.config(pixel_tolerance="1")
    data = json.loads(cfg.read_text())
    data["thread_count"] = data.pop("multiprocessing_cpus")
    cfg.write_text(json.dumps(data))
    run = run_script(cfg, multi=True)
    assert run.row("a.dcm").status == "identical"  # |diff| = 1 is within pixel_tolerance 1
    assert len(list(run.run_dir.glob("comparison_results_*.pdf"))) == 2


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.pop("input_data_path"), "'input_data_path' is missing"),
    (lambda c: c.update(run_name=" "), "'run_name' is blank"),
    (lambda c: c.update(pre_deID_data_path="nowhere"), "pre_deID_data_path': folder does not exist"),
    (lambda c: c.update(uid_mapping_file="config.json"), "lacks column(s) id_new, id_old"),
    (lambda c: c.update(multiprocessing_cpus="five"), "'multiprocessing_cpus' must be a number"),
    (lambda c: c.update(pixel_tolerance="-1"), "'pixel_tolerance' must be at least 0"),
    (lambda c: c.update(run_name="../escape"), "'run_name' must be a plain folder name"),
    (lambda c: c.update(run_name=None), "'run_name' is blank"),
    (lambda c: c.update(run_name=["a"]), "'run_name' must be a plain folder name"),
    (lambda c: c.update(pixel_tolerance="nan"), "'pixel_tolerance' must be a number (finite), got \"nan\""),
    (lambda c: c.update(pixel_tolerance="inf"), "'pixel_tolerance' must be a number (finite)"),
    (lambda c: c.update(pixel_tolerance=float("nan")), "'pixel_tolerance' must be a number (finite), got NaN"),
    (lambda c: c.update(multiprocessing_cpus=2.5), "'multiprocessing_cpus' must be a number with no fraction"),
    (lambda c: c.update(run_name="deid", output_data_path="."), "puts outputs in"),
])
def test_bad_config_exits_2_with_one_clear_line(tree, edit, message):
    tree.add("a.dcm", "CT_small.dcm")
    cfg_path = tree.config()
    cfg = json.loads(cfg_path.read_text())
    edit(cfg)
    cfg_path.write_text(json.dumps(cfg))
    for multi in (False, True):
        run = run_script(cfg_path, multi=multi, check=False)
        assert run.proc.returncode == 2
        assert message in run.proc.stderr
        assert "Traceback" not in run.proc.stderr and len(run.proc.stderr.strip().splitlines()) == 1
    assert not (tree.root / "out").exists() or not any((tree.root / "out").iterdir())


def test_integral_float_worker_count_is_accepted(tree):
    tree.add("a.dcm", "CT_small.dcm")
    run = run_script(tree.config(multiprocessing_cpus=2.0), multi=True)
    assert sorted(p.name for p in run.run_dir.glob("*.pdf")) == ["comparison_results_0.pdf", "comparison_results_1.pdf"]


def test_outputs_named_into_the_input_tree_are_refused_and_nothing_is_written(tree):
    tree.add("a.dcm", "CT_small.dcm")
    before = tree_digest(tree.deid)
    run = run_script(tree.config(run_name="deid", output_data_path="."), check=False)
    assert run.proc.returncode == 2
    assert "lies inside input_data_path" in run.proc.stderr
    assert tree_digest(tree.deid) == before


def _mapping_run(tree, text: bytes, **kwargs):
    tree.add("a.dcm", "CT_small.dcm", bump((5, 5)))
    cfg = tree.config()
    (tree.root / "map.csv").write_bytes(text(tree.mapping) if callable(text) else text)
    return run_script(cfg, **kwargs)


def _rows(mapping: dict[str, str], end: str = "") -> list[str]:
    return [f"{old},{new}{end}" for old, new in sorted(mapping.items())]


def test_mapping_with_a_malformed_line_exits_2_naming_the_line_before_any_work(tree):
    def text(mapping):
        rows = _rows(mapping)
        rows[1] += ",oops"
        return ("id_old,id_new\n" + "\n".join(rows) + "\n").encode()

    run = _mapping_run(tree, text, check=False)
    assert run.proc.returncode == 2 and "Traceback" not in run.proc.stderr
    assert "line 3 has 3 fields, the header 2 (id_old, id_new)" in run.proc.stderr
    log = (tree.root / "logs" / "imgCmpLog.log").read_text()
    assert "indexed" not in log  # refused before the trees were read


def test_mapping_with_a_trailing_comma_on_every_row_is_read(tree):
    run = _mapping_run(tree, lambda m: ("id_old,id_new\r\n" + "\r\n".join(_rows(m, ",")) + "\r\n").encode())
    assert run.row("a.dcm").status == "changed"
    assert "empty field after the last column was ignored on 3 line(s)" in run.proc.stdout
    assert "columns found: id_old, id_new" in run.proc.stdout


def test_mapping_in_utf16_is_accepted_and_said_so(tree):
    run = _mapping_run(tree, lambda m: ("id_old,id_new\r\n" + "\r\n".join(_rows(m))).encode("utf-16"))
    assert run.row("a.dcm").status == "changed"
    assert "read as UTF-16" in run.proc.stdout


def test_mapping_without_the_columns_names_what_it_found(tree):
    run = _mapping_run(tree, lambda m: ("old;new\n" + "\n".join(_rows(m))).encode(), check=False)
    assert run.proc.returncode == 2
    assert "lacks column(s) id_new, id_old; it needs id_old and id_new; found: 'old;new'" in run.proc.stderr


def test_unchanged_uids_are_paired_with_the_same_uid(tree):
    tree.add("kept.dcm", "CT_small.dcm", bump((1, 1)), mapped=False)
    src, deid = tree.add("kept_same.dcm", "MR_small.dcm", mapped=False)
    tree.add("lost.dcm", "MR_small.dcm", mapped=False, write_source=False)
    for name in ("kept.dcm", "kept_same.dcm"):  # the de-identification kept the source's UIDs
        path = tree.deid / name
        ds = pydicom.dcmread(path)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.dcmread(tree.source / name).SOPInstanceUID
        ds.save_as(path)
    run = run_script(tree.config())
    assert run.row("kept.dcm").status == "changed"
    assert run.row("kept_same.dcm").status == "identical"
    assert run.row("kept.dcm").reason.startswith("paired by unchanged SOPInstanceUID")
    assert run.row("lost.dcm").status == "unmapped"
    assert "source_only" not in set(run.csv.status)


def test_a_byte_identical_extra_copy_does_not_hide_a_change(tree):
    tree.add("changed.dcm", "CT_small.dcm", bump((9, 9)))
    shutil.copy(tree.deid / "changed.dcm", tree.deid / "changed_copy.dcm")
    run = run_script(tree.config())
    for name, other in (("changed.dcm", "changed_copy.dcm"), ("changed_copy.dcm", "changed.dcm")):
        assert run.row(name).status == "changed" and other in run.row(name).reason
    assert pdf_pages(run.run_dir / "comparison_results.pdf") == summary_pages(run.csv, "comparison_results.pdf") + 2


def test_help_explains_every_key():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, str(REPO / "run_DICOMImgCmp.py"), "--help"], capture_output=True,
                         text=True, check=True).stdout
    for key in ("run_name", "input_data_path", "pre_deID_data_path", "uid_mapping_file", "output_data_path",
                "log_path", "multiprocessing_cpus", "pixel_tolerance"):
        assert key in out


def _with_pixel_data_of(name: str):
    """A change that swaps in the (encapsulated) pixel data of another bundled file."""
    def change(ds):
        ds.PixelData = pydicom.dcmread(TEST_FILES / name).PixelData
        return ds
    return change


def test_a_tree_compared_with_itself_is_identical(tree):
    for i, name in enumerate(["CT_small.dcm", "MR_small_RLE.dcm", "JPGExtended.dcm"]):
        tree.add(f"f{i}.dcm", name)
    config = tree.config(pre_deID_data_path="deid")
    (tree.root / "map.csv").write_text("id_old,id_new\n")  # no mapping needed: the UIDs are unchanged
    run = run_script(config, multi=True)
    assert list(run.csv.status) == ["identical"] * 3
