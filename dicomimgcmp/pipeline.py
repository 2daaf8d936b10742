"""The one data path both scripts run: config -> index -> pairs -> compare -> render -> report.

Parallel work goes through :class:`~.workers.Workers` (any ``concurrent.futures.Executor``) in batches of plain
records; the single-process script runs the same path in-process. Results are put in a fixed order before
anything is written, so outputs do not depend on timing or on the number of workers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import compare, index, render
from .config import Config
from .model import SUMMARY_CSV, FileRecord, Pair, PairResult, Status, pdf_name
from .pairing import load_uid_mapping, pair_files
from .report import log, log_results, status_counts, write_summary_csv
from .store import RunState
from .workers import Workers, map_batches

INDEX_BATCH = 64  # files per header-reading task
COMPARE_BATCH = 16  # pairs per comparison task


@dataclass
class RunOutcome:
    """What a run produced: every row, the counts, the files written, each stage's wall time (s), and notes for
    the user (how the mapping was read)."""

    results: list[PairResult]
    counts: dict[str, int]
    outputs: list[Path]
    timings: dict[str, float]
    notes: tuple[str, ...] = ()
    #: What was taken from the saved state of an earlier, unfinished or identical run: "records", "results".
    reused: dict[str, int] = field(default_factory=dict)


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
    Headers read and pairs compared are saved as they are done (:class:`~.store.RunState`), so running again
    after a stop continues where the run stopped; ``restart`` throws the saved state away first.
    """
    progress = progress or Progress()
    clock = _StageClock()
    log.info("run %s: de-identified %s, source %s, mapping %s", cfg.run_name, cfg.input_data_path,
             cfg.pre_deID_data_path, cfg.uid_mapping_file)
    progress.stage = "reading the UID mapping"
    mapping = load_uid_mapping(cfg.uid_mapping_file)
    for note in mapping.notes:
        log.info("uid_mapping_file: %s", note)
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    with RunState(cfg.run_dir, _settings(cfg), restart=restart) as state:
        progress.stage = "indexing"
        deid, source = index_trees([cfg.input_data_path, cfg.pre_deID_data_path], workers, state)
        pairing = pair_files(deid, source, mapping)
        log.info("indexed %d de-identified and %d source files (%d read before); %d pairs to compare, mapping has "
                 "%d UIDs", len(deid), len(source), state.reused["records"], len(pairing.pairs),
                 len(mapping.new_to_old))
        progress.done.append(f"indexed {len(deid) + len(source)} files")
        clock.lap("index")

        progress.stage = f"comparing {len(pairing.pairs)} pairs"
        compared = compare_pairs(pairing.pairs, workers, cfg, state)
        log.info("compared %d pairs (%d compared before)", len(compared), state.reused["results"])
        progress.done.append(f"compared {len(compared)} pairs")
        clock.lap("compare")
        reused = dict(state.reused)
    progress.stage = "writing the PDF(s)"
    counts = status_counts(compared + pairing.settled)
    results, pdfs = _render(cfg, parts, workers, compared, pairing.settled, counts)
    progress.done.append(f"wrote {len(pdfs)} PDF(s)")
    clock.lap("render")
    progress.stage = "writing the CSV"
    results.sort(key=_csv_order)
    csv_path = cfg.run_dir / SUMMARY_CSV
    write_summary_csv(csv_path, results)
    progress.done.append("wrote the CSV")
    log_results(results)
    clock.lap("report")
    log.info("counts: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    log.info("timing: %s", clock)
    return RunOutcome(results, counts, pdfs + [csv_path], clock.laps, mapping.notes, reused)


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

    return {"pixel_tolerance": cfg.pixel_tolerance, "max_pixels": cfg.max_pixels, "dicomimgcmp": __version__,
            **{name: installed(name) for name in ("pydicom", "numpy", "pylibjpeg", "pylibjpeg-libjpeg",
                                                  "pylibjpeg-openjpeg", "pylibjpeg-rle", "pyjpegls")}}


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
    """One file to read the header of, and the root of its tree (for its relative path)."""

    root: str
    path: str


class PdfJob(NamedTuple):
    """One PDF to write: where, what its summary says, and its changed pairs with their pages assigned."""

    path: Path
    summary: render.Summary
    items: list[PairResult]
    tolerance: float


def index_trees(roots: list[Path], workers: Workers, state: RunState) -> list[list[FileRecord]]:
    """Header records of every file below each root, in sorted path order (all trees read in one go); a file
    unchanged since the saved state read it is not read again."""
    aliases: list[tuple[Path, Path]] = []
    listings = [[IndexJob(str(root), str(path)) for path in index.iter_files(root, aliases)] for root in roots]
    for path, first in aliases:
        log.info("read once: %s is another path to %s", path, first)
    jobs = [job for jobs in listings for job in jobs]
    saved = [state.saved_record(job.path) for job in jobs]
    # the fast scan only where a crash cannot end the run; a batch whose worker died is read again by pydicom
    fresh = iter(map_batches(workers, _index_batch, [job for job, rec in zip(jobs, saved) if rec is None],
                             INDEX_BATCH, "indexing", workers.isolated, retry_args=(False,),
                             on_failure=_unreadable_file, on_done=lambda _jobs, records: state.save_records(records)))
    records = [rec or next(fresh) for rec in saved]
    bounds = np.cumsum([0] + [len(jobs) for jobs in listings])
    return [records[start:end] for start, end in zip(bounds[:-1], bounds[1:])]


def compare_pairs(pairs: list[Pair], workers: Workers, cfg: Config, state: RunState) -> list[PairResult]:
    """The comparison of every pair, in order; a pair whose two files are unchanged since the saved state
    compared them is not compared again. The pairing's note opens each reason."""
    saved = [state.saved_result(pair) for pair in pairs]
    fresh = iter(map_batches(workers, _compare_batch, [p for p, r in zip(pairs, saved) if r is None],
                             COMPARE_BATCH, "comparing", cfg.pixel_tolerance, cfg.max_pixels,
                             on_failure=_unreadable_pair, on_done=state.save_results))
    return [(result or next(fresh)).with_note(pair.note) for pair, result in zip(pairs, saved)]


def _index_batch(jobs: list[IndexJob], fast: bool) -> list[FileRecord]:
    return [index.read_record(Path(job.path), Path(job.root), fast=fast) for job in jobs]


def _unreadable_file(job: IndexJob, reason: str) -> FileRecord:
    return FileRecord(job.path, Path(job.path).relative_to(job.root).as_posix(), error=reason,
                      stamp=index.stamp(job.path))


def _compare_batch(pairs: list[Pair], tolerance: float, max_pixels: int) -> list[PairResult]:
    return [compare.compare_pair(p.deid, p.source, tolerance, max_pixels) for p in pairs]


def _unreadable_pair(pair: Pair, reason: str) -> PairResult:
    return PairResult(Status.UNREADABLE, reason, deid=pair.deid, source=pair.source)


def _render(cfg: Config, parts: int | None, workers: Workers, compared: list[PairResult],
            settled: list[PairResult], counts: dict[str, int]) -> tuple[list[PairResult], list[Path]]:
    """Split the changed pairs over the PDF(s), write them (one task each, retried like any other work), and
    return every result with its page."""
    changed = sorted((r for r in compared if r.status is Status.CHANGED), key=lambda r: r.order_key)
    others = [r for r in compared if r.status is not Status.CHANGED] + settled
    date = _run_date()
    n_parts = parts or 1
    _remove_stale_parts(cfg.run_dir, parts)
    jobs = []
    for part, (first, block) in enumerate(_split_balanced(changed, n_parts)):
        name = pdf_name(None if parts is None else part)
        summary = render.Summary(cfg.run_name, date, str(cfg.input_data_path), str(cfg.pre_deID_data_path),
                                 str(cfg.uid_mapping_file), counts, part, n_parts, first + 1, len(changed))
        jobs.append(PdfJob(cfg.run_dir / name, summary, render.assign_pages(block, name), cfg.pixel_tolerance))
    map_batches(workers, _write_pdfs, jobs, 1, "writing PDF")  # a PDF that fails twice stops the run loudly
    return [item for job in jobs for item in job.items] + others, [job.path for job in jobs]


def _write_pdfs(jobs: list[PdfJob]) -> list[Path]:
    for job in jobs:
        render.write_pdf(job.path, job.summary, job.items, job.tolerance)
    return [job.path for job in jobs]


def _split_balanced(items: list, n: int) -> Iterable[tuple[int, list]]:
    """``n`` contiguous blocks whose sizes differ by at most one (larger first), with each block's start."""
    size, extra = divmod(len(items), n)
    start = 0
    for k in range(n):
        end = start + size + (k < extra)
        yield start, items[start:end]
        start = end


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


def _csv_order(r: PairResult) -> tuple:
    """CSV rows: de-identified files by path, then the source-only and source-unreadable rows by path."""
    return (0, r.deid.rel_path, "") if r.deid else (1, "", r.source.rel_path)
