"""dicom_file_classifier.py as a user runs it, on a messy tree of real DICOM files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, tree_digest
from sampledata import TEST_FILES, load_source, save

from dicomimgcmp.classify.destinations import safe_component

SCRIPT = REPO / "dicom_file_classifier.py"


@pytest.fixture
def messy(tmp_path) -> Path:
    """Root-level files, no extensions, junk, a name clash in one series, hostile IDs, a missing description."""
    src = tmp_path / "src"
    save(load_source("CT_small.dcm", "ct1", PatientName="Doe^Jane", PatientID="P1", SeriesDescription="head ct",
                     SeriesNumber=3), src / "IM1")  # root level, no extension
    save(load_source("MR_small.dcm", "mr1", PatientName="Doe^Jane", PatientID="P1", SeriesDescription="t1 <ax>",
                     SeriesNumber=12), src / "a" / "b" / "c" / "slice.dcm")
    # two different files with one name in one series, in different folders
    save(load_source("CT_small.dcm", "ct2", PatientName="Doe^Jane", PatientID="P1", SeriesDescription="head ct",
                     SeriesNumber=3), src / "x" / "IM1")
    # an identical copy of the root file: a duplicate
    (src / "y").mkdir()
    shutil.copy(src / "IM1", src / "y" / "IM1")
    evil = load_source("MR_small.dcm", "evil", PatientName="../../etc", PatientID="../x/A:B",
                       SeriesNumber=1)
    evil.pop("SeriesDescription", None)  # MR_small has none: it must come out as UNKNOWN
    save(evil, src / "deep" / "er" / "evil")
    (src / "notes.txt").write_text("not dicom")
    (src / "a" / "broken.dcm").write_bytes((TEST_FILES / "CT_small.dcm").read_bytes()[:200])
    return src


def classify(src: Path, dest: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(SCRIPT), str(src), str(dest), "--processes", "2", *args],
                          capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}


EXPECTED_LAYOUT = {
    "DOE^JANE_P1/HEAD_CT_0003/IM1",
    "DOE^JANE_P1/HEAD_CT_0003/IM1_1",
    "DOE^JANE_P1/T1__AX__0012/slice.dcm",
    "___.._ETC_.._x_A_B/UNKNOWN_0001/evil",  # no separator, no leading dot: cannot escape or hide
}


def test_copy_sorts_reports_and_leaves_source_untouched(messy, tmp_path):
    before = tree_digest(messy)
    dest = tmp_path / "dest"
    proc = classify(messy, dest)
    assert tree_digest(messy) == before
    assert files_under(dest) - {"classifier_report.csv"} == EXPECTED_LAYOUT
    report = pd.read_csv(dest / "classifier_report.csv", keep_default_na=False).set_index("source")
    assert report.loc["IM1", ["destination", "status"]].tolist() == ["DOE^JANE_P1/HEAD_CT_0003/IM1", "copied"]
    assert report.loc["x/IM1", ["destination", "status"]].tolist() == ["DOE^JANE_P1/HEAD_CT_0003/IM1_1",
                                                                     "renamed"]
    assert report.loc["y/IM1", "status"] == "duplicate_skipped"
    assert report.loc["notes.txt", "status"] == "not_dicom"
    assert report.loc["a/broken.dcm", "status"] == "unreadable"
    assert (dest / "DOE^JANE_P1/HEAD_CT_0003/IM1").read_bytes() == (messy / "IM1").read_bytes()
    assert (dest / "DOE^JANE_P1/HEAD_CT_0003/IM1_1").read_bytes() == (messy / "x" / "IM1").read_bytes()
    assert os.stat(dest / "DOE^JANE_P1/HEAD_CT_0003/IM1").st_mtime == os.stat(messy / "IM1").st_mtime
    assert "copied" in proc.stdout and "renamed" in proc.stdout
    plan_line = proc.stdout.splitlines()[0]  # collisions are reported before any file is touched
    assert plan_line == "Plan: 4 files to place; collisions: 1 renamed (another file has the name), " \
                        "1 duplicates skipped"


def test_rerun_is_idempotent_and_never_overwrites(messy, tmp_path):
    dest = tmp_path / "dest"
    classify(messy, dest)
    target = dest / "DOE^JANE_P1/HEAD_CT_0003/IM1"
    before = tree_digest(dest / "DOE^JANE_P1")
    classify(messy, dest)
    assert tree_digest(dest / "DOE^JANE_P1") == before
    report = pd.read_csv(dest / "classifier_report.csv", keep_default_na=False)
    assert set(report[report.source.isin(["IM1", "x/IM1", "y/IM1"])].status) == {"duplicate_skipped"}
    assert target.read_bytes() == (messy / "IM1").read_bytes()


@pytest.mark.parametrize("mode", ["move", "symlink", "hardlink"])
def test_modes(messy, tmp_path, mode):
    dest = tmp_path / "dest"
    originals = {rel: (messy / rel).read_bytes() for rel in ("IM1", "x/IM1")}
    classify(messy, dest, "--mode", mode)
    assert files_under(dest) - {"classifier_report.csv"} == EXPECTED_LAYOUT
    placed = dest / "DOE^JANE_P1/HEAD_CT_0003/IM1"
    assert placed.read_bytes() == originals["IM1"]
    report = pd.read_csv(dest / "classifier_report.csv").set_index("source")
    if mode == "move":
        assert not (messy / "IM1").exists() and (messy / "y" / "IM1").exists()  # duplicates stay behind
        assert (messy / "notes.txt").exists()
        assert report.loc["IM1", "status"] == "moved"
    elif mode == "symlink":
        assert placed.is_symlink() and placed.resolve() == (messy / "IM1").resolve()
        assert report.loc["IM1", "status"] == "linked"
    else:
        assert os.path.samefile(placed, messy / "IM1")


def test_dry_run_prints_the_plan_and_writes_nothing(messy, tmp_path):
    dest = tmp_path / "dest"
    proc = classify(messy, dest, "--dry-run")
    assert not dest.exists()
    assert "DOE^JANE_P1/" in proc.stdout and "HEAD_CT_0003/  2 file(s)" in proc.stdout
    assert "planned" in proc.stdout


def test_custom_pattern(messy, tmp_path):
    dest = tmp_path / "dest"
    classify(messy, dest, "--pattern", "{PatientID}/{Modality}_{SeriesNumber:03d}")
    assert "P1/CT_003/IM1" in files_under(dest) and "P1/MR_012/slice.dcm" in files_under(dest)


@pytest.mark.parametrize("args, message", [
    (["--pattern", "{PatientNmae}"], "did you mean {PatientName}"),
    (["--processes", "0"], "--processes must be at least 1"),
])
def test_bad_arguments_exit_2(messy, tmp_path, args, message):
    proc = classify(messy, tmp_path / "dest", *args, check=False)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_dest_inside_src_or_missing_src_exit_2(messy, tmp_path):
    proc = classify(messy, messy / "sorted", check=False)
    assert proc.returncode == 2 and "inside SRC" in proc.stderr
    proc = classify(tmp_path / "nowhere", tmp_path / "dest", check=False)
    assert proc.returncode == 2 and "SRC is not a folder" in proc.stderr


@pytest.mark.parametrize("raw, safe", [("..", "UNKNOWN"), (".", "UNKNOWN"), ("", "UNKNOWN"), ("a/b", "a_b"),
                                       ('x<>:"|?*\\y', "x________y"), ("tab\there", "tab_here"),
                                       ("dots...", "dots"), (".hidden", "_hidden"), ("Ünïcødé", "Ünïcødé")])
def test_safe_component(raw, safe):
    assert safe_component(raw) == safe


def test_long_values_are_bounded_in_bytes_and_stay_unique():
    a, b = safe_component("P" * 150 + "1"), safe_component("P" * 150 + "2")
    assert a != b and len(a.encode()) <= 100 and len(b.encode()) <= 100
    assert a.startswith("P" * 80)
    cjk = safe_component("山田^太郎" * 12)  # 60 characters, 180 bytes in UTF-8
    assert len(cjk.encode()) <= 100 and cjk.startswith("山田^太郎")
    cjk.encode().decode()  # cut at a character boundary


def test_missing_value_under_a_format_spec_is_unknown(tmp_path):
    from dicomimgcmp.classify.destinations import Pattern

    ds = load_source("MR_small.dcm", "nospec")
    del ds.SeriesNumber
    assert Pattern("{PatientID}/{SeriesNumber:04d}_{Modality}").folder(ds).parts[-1] == "UNKNOWN_MR"
    ds.SeriesNumber = "7"
    assert Pattern("{PatientID}/{SeriesNumber:04d}_{Modality}").folder(ds).parts[-1] == "0007_MR"


def test_files_without_sop_instance_uid_long_ids_and_cjk_names_are_sorted(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("UN_sequence.dcm", "meta_missing_tsyntax.dcm", "nested_priv_SQ.dcm"):
        shutil.copy(TEST_FILES / name, src / name)  # real files without SOPInstanceUID
    long_id = "X" * 120
    for i in (1, 2):  # two patients whose IDs differ only at the end
        save(load_source("CT_small.dcm", f"long{i}", PatientID=f"{long_id}{i}", PatientName="Same^Name",
                         SeriesNumber=1), src / f"long{i}.dcm")
    save(load_source("CT_small.dcm", "cjk", PatientName="山田^太郎" * 12, PatientID="J1"), src / "cjk.dcm")
    noseries = load_source("MR_small.dcm", "noseries", PatientID="N1")
    del noseries.SeriesNumber
    save(noseries, src / "noseries.dcm")
    dest = tmp_path / "dest"
    classify(src, dest, "--pattern", "{PatientName}_{PatientID}/{SeriesNumber:04d}")
    report = pd.read_csv(dest / "classifier_report.csv", keep_default_na=False).set_index("source")
    assert set(report.status) == {"copied"}, report
    folders = {Path(d).parts[0] for d in report.destination}
    assert len({report.loc["long1.dcm", "destination"].split("/")[0],
                report.loc["long2.dcm", "destination"].split("/")[0]}) == 2  # not merged
    assert all(len(f.encode()) <= 100 for f in folders)
    assert report.loc["UN_sequence.dcm", "destination"].startswith("UNKNOWN_")
    assert report.loc["noseries.dcm", "destination"].split("/")[1] == "UNKNOWN"


def test_move_reports_every_path_hard_links_included(messy, tmp_path):
    os.link(messy / "a" / "b" / "c" / "slice.dcm", messy / "second_name.dcm")
    dest = tmp_path / "dest"
    paths = {p.relative_to(messy).as_posix() for p in messy.rglob("*") if p.is_file()}
    classify(messy, dest, "--mode", "move")
    report = pd.read_csv(dest / "classifier_report.csv", keep_default_na=False).set_index("source")
    assert set(report.index) == paths
    first, second = report.loc["second_name.dcm"], report.loc["a/b/c/slice.dcm"]  # a folder's files come first
    assert first.status == "moved"
    assert second.status == "duplicate_skipped" and "second_name.dcm" in second.reason
