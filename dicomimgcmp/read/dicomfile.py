"""The byte layout of a DICOM file, the one home of its rules: what marks a file as DICOM, where its data set
starts, whether an element is explicit VR, the pixel data tags, an element header's length and where encapsulated
pixel data ends; and reading a data set with pydicom, quietly."""

from __future__ import annotations

import logging
import os
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.tag import Tag

#: The elements that hold an image's values, by tag.
PIXEL_DATA_KEYWORDS = {Tag(0x7FE0, 0x0010): "PixelData", Tag(0x7FE0, 0x0008): "FloatPixelData",
                       Tag(0x7FE0, 0x0009): "DoubleFloatPixelData"}
PIXEL_DATA_TAGS = frozenset(PIXEL_DATA_KEYWORDS)
PIXEL_DATA_LE = struct.pack("<HH", 0x7FE0, 0x0010)  # (7FE0,0010) as it starts its element, little endian
UNDEFINED_LENGTH = 0xFFFFFFFF  # a sequence's, an item's or encapsulated pixel data's length, ended by a delimiter
_ITEM, _SEQUENCE_END = b"\xfe\xff\x00\xe0", b"\xfe\xff\xdd\xe0"  # (FFFE,E000) and (FFFE,E0DD), little endian
#: The value representations whose values are text (several separated by a backslash).
TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR",
                      "UT"})


def fragments_end(fh: BinaryIO, at: int) -> int:
    """Where encapsulated pixel data whose first item starts at ``at`` in ``fh`` ends (after its sequence delimiter);
    raises ValueError saying why when its items are not a sequence of items or the file ends inside them."""
    size = os.fstat(fh.fileno()).st_size
    while at + 8 <= size:
        fh.seek(at)
        head = fh.read(8)
        (length,) = struct.unpack("<L", head[4:])
        if head[:4] == _SEQUENCE_END:
            return at + 8
        if head[:4] != _ITEM or length == UNDEFINED_LENGTH:
            raise ValueError("its compressed frames are not a sequence of items")
        at += 8 + length
    raise ValueError("the file ends inside its compressed frames (cut short?)")


def text_values(raw: bytes, encoding: str) -> tuple[str, ...]:
    """A text element's stored value as its values: split on the backslash, padding (spaces, NUL) stripped."""
    return tuple(v.strip(" \0") for v in raw.decode(encoding, "replace").split("\\")) if raw else ()


HEADER_PREFIX = 1 << 16  # bytes read at once to parse a header in memory


_META_GROUP_LENGTH = b"\x02\x00\x00\x00UL\x04\x00"  # (0002,0000) UL, length 4: the file meta's first element


_EXPLICIT_VRS = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB",
                 b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
                 b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV"}


def element_header_length(implicit_vr: bool) -> int:
    """Bytes before the value of an element with a 4-byte length (pixel data, OB/OW/UN/SQ...): tag and length
    (implicit VR), or tag, VR, two reserved bytes and length (explicit VR)."""
    return 8 if implicit_vr else 12


def looks_like_dicom(head: bytes) -> bool:
    """Whether the first bytes of a file (at least 132 wanted) are those of a DICOM file.

    Accepts the standard 128-byte preamble + ``DICM`` and the preamble-less form that starts straight with a
    group 0x0002 or 0x0008 element, implicit or explicit VR, little or big endian.
    """
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) < 8:
        return False
    for endian in "<>":
        group, _elem = struct.unpack(endian + "HH", head[:4])
        if group in (0x0002, 0x0008):
            if head[4:6] in _EXPLICIT_VRS:
                return True
            (length,) = struct.unpack(endian + "L", head[4:8])
            if length < 1024:  # implicit VR: a short header value follows
                return True
    return False


def data_set_start(prefix: bytes) -> int:
    """The file offset where the data set starts, in a file whose first bytes are ``prefix``: after the preamble
    (if any) and the file meta, by its group length element; 0 when there is no group length to read."""
    at = 132 if prefix[128:132] == b"DICM" else 0
    if prefix[at:at + 8] != _META_GROUP_LENGTH or len(prefix) < at + 12:
        return 0
    return at + 12 + struct.unpack("<L", prefix[at + 8:at + 12])[0]


_DEFLATED_UID = b"1.2.840.10008.1.2.1.99"


def is_deflated(prefix: bytes) -> bool:
    """Whether the file whose first bytes are ``prefix`` (its file meta at least) stores its data set deflated
    (Deflated Explicit VR Little Endian: nothing after the file meta can be read as it lies)."""
    return _DEFLATED_UID in prefix[:data_set_start(prefix) or 0]


def explicit_vr_at(prefix: bytes, start: int) -> bool | None:
    """Whether the element at ``start`` is explicit VR, by pydicom's own test (two upper-case letters after the
    tag); None when there is no element there to look at."""
    if not start or len(prefix) < start + 6:
        return None
    return all(0x40 < b < 0x5B for b in prefix[start + 4:start + 6])


@contextmanager
def quiet_pydicom() -> Iterator[None]:
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


def read_dataset(path: str) -> Dataset:
    """The file's whole data set up to its pixel data, quietly: what the pages and the checks look at beyond
    the header record (windows, LUTs, overlays, identity values)."""
    with quiet_pydicom():
        return pydicom.dcmread(path, stop_before_pixels=True, force=True)
