"""The comparisons made and this run's rows, saved as they are made."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager

from dicomimgcmp.run.store.base import _ROW_INDEXES, StoreBase
from dicomimgcmp.run.store.rows import ComparedRow, RowValues


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
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO rows (side, rel_path, status, patient_id, study, "
                                 "series_number, instance_number, series, change_group, phi, result, deid_path, "
                                 "source_path, summary, recipe_verdict, recipe_rule, header_items, date_shift, "
                                 "source_patient, profile_found, profile_actions, set_uids, shift_on) "
                                 f"VALUES ({', '.join('?' * len(RowValues._fields))})",
                                 rows)

    def index_rows(self) -> None:
        """Build the indexes the rows are read by, once they are all saved."""
        self._db.executescript(_ROW_INDEXES)
