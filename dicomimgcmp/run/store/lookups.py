"""Pairing's questions answered by the store for a batch of files at once: the mapping, the files sharing a
UID, the comparisons saved."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dicomimgcmp.base.workers import chunks
from dicomimgcmp.model import FileRecord, Pair
from dicomimgcmp.run.store.base import _BATCH, _LISTED, DEID, SOURCE
from dicomimgcmp.run.store.records import RecordsCache
from dicomimgcmp.run.store.rows import RowValues, _pair_key, compared_row, record_from_json, result_from_json


@dataclass(frozen=True)
class BatchLookups:
    """Pairing's answers about one batch of files, fetched from the store at once."""

    mapping: dict[str, tuple[str, bool]]  # id_new -> (id_old, ambiguous)
    #: SOPInstanceUID -> (rel_path, record JSON) of the readable source files, in path order; a record is
    #: decoded only when pairing asks for it
    source_rows: dict[str, list[tuple[str, str]]]
    copies: dict[str, list[str]]  # SOPInstanceUID -> readable de-identified files' rel_paths, in path order
    used: set[str]  # source UIDs a pair has compared

    def mapped(self, uid: str) -> tuple[str | None, bool]:
        return self.mapping.get(uid, (None, False))

    def source_paths(self, uid: str) -> list[str]:
        return [rel_path for rel_path, _record in self.source_rows.get(uid, [])]

    def sources(self, uid: str) -> list[FileRecord]:
        return [record_from_json(json.loads(record)) for _rel, record in self.source_rows.get(uid, [])]

    def deid_copies(self, uid: str) -> list[str]:
        return self.copies.get(uid, [])

    def is_used(self, uid: str) -> bool:
        return uid in self.used


@dataclass(frozen=True)
class PairingBatch:
    """A batch of one tree's records, as saved (JSON, decoded where they are paired: a worker), with what pairing
    them needs from the store: :class:`BatchLookups`, and for de-identified files the comparisons saved of them
    (pair key -> result JSON)."""

    texts: list[str]
    lookups: BatchLookups
    saved: dict[str, str]

    def records(self) -> list[FileRecord]:
        return [record_from_json(json.loads(text)) for text in self.texts]

    def saved_row(self, pair: Pair) -> RowValues | None:
        """The row of the comparison saved for ``pair`` when both files are the same as then (same stamps)."""
        text = self.saved.get(_pair_key(pair))
        if text is None:
            return None
        return compared_row(pair, result_from_json(json.loads(text), pair.deid, pair.source), text).row


class PairingLookups(RecordsCache):
    """The UID mapping, and what pairing asks about a batch of records."""

    def load_mapping(self, rows: Iterable[tuple[str, str]], source: str) -> int:
        """Load (id_old, id_new) rows; an id_new given several id_old values is ambiguous. Returns the UIDs.

        ``source`` names the rows' file as it is now (its path and stamp): while it is the same, the mapping
        loaded from it last time is kept (a continued run does not load 20,000 UIDs again)."""
        if self._one("SELECT value FROM settings WHERE key = 'mapping'") != source:
            with self._transaction():  # no key until the mapping is whole: a stop in between loads it again
                self._db.execute("DELETE FROM settings WHERE key = 'mapping'")
                self._db.execute("DELETE FROM mapping")
            for chunk in chunks(rows, _BATCH * 5):
                with self._transaction():
                    self._db.executemany("INSERT INTO mapping_rows VALUES (?, ?)",
                                         [(new, old) for old, new in chunk])
            with self._transaction():
                self._db.execute("INSERT INTO mapping SELECT id_new, MIN(id_old), COUNT(DISTINCT id_old) > 1 "
                                 "FROM mapping_rows GROUP BY id_new")
                self._db.execute("DELETE FROM mapping_rows")
                self._db.execute("INSERT INTO settings VALUES ('mapping', ?)", (source,))
        return self._one("SELECT COUNT(*) FROM mapping")

    def kept_uids(self) -> frozenset[str]:
        """The UIDs the mapping keeps (id_old equal to id_new): these may stay in a de-identified file."""
        return frozenset(row[0] for row in self._db.execute("SELECT id_old FROM mapping WHERE id_old = id_new"))

    def pairing_batches(self, tree: int, size: int = _BATCH) -> Iterator[PairingBatch]:
        """The records of ``tree``, in path order, ``size`` at a time, each batch with the answers pairing asks
        about its files (:class:`~.pairing.rules.Lookups`): the pairing is a join in the store, a few queries a batch
        instead of several per file. De-identified files are asked about the mapping, the sources and other
        copies of their UIDs, and their saved comparisons; source files (:func:`~.pairing.rules.settle_sources`)
        about the files sharing their UIDs (without their records, which settling does not ask for) and
        whether a pair used them. Called once :meth:`finish_records` has run."""
        for rows in self._record_batches(tree, size):
            uids = sorted({row[2] for row in rows if row[2] is not None})
            texts = [row[3] for row in rows]
            listed = json.dumps(uids)
            if tree == SOURCE:
                used = {row[0] for row in self._db.execute(f"SELECT uid FROM used WHERE uid IN {_LISTED}", (listed,))}
                yield PairingBatch(texts, BatchLookups({}, self._files_by_uid(SOURCE, listed), {}, used), {})
                continue
            mapping = {new: (old, bool(ambiguous)) for new, old, ambiguous in self._db.execute(
                f"SELECT id_new, id_old, ambiguous FROM mapping WHERE id_new IN {_LISTED}", (listed,))}
            copies = {uid: [rel_path for rel_path, _ in files]
                      for uid, files in self._files_by_uid(DEID, listed).items()}
            saved = dict(self._db.execute(f"SELECT pair, result FROM results WHERE deid_path IN {_LISTED}",
                                          (json.dumps([row[1] for row in rows]),))) if self._has_results else {}
            sources = self._files_by_uid(SOURCE, json.dumps(sorted(set(uids) | {old for old, _ in mapping.values()})),
                                         with_records=True)
            yield PairingBatch(texts, BatchLookups(mapping, sources, copies, set()), saved)

    def _files_by_uid(self, tree: int, uids: str, *, with_records: bool = False
                      ) -> dict[str, list[tuple[str, str]]]:
        """UID -> (rel_path, the record's JSON, or '' without ``with_records``: the UID index alone is read) of
        the readable files of ``tree`` with these UIDs (a JSON list), in path order."""
        record = "record" if with_records else "''"
        files: dict[str, list[tuple[str, str]]] = {}
        for uid, rel_path, text in self._db.execute(
                f"SELECT uid, rel_path, {record} FROM records WHERE tree = ? AND uid IN {_LISTED} "
                "ORDER BY uid, rel_path", (tree, uids)):
            files.setdefault(uid, []).append((rel_path, text))
        return files

    def mark_used(self, uids: Iterable[str]) -> None:
        with self._transaction():
            self._db.executemany("INSERT OR IGNORE INTO used VALUES (?)", [(uid,) for uid in uids])

    def why_unpaired(self) -> str:
        """Why a run paired nothing, as far as the store can tell: a tree without a DICOM file, or a mapping
        whose columns are swapped (the de-identified files' UIDs are its id_old values)."""
        readable = dict(self._db.execute("SELECT tree, COUNT(*) FROM records WHERE uid IS NOT NULL GROUP BY tree"))
        if not readable.get(DEID):
            return "input_data_path holds no readable DICOM file"
        if not readable.get(SOURCE):
            return "pre_deID_data_path holds no readable DICOM file"
        as_old, as_new = self._db.execute(
            "SELECT EXISTS (SELECT 1 FROM records WHERE tree = ? AND uid IN (SELECT id_old FROM mapping)), "
            "EXISTS (SELECT 1 FROM records WHERE tree = ? AND uid IN (SELECT id_new FROM mapping))",
            (DEID, DEID)).fetchone()
        if as_old and not as_new:
            return ("the de-identified files' SOPInstanceUIDs are in the mapping's id_old column, not id_new: "
                    "the columns look swapped")
        return "check uid_mapping_file (its columns are named above) and the input folders"
