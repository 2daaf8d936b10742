"""The classifier's actions: copy, move, symlink or hardlink each planned file, one picklable function a process
pool can run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dicomimgcmp.base.atomic import atomic_output
from dicomimgcmp.base.workers import Workers, map_batches
from dicomimgcmp.classify.destinations import Planned
from dicomimgcmp.enums import Mode, Placement


def act(plans: list[Planned], mode: Mode, workers: Workers) -> list[Planned]:
    """Carry out the planned actions (in parallel); returns the final statuses."""
    todo = [p for p in plans if p.status.to_place]
    done = iter(map_batches(workers, _act_batch, todo, 32, f"{mode} files", mode))
    return [next(done) if p.status.to_place else p for p in plans]


def perform(source: str, destination: str, mode: Mode) -> None:
    """Put one file at ``destination`` (which must not exist) by ``mode``; never overwrites."""
    dst = Path(destination)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode is Mode.SYMLINK:
        os.symlink(os.path.abspath(source), dst)
    elif mode is Mode.HARDLINK:
        os.link(source, dst)
    else:
        if mode is Mode.MOVE and _same_device(source, dst.parent):
            os.link(source, dst)  # fails if dst exists; then drop the old name
            os.unlink(source)
            return
        with atomic_output(dst, overwrite=False) as tmp:
            shutil.copy2(source, tmp)
        if mode is Mode.MOVE:
            os.unlink(source)


def _act_batch(plans: list[Planned], mode_value: str) -> list[Planned]:
    mode = Mode(mode_value)
    out = []
    for p in plans:
        try:
            perform(p.source, p.destination, mode)
            status = Placement.RENAMED if p.status is Placement.RENAMED else mode.done
            out.append(Planned(p.source, p.destination, status, p.reason))
        except OSError as exc:
            out.append(Planned(p.source, p.destination, Placement.UNREADABLE, f"{mode} failed: {exc}"))
    return out


def _same_device(source: str, folder: Path) -> bool:
    return os.stat(source).st_dev == os.stat(folder).st_dev
