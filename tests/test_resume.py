"""A run killed half way is continued by running the same command again: what was done is not done again, and
the outputs are exactly those of a run that was never stopped."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import pydicom
import pytest
from conftest import REPO, Tree, bump, faulty_env, run_script

N_PAIRS = 40  # 3 comparison batches of 16


def _tree(tree: Tree) -> Tree:
    for i in range(N_PAIRS):
        tree.add(f"f{i:02d}.dcm", "CT_small.dcm" if i % 2 else "MR_small.dcm", bump() if i % 5 == 0 else None)
    return tree


def _saved_comparisons(config) -> int:
    cfg = json.loads(config.read_text())
    state = config.parent / cfg["output_data_path"] / cfg["run_name"] / ".dicomimgcmp" / "state.sqlite"
    try:  # read-only: never create the file the run is about to create
        with closing(sqlite3.connect(f"{state.as_uri()}?mode=ro", uri=True)) as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def _kill_half_way(config, env: dict) -> None:
    """Start the multiT script, wait until the run's store holds the first saved comparisons, then SIGKILL the
    script and every process it started (as a power cut or the OOM killer would)."""
    proc = subprocess.Popen([sys.executable, str(REPO / "run_DICOMImgCmp_multiT.py"), str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _saved_comparisons(config):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_a_killed_run_continues_and_writes_what_an_uninterrupted_run_writes(tree, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    _tree(tree)
    whole = run_script(tree.config(output_data_path="out_whole", log_path="logs_whole", executor=executor), multi=True)
    config = tree.config(output_data_path="out_resumed", executor=executor)
    _kill_half_way(config, dict(faulty_env("slow:0.15"), SOURCE_DATE_EPOCH="1700000000"))
    resumed = run_script(config, multi=True)
    reused = re.search(r"Reused from an earlier run of this run_name: (\d+) headers, (\d+) comparisons",
                       resumed.proc.stdout)
    assert reused, resumed.proc.stdout
    assert int(reused[1]) == 2 * N_PAIRS and 16 <= int(reused[2]) < N_PAIRS
    for name in ("comparison_summary.csv", "comparison_results_0.pdf", "comparison_results_1.pdf"):
        assert (resumed.run_dir / name).read_bytes() == (whole.run_dir / name).read_bytes(), name


def test_a_changed_input_is_read_and_compared_again_and_restart_redoes_everything(tree):
    _tree(tree)
    config = tree.config()
    first = run_script(config)
    assert first.row("f01.dcm").status == "identical"
    path = tree.deid / "f01.dcm"  # edited after the first run: one pixel
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array.copy()
    arr[0, 0] += 1
    ds.PixelData = arr.tobytes()
    ds.save_as(path)
    again = run_script(config)
    assert again.row("f01.dcm").status == "changed"
    assert f"{2 * N_PAIRS - 1} headers, {N_PAIRS - 1} comparisons" in again.proc.stdout
    restarted = run_script(config.parent / "config.json", restart=True)
    assert "Reused" not in restarted.proc.stdout
    assert restarted.csv.equals(again.csv)


def test_the_mapping_is_loaded_again_once_its_file_changes(tree):
    """The store keeps the mapping it loaded while the mapping file is unchanged; an edited file is read again."""
    _tree(tree)
    config = tree.config()
    first = run_script(config).csv
    assert first.set_index("deid_file").loc["f01.dcm", "status"] == "identical"
    again = run_script(config)  # the same file: the mapping kept
    assert again.csv.equals(first)
    assert f"{len(tree.mapping)} UIDs mapped" in again.proc.stdout
    new_uid = pydicom.dcmread(tree.deid / "f01.dcm", stop_before_pixels=True).SOPInstanceUID
    (tree.root / "map.csv").write_text("".join(line + "\n" for line in
                                               (tree.root / "map.csv").read_text("utf-8-sig").splitlines()
                                               if new_uid not in line))
    edited = run_script(config)
    assert edited.row("f01.dcm").status == "unmapped"
    assert f"{len(tree.mapping) - 1} UIDs mapped" in edited.proc.stdout
    others = first[(first["deid_file"] != "f01.dcm") & (first["deid_file"] != "")].reset_index(drop=True)
    assert edited.csv[edited.csv["deid_file"].isin(others["deid_file"])].reset_index(drop=True).equals(others)


def test_a_file_removed_or_renamed_since_the_last_run_is_forgotten(tree):
    """The store keeps the records of the files this run found, and no others: a removed file has no row, a
    renamed one is read under its new name (and its source, paired again, gets the new pair's row)."""
    _tree(tree)
    config = tree.config()
    first = run_script(config)
    before = set(first.csv["deid_file"]) - {"", "f03.dcm", "f04.dcm"}
    status = first.row("f04.dcm").status
    (tree.deid / "f03.dcm").unlink()
    (tree.deid / "f04.dcm").rename(tree.deid / "g04.dcm")
    again = run_script(config)
    assert set(again.csv["deid_file"]) - {""} == before | {"g04.dcm"}
    assert again.row("g04.dcm").status == status
    assert list(again.csv[again.csv["deid_file"] == ""]["source_file"]) == ["f03.dcm"]  # now a source only
    assert f"{2 * N_PAIRS - 2} headers, {N_PAIRS - 2} comparisons" in again.proc.stdout
    cfg = json.loads(config.read_text())
    state = config.parent / cfg["output_data_path"] / cfg["run_name"] / ".dicomimgcmp" / "state.sqlite"
    with closing(sqlite3.connect(state)) as db:
        paths = {os.path.basename(path) for (path,) in db.execute("SELECT path FROM records WHERE tree = 0")}
    assert "f03.dcm" not in paths and "f04.dcm" not in paths and "g04.dcm" in paths


def test_what_a_killed_run_left_half_written_is_removed_by_the_next(tree):
    """A run killed outright (SIGKILL, a power cut) cannot remove its temporary files (a PDF's plan, a chunk of
    pages, a thumbnail being written): the run that continues it does."""
    _tree(tree)
    config = tree.config()
    first = run_script(config, multi=True)
    left = [first.run_dir / ".comparison_results_0.pdf.4242-0123abcd.plan.partial",
            first.run_dir / "review" / ".0123456789ab.png.4242-0123abcd.partial"]
    for path in left:
        path.write_bytes(b"half-written")
    again = run_script(config, multi=True)
    assert not any(path.exists() for path in left)
    assert again.csv.equals(first.csv)


def test_rows_reused_from_the_store_are_saved_as_they_come(tree, monkeypatch):
    """A rerun whose comparisons are all reused compares nothing; its rows must still go to the store a buffer
    at a time, not be held until the stage ends (memory flat in the number of files)."""
    from dicomimgcmp.base.workers import local_workers
    from dicomimgcmp.config import load_config
    from dicomimgcmp.run import pipeline
    from dicomimgcmp.run.store import RunState

    _tree(tree)
    config = tree.config()
    first = run_script(config)
    cfg = load_config(config)
    saved: list[int] = []
    save_rows = RunState.save_rows
    monkeypatch.setattr(pipeline, "ROWS_BUFFER", 8)
    monkeypatch.setattr(pipeline, "COMPARE_BATCH", (4, 4))  # pages of 4 files: rows are saved 8 at a time
    monkeypatch.setattr(RunState, "save_rows", lambda self, rows: saved.append(len(rows)) or save_rows(self, rows))
    with local_workers(1) as workers:
        outcome = pipeline.run(cfg, parts=None, workers=workers)
    assert outcome.reused["results"] == N_PAIRS
    assert max(saved) <= 8 and sum(saved) == N_PAIRS
    assert first.csv.equals(run_script(config).csv)
