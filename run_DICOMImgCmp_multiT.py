#!/usr/bin/env python3
"""Compare with `multiprocessing_cpus` worker processes; one PDF per worker. Usage: config.json"""

import sys

from dicomimgcmp_common import main

if __name__ == "__main__":
    sys.exit(main(multi=True))
