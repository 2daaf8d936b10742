"""The work that runs in the workers, on plain records: reading a batch of headers, pairing and comparing a
batch of de-identified files, settling source files, writing a PDF."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from dicomimgcmp.base.access import run_umask
from dicomimgcmp.compare.pair import compare_pair
from dicomimgcmp.config import TextCheck
from dicomimgcmp.enums import OutputAccess, Side, TextMode
from dicomimgcmp.model import FileRecord, Pair, PairResult, Status
from dicomimgcmp.output.pdf.plan import Summary, load_plan
from dicomimgcmp.output.pdf.write import write_pdf
from dicomimgcmp.pairing.rules import pair_deid, settle_sources
from dicomimgcmp.read.dicomfile import HEADER_PREFIX
from dicomimgcmp.read.readahead import read_ahead
from dicomimgcmp.read.record import read_record
from dicomimgcmp.read.walk import relative_path, stamp
from dicomimgcmp.run.store.lookups import PairingBatch
from dicomimgcmp.run.store.rows import ComparedRow, RecordRow, RowValues, compared_row, record_row, row_values

if TYPE_CHECKING:
    from dicomimgcmp.checks.recipe import Recipe


class IndexJob(NamedTuple):
    """One file to read the header of: its tree (0 de-identified, 1 source), the tree's root and its path."""

    tree: int
    root: str
    path: str


class BatchOutcome(NamedTuple):
    """A batch of de-identified files paired and compared: every file's row, the comparisons made (to save), the
    source UIDs paired, and how many comparisons were saved ones."""

    rows: list[RowValues]
    compared: list[ComparedRow]
    used: list[str]
    reused: int


class Checks(NamedTuple):
    """The checks that run with the comparison, in the workers: the text check, the recipe (None without one),
    and the header check (``header``; ``kept_uids`` the UIDs the mapping keeps, which may stay)."""

    text: TextCheck
    recipe: Recipe | None
    header: bool
    kept_uids: frozenset[str] = frozenset()
    profile: tuple[str, ...] | None = None  # the profile judgement's options (config key profile; None: off)
    set_values: bool = False  # the values the set judgement needs (config key set_check, with the header check)


def pair_and_compare_batches(batches: list[PairingBatch], tolerance: float, max_pixels: int,
                             checks: Checks) -> list[BatchOutcome]:
    return [batch_outcome(batch, lambda pairs: compare_batch(pairs, tolerance, max_pixels, checks))
            for batch in batches]


def batch_outcome(batch: PairingBatch, compare_pairs: Callable[[list[Pair]], list[ComparedRow]]) -> BatchOutcome:
    """Pair a batch of de-identified files and compare the pairs not compared before with ``compare_pairs``."""
    rows: list[RowValues] = []
    to_compare: list[Pair] = []
    used: list[str] = []
    for outcome in pair_deid(batch.records(), batch.lookups):
        if isinstance(outcome, PairResult):
            rows.append(row_values(outcome))
            continue
        used.append(outcome.source.sop_instance_uid)
        saved = batch.saved_row(outcome)
        if saved is None:
            to_compare.append(outcome)
        else:
            rows.append(saved)
    compared = compare_pairs(to_compare) if to_compare else []
    return BatchOutcome(rows + [c.row for c in compared], compared, used, len(used) - len(to_compare))


def settle_batches(batches: list[PairingBatch]) -> list[list[RowValues]]:
    """The rows of the source files no pair compares, a batch at a time."""
    return [[row_values(r) for r in settle_sources(batch.records(), batch.lookups, batch.lookups.is_used)]
            for batch in batches]


def records_in(batches: list[PairingBatch]) -> int:
    return sum(len(batch.texts) for batch in batches)


def index_batch(jobs: list[IndexJob], fast: bool, attributes: tuple[str, ...]) -> list[RecordRow]:
    """The jobs' records; the source files' with the ``attributes`` a recipe reads."""
    read_ahead((job.path, 0, HEADER_PREFIX) for job in jobs)
    return [record_row(read_record(job.path, job.root, fast=fast,
                                   attributes=attributes if job.tree == Side.SOURCE else ()))
            for job in jobs]


def unreadable_file(job: IndexJob, reason: str) -> RecordRow:
    return record_row(FileRecord(job.path, relative_path(job.path, job.root), error=reason,
                                 stamp=stamp(job.path)))


def compare_batch(pairs: list[Pair], tolerance: float, max_pixels: int, checks: Checks) -> list[ComparedRow]:
    """The pairs' comparisons as the store saves them (encoded here, in the worker)."""
    read_ahead((rec.path, rec.pixel_offset or 0, None) for pair in pairs for rec in (pair.deid, pair.source))
    results = [compare_pair(p.deid, p.source, tolerance, max_pixels) for p in pairs]
    if checks.text.mode is not TextMode.OFF:
        from dicomimgcmp.checks.text import check_pair  # only now: the text check's libraries load only when it is on

        results = [check_pair(result, checks.text) for result in results]
    if checks.recipe is not None:
        from dicomimgcmp.checks.recipe.verdict import check_recipe

        results = [check_recipe(result, checks.recipe) for result in results]
    if checks.header:
        from dicomimgcmp.checks.header_identity import check_headers

        results = [check_headers(result, checks.kept_uids, checks.profile, checks.set_values) for result in results]
    elif checks.profile is not None:
        from dicomimgcmp.checks.header_profile import check_profile

        results = [check_profile(result, checks.profile) for result in results]
    return [compared_row(pair, result) for pair, result in zip(pairs, results)]


def unreadable_pair(pair: Pair, reason: str) -> ComparedRow:
    return compared_row(pair, PairResult(Status.UNREADABLE, reason, deid=pair.deid, source=pair.source))


class PdfJob(NamedTuple):
    """One PDF to write: where, what its summary says, and its pages, numbered (its plan saved beside it a page
    at a time, :func:`~.pdf.plan.save_plan`, and read by the worker as it draws them: no process holds a PDF's
    pages; the run folder is where the workers write anyway)."""

    path: Path
    summary: Summary
    plan_file: Path
    tolerance: float
    access: OutputAccess  # a Dask worker on another machine writes under its own umask otherwise


def write_pdfs(jobs: list[PdfJob]) -> list[str | None]:
    """Write each job's PDF: None for each written, else why it could not be (its traceback), for the log."""
    errors: list[str | None] = []
    for job in jobs:
        try:
            with run_umask(job.access):
                write_pdf(job.path, job.summary, load_plan(job.plan_file), job.tolerance)
        except Exception:  # noqa: BLE001 - said by the pipeline, which goes on with the other PDFs
            errors.append(traceback.format_exc())
        else:
            errors.append(None)
    return errors
