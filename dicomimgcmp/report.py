"""The machine-readable summary (CSV), the log file and the console summary."""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .atomic import atomic_output
from .model import CSV_COLUMNS, Status, SummaryRow

log = logging.getLogger("dicomimgcmp")


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
        if cells["status"] != Status.IDENTICAL.value:
            name = cells["deid_file"] or f"(source) {cells['source_file']}"
            quiet = cells["status"] in (Status.CHANGED.value, Status.SOURCE_ONLY.value)
            page = f" [{cells['pdf_file']} p.{cells['pdf_page']}]" if cells["pdf_page"] else ""
            reason = f" - {cells['reason']}" if cells["reason"] else ""
            log.log(logging.INFO if quiet else logging.WARNING, "%s: %s%s%s", cells["status"], name, reason, page)
        yield row


def incomplete_outputs(failed: list[str], complete: list[str], log_path: Path) -> str:
    """The one line that says which outputs a run could not write and which it wrote."""
    said = (f"{_and(complete)} {'is' if len(complete) == 1 else 'are'} complete" if complete
            else "no output was written")
    return (f"{_and(failed)} could not be written (internal error, see the log in {log_path}; the same command "
            f"again writes what is missing without comparing again); {said}")


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def console_summary(counts: dict[str, int], outputs: list[Path], log_path: Path, notes: Iterable[str] = (),
                    reused: dict[str, int] | None = None, identity_found: int = 0) -> str:
    """The closing lines printed to the console; ``notes`` say how the mapping was read, ``reused`` how much
    was taken from the saved state of an earlier run, ``identity_found`` how many images show the source's
    identity in their pixels (the text check)."""
    width = max(len(k) for k in counts)
    lines = [f"UID mapping: {note}" for note in notes]
    if reused and any(reused.values()):
        lines.append(f"Reused from an earlier run of this run_name: {reused.get('records', 0)} headers, "
                     f"{reused.get('results', 0)} comparisons (files unchanged; --restart to redo everything)")
    lines += ["Files per status:"] + [f"  {k:<{width}}  {v}" for k, v in counts.items()]
    if identity_found:
        lines.append(f"IDENTITY FOUND IN PIXELS: {identity_found} images (their pages come first in the PDF)")
    if counts[Status.IDENTICAL.value] + counts[Status.CHANGED.value] == 0:
        lines.append("WARNING: no de-identified file was paired with a source file; check uid_mapping_file "
                     "(the columns found are named above).")
    lines += ["Outputs:"] + [f"  {p}" for p in outputs] + [f"Log: {log_path}"]
    return "\n".join(lines)
