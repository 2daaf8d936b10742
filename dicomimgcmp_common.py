"""What run_DICOMImgCmp.py and run_DICOMImgCmp_multiT.py share: the face of the ``dicomimgcmp`` package.

Import from here in scripts and notebooks; the package modules hold the code (config, index, pairing,
compare, render, report, pipeline). Names other than ``main`` are imported on first use, so that the command
line (``--help`` included) starts without loading pydicom and numpy.
"""

from __future__ import annotations

import importlib

from dicomimgcmp.cli import main

#: Every public name, and the package module that defines it.
_EXPORTS = {
    "CSV_COLUMNS": "model", "Crop": "model", "FileRecord": "model", "Pair": "model", "PairResult": "model",
    "PixelFormat": "model", "Status": "model",
    "Config": "config", "ConfigError": "config", "load_config": "config",
    "iter_files": "index", "looks_like_dicom": "index", "read_record": "index",
    "MappingError": "pairing", "load_uid_mapping": "pairing", "pair_files": "pairing",
    "compare_pair": "compare", "frame_diff": "compare", "locate_crop": "compare", "ssim": "compare",
    "run": "pipeline",
    "InlineExecutor": "workers", "Workers": "workers", "local_workers": "workers", "map_batches": "workers",
}

__all__ = ["main", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"dicomimgcmp.{_EXPORTS[name]}"), name)
