"""Who may read what a run writes (config key ``output_access``): its owner alone by default, or the owner's group.

A run's outputs hold what de-identification exists to protect (source images on the pages and thumbnails, the
source headers' identity values in the store, paths built from patient names in the CSV and the log), so every
folder a run creates and every file it writes gets the access asked for, whatever the umask: the process's umask
is set for the run (files are never open to others, not even while written under a temporary name), folders
created are given their mode explicitly, and the run folder is swept at the start (a folder an earlier version
left open is closed before anything is written) and at the end (what Dask workers on other machines wrote)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dicomimgcmp.enums import OutputAccess


def make_dirs(path: Path, access: OutputAccess) -> None:
    """Create ``path`` and its missing parents; each folder created gets the access's mode (folders that exist
    are left as they are: they are the user's)."""
    missing = []
    folder = Path(path)
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=access.dir_mode)
        except FileExistsError:  # made meanwhile by another process
            continue
        os.chmod(folder, access.dir_mode)  # mkdir's mode passes through the umask


def restrict(path: Path, access: OutputAccess) -> None:
    """Give one file or folder the access's mode."""
    os.chmod(path, access.dir_mode if path.is_dir() else access.file_mode)


def sweep(root: Path, access: OutputAccess) -> None:
    """Give ``root`` and everything below it the access's modes (links are not followed)."""
    if not root.is_dir():
        return
    os.chmod(root, access.dir_mode)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), access.dir_mode, follow_symlinks=False)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, access.file_mode)


@contextmanager
def run_umask(access: OutputAccess) -> Iterator[None]:
    """The process's umask set for the block (and for the worker processes it starts), then restored."""
    previous = os.umask(access.umask)
    try:
        yield
    finally:
        os.umask(previous)
