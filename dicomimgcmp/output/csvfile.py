"""The machine-readable summary (``comparison_summary.csv``) and the log line of each file a reviewer must look at."""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dicomimgcmp.base.atomic import atomic_output
from dicomimgcmp.base.log import log
from dicomimgcmp.model import CSV_COLUMNS, Status
from dicomimgcmp.summary import SummaryRow


@contextmanager
def summary_csv(path: Path) -> Iterator[Callable[[SummaryRow], SummaryRow]]:
    """``comparison_summary.csv``, written atomically as rows pass through the function this yields (which
    adds a row's cells, columns :data:`CSV_COLUMNS`, and returns the row): the rows are read from the store
    once for the CSV and the review page."""
    with _csv_rows(path, CSV_COLUMNS) as write:
        def add(row: SummaryRow) -> SummaryRow:
            write(row.cells)
            return row

        yield add


def write_csv(path: Path, columns: tuple[str, ...], rows: Iterable[dict]) -> None:
    """Write a CSV atomically (no half-written file is ever seen under its name)."""
    with _csv_rows(path, columns) as write:
        for row in rows:
            write(row)


@contextmanager
def _csv_rows(path: Path, columns: tuple[str, ...]) -> Iterator[Callable[[dict], None]]:
    with atomic_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        # None is written blank by the csv module itself
        yield lambda row: writer.writerow([_float_cell(value) if isinstance(value, float) else value
                                           for value in map(row.__getitem__, columns)])


def _float_cell(value: float) -> str:
    """CSV text for a float: 'inf' for infinite PSNR, no float noise."""
    return "inf" if math.isinf(value) else f"{value:.10g}"


def logged(rows: Iterable[SummaryRow]) -> Iterator[SummaryRow]:
    """The rows, each logged as it passes (a line for each file whose status needs a reviewer's attention)."""
    for row in rows:
        cells = row.cells
        if cells["status"] != Status.IDENTICAL:
            name = cells["deid_file"] or f"(source) {cells['source_file']}"
            quiet = cells["status"] in (Status.CHANGED, Status.SOURCE_ONLY)
            page = f" [{cells['pdf_file']} p.{cells['pdf_page']}]" if cells["pdf_page"] else ""
            reason = f" - {cells['reason']}" if cells["reason"] else ""
            log.log(logging.INFO if quiet else logging.WARNING, "%s: %s%s%s", cells["status"], name, reason, page)
        yield row
