"""Pair each de-identified file with its source through the UID mapping.

de-identified SOPInstanceUID -> ``id_old`` (mapping CSV) -> the source file with that SOPInstanceUID.
Files that cannot be paired get their final status here; only real pairs go on to the comparison.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .model import FileRecord, PairResult, Status


@dataclass(frozen=True)
class UidMapping:
    """de-identified UID -> source UID; ``ambiguous`` holds de-identified UIDs that several source UIDs map to."""

    new_to_old: dict[str, str]
    ambiguous: frozenset[str]


def load_uid_mapping(path: Path) -> UidMapping:
    """Read the ``id_old``,``id_new`` CSV (BOM, CRLF, spaces around headers and values accepted)."""
    table = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False, skipinitialspace=True)
    table.columns = [str(c).strip() for c in table.columns]
    table = table[["id_old", "id_new"]].apply(lambda col: col.str.strip())
    table = table[(table.id_old != "") & (table.id_new != "")].drop_duplicates()
    counts = table.id_new.value_counts()
    ambiguous = frozenset(counts[counts > 1].index)
    return UidMapping(dict(zip(table.id_new, table.id_old)), ambiguous)


@dataclass
class Pairing:
    """The outcome of pairing: pairs to compare, and the rows that are already final."""

    pairs: list[tuple[FileRecord, FileRecord]]
    settled: list[PairResult]


def pair_files(deid: list[FileRecord], source: list[FileRecord], mapping: UidMapping) -> Pairing:
    """Give every file either a pair to compare or its final status (see :class:`~.model.Status`)."""
    settled: list[PairResult] = []
    deid_ok = _settle_unreadable_and_duplicates(deid, settled, is_source=False)
    source_ok = _settle_unreadable_and_duplicates(source, settled, is_source=True)
    source_by_uid = {rec.sop_instance_uid: rec for rec in source_ok}
    used: set[str] = set()
    pairs = []
    for rec in deid_ok:
        uid = rec.sop_instance_uid
        if uid in mapping.ambiguous:
            settled.append(PairResult(Status.UNMAPPED, "UID is id_new of several id_old rows in the mapping",
                                      deid=rec))
        elif uid not in mapping.new_to_old:
            settled.append(PairResult(Status.UNMAPPED, "SOPInstanceUID not in the mapping file", deid=rec))
        elif mapping.new_to_old[uid] not in source_by_uid:
            settled.append(PairResult(Status.MISSING_PRE, f"no source file has SOPInstanceUID "
                                      f"{mapping.new_to_old[uid]}", deid=rec))
        else:
            src = source_by_uid[mapping.new_to_old[uid]]
            used.add(src.sop_instance_uid)
            pairs.append((rec, src))
    settled += [PairResult(Status.SOURCE_ONLY, "no de-identified file maps to this file", source=rec)
                for rec in source_ok if rec.sop_instance_uid not in used]
    return Pairing(pairs, settled)


def _settle_unreadable_and_duplicates(records: list[FileRecord], settled: list[PairResult],
                                      *, is_source: bool) -> list[FileRecord]:
    """Settle the records that cannot be paired and return the rest.

    A file whose header could not be read (not DICOM, truncated, no UID) is ``unreadable``, in either tree, so
    that no file goes unreported. Every file of a UID that several files in one tree share is ``duplicate_uid``.
    """
    side = "source" if is_source else "deid"
    by_uid: dict[str, list[FileRecord]] = defaultdict(list)
    for rec in records:
        if rec.error:
            settled.append(PairResult(Status.UNREADABLE, rec.error, **{side: rec}))
        else:
            by_uid[rec.sop_instance_uid].append(rec)
    unique = []
    for recs in by_uid.values():
        if len(recs) == 1:
            unique.append(recs[0])
            continue
        names = ", ".join(r.rel_path for r in recs)
        settled += [PairResult(Status.DUPLICATE_UID, f"{len(recs)} {'source' if is_source else 'de-identified'} "
                               f"files share this SOPInstanceUID: {names}", **{side: r}) for r in recs]
    return unique
