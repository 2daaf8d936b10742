"""The comparisons made and this run's rows, saved as they are made."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager

from dicomimgcmp.run.store.base import _ROW_INDEXES, DEID, StoreBase
from dicomimgcmp.run.store.rows import ComparedRow, RowValues

#: The columns of the rows table, RowValues' first fields (the last ones go to the set judgement's table).
_ROW_COLUMNS = RowValues._fields[:RowValues._fields.index("set_uids")]


class Results(StoreBase):
    """Comparisons (kept for the next run) and this run's rows."""

    def saving(self) -> AbstractContextManager[None]:
        """Save what is saved within in one transaction (one commit)."""
        return self._transaction()

    def save_results(self, compared: Iterable[ComparedRow]) -> None:
        """Save comparisons made by this run (in one transaction)."""
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)",
                                 [(c.row.deid_path, c.pair_key, c.result) for c in compared])

    def save_rows(self, rows: Iterable[RowValues]) -> None:
        """Save final rows (:func:`.rows.row_values`), one per file: a de-identified file's, or a source file's no pair
        compares."""
        rows = list(rows)
        with self._transaction():
            self._db.executemany(f"INSERT OR REPLACE INTO rows ({', '.join(_ROW_COLUMNS)}) VALUES "
                                 f"({', '.join('?' * len(_ROW_COLUMNS))})", [row[:len(_ROW_COLUMNS)] for row in rows])
            self._db.executemany("INSERT OR REPLACE INTO set_rows VALUES (?, ?, ?, ?, ?, ?)",
                                 [(row.rel_path, row.source_patient, row.patient_id, row.date_shift, row.shift_on,
                                   row.set_uids) for row in rows if row.set_uids and row.side == DEID])

    def index_rows(self) -> None:
        """Build the indexes the rows are read by, once they are all saved."""
        self._db.executescript(_ROW_INDEXES)
