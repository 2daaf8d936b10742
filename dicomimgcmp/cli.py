"""Command line of ``run_DICOMImgCmp.py`` and ``run_DICOMImgCmp_multiT.py``.

Exit codes: 0 the run completed (whatever it found), 2 bad configuration (or the run folder in use by another
run), 1 an internal error or an output that could not be written (details in the log), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

from dicomimgcmp.base.access import restrict
from dicomimgcmp.base.log import log
from dicomimgcmp.config import CONFIG_KEYS, load_config
from dicomimgcmp.enums import ExecutorKind, OutputAccess
from dicomimgcmp.errors import ConfigError

if TYPE_CHECKING:  # only their types: the command line starts without pydicom
    from pathlib import Path
    from types import FrameType

    from dicomimgcmp.base.workers import Workers
    from dicomimgcmp.classify.destinations import Pattern
    from dicomimgcmp.config import Config
    from dicomimgcmp.enums import Mode

EXIT_OK, EXIT_INTERNAL, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser(multi: bool) -> argparse.ArgumentParser:
    what = ("with multiprocessing_cpus worker processes, writing one PDF per worker "
            "(comparison_results_<k>.pdf)" if multi else "in one process, writing comparison_results.pdf")
    keys = "\n".join(f"  {k:<22} {v}" for k, v in CONFIG_KEYS.items())
    parser = argparse.ArgumentParser(
        description="Compare de-identified DICOM images with their sources by decoded pixel values, "
                    f"{what} and comparison_summary.csv under <output_data_path>/<run_name>/.",
        epilog=f"config keys (JSON; values may be strings such as \"5\"; relative paths are relative to the "
               f"config file):\n{keys}\n\nexit codes: 0 run completed, 2 bad configuration or the run folder in use by "
               "another run, 1 internal error or an output not written (the others are; run again to write it), "
               "130 interrupted (run the same command again to continue)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="path to the JSON config file")
    parser.add_argument("--restart", action="store_true",
                        help="throw away what an earlier run of this run_name saved (by default a run continues "
                             "where a stopped one stopped, and reuses what is unchanged)")
    return parser


def main(argv: list[str] | None = None, *, multi: bool = False) -> int:
    """``run_DICOMImgCmp.py CONFIG`` (``multi`` False) and ``run_DICOMImgCmp_multiT.py CONFIG`` (True)."""
    parser = build_parser(multi)
    args = parser.parse_args(argv)
    return _run_config(args.config, multi=multi, parts=None, restart=args.restart)


def console_main(argv: list[str] | None = None) -> int:
    """The installed ``dicomimgcmp`` command: ``dicomimgcmp CONFIG`` runs as run_DICOMImgCmp.py does;
    ``dicomimgcmp CONFIG --parts N`` as run_DICOMImgCmp_multiT.py does, with N workers and N PDFs."""
    parser = build_parser(multi=False)
    parser.add_argument("--parts", type=int, metavar="N",
                        help="run with N worker processes writing N PDFs (as run_DICOMImgCmp_multiT.py with "
                             "multiprocessing_cpus N)")
    args = parser.parse_args(argv)
    if args.parts is not None and args.parts < 1:
        parser.error("--parts must be at least 1")
    return _run_config(args.config, multi=args.parts is not None, parts=args.parts, restart=args.restart)


def _run_config(config: str, *, multi: bool, parts: int | None, restart: bool) -> int:
    try:
        cfg = load_config(config, need_cpus=multi and parts is None)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if parts is not None:
        cfg = dataclasses.replace(cfg, multiprocessing_cpus=parts)
    os.umask(cfg.output_access.umask)  # for this process and the workers it starts: see base.access
    for key in cfg.unused_keys:
        print(f"warning: config key '{key}' is not used", file=sys.stderr)

    from dicomimgcmp.model import LOG_FILE
    from dicomimgcmp.output.console import console_summary, incomplete_outputs
    from dicomimgcmp.run.pipeline import Progress, run

    _keep_large_allocations()
    progress = Progress()
    log_file = cfg.log_path / LOG_FILE
    try:
        with _logging_to(log_file, cfg.output_access), _sigterm_as_interrupt(), _workers(cfg, multi) as workers:
            outcome = run(cfg, parts=cfg.multiprocessing_cpus if multi else None, workers=workers,
                          progress=progress, restart=restart)
    except ConfigError as exc:  # the mapping file, or found while connecting to a cluster
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:  # the run removed what it had half-written
        print(f"interrupted: {progress}. No file under a final name was left half-written.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the user gets one line; the log gets the traceback
        with _logging_to(log_file, cfg.output_access):
            log.error("internal error:\n%s", traceback.format_exc())
        print(f"internal error: {type(exc).__name__}: {exc} (see the log in {cfg.log_path})", file=sys.stderr)
        return EXIT_INTERNAL
    print(console_summary(outcome.counts, outcome.outputs, log_file, outcome.notes, outcome.reused,
                          outcome.identity_found, outcome.recipe, outcome.header, outcome.unpaired,
                          outcome.profile, outcome.set))
    if outcome.failed:
        said = incomplete_outputs(list(outcome.failed), list(outcome.complete), cfg.log_path)
        print(f"error: {said}", file=sys.stderr)
        return EXIT_INTERNAL
    return EXIT_OK




@contextlib.contextmanager
def _logging_to(log_file: Path, access: OutputAccess) -> Iterator[None]:
    """Send this package's messages (not third-party debug noise) to ``log_file``, appending, while the block
    runs; the file gets ``access`` (a log an earlier version left open is closed)."""
    handler = logging.FileHandler(log_file, encoding="utf-8")
    restrict(log_file, access)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        handler.close()


def _keep_large_allocations() -> None:
    """Let glibc reuse freed multi-megabyte numpy temporaries instead of returning them to the kernel after each
    use (measured: 2,000 pairs with 200 pages, 9.1 s -> 8.1 s; peak RSS unchanged). Worker processes forked
    later inherit it. Done here, by the command line, never as a side effect of importing the package."""
    import ctypes
    import ctypes.util

    m_trim_threshold, m_mmap_threshold, limit = -1, -3, 256 << 20
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(m_mmap_threshold, limit)
        libc.mallopt(m_trim_threshold, limit)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def _workers(cfg: Config, multi: bool) -> Workers:
    """Where the work runs: Dask when configured, else worker processes here (the single script: in-process)."""
    if cfg.executor is ExecutorKind.DASK:
        from dicomimgcmp.run.cluster import dask_workers

        return dask_workers(cfg)
    from dicomimgcmp.base.workers import local_workers

    return local_workers(cfg.multiprocessing_cpus if multi else 1)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C in this process while the run lasts (workers are then stopped too)."""
    def interrupt(signum: int, frame: FrameType | None) -> NoReturn:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def classifier_main(argv: list[str] | None = None) -> int:
    """``dicom_file_classifier.py SRC DEST``: sort DICOM files into patient and series folders."""
    from pathlib import Path

    from dicomimgcmp.classify.destinations import DEFAULT_PATTERN, Pattern
    from dicomimgcmp.enums import Mode
    from dicomimgcmp.errors import PatternError

    parser = argparse.ArgumentParser(
        description="Sort every DICOM file under SRC (any name, any depth; recognised by content) into "
                    "DEST/{PatientName}_{PatientID}/{SeriesDescription}_{SeriesNumber}/<file name>. Destinations "
                    "are planned first; nothing is ever overwritten; a re-run changes nothing. The report goes "
                    "to DEST/classifier_report.csv.",
        epilog="statuses: copied, moved, linked, renamed (a different file had the name), duplicate_skipped "
               "(same content already there), not_dicom, unreadable.  exit codes: 0 completed, 2 bad arguments")
    parser.add_argument("src", type=Path, help="folder to sort (only changed by --mode move)")
    parser.add_argument("dest", type=Path, help="destination folder (created if missing)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--mode", choices=[str(m) for m in Mode], default="copy",
                        help="copy (default, metadata kept), move, symlink or hardlink")
    parser.add_argument("--dry-run", action="store_true", help="print the plan; write nothing")
    parser.add_argument("--pattern", default=DEFAULT_PATTERN,
                        help="folder pattern of DICOM keywords, e.g. '{PatientID}/{StudyDate}_{Modality}/"
                             "{SeriesNumber:04d}' (default: %(default)s)")
    args = parser.parse_args(argv)
    src, dest = args.src.resolve(), args.dest.resolve()
    try:
        pattern = Pattern(args.pattern).validate()
        if not src.is_dir():
            raise ValueError(f"SRC is not a folder: {args.src}")
        if dest == src or src in dest.parents:
            raise ValueError(f"DEST {args.dest} is inside SRC {args.src}: sorted files would be sorted again")
        if args.processes < 1:
            raise ValueError("--processes must be at least 1")
    except (PatternError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        with _sigterm_as_interrupt():
            return _classify(src, dest, pattern, Mode(args.mode), args.dry_run, args.processes)
    except KeyboardInterrupt:
        print("interrupted: the report lists nothing; files already placed are complete", file=sys.stderr)
        return EXIT_INTERRUPTED


def _classify(src: Path, dest: Path, pattern: Pattern, mode: Mode, dry_run: bool, processes: int) -> int:
    from dicomimgcmp.base.workers import local_workers
    from dicomimgcmp.classify.act import act
    from dicomimgcmp.classify.destinations import REPORT_COLUMNS, REPORT_NAME, counts_by_status, plan, plan_tree
    from dicomimgcmp.enums import Placement
    from dicomimgcmp.output.csvfile import write_csv

    with local_workers(processes) as workers:
        plans = plan(src, dest, pattern, workers)
        planned = counts_by_status(plans)
        print(f"Plan: {sum(p.status.to_place for p in plans)} files to place; collisions: "
              f"{planned.get(Placement.RENAMED, 0)} renamed (another file has the name), "
              f"{planned.get(Placement.DUPLICATE_SKIPPED, 0)} duplicates skipped")
        if dry_run:
            print(plan_tree(plans, dest))
        else:
            plans = act(plans, mode, workers)
            dest.mkdir(parents=True, exist_ok=True)
            write_csv(dest / REPORT_NAME, REPORT_COLUMNS, (
                {"source": os.path.relpath(p.source, src), "status": str(p.status), "reason": p.reason,
                 "destination": os.path.relpath(p.destination, dest) if p.destination else ""} for p in plans))
    print("Files per status:")
    for status, n in counts_by_status(plans).items():
        print(f"  {status:<18} {n}")
    if not dry_run:
        print(f"Report: {dest / REPORT_NAME}")
    return EXIT_OK
