"""The byte fast path: two files that store their pixel data the same way with equal bytes are identical
without decoding."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

from dicomimgcmp.model import FileRecord, PixelFormat
from dicomimgcmp.read.dicomfile import UNDEFINED_LENGTH


def same_stored_bytes(deid: FileRecord, source: FileRecord, chunk: int = 1 << 20) -> bool:
    """True when both files store their pixel data the same way and its bytes are equal (no decoding needed).

    The bytes compared are the pixel data element's, header and value, when its length is defined: what follows it
    (Data Set Trailing Padding, which de-identifiers remove: the profile says X) is no pixel. Encapsulated pixel data
    (undefined length) is compared to the end of the file; anything after it that differs only sends the pair to
    the decoding path.
    """
    fmt = deid.pixels
    if (deid.pixel_offset is None or source.pixel_offset is None or not fmt.transfer_syntax_uid
            or fmt != source.format):
        return False
    with open(deid.path, "rb", buffering=0) as a, open(source.path, "rb", buffering=0) as b:
        sizes = (os.fstat(a.fileno()).st_size - deid.pixel_offset, os.fstat(b.fileno()).st_size - source.pixel_offset)
        head = os.pread(a.fileno(), 12, deid.pixel_offset)
        if head != os.pread(b.fileno(), 12, source.pixel_offset):
            return False
        size = _compared_size(head, fmt, sizes)
        if size is None:
            return False
        return all(map(bytes.__eq__, _blocks(a.fileno(), deid.pixel_offset, size, chunk),
                       _blocks(b.fileno(), source.pixel_offset, size, chunk)))


def _blocks(fd: int, offset: int, size: int, chunk: int) -> Iterator[bytes]:
    """The ``size`` bytes from ``offset``, ``chunk`` at a time (read without a buffer: each byte is read once)."""
    return (os.pread(fd, min(chunk, size - at), offset + at) for at in range(0, size, chunk))


def _compared_size(head: bytes, fmt: PixelFormat, sizes: tuple[int, int]) -> int | None:
    """How many bytes from the pixel data element on are compared (``head``: its first 12 bytes, the same in both
    files; ``sizes``: the bytes each file holds from there): the element whole when its length is defined and
    it holds what its header declares (a lying header must be decoded, and fail there, rather than pass as
    identical), the rest of the files when they are as long (encapsulated data); None otherwise."""
    if len(head) < 12:
        return None
    endian = "<" if fmt.little_endian else ">"
    header, (length,) = (8, struct.unpack(endian + "L", head[4:8])) if fmt.implicit_vr else \
        (12, struct.unpack(endian + "L", head[8:12]))
    if length == UNDEFINED_LENGTH:
        return sizes[0] if sizes[0] == sizes[1] else None
    needed = fmt.expected_bytes()
    fits = needed is not None and header + length <= min(sizes) and length >= needed
    return header + length if fits else None
