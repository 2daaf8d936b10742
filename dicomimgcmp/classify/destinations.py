"""The classifier's plan: every DICOM file's destination `{PatientName}_{PatientID}/{SeriesDescription}_
{SeriesNumber}/` resolved first, collisions found, before any file is touched."""

from __future__ import annotations

import difflib
import filecmp
import hashlib
import os
import re
import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydicom.datadict import keyword_dict
from pydicom.dataset import Dataset

from dicomimgcmp.base.workers import Workers, map_batches
from dicomimgcmp.enums import Placement
from dicomimgcmp.errors import HeaderError, NotDicomError, PatternError
from dicomimgcmp.read.dicomfile import quiet_pydicom
from dicomimgcmp.read.record import read_header
from dicomimgcmp.read.walk import iter_file_paths

DEFAULT_PATTERN = "{PatientName}_{PatientID}/{SeriesDescription}_{SeriesNumber}"


REPORT_NAME = "classifier_report.csv"


REPORT_COLUMNS = ("source", "destination", "status", "reason")


MAX_COMPONENT_BYTES = 100  # UTF-8 bytes of one folder or file name (file systems count bytes, 255 at most)


UNKNOWN = "UNKNOWN"


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*]')



@dataclass(frozen=True)
class Pattern:
    """A destination folder pattern of DICOM keywords, e.g. ``{PatientID}/{StudyDate}_{Modality}``.

    In the default pattern, as users of the original classifier know it, PatientName and SeriesDescription are
    upper-cased with spaces and ``<`` ``>`` turned into ``_``, and SeriesNumber is zero-padded to 4 digits.
    """

    text: str

    @property
    def keywords(self) -> list[str]:
        return [field for _, field, _, _ in string.Formatter().parse(self.text) if field]

    def validate(self) -> Pattern:
        if not self.keywords:
            raise PatternError(f"pattern {self.text!r} names no DICOM keyword")
        for keyword in self.keywords:
            if keyword not in keyword_dict:
                close = difflib.get_close_matches(keyword, list(keyword_dict), n=1)
                hint = f" (did you mean {{{close[0]}}}?)" if close else ""
                raise PatternError(f"unknown DICOM keyword {{{keyword}}} in pattern{hint}")
        return self

    def folder(self, ds: Dataset) -> Path:
        """The destination folder (relative) for a dataset; every component made safe. A missing or empty value
        is ``UNKNOWN``; a format spec that does not fit the value (``{SeriesNumber:04d}`` on text) is ignored."""
        default_style = self.text == DEFAULT_PATTERN
        values = {k: _value(ds, k, default_style=default_style) for k in self.keywords}
        values = {k: UNKNOWN if v == "" else v for k, v in values.items()}
        return Path(*(safe_component(_LenientFormatter().format(part, **values)) for part in self.text.split("/")))


class _LenientFormatter(string.Formatter):
    """``str.format`` that writes a value as plain text where its format spec does not fit it."""

    def format_field(self, value: object, format_spec: str) -> str:
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


def safe_component(text: str) -> str:
    """One path component that is safe on every common file system; empty becomes ``UNKNOWN``.

    Separators, control characters and ``<>:"|?*`` become ``_``; leading dots too (no ``..``, no hidden
    folders); trailing dots and spaces (refused by Windows) go. A name over :data:`MAX_COMPONENT_BYTES` bytes is
    cut at a character boundary and ends with ``~`` and a hash of the full value, so that two long values that
    differ only at the end stay apart.
    """
    safe = re.sub(r"^\.+", lambda m: "_" * len(m.group()), _UNSAFE.sub("_", text).strip()).rstrip(". ")
    if not safe.strip("_"):
        return UNKNOWN
    if len(safe.encode()) <= MAX_COMPONENT_BYTES:
        return safe
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    head = safe.encode()[:MAX_COMPONENT_BYTES - len(digest) - 1].decode("utf-8", "ignore")
    return f"{head}~{digest}"


@dataclass(frozen=True)
class Planned:
    """One source file's planned fate: destination (absolute) and status (``planned`` until acted on)."""

    source: str
    destination: str
    status: Placement
    reason: str = ""


def plan(src: Path, dest: Path, pattern: Pattern, workers: Workers) -> list[Planned]:
    """Decide where every path under ``src`` goes, resolving collisions; nothing is written.

    Every path gets a plan: a second path to a file already planned (a hard link, or a symbolic link inside
    ``src``) is ``duplicate_skipped`` and names the first.
    """
    aliases: list[tuple[Path, Path]] = []
    paths = list(iter_file_paths(src, aliases))
    targets = map_batches(workers, _targets_batch, paths, 64, "reading headers", str(dest), pattern.text,
                          on_failure=lambda path, reason: Planned(path, "", Placement.UNREADABLE, reason))
    taken: dict[str, str] = {}  # destination -> source planned there in this run
    plans = [_place(target, taken) if target.status is Placement.PLANNED else target for target in targets]
    plans += [Planned(str(path), "", Placement.DUPLICATE_SKIPPED,
                      f"another path to the same file as {os.path.relpath(first, src)} (a link); placed once, "
                      "from there") for path, first in aliases]
    return plans


def _targets_batch(paths: list[str], dest: str, pattern_text: str) -> list[Planned]:
    """For each path: ``planned`` at its intended destination file, or its final status (not DICOM, ...).
    Only the pattern's keywords are read: sorting needs no SOPInstanceUID."""
    pattern = Pattern(pattern_text)
    out = []
    for path in paths:
        try:
            header = read_header(Path(path), pattern.keywords)
        except HeaderError as exc:
            status = Placement.NOT_DICOM if isinstance(exc, NotDicomError) else Placement.UNREADABLE
            out.append(Planned(path, "", status, str(exc)))
            continue
        with quiet_pydicom():
            target = Path(dest) / pattern.folder(header.dataset) / safe_component(Path(path).name)
        out.append(Planned(path, str(target), Placement.PLANNED))
    return out


def _place(target: Planned, taken: dict[str, str]) -> Planned:
    """The first free name among the target, target_1, target_2, ...; a name holding the same content (on disk
    or planned in this run) means the file is already there."""
    source, wanted = target.source, Path(target.destination)
    for n in range(1_000_000):
        candidate = wanted if n == 0 else wanted.with_name(f"{wanted.stem}_{n}{wanted.suffix}")
        key = str(candidate)
        occupant = taken.get(key) or (key if os.path.lexists(key) else None)
        if occupant is None:
            taken[key] = source
            return Planned(source, key, Placement.PLANNED if n == 0 else Placement.RENAMED,
                           "" if n == 0 else f"another file with different content has the name {wanted.name}")
        if _same_content(source, occupant):
            where = "already in the destination" if occupant == key else f"same content as {occupant}"
            return Planned(source, key, Placement.DUPLICATE_SKIPPED, where)
    raise RuntimeError(f"no free name for {wanted}")


def _same_content(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b) or filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _value(ds: Dataset, keyword: str, *, default_style: bool) -> str | int:
    value = ds.get(keyword, None)
    text = "" if value is None else str(value).strip()
    if default_style and keyword in ("PatientName", "SeriesDescription"):
        return re.sub(r"[ <>]", "_", text.upper())
    if default_style and keyword == "SeriesNumber":
        return f"{int(value):04d}" if text.lstrip("-").isdigit() else text
    if keyword in ("SeriesNumber", "InstanceNumber", "AcquisitionNumber") and text.lstrip("-").isdigit():
        return int(text)
    return text


def counts_by_status(plans: Iterable[Planned]) -> dict[Placement, int]:
    """Files per status word, in the order of :class:`Placement` (those with no file left out)."""
    counts = Counter(p.status for p in plans)
    return {s: counts[s] for s in Placement if counts[s]}


def plan_tree(plans: list[Planned], dest: Path) -> str:
    """The plan as a tree of patient / series folders with file counts (for --dry-run)."""
    folders: dict[tuple[str, ...], int] = {}
    for p in plans:
        if p.status.to_place:
            key = Path(p.destination).parent.relative_to(dest).parts
            folders[key] = folders.get(key, 0) + 1
    lines = [f"{dest}/"]
    shown: set[tuple[str, ...]] = set()
    for parts in sorted(folders):
        for depth in range(1, len(parts)):
            if parts[:depth] not in shown:
                shown.add(parts[:depth])
                lines.append("  " * depth + parts[depth - 1] + "/")
        lines.append("  " * len(parts) + f"{parts[-1]}/  {folders[parts]} file(s)")
    return "\n".join(lines)
