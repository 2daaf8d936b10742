"""The byte fast path: two files that store their pixel data the same way with equal bytes are identical
without decoding."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

from dicomimgcmp.model import FileRecord, PixelFormat


def same_stored_bytes(deid: FileRecord, source: FileRecord, chunk: int = 1 << 20) -> bool:
    """True when both files store their pixel data the same way and its bytes are equal (no decoding needed).

    The bytes compared run from the pixel data element to the end of the file; anything after the pixel data
    that differs (trailing padding) only sends the pair to the decoding path.
    """
    fmt = deid.pixels
    if (deid.pixel_offset is None or source.pixel_offset is None or not fmt.transfer_syntax_uid
            or fmt != source.format):
        return False
    with open(deid.path, "rb", buffering=0) as a, open(source.path, "rb", buffering=0) as b:
        size = os.fstat(a.fileno()).st_size - deid.pixel_offset
        if size != os.fstat(b.fileno()).st_size - source.pixel_offset:
            return False
        ours = _blocks(a.fileno(), deid.pixel_offset, size, chunk)
        theirs = _blocks(b.fileno(), source.pixel_offset, size, chunk)
        first = next(ours, b"")  # it starts with the element's header
        if first != next(theirs, b"") or not _pixel_length_fits(first[:12], fmt, size):
            return False
        return all(map(bytes.__eq__, ours, theirs))


def _blocks(fd: int, offset: int, size: int, chunk: int) -> Iterator[bytes]:
    """The ``size`` bytes from ``offset``, ``chunk`` at a time (read without a buffer: each byte is read once)."""
    return (os.pread(fd, chunk, offset + at) for at in range(0, size, chunk))


def _pixel_length_fits(head: bytes, fmt: PixelFormat, size: int) -> bool:
    """Whether native pixel data really holds what its header declares (a lying header must be decoded, and
    fail there, rather than pass as identical). Encapsulated data (undefined length) is taken as it is."""
    endian = "<" if fmt.little_endian else ">"
    header, (length,) = (8, struct.unpack(endian + "L", head[4:8])) if fmt.implicit_vr else \
        (12, struct.unpack(endian + "L", head[8:12]))
    if length == 0xFFFFFFFF:
        return True
    needed = fmt.expected_bytes()
    return needed is not None and header + length <= size and length >= needed
