"""The store's file: its schema, the settings it was made with (a change starts it afresh), transactions."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from dicomimgcmp.enums import Side
from dicomimgcmp.run.store.rows import _RECORD_FIELDS

STATE_DIR = ".dicomimgcmp"


STATE_FILE = "state.sqlite"


_BATCH = 2000  # rows fetched at a time


_PAGES_READ = 256  # pair pages read at a time (each with its rows' results and records, a few KB)


_LISTED = "(SELECT value FROM json_each(?))"  # the values of a JSON array given as one parameter


_SCHEMA = """
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (tree INTEGER NOT NULL, path TEXT NOT NULL, stamp TEXT NOT NULL, record TEXT NOT NULL,
                      rel_path TEXT, uid TEXT, PRIMARY KEY (tree, path));
CREATE TABLE seen (tree INTEGER NOT NULL, path TEXT NOT NULL, PRIMARY KEY (tree, path)) WITHOUT ROWID;
CREATE TABLE mapping (id_new TEXT PRIMARY KEY, id_old TEXT NOT NULL, ambiguous INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE mapping_rows (id_new TEXT NOT NULL, id_old TEXT NOT NULL);
CREATE TABLE results (deid_path TEXT PRIMARY KEY, pair TEXT NOT NULL, result TEXT NOT NULL);
CREATE TABLE used (uid TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE rows (side INTEGER NOT NULL, rel_path TEXT NOT NULL, status TEXT NOT NULL, patient_id TEXT,
                   study TEXT, series_number INTEGER, instance_number INTEGER, series TEXT, change_group TEXT,
                   phi INTEGER NOT NULL, result TEXT, deid_path TEXT, source_path TEXT, summary TEXT NOT NULL,
                   recipe_verdict TEXT, recipe_rule TEXT, header_items TEXT, date_shift TEXT,
                   source_patient TEXT, profile_found INTEGER, profile_actions TEXT, set_items TEXT, pdf_file TEXT,
                   pdf_page INTEGER, PRIMARY KEY (side, rel_path));
-- what the set judgement reads of each pair it judges: a narrow table (a row of rows holds its result, tens of KB)
CREATE TABLE set_rows (rel_path TEXT PRIMARY KEY, source_patient TEXT, patient_id TEXT, date_shift TEXT,
                       shift_on TEXT, set_uids TEXT NOT NULL);
-- a row with its result (its own, or its comparison's: NULL in rows) and its files' records, joined where they are
-- read (a row keeps neither copies of them nor of its comparison); the text is put together as is: Python's JSON
-- (NaN, Infinity in metrics) is not SQLite's
CREATE VIEW full_rows AS
  SELECT rows.*, '{"result": ' || COALESCE(rows.result, r.result) || ', "deid": ' || COALESCE(d.record, 'null')
                 || ', "source": ' || COALESCE(s.record, 'null') || '}' AS row
  FROM rows LEFT JOIN results AS r ON rows.result IS NULL AND r.deid_path = rows.deid_path
            LEFT JOIN records AS d ON d.tree = 0 AND d.path = rows.deid_path
            LEFT JOIN records AS s ON s.tree = 1 AND s.path = rows.source_path;
"""


#: How pairing reads records (by UID; by path), and the PDFs and the report read rows (by change group, by
#: series): each built once its table is filled (:meth:`RecordsCache.finish_records`, :meth:`Results.index_rows`),
#: which takes a fifth of the time that keeping it up to date through every insert does.
_RECORD_INDEXES = """
CREATE INDEX IF NOT EXISTS records_by_uid ON records (tree, uid, rel_path);
CREATE INDEX IF NOT EXISTS records_by_path ON records (tree, rel_path);
"""


_ROW_INDEXES = """
CREATE INDEX IF NOT EXISTS rows_by_group ON rows (change_group);
CREATE INDEX IF NOT EXISTS rows_by_series ON rows (series);
"""


DEID, SOURCE = Side.DEID, Side.SOURCE


_Store = TypeVar("_Store", bound="StoreBase")


class StoreBase:
    """The connection to the run's SQLite file, opened afresh or continued; the other parts of the store share it."""

    def __init__(self, run_dir: Path, settings: dict[str, object], *, restart: bool = False) -> None:
        folder = run_dir / STATE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / STATE_FILE
        wanted = json.dumps({"schema": _SCHEMA + _RECORD_INDEXES + _ROW_INDEXES, "record": _RECORD_FIELDS,
                             **settings}, sort_keys=True)
        if restart or self._saved_settings() != wanted:
            self.path.unlink(missing_ok=True)
            for extra in ("-wal", "-shm"):
                self.path.with_name(STATE_FILE + extra).unlink(missing_ok=True)
        fresh = not self.path.exists()
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a killed process loses nothing committed
        # Some SQLite builds (Debian's) zero every deleted page and write it out: clearing a run's 20,000 rows
        # then wrote 39 MB (0.23 s instead of 0.02). FAST zeroes what is written anyway; the rows a run clears
        # are made again from the same files, and the store holds their header values for as long as it lives.
        self._db.execute("PRAGMA secure_delete=FAST")
        if fresh:
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT INTO settings VALUES ('settings', ?)", (wanted,))
        with self._transaction():
            self._db.execute("DROP INDEX IF EXISTS rows_by_group")  # this run's rows are indexed when saved
            self._db.execute("DROP INDEX IF EXISTS rows_by_series")
            for table in ("seen", "rows", "set_rows", "used", "mapping_rows"):  # the mapping is kept while its file is
                self._db.execute(f"DELETE FROM {table}")
        # a fresh state has nothing to look up: skip the queries
        self._has_records = self._one("SELECT EXISTS (SELECT 1 FROM records)") == 1
        self._has_results = self._one("SELECT EXISTS (SELECT 1 FROM results)") == 1
        self.reused = {"records": 0, "results": 0}
        self._paged: bool | None = None  # how the pair pages are numbered (pages: per_group or not), once known

    def _saved_settings(self) -> str | None:
        if not self.path.exists():
            return None
        try:
            with sqlite3.connect(self.path) as db:
                row = db.execute("SELECT value FROM settings WHERE key = 'settings'").fetchone()
            return row[0] if row else None
        except sqlite3.Error:  # not a state this version wrote
            return None

    def __enter__(self: _Store) -> _Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction; inside another, part of it (a caller saving several things commits once)."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _one(self, sql: str, *params: object) -> Any:
        row = self._db.execute(sql, params).fetchone()
        return row[0] if row else None
