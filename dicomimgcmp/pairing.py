"""Pair each de-identified file with its source through the UID mapping.

de-identified SOPInstanceUID -> ``id_old`` (mapping CSV) -> the source file with that SOPInstanceUID; a
de-identified UID the mapping does not list is paired with a source file that has the very same UID (setups that
keep some UIDs list only the ones they changed). Files that cannot be paired get their final status here; only
real pairs go on to the comparison.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

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


def load_uid_mapping(path: Path) -> UidMapping:
    """Read and validate the ``id_old``,``id_new`` CSV; raises :class:`MappingError` naming the line or column.

    Accepted as real exports write it: a UTF-8 or UTF-16 byte order mark, CRLF, spaces around names and values,
    other columns (ignored), blank lines, and empty fields after the last column. The standard library's csv
    reader is used rather than pandas: it reads line by line and knows each line's number, which pandas' CSV
    reader does not report consistently for rows of the wrong length.
    """
    encoding, notes = _encoding(path)
    new_to_old: dict[str, str] = {}
    ambiguous: set[str] = set()
    padded = 0
    try:
        with open(path, newline="", encoding=encoding) as fh:
            reader = csv.reader(fh, skipinitialspace=True)
            columns = [name.strip() for name in next(reader, [])]
            _check_columns(path, columns)
            i_old, i_new = columns.index("id_old"), columns.index("id_new")
            for fields in reader:
                if len(fields) > len(columns):
                    if any(f.strip() for f in fields[len(columns):]):
                        raise MappingError(f"uid_mapping_file {path}: line {reader.line_num} has {len(fields)} "
                                           f"fields, the header {len(columns)} ({', '.join(columns)})")
                    padded += 1
                if not any(f.strip() for f in fields):
                    continue  # a blank line
                if len(fields) <= max(i_old, i_new):
                    raise MappingError(f"uid_mapping_file {path}: line {reader.line_num} has {len(fields)} "
                                       f"field(s), too few to hold id_old and id_new")
                old, new = fields[i_old].strip(), fields[i_new].strip()
                if old and new and new_to_old.setdefault(new, old) != old:
                    ambiguous.add(new)
    except (UnicodeError, csv.Error) as exc:
        raise MappingError(f"uid_mapping_file {path} is not a readable CSV text file: {exc}") from None
    except OSError as exc:
        raise MappingError(f"uid_mapping_file {path} cannot be read: {exc.strerror or exc}") from None
    if padded:
        notes.append(f"an empty field after the last column was ignored on {padded} line(s)")
    notes.insert(0, f"{len(new_to_old)} UIDs mapped, columns found: {', '.join(c for c in columns if c)}")
    return UidMapping(new_to_old, frozenset(ambiguous), tuple(notes))


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


@dataclass
class Pairing:
    """The outcome of pairing: pairs to compare, and the rows that are already final."""

    pairs: list[Pair]
    settled: list[PairResult]


def pair_files(deid: list[FileRecord], source: list[FileRecord], mapping: UidMapping) -> Pairing:
    """Give every file either a pair to compare or its final status (see :class:`~.model.Status`).

    Several de-identified copies of one UID are each compared (the note names the others): a changed copy must
    not hide behind an identical one. Several *source* files with one UID leave the pairing ambiguous: those
    are ``duplicate_uid``, and so is every de-identified file that maps to them.
    """
    settled: list[PairResult] = []
    deid_by_uid = _readable_by_uid(deid, settled, side="deid")
    source_by_uid = _readable_by_uid(source, settled, side="source")
    used: set[str] = set()
    pairs = []
    for uid, copies in deid_by_uid.items():
        for rec in copies:
            copy_note = _copies_note(rec, copies)
            outcome = _pair_one(rec, uid, mapping, source_by_uid)
            if isinstance(outcome, PairResult):
                settled.append(outcome.with_note(copy_note))
                continue
            src, note = outcome
            used.add(src.sop_instance_uid)
            pairs.append(Pair(rec, src, "; ".join(n for n in (note, copy_note) if n)))
    for uid, recs in source_by_uid.items():
        if len(recs) > 1:
            settled += [PairResult(Status.DUPLICATE_UID, _duplicates_note(recs, "source"), source=r) for r in recs]
        elif uid not in used:
            settled.append(PairResult(Status.SOURCE_ONLY, "no de-identified file maps to this file", source=recs[0]))
    pairs.sort(key=lambda p: p.deid.rel_path)
    return Pairing(pairs, settled)


def _pair_one(rec: FileRecord, uid: str, mapping: UidMapping,
              source_by_uid: dict[str, list[FileRecord]]) -> tuple[FileRecord, str] | PairResult:
    """The source of one de-identified file and how it was found, or the file's final status."""
    if uid in mapping.ambiguous:
        return PairResult(Status.UNMAPPED, "UID is id_new of several id_old rows in the mapping", deid=rec)
    if uid in mapping.new_to_old:
        old, note = mapping.new_to_old[uid], ""
    elif uid in source_by_uid:
        old, note = uid, "paired by unchanged SOPInstanceUID (not an id_new of the mapping)"
    else:
        return PairResult(Status.UNMAPPED, "SOPInstanceUID not in the mapping file, and no source file has it",
                          deid=rec)
    sources = source_by_uid.get(old, [])
    if not sources:
        return PairResult(Status.MISSING_PRE, f"no source file has SOPInstanceUID {old}", deid=rec)
    if len(sources) > 1:
        return PairResult(Status.DUPLICATE_UID, f"its source is ambiguous: {_duplicates_note(sources, 'source')}",
                          deid=rec)
    return sources[0], note


def _readable_by_uid(records: list[FileRecord], settled: list[PairResult], *,
                     side: str) -> dict[str, list[FileRecord]]:
    """The records grouped by SOPInstanceUID, in path order; a file whose header could not be read (not DICOM,
    truncated, no UID) is settled ``unreadable``, in either tree, so that no file goes unreported."""
    by_uid: dict[str, list[FileRecord]] = defaultdict(list)
    for rec in records:
        if rec.error:
            settled.append(PairResult(Status.UNREADABLE, rec.error, **{side: rec}))
        else:
            by_uid[rec.sop_instance_uid].append(rec)
    return by_uid


def _copies_note(rec: FileRecord, copies: list[FileRecord]) -> str:
    others = [c.rel_path for c in copies if c is not rec]
    return f"other de-identified files with this SOPInstanceUID: {', '.join(others)}" if others else ""


def _duplicates_note(recs: list[FileRecord], side: str) -> str:
    return f"{len(recs)} {side} files share this SOPInstanceUID: {', '.join(r.rel_path for r in recs)}"
