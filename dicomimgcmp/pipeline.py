"""The one data path both scripts run: config -> index -> pairs -> compare -> render -> report.

Parallel work goes through the ``concurrent.futures.Executor`` interface in batches of plain records, so any
executor can run it; the single-process script uses :class:`InlineExecutor` (the same path with one worker).
Results are put in a fixed order before anything is written, so outputs do not depend on timing or workers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import compare, index
from .config import Config
from .model import LOG_FILE, SUMMARY_CSV, FileRecord, PairResult, Status, pdf_name
from .pairing import load_uid_mapping, pair_files
from .report import console_summary, log, log_results, setup_logging, status_counts, write_summary_csv

INDEX_BATCH = 64  # files per header-reading task
COMPARE_BATCH = 16  # pairs per comparison task


class InlineExecutor(Executor):
    """An executor that runs each task at once in the calling process (for the single-process script)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # delivered through the future, as a pool would
            future.set_exception(exc)
        return future


@dataclass
class RunOutcome:
    """What a run produced: every row, the counts, the files written and each stage's wall time (s)."""

    results: list[PairResult]
    counts: dict[str, int]
    outputs: list[Path]
    timings: dict[str, float]


def make_executor(workers: int) -> Executor:
    """A process pool for ``workers`` > 1, else an :class:`InlineExecutor`."""
    return ProcessPoolExecutor(max_workers=workers) if workers > 1 else InlineExecutor()


def run(cfg: Config, *, parts: int | None, executor: Executor) -> RunOutcome:
    """Run the whole comparison; ``parts`` None writes one ``comparison_results.pdf``, n writes n parts."""
    handler = setup_logging(cfg.log_path, LOG_FILE)
    try:
        return _run(cfg, parts, executor)
    finally:
        log.removeHandler(handler)
        handler.close()


def _run(cfg: Config, parts: int | None, executor: Executor) -> RunOutcome:
    clock = _StageClock()
    log.info("run %s: de-identified %s, source %s, mapping %s", cfg.run_name, cfg.input_data_path,
             cfg.pre_deID_data_path, cfg.uid_mapping_file)
    deid, source = index_trees([cfg.input_data_path, cfg.pre_deID_data_path], executor)
    mapping = load_uid_mapping(cfg.uid_mapping_file)
    pairing = pair_files(deid, source, mapping)
    log.info("indexed %d de-identified and %d source files; %d pairs to compare, mapping has %d UIDs",
             len(deid), len(source), len(pairing.pairs), len(mapping.new_to_old))
    clock.lap("index")

    compared = map_batches(executor, _compare_batch, pairing.pairs, COMPARE_BATCH, "comparing",
                            cfg.pixel_tolerance)
    clock.lap("compare")
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    results, pdfs = _render(cfg, parts, executor, compared, pairing.settled)
    clock.lap("render")
    results.sort(key=_csv_order)
    csv_path = cfg.run_dir / SUMMARY_CSV
    write_summary_csv(csv_path, results)
    log_results(results)
    clock.lap("report")
    counts = status_counts(results)
    log.info("counts: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    log.info("timing: %s", clock)
    outputs = pdfs + [csv_path]
    print(console_summary(counts, outputs, cfg.log_path / LOG_FILE))
    return RunOutcome(results, counts, outputs, clock.laps)


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


def index_trees(roots: list[Path], executor: Executor) -> list[list[FileRecord]]:
    """Header records of every file below each root, in sorted path order (all trees read in one go)."""
    listings = [[(str(root), str(path)) for path in index.iter_files(root)] for root in roots]
    records = map_batches(executor, _index_batch, [job for jobs in listings for job in jobs], INDEX_BATCH,
                           "indexing")
    bounds = np.cumsum([0] + [len(jobs) for jobs in listings])
    return [records[start:end] for start, end in zip(bounds[:-1], bounds[1:])]


def _index_batch(jobs: list[tuple[str, str]]) -> list[FileRecord]:
    return [index.read_record(Path(path), Path(root)) for root, path in jobs]


def _compare_batch(pairs: list, tolerance: float) -> list[PairResult]:
    return [compare.compare_pair(d, s, tolerance) for d, s in pairs]


def map_batches(executor: Executor, fn: Callable, items: Sequence, size: int, label: str, *args) -> list:
    """``fn(batch, *args)`` over batches of ``items`` on ``executor``; results flattened, in input order."""
    batches = [items[i:i + size] for i in range(0, len(items), size)]
    futures = [executor.submit(fn, batch, *args) for batch in batches]
    out: list = []
    with tqdm(total=len(items), desc=label, unit="file", disable=None, leave=False) as bar:
        for future, batch in zip(futures, batches):
            out.extend(future.result())
            bar.update(len(batch))
    return out


def _render(cfg: Config, parts: int | None, executor: Executor, compared: list[PairResult],
            settled: list[PairResult]) -> tuple[list[PairResult], list[Path]]:
    """Assign pages to the changed pairs, write the PDF(s), and return every result with its page."""
    from .render import Summary, summary_page_count, write_pdf

    changed = sorted((r for r in compared if r.status is Status.CHANGED), key=lambda r: r.order_key)
    others = [r for r in compared if r.status is not Status.CHANGED] + settled
    counts = status_counts(changed + others)
    n_parts = parts or 1
    _remove_stale_parts(cfg.run_dir, parts)
    futures, paths, paged = [], [], []
    for part, (first, block) in enumerate(_split_balanced(changed, n_parts)):
        name = pdf_name(None if parts is None else part)
        offset = summary_page_count(len(block))
        block = [r.replace(pdf_file=name, pdf_page=offset + i + 1) for i, r in enumerate(block)]
        summary = Summary(cfg.run_name, _run_date(), str(cfg.input_data_path), str(cfg.pre_deID_data_path),
                          str(cfg.uid_mapping_file), counts, part, n_parts, first + 1, len(changed))
        paths.append(cfg.run_dir / name)
        futures.append(executor.submit(write_pdf, paths[-1], summary, block, cfg.pixel_tolerance))
        paged += block
    for future in tqdm(futures, desc="writing PDF", unit="pdf", disable=None, leave=False):
        future.result()
    return paged + others, paths


def _split_balanced(items: list, n: int) -> Iterable[tuple[int, list]]:
    """``n`` contiguous blocks whose sizes differ by at most one (larger first), with each block's start."""
    size, extra = divmod(len(items), n)
    start = 0
    for k in range(n):
        end = start + size + (k < extra)
        yield start, items[start:end]
        start = end


def _remove_stale_parts(run_dir: Path, parts: int | None) -> None:
    """Remove numbered PDFs an earlier run of this run_name left beyond this run's count."""
    keep = {pdf_name(k) for k in range(parts)} if parts else set()
    for old in run_dir.glob("comparison_results_*.pdf"):
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

