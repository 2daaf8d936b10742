"""The report's questions: counts, change groups, and the PDF pages; which rows get a page and in what order
is decided here, once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from dicomimgcmp.base.workers import chunks
from dicomimgcmp.enums import RecipeVerdict
from dicomimgcmp.model import CSV_COLUMNS, PairResult, Status
from dicomimgcmp.run.store.base import _BATCH, _PAGES_READ, DEID, StoreBase
from dicomimgcmp.run.store.findings import FAILS_RECIPE as _FAILS_RECIPE
from dicomimgcmp.run.store.rows import _row_from_json
from dicomimgcmp.summary import SummaryRow

#: The report's order, the one home of it: PatientID, StudyInstanceUID, SeriesNumber, InstanceNumber, path.
_PAGE_ORDER = "patient_id, study, series_number, instance_number, rel_path"


#: The rows that get a page: changed, showing the source's identity in their pixels (the text check), or
#: unchanged where the recipe expected a region blanked (identity may be left there).
_ON_A_PAGE = f"(status = ? OR phi = 1 OR recipe_verdict = '{RecipeVerdict.MISSED_REGION.value}')"


#: The changed rows of a row's change group (NULL for a row with none).
_GROUP_SIZE = ("CASE WHEN rows.change_group IS NULL THEN NULL ELSE "
               "(SELECT COUNT(*) FROM rows AS mates WHERE mates.change_group = rows.change_group) END")


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


class ReportQueries(StoreBase):
    """Counts, change groups, the PDF pages in order and the summary's rows."""

    def status_counts(self) -> dict[Status, int]:
        """Rows per status, every status listed (zeros included), in the order of :class:`Status`."""
        counts = dict(self._db.execute("SELECT status, COUNT(*) FROM rows GROUP BY status").fetchall())
        return {s: counts.get(s, 0) for s in Status}

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
            f"{_FAILS_RECIPE} DESC, {_PAGE_ORDER}) AS n FROM rows WHERE {_ON_A_PAGE}))", (Status.CHANGED.value,))
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
        """Note each numbered result's PDF and page, :data:`_BATCH` at a time: ``items`` may be read from the store
        as they are noted (:meth:`changed_pages`), and only the notes are held, not the results."""
        with self._transaction():
            for notes in chunks(((r.pdf_file, r.pdf_page, DEID, r.record.rel_path) for r in items), _BATCH):
                self._db.executemany("UPDATE rows SET pdf_file = ?, pdf_page = ? WHERE side = ? AND rel_path = ?",
                                     notes)

    def clear_pages(self) -> None:
        """Forget every row's PDF and page (when the pages could not all be numbered)."""
        self._db.execute("UPDATE rows SET pdf_file = NULL, pdf_page = NULL WHERE pdf_page IS NOT NULL")

    def summary_rows(self) -> Iterator[SummaryRow]:
        """Every row of the summary in CSV order (de-identified files by path, then source files by path), a page
        at a time: its saved cells (:func:`.rows.row_values`) with its page, its group's size and the set
        judgement's findings, which are known only now. The records and results are not read: three times faster
        than making each row's result again."""
        last = (-1, "")
        while page := self._db.execute(
                f"SELECT side, rel_path, summary, pdf_file, pdf_page, {_GROUP_SIZE}, set_items FROM rows "
                "WHERE (side, rel_path) > (?, ?) ORDER BY side, rel_path LIMIT ?", (*last, _BATCH)).fetchall():
            last = page[-1][:2]
            for _side, _rel, summary, pdf_file, pdf_page, size, set_items in page:
                *cells, series = json.loads(summary)
                row = dict(zip(CSV_COLUMNS, cells))
                row.update(pdf_file=pdf_file or "", pdf_page=pdf_page, group_size=size, set_findings=set_items or "")
                yield SummaryRow(row, series)
