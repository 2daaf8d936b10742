"""The header records: a file unchanged since it was read is not read again."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from dicomimgcmp.read.walk import WalkedFile
from dicomimgcmp.run.store.base import _LISTED, _RECORD_INDEXES, StoreBase
from dicomimgcmp.run.store.rows import RecordRow


class RecordsCache(StoreBase):
    """Every header record read, with its file's stamp; the files this run found."""

    def unchanged(self, tree: int, files: list[WalkedFile]) -> set[str]:
        """The paths among ``files`` whose saved record holds: the file is unchanged since it was read (the
        same stamp; a file the walk could not stat is read again, and says why)."""
        if not self._has_records:
            return set()
        saved = dict(self._db.execute(f"SELECT path, stamp FROM records WHERE tree = ? AND path IN {_LISTED}",
                                      (tree, json.dumps([file.path for file in files]))))
        return {file.path for file in files if file.stamp and saved.get(file.path) == file.stamp}

    def reuse_records(self, tree: int, paths: Iterable[str]) -> None:
        """Count the saved records of these paths as read by this run."""
        paths = list(paths)
        with self._transaction():
            self._db.execute("INSERT OR IGNORE INTO seen SELECT ?, value FROM json_each(?)", (tree, json.dumps(paths)))
        self.reused["records"] += len(paths)

    def save_records(self, tree: int, rows: list[RecordRow]) -> None:
        """Save records read by this run (in one transaction)."""
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?)",
                                 [(tree, *row) for row in rows])
            if self._has_records:  # a store this run filled holds only what it found
                self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", [(tree, row.path) for row in rows])

    def finish_records(self) -> None:
        """Once this run's records are saved: forget those of files it did not find (removed or renamed since
        they were read: no query need ask whether a record is this run's), then build the indexes the records
        are read by (a run resumed after they were built keeps them up to date)."""
        if self._has_records:
            with self._transaction():
                self._db.execute("DELETE FROM records WHERE NOT EXISTS "
                                 "(SELECT 1 FROM seen WHERE seen.tree = records.tree AND seen.path = records.path)")
        self._db.executescript(_RECORD_INDEXES)

    def _record_batches(self, tree: int, size: int) -> Iterator[list[tuple[str, str, str | None, str]]]:
        """(rel_path, path, SOPInstanceUID (None: unreadable), record JSON) of every record of ``tree``, in path
        order, ``size`` at a time."""
        last = ""
        while rows := self._db.execute(
                "SELECT rel_path, path, uid, record FROM records WHERE tree = ? AND rel_path > ? "
                "ORDER BY rel_path LIMIT ?", (tree, last, size)).fetchall():
            last = rows[-1][0]
            yield rows

    def count_records(self, tree: int) -> int:
        return self._one("SELECT COUNT(*) FROM records WHERE tree = ?", tree)
