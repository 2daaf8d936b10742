"""One run of a run folder at a time: the running process holds an exclusive lock on a file in the run's state
folder, which the kernel releases when the process ends in any way (a SIGKILL leaves no stale lock)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from dicomimgcmp.errors import RunFolderBusy

LOCK_FILE = "run.lock"



@contextmanager
def run_lock(state_dir: Path) -> Iterator[None]:
    """Hold the run folder's lock while the block runs; raises :class:`RunFolderBusy` at once, naming the
    process that holds it, when another run has it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "a process that did not say"
            raise RunFolderBusy(f"the run folder {state_dir.parent} is in use by another run ({holder}); wait for "
                                "it to end, or give this run another run_name")
        os.ftruncate(fd, 0)
        started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.pwrite(fd, f"process {os.getpid()}, started {started}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock on ``fd`` without waiting; False when another process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
