"""Pairing rules: which source file a de-identified file is compared with, and the statuses decided before
comparing (unmapped, missing_pre, duplicate_uid, source_only)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from dicomimgcmp.model import FileRecord, Pair, PairResult, Status


class Lookups(Protocol):
    """What pairing asks about the files and the mapping, answered by the run's store for a batch of files at
    once (:class:`~dicomimgcmp.run.store.lookups.BatchLookups`)."""

    def mapped(self, uid: str) -> tuple[str | None, bool]:
        """(id_old, whether several id_old rows map to this id_new) for a de-identified UID."""

    def source_paths(self, uid: str) -> list[str]:
        """The relative paths of the readable source files with this SOPInstanceUID, in path order."""

    def sources(self, uid: str) -> list[FileRecord]:
        """The readable source files with this SOPInstanceUID, in path order."""

    def deid_copies(self, uid: str) -> list[str]:
        """The relative paths of the readable de-identified files with this SOPInstanceUID, in path order."""


def pair_deid(records: Iterable[FileRecord], lookups: Lookups) -> Iterator[Pair | PairResult]:
    """For each de-identified record (in the order given): the pair to compare, or its final status.

    Several de-identified copies of one UID are each compared (the note names the others): a changed copy must
    not hide behind an identical one. Several *source* files with one UID leave the pairing ambiguous: every
    de-identified file that maps to them is ``duplicate_uid``.
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
