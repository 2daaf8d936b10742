#!/usr/bin/env python3
"""Sort DICOM files into {PatientName}_{PatientID}/{SeriesDescription}_{SeriesNumber}/. Usage: SRC DEST [options]"""

import sys

from dicomimgcmp.cli import classifier_main

if __name__ == "__main__":
    sys.exit(classifier_main())
