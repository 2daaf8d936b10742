"""The run's state on disk: every file, record, pair outcome and row lives here, not in memory, and what a stopped
run finished is kept for the next.

An SQLite file under the run folder (``<run_dir>/.dicomimgcmp/state.sqlite``):

- ``records``: every header record read, with the file's stamp (size, mtime); ``seen``: the files this run
  found, when the store held records of an earlier run (a narrow table: marking a file found rewrites no
  record; a store that was empty holds only what this run found);
- ``mapping``: the UID mapping, with the id_new that several id_old rows share marked ambiguous;
- ``results``: the last comparison made of each de-identified file, with both files' paths and stamps;
- ``rows`` and ``used``: this run's outcome, one row per file (its result; its files' records are joined when
  it is read), and the source UIDs paired.

Records and results are committed as they are made (every 2,000, or every half second), so a run killed at any
moment keeps what it finished; the next run of the same command reuses a record when its file is unchanged, and
a result when both files are. A change in anything else that affects results (``pixel_tolerance``,
``max_pixels``, the versions of this package, pydicom and the decoders) starts the state afresh. The outputs are
always written anew from the rows, so a resumed run writes exactly what an uninterrupted one would.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .index import WalkedFile
from .model import CSV_COLUMNS, Crop, FileRecord, Pair, PairResult, PixelFormat, Status, SummaryRow, TextLine

STATE_DIR = ".dicomimgcmp"
STATE_FILE = "state.sqlite"
_PAGE = 2000  # rows fetched at a time
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
                   phi INTEGER NOT NULL, result TEXT NOT NULL, deid_path TEXT, source_path TEXT, summary TEXT NOT NULL,
                   pdf_file TEXT, pdf_page INTEGER, PRIMARY KEY (side, rel_path));
-- a row with its files' records, joined where they are read (a row keeps its result, not copies of them); the
-- text is put together as is: Python's JSON (NaN, Infinity in metrics) is not SQLite's
CREATE VIEW full_rows AS
  SELECT rows.*, '{"result": ' || rows.result || ', "deid": ' || COALESCE(d.record, 'null') || ', "source": '
                 || COALESCE(s.record, 'null') || '}' AS row
  FROM rows LEFT JOIN records AS d ON d.tree = 0 AND d.path = rows.deid_path
            LEFT JOIN records AS s ON s.tree = 1 AND s.path = rows.source_path;
"""
#: How pairing reads records (by UID; by path), and the PDFs and the report read rows (by change group, by
#: series): each built once its table is filled (:meth:`RunState.finish_records`, :meth:`RunState.index_rows`),
#: which takes a fifth of the time that keeping it up to date through every insert does.
_RECORD_INDEXES = """
CREATE INDEX IF NOT EXISTS records_by_uid ON records (tree, uid, rel_path);
CREATE INDEX IF NOT EXISTS records_by_path ON records (tree, rel_path);
"""
_ROW_INDEXES = """
CREATE INDEX IF NOT EXISTS rows_by_group ON rows (change_group);
CREATE INDEX IF NOT EXISTS rows_by_series ON rows (series);
"""
_PAGE_ORDER = "patient_id, study, series_number, instance_number, rel_path"  # FileRecord.order_key
#: The rows that get a page: changed, or showing the source's identity in their pixels (the text check).
_ON_A_PAGE = "(status = ? OR phi = 1)"
#: The changed rows of a row's change group (NULL for a row with none).
_GROUP_SIZE = ("CASE WHEN rows.change_group IS NULL THEN NULL ELSE "
               "(SELECT COUNT(*) FROM rows AS mates WHERE mates.change_group = rows.change_group) END")
DEID, SOURCE = 0, 1
_RECORD_FIELDS = tuple(FileRecord.__dataclass_fields__)
_RESCALE, _FORMAT, _LAYERS = (_RECORD_FIELDS.index(name) for name in ("rescale", "format", "layers"))


@dataclass(frozen=True)
class PageLookups:
    """Pairing's answers (:class:`~.pairing.Lookups`) about one page of files, fetched from the store at once."""

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
class PairingPage:
    """A page of one tree's records, as saved (JSON, decoded where they are paired: a worker), with what pairing
    them needs from the store: :class:`PageLookups`, and for de-identified files the comparisons saved of them
    (pair key -> result JSON)."""

    texts: list[str]
    lookups: PageLookups
    saved: dict[str, str]

    def records(self) -> list[FileRecord]:
        return [record_from_json(json.loads(text)) for text in self.texts]

    def saved_row(self, pair: Pair) -> RowValues | None:
        """The row of the comparison saved for ``pair`` when both files are the same as then (same stamps)."""
        text = self.saved.get(_pair_key(pair))
        if text is None:
            return None
        return compared_row(pair, result_from_json(json.loads(text), pair.deid, pair.source), text).row


class RunState:
    """The state of one run_name; open it as a context manager."""

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
            for table in ("seen", "rows", "used", "mapping_rows"):  # the mapping is kept while its file is
                self._db.execute(f"DELETE FROM {table}")  # noqa: S608 - a fixed table name
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

    def __enter__(self) -> RunState:
        return self

    def __exit__(self, *exc) -> None:
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

    def _one(self, sql: str, *params):
        row = self._db.execute(sql, params).fetchone()
        return row[0] if row else None

    # --- header records ----------------------------------------------------------------------------------------

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

    def _record_pages(self, tree: int, size: int) -> Iterator[list[tuple[str, str, str | None, str]]]:
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

    # --- the mapping and pairing's questions (pairing.Lookups) ------------------------------------------------

    def load_mapping(self, rows: Iterable[tuple[str, str]], source: str) -> int:
        """Load (id_old, id_new) rows; an id_new given several id_old values is ambiguous. Returns the UIDs.

        ``source`` names the rows' file as it is now (its path and stamp): while it is the same, the mapping
        loaded from it last time is kept (a continued run does not load 20,000 UIDs again)."""
        if self._one("SELECT value FROM settings WHERE key = 'mapping'") != source:
            with self._transaction():  # no key until the mapping is whole: a stop in between loads it again
                self._db.execute("DELETE FROM settings WHERE key = 'mapping'")
                self._db.execute("DELETE FROM mapping")
            for chunk in chunks(rows, _PAGE * 5):
                with self._transaction():
                    self._db.executemany("INSERT INTO mapping_rows VALUES (?, ?)",
                                         [(new, old) for old, new in chunk])
            with self._transaction():
                self._db.execute("INSERT INTO mapping SELECT id_new, MIN(id_old), COUNT(DISTINCT id_old) > 1 "
                                 "FROM mapping_rows GROUP BY id_new")
                self._db.execute("DELETE FROM mapping_rows")
                self._db.execute("INSERT INTO settings VALUES ('mapping', ?)", (source,))
        return self._one("SELECT COUNT(*) FROM mapping")

    def pairing_pages(self, tree: int, size: int = _PAGE) -> Iterator[PairingPage]:
        """The records of ``tree``, in path order, ``size`` at a time, each page with the answers pairing asks
        about its files (:class:`~.pairing.Lookups`): the pairing is a join in the store, a few queries a page
        instead of several per file. De-identified files are asked about the mapping, the sources and other
        copies of their UIDs, and their saved comparisons; source files (:func:`~.pairing.settle_sources`)
        about the files sharing their UIDs (without their records, which settling does not ask for) and
        whether a pair used them. Called once :meth:`finish_records` has run."""
        for rows in self._record_pages(tree, size):
            uids = sorted({row[2] for row in rows} - {None})
            texts = [row[3] for row in rows]
            listed = json.dumps(uids)
            if tree == SOURCE:
                used = {row[0] for row in self._db.execute(f"SELECT uid FROM used WHERE uid IN {_LISTED}", (listed,))}
                yield PairingPage(texts, PageLookups({}, self._files_by_uid(SOURCE, listed), {}, used), {})
                continue
            mapping = {new: (old, bool(ambiguous)) for new, old, ambiguous in self._db.execute(
                f"SELECT id_new, id_old, ambiguous FROM mapping WHERE id_new IN {_LISTED}", (listed,))}
            copies = {uid: [rel_path for rel_path, _ in files]
                      for uid, files in self._files_by_uid(DEID, listed).items()}
            saved = dict(self._db.execute(f"SELECT pair, result FROM results WHERE deid_path IN {_LISTED}",
                                          (json.dumps([row[1] for row in rows]),))) if self._has_results else {}
            sources = self._files_by_uid(SOURCE, json.dumps(sorted(set(uids) | {old for old, _ in mapping.values()})),
                                         with_records=True)
            yield PairingPage(texts, PageLookups(mapping, sources, copies, set()), saved)

    def _files_by_uid(self, tree: int, uids: str, *, with_records: bool = False
                      ) -> dict[str, list[tuple[str, str]]]:
        """UID -> (rel_path, the record's JSON, or '' without ``with_records``: the UID index alone is read) of
        the readable files of ``tree`` with these UIDs (a JSON list), in path order."""
        record = "record" if with_records else "''"
        files: dict[str, list[tuple[str, str]]] = {}
        for uid, rel_path, text in self._db.execute(
                f"SELECT uid, rel_path, {record} FROM records WHERE tree = ? AND uid IN {_LISTED} "  # noqa: S608
                "ORDER BY uid, rel_path", (tree, uids)):
            files.setdefault(uid, []).append((rel_path, text))
        return files

    def mark_used(self, uids: Iterable[str]) -> None:
        with self._transaction():
            self._db.executemany("INSERT OR IGNORE INTO used VALUES (?)", [(uid,) for uid in uids])

    # --- comparisons ---------------------------------------------------------------------------------------------

    def saving(self) -> AbstractContextManager[None]:
        """Save what is saved within in one transaction (one commit)."""
        return self._transaction()

    def save_results(self, compared: Iterable[ComparedRow]) -> None:
        """Save comparisons made by this run (in one transaction)."""
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)",
                                 [(c.row.deid_path, c.pair_key, c.result) for c in compared])

    # --- this run's rows -----------------------------------------------------------------------------------------

    def save_rows(self, rows: Iterable[RowValues]) -> None:
        """Save final rows (:func:`row_values`), one per file: a de-identified file's, or a source file's no pair
        compares."""
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO rows (side, rel_path, status, patient_id, study, "
                                 "series_number, instance_number, series, change_group, phi, result, deid_path, "
                                 "source_path, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def index_rows(self) -> None:
        """Build the indexes the rows are read by, once they are all saved."""
        self._db.executescript(_ROW_INDEXES)

    def status_counts(self) -> dict[str, int]:
        """Rows per status, every status listed (zeros included), in the order of :class:`Status`."""
        counts = dict(self._db.execute("SELECT status, COUNT(*) FROM rows GROUP BY status").fetchall())
        return {s.value: counts.get(s.value, 0) for s in Status}

    def count_pages(self, per_group: bool) -> int:
        """Pair pages the PDFs hold: one per changed row, or one per change group, and one per row whose image
        shows identity (:data:`_ON_A_PAGE`)."""
        what = f"DISTINCT {_unit(per_group)}" if per_group else "*"
        return self._one(f"SELECT COUNT({what}) FROM rows WHERE {_ON_A_PAGE}", Status.CHANGED.value)

    def count_phi(self) -> int:
        """Rows whose de-identified image shows text matching the source's identity."""
        return self._one("SELECT COUNT(*) FROM rows WHERE phi = 1")

    def changed_pages(self, per_group: bool, first: int, count: int) -> Iterable[list[PairResult]]:
        """``count`` pair pages from the ``first`` (0-based), in page order, each as the rows it shows (one, or
        a change group's members), in page order: the images showing identity first, then the changed ones. A
        group's page is where its first member's would be: pages follow patient, study, series and instance
        whichever way they are cut. Read from the store each time they are iterated, :data:`_PAGES_READ` pages
        at a time (each read whole: the pages' numbers may be saved as they are read)."""
        self._order_pages(per_group)

        def read() -> Iterator[list[PairResult]]:
            for start in range(first, first + count, _PAGES_READ):
                pages: dict[int, list[PairResult]] = {}
                for unit, row, size in self._db.execute(
                        f"SELECT unit, rows.row, {_GROUP_SIZE} FROM temp.page_rows AS paged JOIN full_rows AS rows "
                        "ON rows.side = paged.side AND rows.rel_path = paged.rel_path WHERE unit BETWEEN ? AND ? "
                        "ORDER BY unit, n", (start, min(start + _PAGES_READ, first + count) - 1)).fetchall():
                    pages.setdefault(unit, []).append(_row_from_json(json.loads(row), group_size=size))
                yield from pages.values()

        return _Reread(read)

    def _order_pages(self, per_group: bool) -> None:
        """Number the pair pages' rows once, in a temporary table (on disk, as the store): each unit (a page) by
        its first row in page order, from 0, and each row within it."""
        if self._paged == per_group:
            return
        self._db.execute("DROP TABLE IF EXISTS temp.page_rows")
        self._db.execute(  # window functions over window functions: one sort each, no join of the rows
            "CREATE TEMP TABLE page_rows AS SELECT side, rel_path, n, DENSE_RANK() OVER (ORDER BY first) - 1 AS unit "
            "FROM (SELECT side, rel_path, n, MIN(n) OVER (PARTITION BY unit_id) AS first FROM "
            f"(SELECT side, rel_path, {_unit(per_group)} AS unit_id, ROW_NUMBER() OVER (ORDER BY phi DESC, "
            f"{_PAGE_ORDER}) AS n FROM rows WHERE {_ON_A_PAGE}))", (Status.CHANGED.value,))
        self._db.execute("CREATE INDEX temp.page_rows_by_unit ON page_rows (unit, n)")
        self._paged = per_group

    def group_leaders(self) -> set[str]:
        """The de-identified rel_path of each change group's first member in page order (whose page gives the
        group's thumbnail)."""
        return {row[0] for row in self._db.execute(
            f"SELECT rel_path FROM (SELECT rel_path, ROW_NUMBER() OVER (PARTITION BY change_group ORDER BY "
            f"{_PAGE_ORDER}) AS n FROM rows WHERE status = ?) WHERE n = 1", (Status.CHANGED.value,))}

    def groups(self) -> Iterator[tuple[PairResult, int, int]]:
        """Every change group, largest first (then in page order), as (its first member with its page, the
        group's size, the de-identified files of its series)."""
        yield from ((_row_from_json(json.loads(row), pdf_file=pdf_file or "", pdf_page=pdf_page, group_size=size),
                     size, series_size)
                    for row, pdf_file, pdf_page, size, series_size in self._db.execute(
            f"WITH ordered AS (SELECT change_group, series, row, pdf_file, pdf_page, "
            f"ROW_NUMBER() OVER (ORDER BY {_PAGE_ORDER}) AS n FROM full_rows WHERE status = ?), "
            "grouped AS (SELECT change_group, COUNT(*) AS size, MIN(n) AS first FROM ordered GROUP BY change_group) "
            "SELECT o.row, o.pdf_file, o.pdf_page, g.size, "
            "(SELECT COUNT(*) FROM rows WHERE series = o.series AND side = ?) "
            "FROM grouped AS g JOIN ordered AS o ON o.n = g.first ORDER BY g.size DESC, g.first",
            (Status.CHANGED.value, DEID)))

    def change_groups(self) -> list[str]:
        """The id of every change group."""
        return [row[0] for row in self._db.execute(
            "SELECT DISTINCT change_group FROM rows WHERE status = ?", (Status.CHANGED.value,))]

    def series_sizes(self, series: Iterable[str]) -> dict[str, int]:
        """De-identified files paired with a source of each of these source series."""
        return {uid: self._one("SELECT COUNT(*) FROM rows WHERE series = ? AND side = ?", uid, DEID)
                for uid in set(series)}

    def set_pages(self, items: Iterable[PairResult]) -> None:
        """Note each numbered result's PDF and page, :data:`_PAGE` at a time: ``items`` may be read from the store
        as they are noted (:meth:`changed_pages`), and only the notes are held, not the results."""
        with self._transaction():
            for notes in chunks(((r.pdf_file, r.pdf_page, DEID, r.deid.rel_path) for r in items), _PAGE):
                self._db.executemany("UPDATE rows SET pdf_file = ?, pdf_page = ? WHERE side = ? AND rel_path = ?",
                                     notes)

    def clear_pages(self) -> None:
        """Forget every row's PDF and page (when the pages could not all be numbered)."""
        self._db.execute("UPDATE rows SET pdf_file = NULL, pdf_page = NULL WHERE pdf_page IS NOT NULL")

    def summary_rows(self) -> Iterator[SummaryRow]:
        """Every row of the summary in CSV order (de-identified files by path, then source files by path), a page
        at a time: its saved cells (:func:`row_values`) with its page and its group's size, which are known only
        now. The records and results are not read: three times faster than making each row's result again."""
        last = (-1, "")
        while page := self._db.execute(
                f"SELECT side, rel_path, summary, pdf_file, pdf_page, {_GROUP_SIZE} FROM rows "
                "WHERE (side, rel_path) > (?, ?) ORDER BY side, rel_path LIMIT ?", (*last, _PAGE)).fetchall():
            last = page[-1][:2]
            for _side, _rel, summary, pdf_file, pdf_page, size in page:
                *cells, series = json.loads(summary)
                row = dict(zip(CSV_COLUMNS, cells))
                row.update(pdf_file=pdf_file or "", pdf_page=pdf_page, group_size=size)
                yield SummaryRow(row, series)


@dataclass(frozen=True)
class _Reread:
    """What ``read()`` yields, read again each time it is iterated (never held)."""

    read: Callable[[], Iterator]

    def __iter__(self) -> Iterator:
        return self.read()


def _unit(per_group: bool) -> str:
    """What a pair page stands for: a row, or (pages: per_group) a change group; a row showing identity has its
    own page either way."""
    if not per_group:
        return "rel_path"
    return "CASE WHEN phi = 1 OR change_group IS NULL THEN 'file:' || rel_path ELSE 'group:' || change_group END"


def chunks(items: Iterable, size: int) -> Iterator[list]:
    """Lists of ``size`` items (the last one shorter), pulled lazily."""
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _pair_key(pair: Pair) -> str:
    """Both files by path and stamp: a record is made from its file alone (the settings, versions included,
    are the same for the whole store), so the same stamps mean the same records and the same comparison."""
    return "\0".join((pair.deid.path, pair.deid.stamp, pair.source.path, pair.source.stamp))


class RowValues(NamedTuple):
    """A row of the rows table (its columns, in order): a file's final result."""

    side: int  # DEID or SOURCE
    rel_path: str
    status: str
    patient_id: str
    study: str
    series_number: int  # -1 when absent (sorted first)
    instance_number: int
    series: str
    change_group: str | None
    phi: int
    result: str  # JSON
    deid_path: str | None
    source_path: str | None
    summary: str  # JSON: the CSV cells (CSV_COLUMNS order) and the series label (SummaryRow), made where the row is


def row_values(r: PairResult, result: str | None = None) -> RowValues:
    """The row of a file's final result; ``result`` its JSON when already made."""
    rec = r.deid or r.source
    return RowValues(DEID if r.deid else SOURCE, rec.rel_path, r.status.value, rec.patient_id,
                     rec.study_instance_uid, -1 if rec.series_number is None else rec.series_number,
                     -1 if rec.instance_number is None else rec.instance_number,
                     (r.source or rec).series_instance_uid, r.change_group or None, int(bool(r.phi_match)),
                     result or json.dumps(result_to_json(r)), r.deid and r.deid.path, r.source and r.source.path,
                     json.dumps([*map(r.csv_row().__getitem__, CSV_COLUMNS), r.series_label]))  # read by position


class ComparedRow(NamedTuple):
    """A comparison as the store saves it, made where the comparison is (a worker: the process that runs the
    pipeline then neither unpickles the result nor encodes it): its result under the pair's key, and the
    de-identified file's row, the pairing's note in its reason."""

    pair_key: str
    result: str  # JSON
    row: RowValues


def compared_row(pair: Pair, result: PairResult, text: str | None = None) -> ComparedRow:
    """``text``: the result's JSON when already made (a saved comparison)."""
    text = text or json.dumps(result_to_json(result))
    return ComparedRow(_pair_key(pair), text, row_values(result.with_note(pair.note), None if pair.note else text))


class RecordRow(NamedTuple):
    """A header record as the store saves it, made where it is read (a worker: the process that runs the
    pipeline then neither unpickles the record nor encodes it)."""

    path: str
    stamp: str
    record: str  # JSON
    rel_path: str
    uid: str | None  # None for a file that could not be read


def record_row(rec: FileRecord) -> RecordRow:
    return RecordRow(rec.path, rec.stamp, json.dumps(record_to_json(rec)), rec.rel_path,
                     None if rec.error else rec.sop_instance_uid)


def record_to_json(rec: FileRecord) -> list:
    """A record as the JSON array of its fields' values, in order: read back in half the time an object with
    the fields' names takes (the fields' order is part of the store's settings)."""
    data = [getattr(rec, name) for name in _RECORD_FIELDS]
    data[_FORMAT] = None if rec.format is None else list(rec.format)
    return data


def record_from_json(data: list) -> FileRecord:
    values = list(data)
    values[_RESCALE], values[_LAYERS] = tuple(data[_RESCALE]), tuple(data[_LAYERS])
    values[_FORMAT] = None if data[_FORMAT] is None else PixelFormat(*data[_FORMAT])
    return FileRecord(*values)


def result_to_json(result: PairResult) -> dict:
    """A comparison's own findings (without the records, which key it, and the page, assigned afterwards)."""
    skip = ("deid", "source", "pdf_file", "pdf_page", "group_size")
    data = {name: getattr(result, name) for name in PairResult.__dataclass_fields__ if name not in skip}
    data["status"] = result.status.value
    data["crop"] = None if result.crop is None else [result.crop.row0, result.crop.col0, result.crop.rows,
                                                      result.crop.columns]
    data["text_lines"] = [list(line) for line in result.text_lines]
    return data


def result_from_json(data: dict, deid: FileRecord | None, source: FileRecord | None) -> PairResult:
    return PairResult(**{**data, "status": Status(data["status"]),
                         "crop": None if data["crop"] is None else Crop(*data["crop"]),
                         "changed_frames": tuple(data["changed_frames"]),
                         "text_lines": tuple(TextLine(text, tuple(box), frame, tuple(matches), layer)
                                             for text, box, frame, matches, layer in data["text_lines"]),
                         "bbox": None if data["bbox"] is None else tuple(data["bbox"])},
                      deid=deid, source=source)


def _row_from_json(data: dict, **extra) -> PairResult:
    """A row of ``full_rows`` as a result, with ``extra`` fields (its page) set."""
    deid, source = (None if data[side] is None else record_from_json(data[side]) for side in ("deid", "source"))
    return result_from_json({**data["result"], **extra}, deid, source)
