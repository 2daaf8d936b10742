"""What run_DICOMImgCmp.py and run_DICOMImgCmp_multiT.py share: the face of the ``dicomimgcmp`` package.

Import from here in scripts and notebooks; the package modules hold the code (config, index, pairing,
compare, render, report, pipeline).
"""

from dicomimgcmp.cli import main
from dicomimgcmp.compare import compare_pair, locate_crop, ssim
from dicomimgcmp.config import Config, ConfigError, load_config
from dicomimgcmp.index import iter_files, looks_like_dicom, read_record
from dicomimgcmp.model import CSV_COLUMNS, Crop, FileRecord, PairResult, Status
from dicomimgcmp.pairing import load_uid_mapping, pair_files
from dicomimgcmp.pipeline import run
from dicomimgcmp.workers import InlineExecutor, Workers, local_workers, map_batches

__all__ = ["CSV_COLUMNS", "Config", "ConfigError", "Crop", "FileRecord", "InlineExecutor", "PairResult",
           "Status", "Workers", "compare_pair", "iter_files", "load_config", "load_uid_mapping", "local_workers",
           "locate_crop", "looks_like_dicom", "main", "map_batches", "pair_files", "read_record", "run", "ssim"]
