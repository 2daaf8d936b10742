"""What a run writes holds identity: under the umask most servers set (022), everything a run creates is its
owner's alone (or its group's, with output_access "group"), in both scripts, on a resumed run and in a run
folder an earlier version left open."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, bump

SCRIPTS = ("run_DICOMImgCmp.py", "run_DICOMImgCmp_multiT.py")


def _run(config: Path, script: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    """A script run as a user whose shell has ``umask``."""
    return subprocess.run([sys.executable, str(REPO / script), str(config)], capture_output=True, text=True,
                          cwd=config.parent, timeout=600, preexec_fn=lambda: os.umask(umask))


def _modes(*roots: Path) -> dict[str, int]:
    """Every folder and file below the roots (the roots included), with its permission bits."""
    found = {}
    for root in roots:
        for path in [root, *root.rglob("*")]:
            found[str(path)] = stat.S_IMODE(path.lstat().st_mode)
    return found


def _small_tree(tree) -> None:
    tree.add("a.dcm", "CT_small.dcm", bump())
    tree.add("b.dcm", "MR_small.dcm")
    tree.add("sub/c.dcm", "CT_small.dcm", bump(by=5))


@pytest.mark.parametrize("script,executor", [(SCRIPTS[0], "local"), (SCRIPTS[1], "local"), (SCRIPTS[1], "dask")])
def test_everything_a_run_creates_is_the_owners_alone(tree, script, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    _small_tree(tree)
    config = tree.config(output_data_path="out/deep", log_path="logs/deep", executor=executor)
    for _ in range(2):  # the second run resumes from the store
        proc = _run(config, script)
        assert proc.returncode == 0, proc.stderr
        modes = _modes(tree.root / "out", tree.root / "logs")
        assert len(modes) > 10 and any(path.endswith(".pdf") for path in modes)
        opened = {path: oct(mode) for path, mode in modes.items()
                  if mode != (0o700 if Path(path).is_dir() else 0o600)}
        assert not opened


def test_group_access_opens_nothing_to_others(tree):
    _small_tree(tree)
    proc = _run(tree.config(output_access="group"), SCRIPTS[1])
    assert proc.returncode == 0, proc.stderr
    modes = _modes(tree.root / "out", tree.root / "logs")
    assert {mode for path, mode in modes.items() if Path(path).is_dir()} == {0o750}
    assert {mode for path, mode in modes.items() if not Path(path).is_dir()} == {0o640}


def test_a_run_folder_left_open_is_closed_and_the_users_folder_is_left_alone(tree):
    _small_tree(tree)
    (tree.root / "out").mkdir(mode=0o755)
    os.chmod(tree.root / "out", 0o755)  # the user's own folder: not the run's to change
    config = tree.config()
    assert _run(config, SCRIPTS[0]).returncode == 0
    run_dir = tree.root / "out" / "run"
    for path in [run_dir, *run_dir.rglob("*"), tree.root / "logs" / "imgCmpLog.log"]:  # as an earlier version left it
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    assert _run(config, SCRIPTS[0]).returncode == 0
    modes = _modes(run_dir)
    assert all(mode == (0o700 if Path(path).is_dir() else 0o600) for path, mode in modes.items())
    assert stat.S_IMODE((tree.root / "logs" / "imgCmpLog.log").stat().st_mode) == 0o600
    assert stat.S_IMODE((tree.root / "out").stat().st_mode) == 0o755


def test_an_unknown_access_is_refused_naming_the_key(tree):
    _small_tree(tree)
    proc = _run(tree.config(output_access="everyone"), SCRIPTS[0])
    assert proc.returncode == 2 and "output_access" in proc.stderr
