"""Atomic output: every file is written under a hidden temporary name beside its final name and renamed (or
linked) into place when complete, so a final name never holds a half-written file.

The one rule for PDFs, CSVs and the classifier's copies alike.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_SUFFIX = ".partial"


def temporary_name(final: Path, tag: str = "") -> Path:
    """A hidden, unique name beside ``final`` (``.<name>.<pid>-<random><tag>.partial``)."""
    return final.with_name(f".{final.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}{tag}{TEMP_SUFFIX}")


@contextmanager
def atomic_output(final: Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; when the block ends without error it becomes ``final``.

    ``overwrite=False`` refuses to replace an existing ``final`` (``FileExistsError``): the file is linked into
    place, which fails rather than overwrite. The temporary file is removed in every case.
    """
    tmp = temporary_name(final)
    try:
        yield tmp
        if overwrite:
            os.replace(tmp, final)
        else:
            os.link(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def remove_temporaries(folder: Path) -> None:
    """Delete what an interrupted writer left in ``folder`` (never a file under a final name)."""
    for tmp in folder.glob(f".*{TEMP_SUFFIX}"):
        tmp.unlink(missing_ok=True)
