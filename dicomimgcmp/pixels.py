"""Decode pixel data frame by frame with a decoder chosen the same way on every machine.

pydicom may pick among several plugins for one transfer syntax, and they disagree on lossy JPEG (Pillow and
pylibjpeg differ by up to 5 grey levels), so the plugin is chosen from a fixed preference list, never from
whatever else happens to be installed.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder, iter_pixels
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian

from .model import FileRecord

#: Plugins we decode with, best first. Pillow and GDCM are left out on purpose (see module docstring).
PREFERRED_PLUGINS = ("pylibjpeg", "pyjpegls", "pydicom")


class DecodeError(RuntimeError):
    """The pixel data cannot be decoded here; the message says why (for the ``reason`` column)."""


def decoding_plugin(transfer_syntax_uid: str) -> str:
    """The plugin name to decode ``transfer_syntax_uid`` with ("" for native, uncompressed data)."""
    tsyntax = UID(transfer_syntax_uid or ImplicitVRLittleEndian)
    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError:
        raise DecodeError(f"no decoder for transfer syntax {tsyntax} ({tsyntax.name})") from None
    if decoder.is_native:
        return ""
    for name in PREFERRED_PLUGINS:
        if name in decoder.available_plugins:
            return name
    raise DecodeError(f"no installed decoder for {tsyntax.name}; install the pylibjpeg plugins "
                      "(pip install -r requirements.txt)")


@contextmanager
def quiet_pydicom():
    """Silence pydicom's warnings and log records (tracebacks of failed decoders included) for the calls in the
    block: the report names the real problem in its ``reason`` column instead. Never hold it across a
    ``yield``: generators resumed in another order would leave it on for the rest of the process."""
    logger = logging.getLogger("pydicom")
    disabled = logger.disabled
    logger.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.disabled = disabled


def iter_frames(record: FileRecord, indices: list[int] | None = None) -> Iterator[np.ndarray]:
    """Yield each frame of the file (or those in ``indices``, 0-based) as stored values.

    Each frame has shape (rows, columns) or (rows, columns, samples). YCbCr data is converted to RGB so that
    both sides of a pair compare in one colour space. Frames are read one at a time from the file, so memory is
    bounded by a frame, not by the file; deflated files, and files whose data set is encoded otherwise than
    their transfer syntax says, are decoded from the data set pydicom read (reading them by the transfer
    syntax would give values the file does not hold).
    """
    fmt = record.format
    tsyntax = fmt.transfer_syntax_uid if fmt else ""
    try:
        plugin = decoding_plugin(tsyntax)
        with quiet_pydicom():
            src: str | Dataset = record.path
            if tsyntax == DeflatedExplicitVRLittleEndian or (fmt and fmt.encoding_mismatch):
                src = pydicom.dcmread(record.path, force=True)
            frames = iter_pixels(src, decoding_plugin=plugin, indices=indices)
        while True:
            with quiet_pydicom():
                frame = next(frames, None)
            if frame is None:
                return
            yield frame
    except (KeyboardInterrupt, SystemExit, GeneratorExit, DecodeError):
        raise
    except BaseException as exc:  # decoders raise anything; Rust ones panic with a BaseException
        raise DecodeError(f"cannot decode pixel data: {type(exc).__name__}: {exc}") from None


def read_frame(record: FileRecord, index: int) -> np.ndarray:
    """Frame ``index`` (0-based) of the file, as :func:`iter_frames` yields it."""
    frame = next(iter_frames(record, [index]), None)
    if frame is None:
        raise DecodeError(f"the file has no frame {index}")
    return frame


def dynamic_range(frame: np.ndarray, bits_stored: int | None) -> float:
    """The value range used for PSNR and SSIM: 2**BitsStored - 1 for integers, else the frame's range."""
    if frame.dtype.kind in "iu" and bits_stored:
        return float(2 ** int(bits_stored) - 1)
    finite = frame[np.isfinite(frame)]
    return max(float(finite.max() - finite.min()), 1.0) if finite.size else 1.0
