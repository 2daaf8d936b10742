"""DICOMImgCmp: find every de-identified DICOM image whose pixel values differ from its source.

The package follows the data path, a subpackage per stage: :mod:`.read` (find files, read headers) ->
:mod:`.pairing` (the UID mapping, pairing rules) -> :mod:`.compare` (decoded values, crops, metrics, change groups,
with :mod:`.pixels` decoding and showing them) -> :mod:`.checks` (identity left in the images) -> :mod:`.output`
(CSV, review page, PDFs), run by :mod:`.run` (the pipeline, its workers and its store). :mod:`.classify` sorts
files. The public names below are imported on first use, so that the command line starts without pydicom.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "1.2.0"  # saved results are reused only by the version that made them: raise it when answers change

#: Every public name, and the module that defines it.
_EXPORTS = {
    "CSV_COLUMNS": "model", "Crop": "model", "FileRecord": "model", "Pair": "model", "PairResult": "model",
    "PixelFormat": "model", "Status": "enums", "PageMode": "enums", "TextMode": "enums",
    "Config": "config", "load_config": "config", "ConfigError": "errors", "MappingError": "errors",
    "iter_file_paths": "read.walk", "looks_like_dicom": "read.dicomfile", "read_record": "read.record",
    "MappingFile": "pairing.mapping", "pair_deid": "pairing.rules", "settle_sources": "pairing.rules",
    "compare_pair": "compare.pair", "frame_diff": "compare.diff", "locate_crop": "compare.crop",
    "ssim": "compare.metrics",
    "run": "run.pipeline",
    "InlineExecutor": "base.workers", "Workers": "base.workers", "local_workers": "base.workers",
    "map_batches": "base.workers",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"dicomimgcmp.{_EXPORTS[name]}"), name)
