"""The comparison on a Dask cluster: same outputs as a local run, survives a lost worker, clear errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, Tree, bump, faulty_env, pdf_pages, run_script

distributed = pytest.importorskip("distributed")
def _small_tree(tree: Tree) -> Tree:
    for i, name in enumerate(["CT_small.dcm", "MR_small_RLE.dcm", "SC_rgb_rle.dcm", "rtdose.dcm",
                              "MR_small_jp2klossless.dcm", "examples_palette.dcm", "JPGExtended.dcm"]):
        tree.add(f"s{i}/f{i}.dcm", name, bump(by=3) if i % 2 == 0 else None)
    tree.add("plan.dcm", "rtplan.dcm")
    return tree


@pytest.mark.parametrize("multi", [False, True])
def test_local_dask_cluster_gives_the_same_outputs_as_a_local_run(tree, multi):
    _small_tree(tree)
    local = run_script(tree.config(output_data_path="out_local"), multi=multi)
    dask = run_script(tree.config(output_data_path="out_dask", executor="dask"), multi=multi)
    assert (dask.run_dir / "comparison_summary.csv").read_bytes() == \
        (local.run_dir / "comparison_summary.csv").read_bytes()
    pdfs = sorted(p.name for p in local.run_dir.glob("*.pdf"))
    assert pdfs == sorted(p.name for p in dask.run_dir.glob("*.pdf"))
    assert len(pdfs) == (2 if multi else 1)
    for name in pdfs:
        assert pdf_pages(dask.run_dir / name) == pdf_pages(local.run_dir / name)
        assert (dask.run_dir / name).read_bytes() == (local.run_dir / name).read_bytes()


@contextmanager
def scheduler(tmp_path: Path):
    """A `dask scheduler` on loopback; yields its address."""
    info = tmp_path / "scheduler.json"
    proc = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                             "--port", "0", "--no-dashboard", "--scheduler-file", str(info)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)
        yield json.loads(info.read_text())["address"]
    finally:
        proc.kill()
        proc.wait()


def start_worker(address: str, name: str, env: dict, prefix: tuple = ()) -> subprocess.Popen:
    """A `dask worker` without a nanny (a killed worker stays dead), one thread."""
    return subprocess.Popen([*prefix, sys.executable, "-m", "distributed.cli.dask_worker", address, "--name", name,
                             "--nthreads", "1", "--no-nanny", "--no-dashboard"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_workers(address: str, n: int) -> None:
    with distributed.Client(address, timeout="30s") as client:
        client.wait_for_workers(n, timeout=60)


def test_a_killed_worker_is_replaced_by_the_others_and_every_file_is_reported(tree, tmp_path):
    for i in range(40):
        tree.add(f"f{i:02d}.dcm", "CT_small.dcm", bump(by=3) if i % 4 == 0 else None)
    env = faulty_env("slow:0.25")
    with scheduler(tmp_path) as address:
        workers = [start_worker(address, f"w{i}", env) for i in range(2)]
        try:
            wait_for_workers(address, 2)
            config = tree.config(executor="dask", dask_scheduler_address=address)
            run = subprocess.Popen([sys.executable, str(REPO / "run_DICOMImgCmp_multiT.py"), str(config)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            log = tree.root / "logs" / "imgCmpLog.log"
            deadline = time.monotonic() + 60
            while not (log.exists() and "indexed" in log.read_text()) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)  # the comparison batches are running on both workers
            workers[0].send_signal(signal.SIGKILL)
            stdout, stderr = run.communicate(timeout=300)
        finally:
            for w in workers:
                w.kill()
                w.wait()
    assert workers[0].returncode == -signal.SIGKILL
    assert run.returncode == 0, stderr
    csv = pd.read_csv(tree.root / "out" / "run" / "comparison_summary.csv", keep_default_na=False)
    assert sorted(csv.deid_file) == [f"f{i:02d}.dcm" for i in range(40)]
    assert list(csv.status) == ["changed" if i % 4 == 0 else "identical" for i in range(40)]


def test_a_worker_that_cannot_see_the_inputs_is_a_clear_error(tree, tmp_path):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs unshare and root to hide the inputs from one worker")
    tree.add("a.dcm", "CT_small.dcm")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    hide = ("unshare", "-m", "--propagation", "private", "sh", "-c",
            f'mount -t tmpfs none "{tree.root}" && exec "$0" "$@"')
    with scheduler(tmp_path) as address:
        workers = [start_worker(address, "sees", env), start_worker(address, "blind", env, prefix=hide)]
        try:
            wait_for_workers(address, 2)
            result = run_script(tree.config(executor="dask", dask_scheduler_address=address), check=False)
        finally:
            for w in workers:
                w.kill()
                w.wait()
    assert result.proc.returncode == 2
    assert "cannot see input_data_path" in result.proc.stderr and "shared file system" in result.proc.stderr
    assert "Traceback" not in result.proc.stderr


def test_unreachable_scheduler_is_a_clear_error(tree):
    tree.add("a.dcm", "CT_small.dcm")
    result = run_script(tree.config(executor="dask", dask_scheduler_address="tcp://127.0.0.1:9"), check=False)
    assert result.proc.returncode == 2 and "cannot reach tcp://127.0.0.1:9" in result.proc.stderr


def test_without_dask_installed_the_error_says_how_to_install_it(tree, tmp_path):
    fake = tmp_path / "no_dask" / "distributed"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named distributed')\n")
    tree.add("a.dcm", "CT_small.dcm")
    env = dict(os.environ, PYTHONPATH=str(fake.parent))
    proc = subprocess.run([sys.executable, str(REPO / "run_DICOMImgCmp.py"), str(tree.config(executor="dask"))],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert "pip install -r requirements-distributed.txt" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_executor_is_a_config_error(tree):
    tree.add("a.dcm", "CT_small.dcm")
    result = run_script(tree.config(executor="slurm"), check=False)
    assert result.proc.returncode == 2 and "'executor' must be one of local, dask" in result.proc.stderr
