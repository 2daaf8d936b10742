"""Pair each de-identified file with its source through the UID mapping.

de-identified SOPInstanceUID -> ``id_old`` (mapping CSV) -> the source file with that SOPInstanceUID; a
de-identified UID the mapping does not list is paired with a source file that has the very same UID (setups that
keep some UIDs list only the ones they changed). Files that cannot be paired get their final status here; only
real pairs go on to the comparison.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .config import ConfigError
from .model import FileRecord, Pair, PairResult, Status

class MappingError(ConfigError):
    """A UID mapping file that cannot be used; the message names the file and the line or column."""


@dataclass(frozen=True)
class UidMapping:
    """de-identified UID -> source UID, and what a reviewer should know about how the file was read.

    ``ambiguous`` holds de-identified UIDs that several source UIDs map to; ``notes`` says how the file was read
    (encoding other than UTF-8, ignored empty trailing fields, the columns found).
    """

    new_to_old: dict[str, str]
    ambiguous: frozenset[str]
    notes: tuple[str, ...] = ()


class MappingFile:
    """The ``id_old``,``id_new`` CSV, read line by line (iterate it for (id_old, id_new) rows; it can be read
    again). Raises :class:`MappingError` naming the line or column.

    Accepted as real exports write it: a UTF-8 or UTF-16 byte order mark, CRLF, spaces around names and values,
    other columns (ignored), blank lines, and empty fields after the last column. The standard library's csv
    reader is used rather than pandas: it reads line by line and knows each line's number, which pandas' CSV
    reader does not report consistently for rows of the wrong length.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.encoding, self._encoding_notes = _encoding(path)
        self.columns: list[str] = []
        self.padded = 0  # lines with an empty field after the last column

    def __iter__(self) -> Iterator[tuple[str, str]]:
        path, self.padded = self.path, 0
        try:
            with open(path, newline="", encoding=self.encoding) as fh:
                reader = csv.reader(fh, skipinitialspace=True)
                self.columns = columns = [name.strip() for name in next(reader, [])]
                _check_columns(path, columns)
                i_old, i_new = columns.index("id_old"), columns.index("id_new")
                for fields in reader:
                    if len(fields) > len(columns):
                        if any(f.strip() for f in fields[len(columns):]):
                            raise MappingError(f"uid_mapping_file {path}: line {reader.line_num} has {len(fields)} "
                                               f"fields, the header {len(columns)} ({', '.join(columns)})")
                        self.padded += 1
                    if not any(f.strip() for f in fields):
                        continue  # a blank line
                    if len(fields) <= max(i_old, i_new):
                        raise MappingError(f"uid_mapping_file {path}: line {reader.line_num} has {len(fields)} "
                                           f"field(s), too few to hold id_old and id_new")
                    old, new = fields[i_old].strip(), fields[i_new].strip()
                    if old and new:
                        yield old, new
        except (UnicodeError, csv.Error) as exc:
            raise MappingError(f"uid_mapping_file {path} is not a readable CSV text file: {exc}") from None
        except OSError as exc:
            raise MappingError(f"uid_mapping_file {path} cannot be read: {exc.strerror or exc}") from None

    def notes(self, uids: int) -> tuple[str, ...]:
        """How the file was read (after reading it), for the console and the log."""
        notes = [f"{uids} UIDs mapped, columns found: {', '.join(c for c in self.columns if c)}",
                 *self._encoding_notes]
        if self.padded:
            notes.append(f"an empty field after the last column was ignored on {self.padded} line(s)")
        return tuple(notes)


def load_uid_mapping(path: Path) -> UidMapping:
    """The whole mapping in memory (see :class:`MappingFile` for what is accepted)."""
    mapping = MappingFile(path)
    new_to_old: dict[str, str] = {}
    ambiguous: set[str] = set()
    for old, new in mapping:
        if new_to_old.setdefault(new, old) != old:
            ambiguous.add(new)
    return UidMapping(new_to_old, frozenset(ambiguous), mapping.notes(len(new_to_old)))


def _encoding(path: Path) -> tuple[str, list[str]]:
    """The file's text encoding from its byte order mark (UTF-8 without one), and a note when not UTF-8."""
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16", ["read as UTF-16 (byte order mark found)"]
    return "utf-8-sig", []


def _check_columns(path: Path, columns: list[str]) -> None:
    missing = {"id_old", "id_new"} - set(columns)
    if missing:
        raise MappingError(f"uid_mapping_file {path} lacks column(s) {', '.join(sorted(missing))}; it needs "
                           f"id_old and id_new; found: {', '.join(repr(c) for c in columns) or 'nothing'}")


class Lookups(Protocol):
    """What pairing asks about the files and the mapping: answered from memory (:func:`pair_files`) or from the
    run's store (:class:`~.store.RunState`), so that the rules below serve both."""

    def mapped(self, uid: str) -> tuple[str | None, bool]:
        """(id_old, whether several id_old rows map to this id_new) for a de-identified UID."""

    def source_paths(self, uid: str) -> list[str]:
        """The relative paths of the readable source files with this SOPInstanceUID, in path order."""

    def sources(self, uid: str) -> list[FileRecord]:
        """The readable source files with this SOPInstanceUID, in path order."""

    def deid_copies(self, uid: str) -> list[str]:
        """The relative paths of the readable de-identified files with this SOPInstanceUID, in path order."""


def pair_deid(records: Iterable[FileRecord], lookups: Lookups, used: set[str] | None = None
              ) -> Iterator[Pair | PairResult]:
    """For each de-identified record (in the order given): the pair to compare, or its final status.

    Several de-identified copies of one UID are each compared (the note names the others): a changed copy must
    not hide behind an identical one. Several *source* files with one UID leave the pairing ambiguous: every
    de-identified file that maps to them is ``duplicate_uid``. ``used`` collects the source UIDs paired.
    """
    for rec in records:
        if rec.error:
            yield PairResult(Status.UNREADABLE, rec.error, deid=rec)
            continue
        uid = rec.sop_instance_uid
        others = [path for path in lookups.deid_copies(uid) if path != rec.rel_path]
        copy_note = f"other de-identified files with this SOPInstanceUID: {', '.join(others)}" if others else ""
        outcome = _pair_one(rec, uid, lookups)
        if isinstance(outcome, PairResult):
            yield outcome.with_note(copy_note)
            continue
        src, note = outcome
        if used is not None:
            used.add(src.sop_instance_uid)
        yield Pair(rec, src, "; ".join(n for n in (note, copy_note) if n))


def settle_sources(records: Iterable[FileRecord], lookups: Lookups, used: Callable[[str], bool]
                   ) -> Iterator[PairResult]:
    """The rows of the source files no pair compares: unreadable, ``duplicate_uid`` (several files share the
    UID) or ``source_only`` (no de-identified file maps to it)."""
    for rec in records:
        if rec.error:
            yield PairResult(Status.UNREADABLE, rec.error, source=rec)
            continue
        sharing = lookups.source_paths(rec.sop_instance_uid)
        if len(sharing) > 1:
            yield PairResult(Status.DUPLICATE_UID, _duplicates_note(sharing, "source"), source=rec)
        elif not used(rec.sop_instance_uid):
            yield PairResult(Status.SOURCE_ONLY, "no de-identified file maps to this file", source=rec)


@dataclass
class Pairing:
    """The outcome of pairing: pairs to compare, and the rows that are already final."""

    pairs: list[Pair]
    settled: list[PairResult]


def pair_files(deid: list[FileRecord], source: list[FileRecord], mapping: UidMapping) -> Pairing:
    """Give every file either a pair to compare or its final status (see :class:`~.model.Status`), all in
    memory: :func:`pair_deid` and :func:`settle_sources` with lookups over the two lists."""
    lookups = _MemoryLookups(deid, source, mapping)
    used: set[str] = set()
    outcomes = list(pair_deid(sorted(deid, key=lambda r: r.rel_path), lookups, used))
    settled = [o for o in outcomes if isinstance(o, PairResult)]
    settled += settle_sources(source, lookups, used.__contains__)
    return Pairing([o for o in outcomes if isinstance(o, Pair)], settled)


class _MemoryLookups:
    def __init__(self, deid: list[FileRecord], source: list[FileRecord], mapping: UidMapping) -> None:
        self._mapping = mapping
        self._deid, self._source = defaultdict(list), defaultdict(list)
        for records, by_uid in ((deid, self._deid), (source, self._source)):
            for rec in sorted(records, key=lambda r: r.rel_path):
                if not rec.error:
                    by_uid[rec.sop_instance_uid].append(rec)

    def mapped(self, uid: str) -> tuple[str | None, bool]:
        return self._mapping.new_to_old.get(uid), uid in self._mapping.ambiguous

    def source_paths(self, uid: str) -> list[str]:
        return [rec.rel_path for rec in self.sources(uid)]

    def sources(self, uid: str) -> list[FileRecord]:
        return self._source.get(uid, [])

    def deid_copies(self, uid: str) -> list[str]:
        return [rec.rel_path for rec in self._deid.get(uid, [])]


def _pair_one(rec: FileRecord, uid: str, lookups: Lookups) -> tuple[FileRecord, str] | PairResult:
    """The source of one de-identified file and how it was found, or the file's final status."""
    old, ambiguous = lookups.mapped(uid)
    if ambiguous:
        return PairResult(Status.UNMAPPED, "UID is id_new of several id_old rows in the mapping", deid=rec)
    note = ""
    if old is None:
        if not lookups.source_paths(uid):
            return PairResult(Status.UNMAPPED, "SOPInstanceUID not in the mapping file, and no source file has it",
                              deid=rec)
        old, note = uid, "paired by unchanged SOPInstanceUID (not an id_new of the mapping)"
    paths = lookups.source_paths(old)
    if not paths:
        return PairResult(Status.MISSING_PRE, f"no source file has SOPInstanceUID {old}", deid=rec)
    if len(paths) > 1:
        return PairResult(Status.DUPLICATE_UID, f"its source is ambiguous: {_duplicates_note(paths, 'source')}",
                          deid=rec)
    return lookups.sources(old)[0], note


def _duplicates_note(paths: list[str], side: str) -> str:
    return f"{len(paths)} {side} files share this SOPInstanceUID: {', '.join(paths)}"
