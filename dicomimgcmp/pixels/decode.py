"""Decode pixel data frame by frame with a decoder chosen the same way on every machine.

pydicom may pick among several plugins for one transfer syntax, and they disagree on lossy JPEG (Pillow and
pylibjpeg differ by up to 5 grey levels), so the plugin is chosen from a fixed preference list, never from
whatever else happens to be installed.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import pydicom
from pydicom.pixels import get_decoder, iter_pixels
from pydicom.tag import Tag
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicomimgcmp.errors import DecodeError
from dicomimgcmp.model import FileRecord
from dicomimgcmp.read.dicomfile import PIXEL_DATA_KEYWORDS, element_header_length, fragments_end, quiet_pydicom

#: Plugins we decode with, best first. Pillow and GDCM are left out on purpose (see module docstring).
PREFERRED_PLUGINS = ("pylibjpeg", "pyjpegls", "pydicom")


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
            if tsyntax == DeflatedExplicitVRLittleEndian or (fmt and fmt.encoding_mismatch):
                frames = iter_pixels(pydicom.dcmread(record.path, force=True), decoding_plugin=plugin,
                                     indices=indices)
            elif plugin == "" and record.pixel_offset is not None:
                frames = _native_frames_in_place(record, indices)
            else:
                if record.pixel_offset is not None:
                    _check_fragments(record.path, record.pixel_offset, fmt is not None and fmt.implicit_vr)
                frames = iter_pixels(record.path, decoding_plugin=plugin, indices=indices)
        while True:
            with quiet_pydicom():
                frame = next(frames, None)
            if frame is None:
                return
            yield frame
    except (KeyboardInterrupt, SystemExit, GeneratorExit, DecodeError):
        raise
    except BaseException as exc:  # noqa: BLE001 - decoders raise anything; Rust ones panic with a BaseException
        raise DecodeError(f"cannot decode pixel data: {type(exc).__name__}: {exc}") from None


def _native_frames_in_place(record: FileRecord, indices: list[int] | None) -> Iterator[np.ndarray]:
    """Native (uncompressed) frames read where they lie in the file, by pydicom's decoder, given the Image Pixel
    values the index read: what ``iter_pixels(path)`` does without parsing the data set again (a 512x512
    image: 0.17 instead of 1.1 ms)."""
    fmt = record.pixels
    tsyntax = UID(fmt.transfer_syntax_uid or ImplicitVRLittleEndian)
    values: dict[str, int | str | None] = {
              "rows": fmt.rows, "columns": fmt.columns, "samples_per_pixel": fmt.samples_per_pixel,
              "bits_allocated": fmt.bits_allocated, "bits_stored": fmt.bits_stored,
              "pixel_representation": fmt.pixel_representation,
              "photometric_interpretation": fmt.photometric_interpretation,
              "planar_configuration": fmt.planar_configuration}
    opts: dict[str, Any] = {name: value for name, value in values.items() if value is not None}
    opts["number_of_frames"] = fmt.frames or 1  # pydicom's rule for an absent, empty or 0 NumberOfFrames
    with open(record.path, "rb") as f:
        f.seek(record.pixel_offset or 0)  # native data read in place always has its offset
        head = f.read(element_header_length(fmt.implicit_vr))
        tag = struct.unpack(("<" if fmt.little_endian else ">") + "HH", head[:4])
        opts["pixel_keyword"] = PIXEL_DATA_KEYWORDS.get(Tag(*tag), "PixelData")
        if not fmt.implicit_vr:
            opts["pixel_vr"] = head[4:6].decode("ascii", "replace")
        _check_length(fmt.expected_bytes(), os.fstat(f.fileno()).st_size - f.tell())
        for frame, _ in get_decoder(tsyntax).iter_array(f, indices=indices, validate=True, raw=False,
                                                         transfer_syntax_uid=tsyntax, **opts):
            yield frame


def _check_length(needed: int | None, held: int) -> None:
    """Raise :class:`DecodeError` when a file holds fewer bytes of native pixel data than its header declares (a
    file cut short: said so, rather than as the shape the decoder could not give the values it found)."""
    if needed is not None and held < needed:
        raise DecodeError(f"cannot decode pixel data: the file holds {held:,} of the {needed:,} bytes of pixel data "
                          "its header declares (cut short?)")


def _check_fragments(path: str, offset: int, implicit_vr: bool) -> None:
    """Raise :class:`DecodeError` unless the encapsulated pixel data at ``offset`` ends with its sequence
    delimiter: a file cut inside its compressed frames must not be decoded (JPEG and JPEG 2000 decoders return
    part of an image without an error, which would compare as a change)."""
    with open(path, "rb") as f:
        try:
            fragments_end(f, offset + element_header_length(implicit_vr))
        except ValueError as exc:
            raise DecodeError(f"cannot decode pixel data: {exc}") from None


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
