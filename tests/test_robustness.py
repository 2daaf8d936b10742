"""Nothing lost, nothing crashes: damaged files, dying workers, interrupts, hostile paths, limits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, Tree, bump, faulty_env, pdf_pages, run_script, summary_pages, tree_digest
from helpers import damage, run_with
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dicomimgcmp.base.workers import local_workers
from dicomimgcmp.config import load_config
from dicomimgcmp.run.pipeline import run


def _csv(tree: Tree) -> pd.DataFrame:
    return pd.read_csv(tree.root / "out" / "run" / "comparison_summary.csv", keep_default_na=False, dtype=str)


# --- damaged files -------------------------------------------------------------------------------------------


def test_damaged_files_each_get_one_row_with_a_reason(tree):
    names = {"zero": "CT_small.dcm", "truncated-header": "MR_small.dcm", "truncated-pixels": "CT_small.dcm",
             "bitflip": "MR_small_jp2klossless.dcm"}
    for how, name in names.items():
        tree.add(f"{how}.dcm", name)
        damage(tree.deid / f"{how}.dcm", how)
    _, huge = tree.add("huge.dcm", "CT_small.dcm")
    ds = huge.copy()
    ds.Rows = ds.Columns = 50000
    ds.NumberOfFrames = 400  # 10^12 pixel values declared, 32 KiB stored
    from sampledata import save
    save(ds, tree.deid / "huge.dcm")
    result = run_script(tree.config())
    everything = result.csv
    csv = everything[everything.deid_file != ""].set_index("deid_file")
    assert len(csv) == len(names) + 1
    # the empty file and the cut header have no UID, so their sources are reported as source_only, not dropped
    assert list(everything[everything.deid_file == ""].status) == ["source_only", "source_only"]
    assert "file meta information (cut short?)" in csv.loc["truncated-header.dcm", "reason"]
    for how in names:
        row = csv.loc[f"{how}.dcm"]
        assert row.status in ("unreadable", "changed"), (how, row.status)
        assert row.status == "changed" or row.reason, how
    assert csv.loc["zero.dcm", "status"] == "unreadable"
    assert csv.loc["truncated-pixels.dcm", "status"] == "unreadable"
    assert "bytes of pixel data its header declares (cut short?)" in csv.loc["truncated-pixels.dcm", "reason"]
    assert "over max_pixels" in csv.loc["huge.dcm", "reason"] and csv.loc["huge.dcm", "status"] == "unreadable"
    assert result.proc.returncode == 0


_DAMAGES = st.sampled_from(["none", "zero", "truncated-header", "truncated-pixels", "bitflip", "header-bitflip"])


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damages=st.lists(st.tuples(st.sampled_from(["CT_small.dcm", "MR_small_RLE.dcm", "SC_rgb_jpeg_gdcm.dcm",
                                                   "rtdose.dcm", "JPEG2000.dcm"]), _DAMAGES, _DAMAGES),
                        min_size=1, max_size=5))
def test_property_every_file_gets_exactly_one_row(tmp_path_factory, damages):
    tree = Tree(tmp_path_factory.mktemp("prop"))
    for i, (name, deid_damage, source_damage) in enumerate(damages):
        tree.add(f"f{i}", name)
        if deid_damage != "none":
            damage(tree.deid / f"f{i}", deid_damage)
        if source_damage != "none":
            damage(tree.source / f"f{i}", source_damage)
    cfg = load_config(tree.config())
    with local_workers(1) as workers:
        outcome = run(cfg, parts=None, workers=workers)
    csv = _csv(tree)
    deid_rows = list(csv[csv.deid_file != ""].deid_file)
    assert sorted(deid_rows) == sorted(f"f{i}" for i in range(len(damages)))  # each exactly once
    source_rows = list(csv[csv.deid_file == ""].source_file)
    assert len(source_rows) == len(set(source_rows))
    by_deid = csv.set_index("deid_file")
    for i, (_, deid_damage, source_damage) in enumerate(damages):
        if deid_damage == source_damage == "none":  # an undamaged pair among damaged ones is still compared
            assert by_deid.loc[f"f{i}", "status"] == "identical", by_deid.loc[f"f{i}", "reason"]
    assert sum(outcome.counts.values()) == len(csv)
    assert (cfg.run_dir / "comparison_summary.csv").exists() and (cfg.run_dir / "comparison_results.pdf").exists()


# --- dying workers -------------------------------------------------------------------------------------------

def test_worker_killed_every_time_gives_unreadable_and_the_run_completes(tree, tmp_path):
    for i in range(6):
        tree.add(f"ok{i}.dcm", "CT_small.dcm", bump() if i % 2 else None)
    tree.add("CRASHME.dcm", "MR_small.dcm")
    proc = run_with(tree.config(), faulty_env("kill:CRASHME", tmp_path / "fault.marker"))
    assert proc.returncode == 0, proc.stderr
    csv = _csv(tree).set_index("deid_file")
    assert len(csv) == 7
    assert csv.loc["CRASHME.dcm", "status"] == "unreadable"
    assert "worker process died" in csv.loc["CRASHME.dcm", "reason"]
    assert list(csv.loc[[f"ok{i}.dcm" for i in range(6)], "status"]) == ["identical", "changed"] * 3


def test_worker_killed_once_is_retried_and_succeeds(tree, tmp_path):
    for i in range(4):
        tree.add(f"ok{i}.dcm", "CT_small.dcm")
    tree.add("CRASHONCE.dcm", "MR_small.dcm", bump())
    proc = run_with(tree.config(), faulty_env("once:CRASHONCE", tmp_path / "fault.marker"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "fault.marker").exists()  # the worker really died once
    csv = _csv(tree).set_index("deid_file")
    assert csv.loc["CRASHONCE.dcm", "status"] == "changed"
    assert set(csv.loc[[f"ok{i}.dcm" for i in range(4)], "status"]) == {"identical"}


# --- interrupts ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_promptly_and_leaves_no_half_written_output(tree, tmp_path, sig):
    for i in range(30):
        tree.add(f"f{i:02d}.dcm", "CT_small.dcm", bump())
    config = tree.config()
    proc = subprocess.Popen([sys.executable, str(REPO / "run_DICOMImgCmp_multiT.py"), str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=faulty_env("slow:0.2"), start_new_session=True,
                            # as from a terminal: a runner that started us in the background may ignore SIGINT
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    log = tree.root / "logs" / "imgCmpLog.log"
    deadline = time.monotonic() + 60
    while not (log.exists() and "indexed" in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    started = time.monotonic()
    # Ctrl-C reaches the whole foreground process group; SIGTERM is sent to the main process only
    os.killpg(proc.pid, sig) if sig == signal.SIGINT else proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - started < 10
    assert proc.returncode == 130, stderr
    assert "interrupted: stopped while comparing 30 de-identified files" in stderr and "indexed 60 files" in stderr
    assert "Traceback" not in stderr
    run_dir = tree.root / "out" / "run"
    leftovers = [p.name for p in run_dir.iterdir()] if run_dir.exists() else []
    assert leftovers == [".dicomimgcmp"], leftovers  # no output, no temporary file: only the state to continue


def _ends_quietly_on_sigterm() -> bool:
    return signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_workers_end_quietly_on_sigterm_whatever_handler_they_inherit():
    """The command line turns SIGTERM into an interrupt in the main process; a worker forked with that handler
    printed a KeyboardInterrupt traceback when the main process stopped it while it waited for work."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        with local_workers(2) as workers:
            quiet = workers.executor.submit(_ends_quietly_on_sigterm).result()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert quiet


# --- inputs and paths ---------------------------------------------------------------------------------------------

def test_outputs_inside_an_input_tree_are_refused(tree):
    tree.add("a.dcm", "CT_small.dcm")
    for key in ("output_data_path", "log_path"):
        result = run_script(tree.config(**{key: "deid/out"}), check=False)
        assert result.proc.returncode == 2 and "lies inside input_data_path" in result.proc.stderr
    assert not (tree.deid / "out").exists()


def test_hostile_paths_spaces_unicode_links_loops_depth(tree):
    tree.add("with space/Ünïcødé ファイル.dcm", "CT_small.dcm", bump())
    tree.add("price $_$ x.dcm", "CT_small.dcm", bump())  # not mathtext on the page
    deep = "/".join(["d"] * 150)
    tree.add(f"{deep}/deep.dcm", "MR_small.dcm")
    tree.add("real/linked.dcm", "SC_rgb_rle.dcm")
    (tree.deid / "link_to_real").symlink_to(tree.deid / "real", target_is_directory=True)  # same files again
    (tree.deid / "real" / "loop").symlink_to(tree.deid, target_is_directory=True)  # a loop
    (tree.deid / "dangling").symlink_to(tree.deid / "nowhere")
    (tree.source / "outside").mkdir()
    os.symlink(tree.source / "real" / "linked.dcm", tree.source / "outside" / "alias.dcm")
    result = run_script(tree.config())
    csv = result.csv.set_index("deid_file")
    assert csv.loc["with space/Ünïcødé ファイル.dcm", "status"] == "changed"
    assert csv.loc["price $_$ x.dcm", "status"] == "changed"
    assert csv.loc[f"{deep}/deep.dcm", "status"] == "identical"
    assert csv.loc["real/linked.dcm", "status"] == "identical"  # read once, not a duplicate of its link
    assert not any(f.startswith("link_to_real/") for f in csv.index)
    assert csv.loc["dangling", "status"] == "unreadable"
    assert "duplicate_uid" not in set(csv.status)
    assert pdf_pages(result.run_dir / "comparison_results.pdf") == summary_pages(result.csv,
                                                                                 "comparison_results.pdf") + 2


def test_runs_with_different_names_do_not_touch_each_other(tree):
    tree.add("a.dcm", "CT_small.dcm", bump())
    first = run_script(tree.config(run_name="first"))
    before = tree_digest(first.run_dir)
    second = run_script(tree.config(run_name="second", multiprocessing_cpus="3"), multi=True)
    assert tree_digest(first.run_dir) == before
    assert sorted(p.name for p in second.run_dir.iterdir()) == [
        ".dicomimgcmp", "comparison_results_0.pdf", "comparison_results_1.pdf", "comparison_results_2.pdf",
        "comparison_summary.csv", "header_actions.csv", "review", "review.html"]


def test_inputs_are_byte_and_mode_identical_after_a_run(tree):
    tree.add("a.dcm", "CT_small.dcm", bump())
    tree.add("b.dcm", "examples_ybr_color.dcm")
    cfg = tree.config()
    before = tree_digest(tree.deid), tree_digest(tree.source), (tree.root / "map.csv").read_bytes()
    mtimes = {p: p.stat().st_mtime_ns for p in tree.root.rglob("*") if p.is_file()}
    run_script(cfg)
    run_script(cfg, multi=True)
    assert (tree_digest(tree.deid), tree_digest(tree.source), (tree.root / "map.csv").read_bytes()) == before
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items() if p.exists())


def test_read_only_inputs_work(tree):
    import shutil
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs unshare and root for a read-only bind mount (root ignores file modes)")
    tree.add("a.dcm", "CT_small.dcm", bump())
    tree.add("b.dcm", "MR_small.dcm")
    config = tree.config()  # outputs beside the read-only trees
    mount = (f'mount --bind -o ro "{tree.deid}" "{tree.deid}" && mount --bind -o ro "{tree.source}" "{tree.source}"'
             f' && touch "{tree.deid}/probe" 2>/dev/null && exit 99; exec "$0" "$@"')
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", mount, sys.executable,
                           str(REPO / "run_DICOMImgCmp_multiT.py"), str(config)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr  # 99 would mean the mount was not read-only
    csv = _csv(tree).set_index("deid_file")
    assert csv.loc["a.dcm", "status"] == "changed" and csv.loc["b.dcm", "status"] == "identical"


def test_max_pixels_is_configurable(tree):
    tree.add("a.dcm", "CT_small.dcm", bump())
    result = run_script(tree.config(max_pixels=str(128 * 128 - 1)))
    assert result.row("a.dcm").status == "unreadable" and "over max_pixels 16,383" in result.row("a.dcm").reason
    at_limit = run_script(tree.config(max_pixels=128 * 128))  # the limit admits exactly what it names
    assert at_limit.row("a.dcm").status == "changed"


def test_pydicoms_warnings_on_odd_values_stay_off_the_console(tree):
    """pydicom warns when it converts an invalid value (a UID of hex digits in pydicom-data's bad_sequence.dcm);
    the row says what matters, the console must not fill with library warnings."""
    pytest.importorskip("data_store", reason="pip install -r requirements-test.txt (pydicom-data)")
    import shutil

    import data_store

    tree.add("ok.dcm", "CT_small.dcm")
    for folder in (tree.deid, tree.source):
        shutil.copy(Path(data_store.__file__).parent / "data" / "bad_sequence.dcm", folder / "odd.dcm")
    result = run_script(tree.config())
    assert "odd.dcm" in set(result.csv.deid_file)
    assert "Warning" not in result.proc.stderr, result.proc.stderr
