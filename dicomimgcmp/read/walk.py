"""Find every file in a tree: each file once, symbolic links followed after the real tree, each with the stamp
that says it is unchanged."""

from __future__ import annotations

import os
import stat as stat_mode
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple


def iter_file_paths(root: Path, aliases: list[tuple[Path, Path]] | None = None) -> Iterator[str]:
    """The path of every file below ``root``, as :func:`iter_walked_files` finds them."""
    return (walked.path for walked in iter_walked_files(root, aliases))


class WalkedFile(NamedTuple):
    """A file the walk found: its path, and its :func:`stamp` from the walk's own stat ("" when none)."""

    path: str
    stamp: str


def iter_walked_files(root: Path, aliases: list[tuple[Path, Path]] | None = None) -> Iterator[WalkedFile]:
    """Yield every file below ``root`` (any name, any depth): a folder's files in name order, then its folders.
    Paths are strings: a Path for each of a million files would cost more than the walk itself; the stamp
    comes from the stat the walk makes anyway (a resumed run need not stat each file again).

    Symbolic links are followed after the real tree has been walked, each folder is visited once (link loops
    end) and each file on disk is yielded once, under its real path where it has one: another path to an
    already yielded file is appended to ``aliases`` as (path, first path). Broken links are yielded (reading
    them reports the problem); sockets and FIFOs are not files to read. The walk is iterative, so a deep tree
    cannot exhaust the interpreter's recursion limit, and its memory does not grow with the number of files:
    only files with several names (hard links) or reached through a link are remembered, since a file with one
    name in the real tree cannot be met again but through a link, whose target is then known by its real path.
    """
    seen_dirs: set[tuple[int, int]] = set()
    named: dict[tuple[int, int], Path] = {}  # files met under a name that another path may share
    real_root = Path(os.path.realpath(root))
    stack: list[tuple[Path, bool]] = [(root, False)]  # (folder, reached through a link)
    links: list[Path] = []
    while stack or links:
        if not stack:
            link = links.pop(0)
            if link.is_dir():
                stack.append((link, True))
            else:
                yield from _link_once(link, real_root, named, aliases)
            continue
        folder, via_link = stack.pop()
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in seen_dirs:
                continue
            seen_dirs.add((info.st_dev, info.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            yield WalkedFile(str(folder), "")  # reading it reports why it cannot be listed
            continue
        subfolders = []
        for entry in entries:
            if entry.is_symlink():
                links.append(Path(entry.path))
            elif entry.is_dir(follow_symlinks=False):
                subfolders.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    yield WalkedFile(entry.path, "")
                    continue
                if info.st_nlink == 1 and not via_link:
                    yield WalkedFile(entry.path, stamp_of(info))
                else:
                    yield from _once(Path(entry.path), info, named, aliases)
        stack.extend((sub, via_link) for sub in reversed(subfolders))


def _link_once(link: Path, real_root: Path, named: dict[tuple[int, int], Path],
               aliases: list | None) -> Iterator[WalkedFile]:
    """Yield a link to a file unless the file was yielded already (then note the alias)."""
    try:
        info = link.stat()
    except OSError:
        yield WalkedFile(str(link), "")  # a broken link: reading it reports the problem
        return
    if not stat_mode.S_ISREG(info.st_mode):
        return
    target = Path(os.path.realpath(link))
    if info.st_nlink == 1 and (target == real_root or real_root in target.parents):
        if aliases is not None:  # a file with one name in the real tree: the walk yielded it there
            aliases.append((link, target))
        return
    yield from _once(link, info, named, aliases)


def _once(path: Path, info: os.stat_result, named: dict[tuple[int, int], Path], aliases: list | None
          ) -> Iterator[WalkedFile]:
    """Yield ``path`` (``info``: its file's stat) unless that file was yielded already (then note the alias)."""
    key = (info.st_dev, info.st_ino)
    if key in named:
        if aliases is not None:
            aliases.append((path, named[key]))
        return
    named[key] = path
    yield WalkedFile(str(path), stamp_of(info))


def relative_path(path: str, root: str) -> str:
    """``path`` relative to ``root``, with "/" between folders (a string operation for a path found below root,
    0.3 instead of 6 us)."""
    prefix = root.rstrip(os.sep) + os.sep
    if path.startswith(prefix) and root.rstrip(os.sep):
        return path[len(prefix):].replace(os.sep, "/")
    return Path(path).relative_to(root).as_posix()


def stamp(path: str | os.PathLike[str]) -> str:
    """What says a file is unchanged: "size:mtime_ns" ("" when it cannot be seen)."""
    try:
        return stamp_of(os.stat(path))
    except OSError:
        return ""


def stamp_of(info: os.stat_result) -> str:
    return f"{info.st_size}:{info.st_mtime_ns}"
