"""The package's logger: every module logs to it; the command line sends it to the run's log file."""

from __future__ import annotations

import logging

LOGGER_NAME = "dicomimgcmp"
log = logging.getLogger(LOGGER_NAME)
