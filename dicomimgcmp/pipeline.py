"""The one data path both scripts run: config -> index -> pairs -> compare -> outputs (CSV, review page, PDFs).

Parallel work goes through :class:`~.workers.Workers` (any ``concurrent.futures.Executor``) in batches of plain
records; the single-process script runs the same path in-process. Results are put in a fixed order before
anything is written, so outputs do not depend on timing or on the number of workers.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple, TypeVar

from . import compare, index, render, review
from .atomic import remove_temporaries, temporary_name
from .config import Config, ConfigError, TextCheck
from .model import REVIEW_HTML, SUMMARY_CSV, FileRecord, Pair, PairResult, Status, pdf_name
from .pairing import MappingFile, pair_deid, settle_sources
from .readahead import read_ahead
from .report import log, logged, summary_csv
from .runlock import run_lock
from .store import (DEID, SOURCE, STATE_DIR, ComparedRow, PairingPage, RecordRow, RowValues, RunState, chunks,
                    compared_row, record_row, row_values)
from .workers import StageProgress, Workers, iter_batches, map_batches, run_one_by_one

#: Files per header-reading task: each task costs the process that runs the pipeline (submitting, collecting); 40,000
#: files: that process 1.3-1.5 CPU-s with 64, 1.1-1.2 with 256.
INDEX_BATCH = 256
#: De-identified files per pairing and comparison task (a page): at least the smaller, so that a small run still
#: spreads over the workers; up to the larger in a large run, where each task's cost in the process that runs the
#: pipeline (querying, submitting, collecting) counts (20,000 small pairs: compare stage 5.1-5.4 s with 16,
#: 4.4-4.6 s with 128, when the pairs were made in that process).
COMPARE_BATCH = (16, 128)
ROWS_BUFFER = 2000  # rows saved to the store at once ...
SAVE_EVERY = 0.5  # ... or after this many seconds: what a killed run loses (a commit costs about 1 ms)


@dataclass
class RunOutcome:
    """What a run produced: the counts, the files written, each stage's wall time (s), notes for the user (how
    the mapping was read), what was reused from an earlier run ("records", "results"), how many images show
    identity in their pixels, and the outputs it could not write. The rows themselves are in the CSV (and the
    run's store), not in memory."""

    counts: dict[str, int]
    outputs: list[Path]
    timings: dict[str, float]
    notes: tuple[str, ...] = ()
    reused: dict[str, int] = field(default_factory=dict)
    identity_found: int = 0  # images whose pixels show text matching the source's identity (the text check)
    failed: tuple[str, ...] = ()  # the outputs that could not be written (why is in the log), in words ...
    complete: tuple[str, ...] = ()  # ... and the ones written


@dataclass
class Progress:
    """How far a run got (what an interrupted run reports)."""

    stage: str = "starting"
    done: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        finished = "; ".join(self.done) if self.done else "nothing"
        return f"stopped while {self.stage}; finished: {finished}"


def run(cfg: Config, *, parts: int | None, workers: Workers, progress: Progress | None = None,
        restart: bool = False) -> RunOutcome:
    """Run the whole comparison; ``parts`` None writes one ``comparison_results.pdf``, n writes n parts.

    The mapping is read and validated first (:class:`~.pairing.MappingError`, a ConfigError, before any file
    is indexed); logging goes to the ``dicomimgcmp`` logger, which the command line sends to the log file.
    Files, records, pairs and rows go through the run's store (:class:`~.store.RunState`), so memory does not
    grow with the number of files, and running again after a stop continues where the run stopped (``restart``
    throws the saved state away first).
    """
    progress = progress or Progress()
    log.info("run %s: de-identified %s, source %s, mapping %s", cfg.run_name, cfg.input_data_path,
             cfg.pre_deID_data_path, cfg.uid_mapping_file)
    carried = _read_decisions(cfg)
    date = _run_date()
    progress.stage = "reading the UID mapping"
    mapping = MappingFile(cfg.uid_mapping_file)
    mapping_source = f"{os.path.abspath(cfg.uid_mapping_file)} {index.stamp(cfg.uid_mapping_file)}"  # before reading
    for _ in mapping:  # validated before anything is written
        pass
    with run_lock(cfg.run_dir / STATE_DIR):  # before anything in the run folder is touched
        try:
            return _run_locked(cfg, parts, workers, progress, restart, mapping, mapping_source, carried, date)
        except KeyboardInterrupt:
            remove_half_written(cfg.run_dir)
            raise


def _run_locked(cfg: Config, parts: int | None, workers: Workers, progress: Progress, restart: bool,
                mapping: MappingFile, mapping_source: str, carried: dict[str, review.Decision], date: str
                ) -> RunOutcome:
    clock = _StageClock()
    remove_half_written(cfg.run_dir)  # what a run killed outright (SIGKILL, a power cut) could not remove
    with RunState(cfg.run_dir, _settings(cfg), restart=restart) as state:
        notes = mapping.notes(state.load_mapping(mapping, mapping_source))
        for note in notes:
            log.info("uid_mapping_file: %s", note)
        progress.stage = "indexing"
        n_deid, n_source = index_trees([cfg.input_data_path, cfg.pre_deID_data_path], workers, state)
        log.info("indexed %d de-identified and %d source files (%d read before)", n_deid, n_source,
                 state.reused["records"])
        progress.done.append(f"indexed {n_deid + n_source} files")
        clock.lap("index")

        progress.stage = f"comparing {n_deid} de-identified files with their sources"
        compared = pair_and_compare(cfg, workers, state)
        log.info("compared %d pairs (%d compared before)", compared, state.reused["results"])
        progress.done.append(f"compared {compared} pairs")
        clock.lap("compare")

        counts = state.status_counts()
        identity_found = state.count_phi()
        written = _write_outputs(cfg, parts, workers, state, _Report(counts, identity_found, date, carried),
                                 progress, clock)
        reused = dict(state.reused)
    log.info("counts: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    log.info("timing: %s", clock)
    return RunOutcome(counts, written.paths, clock.laps, notes, reused, identity_found, tuple(written.failed),
                      tuple(written.complete))


def remove_half_written(run_dir: Path) -> None:
    """Remove the temporary files a run writes (:mod:`.atomic`) in the run folder and beside the thumbnails:
    after an interrupted run, or before a run, when the last one was killed outright."""
    for folder in (run_dir, run_dir / review.THUMBNAIL_DIR):
        remove_temporaries(folder)


def _settings(cfg: Config) -> dict[str, object]:
    """What a comparison's result depends on besides its two files: saved results are reused only while these
    are the same (the decoders' versions included: lossy JPEG decodes differ between versions)."""
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return ""

    text = cfg.text_check
    ocr = ("rapidocr", "onnxruntime") if text.mode != "off" else ()
    return {"pixel_tolerance": cfg.pixel_tolerance, "max_pixels": cfg.max_pixels, "dicomimgcmp": __version__,
            "text_check": "off" if text.mode == "off" else [text.mode, text.modalities],
            **{name: installed(name) for name in ("pydicom", "numpy", "pylibjpeg", "pylibjpeg-libjpeg",
                                                  "pylibjpeg-openjpeg", "pylibjpeg-rle", "pyjpegls", *ocr)}}


class _StageClock:
    """Wall time of each stage, for the log (the benchmark reads it)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = self._start = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = now - self._last
        self._last = now

    def __str__(self) -> str:
        total = self._last - self._start
        return " ".join(f"{k}={v:.3f}s" for k, v in self.laps.items()) + f" total={total:.3f}s"


class IndexJob(NamedTuple):
    """One file to read the header of: its tree (0 de-identified, 1 source), the tree's root and its path."""

    tree: int
    root: str
    path: str


class PdfJob(NamedTuple):
    """One PDF to write: where, what its summary says, and its pages, numbered (its plan saved beside it a page
    at a time, :func:`~.render.save_plan`, and read by the worker as it draws them: no process holds a PDF's
    pages; the run folder is where the workers write anyway)."""

    path: Path
    summary: render.Summary
    plan_file: Path
    tolerance: float


def index_trees(roots: list[Path], workers: Workers, state: RunState) -> list[int]:
    """Read the header of every file below each root into the store; returns the number of files per root.

    The trees are walked as their files are read (the workers start on the first files while the main process
    walks on; the stage's total is known when the walk ends): a file unchanged since the store read it is not
    read again. The fast scan runs only where a crash cannot end the run (worker processes); a batch whose
    worker died is read again by pydicom.
    """
    aliases: list[tuple[Path, Path]] = []
    counts = [0] * len(roots)
    with StageProgress("indexing", None) as progress:
        def unread() -> Iterator[IndexJob]:
            for tree, root in enumerate(roots):
                for files in chunks(index.iter_walked_files(root, aliases), ROWS_BUFFER):  # looked up at once
                    counts[tree] += len(files)
                    unchanged = state.unchanged(tree, files)
                    if unchanged:
                        state.reuse_records(tree, unchanged)
                        progress.update(len(unchanged))
                    yield from (IndexJob(tree, str(root), file.path) for file in files if file.path not in unchanged)
            progress.set_total(sum(counts))

        read: list[tuple[IndexJob, RecordRow]] = []
        clock = _SaveClock()
        for jobs, records in iter_batches(workers, _index_batch, unread(), INDEX_BATCH, workers.isolated,
                                          progress=progress, retry_args=(False,), on_failure=_unreadable_file):
            read += zip(jobs, records)
            if clock.due(read):
                _save_records(state, read)
                clock.saved()
        _save_records(state, read)
    state.finish_records()
    for path, first in aliases:
        log.info("read once: %s is another path to %s", path, first)
    return counts


class _SaveClock:
    """When buffered work goes to the store: at :data:`ROWS_BUFFER` items or :data:`SAVE_EVERY` seconds."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def due(self, buffer: list) -> bool:
        return len(buffer) >= ROWS_BUFFER or time.monotonic() - self.last >= SAVE_EVERY

    def saved(self) -> None:
        self.last = time.monotonic()


def _save_records(state: RunState, read: list[tuple[IndexJob, RecordRow]]) -> None:
    for tree in (DEID, SOURCE):
        state.save_records(tree, [row for job, row in read if job.tree == tree])
    read.clear()


def pair_and_compare(cfg: Config, workers: Workers, state: RunState) -> int:
    """Pair every de-identified file (:func:`~.pairing.pair_deid`), compare the pairs, and save one row per
    file, the source files no pair compares included; returns the number of pairs. A pair whose two files are
    unchanged since the store compared them is not compared again. The pairing's note opens each reason.

    The store answers pairing's questions a page of files at a time (:class:`~.store.PairingPage`); each page is
    paired and compared in a worker, so that the process that runs the pipeline only queries and saves. A page
    whose task fails is paired here, and its pairs compared one at a time, each in a worker (the pair that
    crashes a decoder gets its row; the others are compared)."""
    rows: list[RowValues] = []
    used: list[str] = []
    compared: list[ComparedRow] = []
    pairs = 0
    clock = _SaveClock()
    compare_args = (cfg.pixel_tolerance, cfg.max_pixels, cfg.text_check)

    def pair_by_pair(page: PairingPage, _reason: str) -> PageOutcome:
        return _page_outcome(page, lambda to_compare: run_one_by_one(workers, _compare_batch, to_compare,
                                                                     compare_args, _unreadable_pair))

    with StageProgress("comparing", state.count_records(DEID)) as progress:
        size = _compare_batch_size(progress.total, cfg.multiprocessing_cpus)
        for _pages, outcomes in iter_batches(workers, _pair_and_compare_pages, state.pairing_pages(DEID, size), 1,
                                             *compare_args, progress=progress, count=_records_in,
                                             on_failure=pair_by_pair):
            for outcome in outcomes:
                rows.extend(outcome.rows)
                compared.extend(outcome.compared)
                used.extend(outcome.used)
                pairs += len(outcome.used)
                state.reused["results"] += outcome.reused
            if clock.due(rows):
                _save_rows(state, rows, compared, used)
                clock.saved()
        _save_rows(state, rows, compared, used)
    with StageProgress("settling source files", state.count_records(SOURCE)) as progress:
        for _pages, settled in iter_batches(workers, _settle_pages, state.pairing_pages(SOURCE, size), 1,
                                            progress=progress, count=_records_in):
            state.save_rows([row for page_rows in settled for row in page_rows])
    state.index_rows()
    return pairs


class PageOutcome(NamedTuple):
    """A page of de-identified files paired and compared: every file's row, the comparisons made (to save), the
    source UIDs paired, and how many comparisons were saved ones."""

    rows: list[RowValues]
    compared: list[ComparedRow]
    used: list[str]
    reused: int


def _pair_and_compare_pages(pages: list[PairingPage], tolerance: float, max_pixels: int,
                            text: TextCheck) -> list[PageOutcome]:
    return [_page_outcome(page, lambda pairs: _compare_batch(pairs, tolerance, max_pixels, text)) for page in pages]


def _page_outcome(page: PairingPage, compare_pairs: Callable[[list[Pair]], list[ComparedRow]]) -> PageOutcome:
    """Pair a page of de-identified files and compare the pairs not compared before with ``compare_pairs``."""
    rows: list[RowValues] = []
    to_compare: list[Pair] = []
    used: list[str] = []
    for outcome in pair_deid(page.records(), page.lookups):
        if isinstance(outcome, PairResult):
            rows.append(row_values(outcome))
            continue
        used.append(outcome.source.sop_instance_uid)
        saved = page.saved_row(outcome)
        if saved is None:
            to_compare.append(outcome)
        else:
            rows.append(saved)
    compared = compare_pairs(to_compare) if to_compare else []
    return PageOutcome(rows + [c.row for c in compared], compared, used, len(used) - len(to_compare))


def _settle_pages(pages: list[PairingPage]) -> list[list[RowValues]]:
    """The rows of the source files no pair compares, a page at a time."""
    return [[row_values(r) for r in settle_sources(page.records(), page.lookups, page.lookups.is_used)]
            for page in pages]


def _records_in(pages: list[PairingPage]) -> int:
    return sum(len(page.texts) for page in pages)


def _save_rows(state: RunState, rows: list[RowValues], compared: list[ComparedRow], used: list[str]) -> None:
    with state.saving():
        state.save_results(compared)
        state.save_rows(rows)
        state.mark_used(used)
    for done in (rows, used, compared):
        done.clear()


def _compare_batch_size(pairs: int, workers: int) -> int:
    """Eight tasks a worker at least, of :data:`COMPARE_BATCH` files."""
    return min(max(pairs // (8 * workers), COMPARE_BATCH[0]), COMPARE_BATCH[1])


def _index_batch(jobs: list[IndexJob], fast: bool) -> list[RecordRow]:
    read_ahead((job.path, 0, index.HEADER_PREFIX) for job in jobs)
    return [record_row(index.read_record(job.path, job.root, fast=fast)) for job in jobs]


def _unreadable_file(job: IndexJob, reason: str) -> RecordRow:
    return record_row(FileRecord(job.path, index.relative_path(job.path, job.root), error=reason,
                                 stamp=index.stamp(job.path)))


def _compare_batch(pairs: list[Pair], tolerance: float, max_pixels: int, text: TextCheck) -> list[ComparedRow]:
    """The pairs' comparisons as the store saves them (encoded here, in the worker)."""
    read_ahead((rec.path, rec.pixel_offset or 0, None) for pair in pairs for rec in (pair.deid, pair.source))
    results = [compare.compare_pair(p.deid, p.source, tolerance, max_pixels) for p in pairs]
    if text.mode != "off":
        from .textcheck import check_pair  # only now: the text check's libraries load only when it is on

        results = [check_pair(result, text) for result in results]
    return [compared_row(pair, result) for pair, result in zip(pairs, results)]


def _unreadable_pair(pair: Pair, reason: str) -> ComparedRow:
    return compared_row(pair, PairResult(Status.UNREADABLE, reason, deid=pair.deid, source=pair.source))


@dataclass(frozen=True)
class _Report:
    """What every output says of the whole run."""

    counts: dict[str, int]
    identity_found: int
    date: str
    carried: dict[str, review.Decision]


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
        except Exception:  # one output's failure must not cost the others
            self.fail(what, traceback.format_exc())
            return None

    def fail(self, what: str, details: str) -> None:
        log.error("%s could not be written:\n%s", what, details)
        self.failed.append(what)


_T = TypeVar("_T")


def _write_outputs(cfg: Config, parts: int | None, workers: Workers, state: RunState, report: _Report,
                   progress: Progress, clock: _StageClock) -> _Written:
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
    if written.attempt(what, lambda: write() or True):
        written.wrote(what, path)
        return True
    path.unlink(missing_ok=True)
    return False


def _write_csv(path: Path, state: RunState) -> None:
    """``comparison_summary.csv`` from the saved rows, each file a reviewer must look at logged as it passes."""
    with summary_csv(path) as add_to_csv:
        for row in logged(state.summary_rows()):
            add_to_csv(row)


def _write_review(path: Path, run_name: str, state: RunState, report: _Report) -> None:
    review.write_review(path, run_name=run_name, date=report.date, counts=report.counts,
                        rows=state.summary_rows(), carried=report.carried,
                        groups=(review.GroupView(*group) for group in state.groups()),
                        phi_total=report.identity_found)


def _plan_pdfs(cfg: Config, parts: int | None, state: RunState, report: _Report) -> list[PdfJob]:
    """Split the pair pages over the PDF(s) in page order, note their pages in the store, and save each PDF's
    plan. With ``pages: per_group`` a change group has one page, and its members are never split over two PDFs."""
    per_group = cfg.pages == "per_group"
    n_parts = parts or 1
    leaders = state.group_leaders()
    counts = report.counts
    jobs: list[PdfJob] = []
    try:
        for part, (first, size) in enumerate(_split_balanced(state.count_pages(per_group), n_parts)):
            summary = render.Summary(cfg.run_name, report.date, str(cfg.input_data_path), str(cfg.pre_deID_data_path),
                                     str(cfg.uid_mapping_file), counts, part, n_parts, counts[Status.CHANGED.value],
                                     per_group, report.identity_found)
            jobs.append(_plan_part(cfg, state, summary, pdf_name(None if parts is None else part), first, size,
                                   leaders))
    except BaseException:
        for job in jobs:
            job.plan_file.unlink(missing_ok=True)
        raise
    return jobs


def _plan_part(cfg: Config, state: RunState, summary: render.Summary, name: str, first: int, size: int,
               leaders: set[str]) -> PdfJob:
    """Number one PDF's pages (``size`` from the ``first``), note them in the store, and save the plan."""
    plan = render.plan_pdf(summary, state.changed_pages(summary.per_group, first, size), name, state.series_sizes,
                           leaders)
    path = cfg.run_dir / name
    plan_file = temporary_name(path, ".plan")
    try:
        with open(plan_file, "wb") as fh:  # a page at a time, its page number noted in the store
            state.set_pages(m for page in render.save_plan(plan, fh) for m in page.members)
    except BaseException:
        plan_file.unlink(missing_ok=True)
        raise
    return PdfJob(path, summary, plan_file, cfg.pixel_tolerance)


def _draw_pdfs(cfg: Config, parts: int | None, workers: Workers, jobs: list[PdfJob], written: _Written) -> None:
    """Draw the planned PDFs, one task each (a task whose worker died is retried once), with the change groups'
    thumbnails; a PDF that cannot be written is noted in ``written`` and the others are still drawn."""
    _remove_stale_parts(cfg.run_dir, parts)
    for old in (cfg.run_dir / review.THUMBNAIL_DIR).glob("*.png"):
        old.unlink()
    errors = map_batches(workers, _write_pdfs, jobs, 1, "writing PDF", on_failure=lambda _job, reason: reason)
    for job, error in zip(jobs, errors):
        if error is None:
            written.wrote(f"the PDF {job.path.name}", job.path)
        else:
            written.fail(f"the PDF {job.path.name}", error)
            job.path.unlink(missing_ok=True)


def _write_pdfs(jobs: list[PdfJob]) -> list[str | None]:
    """Write each job's PDF: None for each written, else why it could not be (its traceback), for the log."""
    errors: list[str | None] = []
    for job in jobs:
        try:
            render.write_pdf(job.path, job.summary, render.load_plan(job.plan_file), job.tolerance)
        except Exception:  # said by the process that runs the pipeline, which goes on with the other PDFs
            errors.append(traceback.format_exc())
        else:
            errors.append(None)
    return errors


def _read_decisions(cfg: Config) -> dict[str, review.Decision]:
    """The decisions of ``review_decisions`` (none without it); read before any work, as the mapping is."""
    if cfg.review_decisions is None:
        return {}
    try:
        return review.read_decisions(cfg.review_decisions)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"config key 'review_decisions': {exc}") from None


def _log_carried(carried: dict[str, review.Decision], state: RunState) -> None:
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


def _run_date() -> str:
    """Now, or SOURCE_DATE_EPOCH when set (reproducible outputs), in UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
