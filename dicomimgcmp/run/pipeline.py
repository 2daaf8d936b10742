"""The one data path both scripts run: config -> read (index) -> pair -> compare -> checks -> output, through the
run's store.

Parallel work goes through :class:`~.workers.Workers` (any ``concurrent.futures.Executor``) in batches of plain
records (:mod:`.tasks`); the single-process script runs the same path in-process. Results are put in a fixed
order before anything is written, so outputs do not depend on timing or on the number of workers."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from dicomimgcmp.base.access import make_dirs, run_umask, sweep
from dicomimgcmp.base.atomic import remove_temporaries
from dicomimgcmp.base.log import log
from dicomimgcmp.base.progress import Progress, StageClock, StageProgress
from dicomimgcmp.base.workers import Workers, chunks, isolated, iter_batches, run_one_by_one
from dicomimgcmp.config import Config
from dicomimgcmp.enums import HeaderMode, SetMode, Status, TextMode
from dicomimgcmp.errors import ConfigError
from dicomimgcmp.output.review import THUMBNAIL_DIR, Decision, read_decisions
from dicomimgcmp.pairing.mapping import MappingFile
from dicomimgcmp.read.walk import iter_walked_files, stamp
from dicomimgcmp.run.ordered_outputs import RunReport, write_outputs
from dicomimgcmp.run.runlock import run_lock
from dicomimgcmp.run.store import RunState
from dicomimgcmp.run.store.base import DEID, SOURCE, STATE_DIR
from dicomimgcmp.run.store.lookups import PairingBatch
from dicomimgcmp.run.store.rows import ComparedRow, RecordRow, RowValues
from dicomimgcmp.run.tasks import (
    BatchOutcome,
    Checks,
    IndexJob,
    batch_outcome,
    compare_batch,
    index_batch,
    pair_and_compare_batches,
    records_in,
    settle_batches,
    unreadable_file,
    unreadable_pair,
)
from dicomimgcmp.summary import HeaderTally, ProfileTally, RecipeTally, SetTally, counted, nothing_paired

#: Files per header-reading task: each task costs the process that runs the pipeline (submitting, collecting); 40,000
#: files: that process 1.3-1.5 CPU-s with 64, 1.1-1.2 with 256.
INDEX_BATCH = 256


#: De-identified files per pairing and comparison task (a batch): at least the smaller, so that a small run still
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

    counts: dict[Status, int]
    outputs: list[Path]
    timings: dict[str, float]
    notes: tuple[str, ...] = ()
    reused: dict[str, int] = field(default_factory=dict)
    identity_found: int = 0  # images whose pixels show text matching the source's identity (the text check)
    recipe: RecipeTally | None = None  # the recipe verdicts (config key recipe)
    header: HeaderTally | None = None  # identity found in headers (config key header_check)
    profile: ProfileTally | None = None  # the profile judgement's findings (config key profile)
    set: SetTally | None = None  # the run judged as one set (config key set_check)
    failed: tuple[str, ...] = ()  # the outputs that could not be written (why is in the log), in words ...
    complete: tuple[str, ...] = ()  # ... and the ones written
    unpaired: str = ""  # why nothing was paired ("" when something was)


def run(cfg: Config, *, parts: int | None, workers: Workers, progress: Progress | None = None,
        restart: bool = False) -> RunOutcome:
    """Run the whole comparison; ``parts`` None writes one ``comparison_results.pdf``, n writes n parts.

    The mapping is read and validated first (:class:`~.errors.MappingError`, a ConfigError, before any file
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
    mapping_source = f"{os.path.abspath(cfg.uid_mapping_file)} {stamp(cfg.uid_mapping_file)}"  # before reading
    for _ in mapping:  # validated before anything is written
        pass
    with run_umask(cfg.output_access):
        make_dirs(cfg.run_dir / STATE_DIR, cfg.output_access)
        with run_lock(cfg.run_dir / STATE_DIR):  # before anything in the run folder is touched
            sweep(cfg.run_dir, cfg.output_access)  # a run folder an earlier version left open is closed first
            try:
                outcome = _run_locked(cfg, parts, workers, progress, restart, mapping, mapping_source, carried,
                                      date)
            except KeyboardInterrupt:
                remove_half_written(cfg.run_dir)
                raise
            sweep(cfg.run_dir, cfg.output_access)  # what workers on other machines wrote, under their umask
            return outcome


def _run_locked(cfg: Config, parts: int | None, workers: Workers, progress: Progress, restart: bool,
                mapping: MappingFile, mapping_source: str, carried: dict[str, Decision], date: str
                ) -> RunOutcome:
    clock = StageClock()
    remove_half_written(cfg.run_dir)  # what a run killed outright (SIGKILL, a power cut) could not remove
    with RunState(cfg.run_dir, _settings(cfg), restart=restart) as state:
        notes = mapping.notes(state.load_mapping(mapping, mapping_source))
        for note in notes:
            log.info("uid_mapping_file: %s", note)
        progress.stage = "indexing"
        n_deid, n_source = index_trees([cfg.input_data_path, cfg.pre_deID_data_path], workers, state,
                                       cfg.recipe.attributes if cfg.recipe else ())
        log.info("indexed %d de-identified and %d source files (%d read before)", n_deid, n_source,
                 state.reused["records"])
        progress.done.append(f"indexed {counted(n_deid + n_source, 'file')}")
        clock.lap("index")

        progress.stage = f"comparing {n_deid} de-identified files with their sources"
        compared = pair_and_compare(cfg, workers, state)
        log.info("compared %d pairs (%d compared before)", compared, state.reused["results"])
        progress.done.append(f"compared {counted(compared, 'pair')}")
        set_tally = None
        if cfg.set_check is SetMode.ON and not cfg.judges_set:
            log.info("set_check: the run is not judged as one set: it needs header_check on")
        if cfg.judges_set:
            progress.stage = "judging the run as one set"
            set_tally = state.judge_set()
            log.info("judged as one set: %d pairs with findings", set_tally.files)
        clock.lap("compare")

        counts = state.status_counts()
        identity_found = state.count_phi()
        recipe = state.recipe_tally()
        unjudged = state.unjudged_files() if cfg.header_check is HeaderMode.ON or cfg.profile is not None else 0
        header = state.header_tally(unjudged) if cfg.header_check is HeaderMode.ON else None
        profile = None if cfg.profile is None else state.profile_tally(unjudged)
        unpaired = state.why_unpaired() if nothing_paired(counts) else ""
        written = write_outputs(cfg, parts, workers, state, RunReport(counts, identity_found, date, carried,
                                                                      recipe, header, unpaired, profile, set_tally),
                                progress, clock)
        reused = dict(state.reused)
    log.info("counts: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    log.info("timing: %s", clock)
    return RunOutcome(counts, written.paths, clock.laps, notes, reused, identity_found, recipe, header, profile,
                      set_tally, tuple(written.failed), tuple(written.complete), unpaired)


def remove_half_written(run_dir: Path) -> None:
    """Remove the temporary files a run writes (:mod:`~dicomimgcmp.base.atomic`) in the run folder and beside the
    thumbnails: after an interrupted run, or before a run, when the last one was killed outright."""
    for folder in (run_dir, run_dir / THUMBNAIL_DIR):
        remove_temporaries(folder)


def _settings(cfg: Config) -> dict[str, object]:
    """What a comparison's result depends on besides its two files: saved results are reused only while these
    are the same (the decoders' versions included: lossy JPEG decodes differ between versions)."""
    from importlib.metadata import PackageNotFoundError, version

    from dicomimgcmp import __version__

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return ""

    text = cfg.text_check
    ocr = ("rapidocr", "onnxruntime") if text.mode is not TextMode.OFF else ()
    return {"pixel_tolerance": cfg.pixel_tolerance, "max_pixels": cfg.max_pixels, "dicomimgcmp": __version__,
            "text_check": text.mode if text.mode is TextMode.OFF else [text.mode, text.modalities],
            "header_check": cfg.header_check,
            "profile": "off" if cfg.profile is None else list(cfg.profile), "set_check": cfg.judges_set,
            **({"recipe": repr(cfg.recipe), "deid": installed("deid")} if cfg.recipe else {}),
            **{name: installed(name) for name in ("pydicom", "numpy", "pylibjpeg", "pylibjpeg-libjpeg",
                                                  "pylibjpeg-openjpeg", "pylibjpeg-rle", "pyjpegls", *ocr)}}


def index_trees(roots: list[Path], workers: Workers, state: RunState, attributes: tuple[str, ...] = ()) -> list[int]:
    """Read the header of every file below each root into the store; returns the number of files per root.

    The trees are walked as their files are read (the workers start on the first files while the main process
    walks on; the stage's total is known when the walk ends): a file unchanged since the store read it is not
    read again. The fast scan runs only where a crash cannot end the run: in the worker processes, or for the
    single script in one worker process of its own; a batch whose worker died is read again by pydicom.
    """
    aliases: list[tuple[Path, Path]] = []
    counts = [0] * len(roots)
    with StageProgress("indexing", None) as progress:
        def unread() -> Iterator[IndexJob]:
            for tree, root in enumerate(roots):
                for files in chunks(iter_walked_files(root, aliases), ROWS_BUFFER):  # looked up at once
                    counts[tree] += len(files)
                    unchanged = state.unchanged(tree, files)
                    if unchanged:
                        state.reuse_records(tree, unchanged)
                        progress.update(len(unchanged))
                    yield from (IndexJob(tree, str(root), file.path) for file in files if file.path not in unchanged)
            progress.set_total(sum(counts))

        read: list[tuple[IndexJob, RecordRow]] = []
        clock = _SaveClock()
        with isolated(workers) as readers:  # the fast scan, in processes that may crash (the single script: one)
            for jobs, records in iter_batches(readers, index_batch, unread(), INDEX_BATCH, True, attributes,
                                              progress=progress, retry_args=(False, attributes),
                                              on_failure=unreadable_file):
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
    """Pair every de-identified file (:func:`~.pairing.rules.pair_deid`), compare the pairs, and save one row per
    file, the source files no pair compares included; returns the number of pairs. A pair whose two files are
    unchanged since the store compared them is not compared again. The pairing's note opens each reason.

    The store answers pairing's questions a batch of files at a time (:class:`~.store.PairingBatch`); each batch is
    paired and compared in a worker, so that the process that runs the pipeline only queries and saves. A batch
    whose task fails is paired here, and its pairs compared one at a time, each in a worker (the pair that
    crashes a decoder gets its row; the others are compared)."""
    rows: list[RowValues] = []
    used: list[str] = []
    compared: list[ComparedRow] = []
    pairs = 0
    clock = _SaveClock()
    checks = Checks(cfg.text_check, cfg.recipe, cfg.header_check is HeaderMode.ON,
                    state.kept_uids() if cfg.header_check is HeaderMode.ON else frozenset(), cfg.profile,
                    cfg.judges_set)
    compare_args = (cfg.pixel_tolerance, cfg.max_pixels, checks)

    def pair_by_pair(batch: PairingBatch, _reason: str) -> BatchOutcome:
        return batch_outcome(batch, lambda to_compare: run_one_by_one(workers, compare_batch, to_compare,
                                                                     compare_args, unreadable_pair))

    deid_files = state.count_records(DEID)
    with StageProgress("comparing", deid_files) as progress:
        size = _compare_batch_size(deid_files, cfg.multiprocessing_cpus)
        for _batches, outcomes in iter_batches(workers, pair_and_compare_batches, state.pairing_batches(DEID, size), 1,
                                             *compare_args, progress=progress, count=records_in,
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
        for _batches, settled in iter_batches(workers, settle_batches, state.pairing_batches(SOURCE, size), 1,
                                            progress=progress, count=records_in):
            state.save_rows([row for batch_rows in settled for row in batch_rows])
    state.index_rows()
    return pairs


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


def _read_decisions(cfg: Config) -> dict[str, Decision]:
    """The decisions of ``review_decisions`` (none without it); read before any work, as the mapping is."""
    if cfg.review_decisions is None:
        return {}
    try:
        return read_decisions(cfg.review_decisions)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"config key 'review_decisions': {exc}") from None


def _run_date() -> str:
    """Now, or SOURCE_DATE_EPOCH when set (reproducible outputs), in UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
