"""The run's saved state: what was already read and compared, so that a stopped run continues where it stopped.

An SQLite file under the run folder (``<run_dir>/.dicomimgcmp/state.sqlite``) keeps every header record and
every comparison result as it is made, committed batch by batch, so that a run killed at any moment keeps what
it finished. The next run of the same command reuses a record when its file's size and modification time are
unchanged, and a result when both files of the pair are unchanged; a change in anything that affects results
(``pixel_tolerance``, ``max_pixels``, the versions of this package and of pydicom) throws the state away.
Outputs are always written anew from the complete results, so a resumed run writes exactly what an
uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .index import stamp
from .model import Crop, FileRecord, Pair, PairResult, PixelFormat, Status

STATE_DIR = ".dicomimgcmp"
STATE_FILE = "state.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (path TEXT PRIMARY KEY, stamp TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (pair TEXT PRIMARY KEY, result TEXT NOT NULL);
"""


class RunState:
    """Records and results saved under the run folder; open it as a context manager."""

    def __init__(self, run_dir: Path, settings: dict[str, object], *, restart: bool = False) -> None:
        folder = run_dir / STATE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / STATE_FILE
        if restart:
            self.path.unlink(missing_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a killed process loses nothing committed; power loss may
        self._db.executescript(_SCHEMA)
        wanted = json.dumps(settings, sort_keys=True)
        saved = self._db.execute("SELECT value FROM settings WHERE key = 'settings'").fetchone()
        if saved is None or saved[0] != wanted:
            with self._transaction():
                self._db.execute("DELETE FROM records")
                self._db.execute("DELETE FROM results")
                self._db.execute("INSERT OR REPLACE INTO settings VALUES ('settings', ?)", (wanted,))
        self.reused = {"records": 0, "results": 0}

    def __enter__(self) -> RunState:
        return self

    def __exit__(self, *exc) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def saved_record(self, path: str) -> FileRecord | None:
        """The record saved for ``path`` when the file is unchanged since it was read."""
        row = self._db.execute("SELECT stamp, record FROM records WHERE path = ?", (path,)).fetchone()
        if row is None or not row[0] or row[0] != stamp(path):
            return None
        self.reused["records"] += 1
        return record_from_json(json.loads(row[1]))

    def save_records(self, records: Iterable[FileRecord]) -> None:
        """Save records (in one transaction)."""
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?)",
                                 [(rec.path, rec.stamp, json.dumps(record_to_json(rec))) for rec in records])

    def saved_result(self, pair: Pair) -> PairResult | None:
        """The comparison saved for ``pair`` when both files are the same as then (their records, stamps
        included, say so)."""
        row = self._db.execute("SELECT result FROM results WHERE pair = ?", (_pair_key(pair),)).fetchone()
        if row is None:
            return None
        self.reused["results"] += 1
        return result_from_json(json.loads(row[0]), pair)

    def save_results(self, pairs: Iterable[Pair], results: Iterable[PairResult]) -> None:
        """Save the comparison results of ``pairs`` (in one transaction)."""
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?)",
                                 [(_pair_key(p), json.dumps(result_to_json(r))) for p, r in zip(pairs, results)])


def _pair_key(pair: Pair) -> str:
    text = json.dumps([record_to_json(pair.deid), record_to_json(pair.source)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def record_to_json(rec: FileRecord) -> dict:
    data = {name: getattr(rec, name) for name in FileRecord.__dataclass_fields__}
    data["format"] = None if rec.format is None else list(rec.format)
    return data


def record_from_json(data: dict) -> FileRecord:
    fmt = data["format"]
    return FileRecord(**{**data, "rescale": tuple(data["rescale"]),
                         "format": None if fmt is None else PixelFormat(*fmt)})


def result_to_json(result: PairResult) -> dict:
    """A comparison's own findings (without the records, which key it, and the page, assigned afterwards)."""
    skip = ("deid", "source", "pdf_file", "pdf_page")
    data = {name: getattr(result, name) for name in PairResult.__dataclass_fields__ if name not in skip}
    data["status"] = result.status.value
    data["crop"] = None if result.crop is None else [result.crop.row0, result.crop.col0, result.crop.rows,
                                                      result.crop.columns]
    return data


def result_from_json(data: dict, pair: Pair) -> PairResult:
    return PairResult(**{**data, "status": Status(data["status"]),
                         "crop": None if data["crop"] is None else Crop(*data["crop"]),
                         "changed_frames": tuple(data["changed_frames"]),
                         "bbox": None if data["bbox"] is None else tuple(data["bbox"])},
                      deid=pair.deid, source=pair.source)
