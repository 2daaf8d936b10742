"""The outputs of a run, written in order of value once every pair is compared: the PDF pages numbered, the CSV,
review.html, then the PDFs drawn; each whatever became of the others."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from dicomimgcmp.base.atomic import temporary_name
from dicomimgcmp.base.log import log
from dicomimgcmp.base.progress import Progress, StageClock
from dicomimgcmp.base.workers import Workers, map_batches
from dicomimgcmp.config import Config
from dicomimgcmp.enums import PageMode
from dicomimgcmp.model import HEADER_ACTIONS_COLUMNS, HEADER_ACTIONS_CSV, REVIEW_HTML, SUMMARY_CSV, Status, pdf_name
from dicomimgcmp.output.csvfile import logged, summary_csv, write_csv
from dicomimgcmp.output.pdf.plan import Summary, plan_pdf, save_plan
from dicomimgcmp.output.review import THUMBNAIL_DIR, Decision, GroupView, write_review
from dicomimgcmp.run.store import RunState
from dicomimgcmp.run.tasks import PdfJob, write_pdfs
from dicomimgcmp.summary import HeaderTally, ProfileTally, RecipeTally, SetTally


@dataclass(frozen=True)
class RunReport:
    """What every output says of the whole run."""

    counts: dict[Status, int]
    identity_found: int
    date: str
    carried: dict[str, Decision]
    recipe: RecipeTally | None = None
    header: HeaderTally | None = None
    unpaired: str = ""  # why nothing was paired ("" when something was)
    profile: ProfileTally | None = None
    set: SetTally | None = None  # the run judged as one set (None: off)


@dataclass
class _Written:
    """The outputs a run wrote (their paths, and in words), and the ones it could not write (each failure's
    traceback is in the log)."""

    paths: list[Path] = field(default_factory=list)
    complete: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def wrote(self, what: str, path: Path) -> None:
        self.paths.append(path)
        self.complete.append(what)

    def attempt(self, what: str, write: Callable[[], _T]) -> _T | None:
        """``write()``, or None when it raised: logged with its traceback, and ``what`` noted as not written."""
        try:
            return write()
        except Exception:  # noqa: BLE001 - one output's failure must not cost the others
            self.fail(what, traceback.format_exc())
            return None

    def fail(self, what: str, details: str) -> None:
        log.error("%s could not be written:\n%s", what, details)
        self.failed.append(what)


_T = TypeVar("_T")


def write_outputs(cfg: Config, parts: int | None, workers: Workers, state: RunState, report: RunReport,
                   progress: Progress, clock: StageClock) -> _Written:
    """Write the outputs in order of value, each whatever became of the ones before: the PDF pages are
    numbered (each PDF's plan saved beside it), then the CSV is written (the record a pipeline reads; without
    page numbers when the numbering failed), then review.html, and the PDFs are drawn last. A failed output
    under its final name is removed: every output in the run folder is this run's."""
    written = _Written()
    progress.stage = "numbering the PDF pages"
    jobs = written.attempt("the PDFs (their pages could not be numbered)",
                           lambda: _plan_pdfs(cfg, parts, state, report))
    if jobs is None:
        state.clear_pages()
    clock.lap("pages")
    try:
        progress.stage = "writing the CSV"
        csv_path = cfg.run_dir / SUMMARY_CSV
        if _kept(written, "the CSV" if jobs is not None else "the CSV (without page numbers)", csv_path,
                 lambda: _write_csv(csv_path, state)):
            progress.done.append("wrote the CSV")
        if cfg.profile is not None:
            actions_path = cfg.run_dir / HEADER_ACTIONS_CSV
            _kept(written, HEADER_ACTIONS_CSV, actions_path, lambda: write_csv(
                actions_path, HEADER_ACTIONS_COLUMNS, (dict(zip(HEADER_ACTIONS_COLUMNS, row))
                                                       for row in state.header_actions())))
        progress.stage = "writing the review page"
        review_path = cfg.run_dir / REVIEW_HTML
        _kept(written, "review.html", review_path, lambda: _write_review(review_path, cfg.run_name, state, report))
        _log_carried(report.carried, state)
        clock.lap("report")
        if jobs:
            progress.stage = "writing the PDF(s)"
            _draw_pdfs(cfg, parts, workers, jobs, written)
            clock.lap("render")
    finally:
        for job in jobs or ():
            job.plan_file.unlink(missing_ok=True)
    return written


def _kept(written: _Written, what: str, path: Path, write: Callable[[], None]) -> bool:
    """Write one output file with :meth:`_Written.attempt`; when it fails, an earlier run's file of that name goes
    (it would not match this run's other outputs). Whether it was written."""
    def wrote() -> bool:
        write()
        return True

    if written.attempt(what, wrote):
        written.wrote(what, path)
        return True
    path.unlink(missing_ok=True)
    return False


def _write_csv(path: Path, state: RunState) -> None:
    """``comparison_summary.csv`` from the saved rows, each file a reviewer must look at logged as it passes."""
    with summary_csv(path) as add_to_csv:
        for row in logged(state.summary_rows()):
            add_to_csv(row)


def _write_review(path: Path, run_name: str, state: RunState, report: RunReport) -> None:
    write_review(path, run_name=run_name, date=report.date, counts=report.counts,
                        rows=state.summary_rows(), carried=report.carried,
                        groups=(GroupView(*group) for group in state.groups()),
                        phi_total=report.identity_found, recipe=report.recipe, header=report.header,
                        profile=report.profile, set_tally=report.set)


def _plan_pdfs(cfg: Config, parts: int | None, state: RunState, report: RunReport) -> list[PdfJob]:
    """Split the pair pages over the PDF(s) in page order, note their pages in the store, and save each PDF's
    plan. With ``pages: per_group`` a change group has one page, and its members are never split over two PDFs."""
    per_group = cfg.pages is PageMode.PER_GROUP
    n_parts = parts or 1
    leaders = state.group_leaders()
    counts = report.counts
    jobs: list[PdfJob] = []
    try:
        for part, (first, size) in enumerate(_split_balanced(state.count_pages(per_group), n_parts)):
            summary = Summary(cfg.run_name, report.date, str(cfg.input_data_path), str(cfg.pre_deID_data_path),
                                     str(cfg.uid_mapping_file), counts, part, n_parts, counts[Status.CHANGED],
                                     per_group, report.identity_found, cfg.recipe.name if cfg.recipe else "",
                                     report.recipe, report.header, report.unpaired, report.profile, report.set)
            jobs.append(_plan_part(cfg, state, summary, pdf_name(None if parts is None else part), first, size,
                                   leaders))
    except BaseException:
        for job in jobs:
            job.plan_file.unlink(missing_ok=True)
        raise
    return jobs


def _plan_part(cfg: Config, state: RunState, summary: Summary, name: str, first: int, size: int,
               leaders: set[str]) -> PdfJob:
    """Number one PDF's pages (``size`` from the ``first``), note them in the store, and save the plan."""
    plan = plan_pdf(summary, state.changed_pages(summary.per_group, first, size), name, state.series_sizes,
                           leaders)
    path = cfg.run_dir / name
    plan_file = temporary_name(path, ".plan")
    try:
        with open(plan_file, "wb") as fh:  # a page at a time, its page number noted in the store
            state.set_pages(m for page in save_plan(plan, fh) for m in page.members)
    except BaseException:
        plan_file.unlink(missing_ok=True)
        raise
    return PdfJob(path, summary, plan_file, cfg.pixel_tolerance, cfg.output_access)


def _draw_pdfs(cfg: Config, parts: int | None, workers: Workers, jobs: list[PdfJob], written: _Written) -> None:
    """Draw the planned PDFs, one task each (a task whose worker died is retried once), with the change groups'
    thumbnails; a PDF that cannot be written is noted in ``written`` and the others are still drawn."""
    _remove_stale_parts(cfg.run_dir, parts)
    for old in (cfg.run_dir / THUMBNAIL_DIR).glob("*.png"):
        old.unlink()
    errors = map_batches(workers, write_pdfs, jobs, 1, "writing PDF", on_failure=lambda _job, reason: reason)
    for job, error in zip(jobs, errors):
        if error is None:
            written.wrote(f"the PDF {job.path.name}", job.path)
        else:
            written.fail(f"the PDF {job.path.name}", error)
            job.path.unlink(missing_ok=True)


def _log_carried(carried: dict[str, Decision], state: RunState) -> None:
    if carried:
        groups = state.change_groups()
        kept = sum(group in carried for group in groups)
        log.info("review_decisions: %d of %d change groups keep an earlier decision; %d are new", kept,
                 len(groups), len(groups) - kept)


def _split_balanced(total: int, n: int) -> Iterable[tuple[int, int]]:
    """``n`` contiguous blocks of ``total`` items whose sizes differ by at most one (larger first), as (start,
    size)."""
    size, extra = divmod(total, n)
    start = 0
    for k in range(n):
        yield start, size + (k < extra)
        start += size + (k < extra)


def _remove_stale_parts(run_dir: Path, parts: int | None) -> None:
    """Remove the PDFs an earlier run of this run_name wrote that this run does not write again (the other
    script's, or parts beyond this run's count), so that every PDF in the folder matches the CSV."""
    keep = {pdf_name(k) for k in range(parts)} if parts else {pdf_name(None)}
    for old in run_dir.glob("comparison_results*.pdf"):
        if old.name not in keep:
            old.unlink()
