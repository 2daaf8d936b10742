"""Command line of ``run_DICOMImgCmp.py`` and ``run_DICOMImgCmp_multiT.py``.

Exit codes: 0 the run completed (whatever it found), 2 bad configuration, 1 an internal error (details in the
log), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback

from .config import CONFIG_KEYS, ConfigError, load_config, unknown_keys

EXIT_OK, EXIT_INTERNAL, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser(multi: bool) -> argparse.ArgumentParser:
    what = (f"with multiprocessing_cpus worker processes, writing one PDF per worker "
            f"(comparison_results_<k>.pdf)" if multi else "in one process, writing comparison_results.pdf")
    keys = "\n".join(f"  {k:<22} {v}" for k, v in CONFIG_KEYS.items())
    return argparse.ArgumentParser(
        description="Compare de-identified DICOM images with their sources by decoded pixel values, "
                    f"{what} and comparison_summary.csv under <output_data_path>/<run_name>/.",
        epilog=f"config keys (JSON; values may be strings such as \"5\"; relative paths are relative to the "
               f"config file):\n{keys}\n\nexit codes: 0 run completed, 2 bad configuration, 1 internal error, "
               "130 interrupted",
        formatter_class=argparse.RawDescriptionHelpFormatter)


def main(argv: list[str] | None = None, *, multi: bool = False) -> int:
    parser = build_parser(multi)
    parser.add_argument("config", help="path to the JSON config file")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, need_cpus=multi)
        for key in unknown_keys(args.config):
            print(f"warning: config key '{key}' is not used", file=sys.stderr)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    from .pipeline import make_executor, run

    try:
        workers = cfg.multiprocessing_cpus if multi else 1
        with make_executor(workers) as executor:
            run(cfg, parts=workers if multi else None, executor=executor)
    except KeyboardInterrupt:
        print("interrupted: no output was left under a final name half-written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the user gets one line; the log gets the traceback
        logging.getLogger("dicomimgcmp").error("internal error:\n%s", traceback.format_exc())
        print(f"internal error: {type(exc).__name__}: {exc} (see the log in {cfg.log_path})", file=sys.stderr)
        return EXIT_INTERNAL
    return EXIT_OK
