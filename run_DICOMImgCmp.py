#!/usr/bin/env python3
"""Compare de-identified DICOM images with their sources in one process; one PDF. Usage: config.json"""

import sys

from dicomimgcmp_common import main

if __name__ == "__main__":
    sys.exit(main(multi=False))
