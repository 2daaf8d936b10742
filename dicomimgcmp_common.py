"""What run_DICOMImgCmp.py and run_DICOMImgCmp_multiT.py share: the face of the ``dicomimgcmp`` package.

Import from here in scripts and notebooks; the package (:mod:`dicomimgcmp`) holds the code, a subpackage per
stage of the data path. Names other than ``main`` are imported on first use, so that the command line
(``--help`` included) starts without loading pydicom and numpy.
"""

from __future__ import annotations

import dicomimgcmp
from dicomimgcmp.cli import main

__all__ = ["main", *(name for name in dicomimgcmp.__all__ if name != "__version__")]


def __getattr__(name: str):
    return getattr(dicomimgcmp, name)
