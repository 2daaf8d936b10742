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
from dicomimgcmp.pipeline import InlineExecutor, make_executor, run

__all__ = ["CSV_COLUMNS", "Config", "ConfigError", "Crop", "FileRecord", "InlineExecutor", "PairResult",
           "Status", "compare_pair", "iter_files", "load_config", "load_uid_mapping", "locate_crop",
           "looks_like_dicom", "main", "make_executor", "pair_files", "read_record", "run", "ssim"]
