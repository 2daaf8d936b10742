"""The fast header scan: dicomsdl (C++) reads what the comparison needs from a standard file about 15 times
faster than pydicom; anything it is not sure of is left to pydicom (:func:`.record.read_record`), which stays the
reference.

Used only in worker processes, never in the process that runs the pipeline: dicomsdl crashes the process on some
damaged files (seen: ``MR_truncated.dcm``, pixel data cut short, when asked for the pixel data element). The
scan never asks dicomsdl for the pixel data (it stops before group 7FE0) and finds that element itself, but a
worker that dies anyway is replaced and its files are read again by pydicom (:func:`.workers.map_batches`).

Sure means: preamble and file meta with its group length; little endian, explicit or implicit VR as the transfer
syntax says (the data set's first element checked), not deflated; a SOPInstanceUID; Rows; a single character
set; and the pixel data element's exact header (native data: with the length the Image Pixel attributes
declare; encapsulated data: undefined length and a first item) found once in the first 64 KiB, or, for native
data, where it ends the file.

The file is read once (its first 16 KiB, or 64 KiB for a longer header), and dicomsdl parses those bytes in
place: 84-104 us a file on one core.
"""

from __future__ import annotations

import os
import re
import struct
from types import ModuleType
from typing import Any, Literal, TypeVar

from pydicom.datadict import tag_for_keyword

from dicomimgcmp.model import DATE_KEYWORDS, DISPLAY_TABLES, DISPLAY_VALUES, FileRecord, PixelFormat
from dicomimgcmp.optional import optional
from dicomimgcmp.read.attributes import scanned_texts
from dicomimgcmp.read.dicomfile import PIXEL_DATA_LE, data_set_start, element_header_length, explicit_vr_at
from dicomimgcmp.read.layers import LAYER_TAGS, header_layers
from dicomimgcmp.read.walk import stamp_of

_EXPLICIT_LE, _IMPLICIT_LE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
_NOT_SURE_SYNTAXES = {"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}  # big endian, deflated
_TRAILING_PADDING = b"\xfc\xff\xfc\xff"  # (FFFC,FFFC), little endian
_ENCAPSULATED_HEADER = PIXEL_DATA_LE + b"OB\x00\x00\xff\xff\xff\xff\xfe\xff\x00\xe0"
_BEFORE_PIXEL_DATA = 0x7FDFFFFF  # dicomsdl loads elements up to and including this tag
_SEARCH = 1 << 16
_FIRST_READ = 1 << 14  # most headers are a few KiB: the rest of _SEARCH is read only when not sure from these
_UID = re.compile(r"[0-9]{1,64}(\.[0-9]{1,64})*|")
#: Bytes that the little endian encoding of each tag of LAYER_TAGS contains: (60xx,0010) and (0088,0200).
_LAYER_TAG_BYTES = (b"\x60\x10\x00", b"\x88\x00\x00\x02")

#: (keyword, kind) of what the scan reads; kinds as :func:`.record._record` converts them.
FIELDS = (("SOPInstanceUID", str), ("PatientID", str), ("Modality", str), ("SeriesDescription", str),
          ("StudyInstanceUID", str), ("SeriesInstanceUID", str), ("SeriesNumber", int), ("InstanceNumber", int),
          ("RescaleSlope", float), ("RescaleIntercept", float), ("PhotometricInterpretation", str),
          ("BitsAllocated", int), ("BitsStored", int), ("HighBit", int), ("PixelRepresentation", int),
          ("Rows", int), ("Columns", int), ("NumberOfFrames", int), ("SamplesPerPixel", int),
          ("PlanarConfiguration", int), ("TransferSyntaxUID", str), ("SpecificCharacterSet", str),
          ("BurnedInAnnotation", str), *((keyword, str) for keyword in DATE_KEYWORDS))
_TAGS = [tag_for_keyword(keyword) for keyword, _ in FIELDS]  # dicomsdl finds tags faster than keywords
_UIDS = [keyword for keyword, _ in FIELDS if keyword.endswith("UID")]
_TABLE_TAGS = [tag_for_keyword(keyword) for keyword in DISPLAY_TABLES]
_ROWS = [keyword for keyword, _ in FIELDS].index("Rows")

_dicomsdl: ModuleType | Literal[False] | None = None  # False: looked for, not installed


def dicomsdl_library() -> Any:
    """dicomsdl, told to keep quiet (it prints its errors; the report gives reasons), or None when missing."""
    global _dicomsdl
    if _dicomsdl is None:
        dicomsdl = optional("dicomsdl")  # an optimisation: without dicomsdl, pydicom reads every header
        if dicomsdl is None:
            _dicomsdl = False
        else:
            dicomsdl.set_loglevel(dicomsdl.LogLevel.DISABLE)
            _dicomsdl = dicomsdl
    return _dicomsdl or None


def scan_record(path: str, rel_path: str, attributes: tuple[str, ...] = ()) -> FileRecord | None:
    """The record of a standard file as :func:`.record.read_record` would make it, or None when not sure."""
    if dicomsdl_library() is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        info = os.fstat(fd)  # the stamp before reading, as read_record's
        size, stamp, head = info.st_size, stamp_of(info), os.read(fd, _FIRST_READ)
        record = _scan(head, size, fd, path, rel_path, stamp, attributes)
        if record is None and len(head) < min(size, _SEARCH):  # a header longer than the first read
            head += os.read(fd, _SEARCH - len(head))
            record = _scan(head, size, fd, path, rel_path, stamp, attributes)
        return record
    except OSError:
        return None
    finally:
        os.close(fd)


def _scan(head: bytes, size: int, fd: int, path: str, rel_path: str, stamp: str,
          attributes: tuple[str, ...]) -> FileRecord | None:
    """The record from the file's first bytes, ``head``; None when not sure. The pixel data element must start
    in ``head``, so that the data set before it was parsed whole (dicomsdl passes over a buffer cut short)."""
    explicit = explicit_vr_at(head, data_set_start(head))
    if head[128:132] != b"DICM" or explicit is None:
        return None
    dataset = _open(head)
    values = None if dataset is None else _values(dataset, explicit)
    if values is None:
        return None
    fmt = _format(values)
    offset = _pixel_offset(head, size, fmt, fd)
    texts = scanned_texts(dataset, attributes) if attributes else ()
    display = scanned_texts(dataset, DISPLAY_VALUES)
    if offset is None or offset >= len(head) or texts is None or display is None:
        return None
    tables = tuple("present" if dataset.getDataElement(tag).tag() == tag else "" for tag in _TABLE_TAGS)
    return FileRecord(
        path=path, rel_path=rel_path, stamp=stamp, sop_instance_uid=values["SOPInstanceUID"],
        patient_id=values["PatientID"], modality=values["Modality"],
        series_description=values["SeriesDescription"], study_instance_uid=values["StudyInstanceUID"],
        series_instance_uid=values["SeriesInstanceUID"], series_number=values["SeriesNumber"],
        instance_number=values["InstanceNumber"],
        rescale=(_or(values["RescaleSlope"], 1.0), _or(values["RescaleIntercept"], 0.0)),
        has_pixel_data=True, pixel_offset=offset, format=fmt,
        layers=header_layers(_layer_tags(dataset, head, offset), values["BurnedInAnnotation"]), attributes=texts,
        dates=tuple(values[keyword] for keyword in DATE_KEYWORDS), display=display + tables)


def _open(head: bytes) -> Any:
    """The data set of a file that starts with ``head``, parsed by dicomsdl up to the pixel data (in place: the
    caller holds ``head`` until the record is made), or None."""
    try:  # the bytes read, in place: no second open, no copy
        return dicomsdl_library().open_memory(head, copy_data=False, load_until=_BEFORE_PIXEL_DATA)
    except Exception:  # dicomsdl raises its own exception type for a header it cannot read  # noqa: BLE001
        return None


def _values(dataset: Any, explicit: bool) -> dict | None:
    """The header values (text stripped, numbers as numbers, missing ones "" or None), or None when not sure."""
    try:
        raw = dataset.getValues(_TAGS)
    except Exception:  # noqa: BLE001 - as in _open
        return None
    values: dict = {}
    for (keyword, kind), tag, value in zip(FIELDS, _TAGS, raw):
        if value is None:
            values[keyword] = "" if kind is str else None
        elif kind is str and isinstance(value, (str, int, float)):
            values[keyword] = text = str(value).strip()
            if not text.isprintable():
                return None  # a damaged or unusual value: pydicom decides how to read it
        elif kind is not str and isinstance(value, (int, float)):  # dicomsdl reads an empty IS or DS as 0: no value
            values[keyword] = None if value == 0 and not dataset.getDataElement(tag).length() else kind(value)
        else:
            return None  # bytes where text belongs, several values, text for a number: pydicom decides
    tsyntax = values["TransferSyntaxUID"]
    if (not tsyntax or tsyntax in _NOT_SURE_SYNTAXES or explicit != (tsyntax != _IMPLICIT_LE)
            or not values["SOPInstanceUID"] or raw[_ROWS] is None or "\\" in values["SpecificCharacterSet"]
            or not all(_UID.fullmatch(values[keyword]) for keyword in _UIDS)):
        return None
    return values


def _layer_tags(dataset: Any, head: bytes, end: int) -> set[int]:
    """The tags of :data:`.layers.LAYER_TAGS` the data set holds. Where none of their encodings appears in the
    header's bytes, none can be there (a single search, instead of 17 lookups)."""
    if all(_find(head, needle, end) < 0 for needle in _LAYER_TAG_BYTES):
        return set()
    return {tag for tag in LAYER_TAGS if dataset.getDataElement(tag).tag() == tag}


def _format(values: dict) -> PixelFormat:
    tsyntax = values["TransferSyntaxUID"]
    return PixelFormat(
        transfer_syntax_uid=tsyntax, implicit_vr=tsyntax == _IMPLICIT_LE, little_endian=True,
        photometric_interpretation=values["PhotometricInterpretation"], bits_allocated=values["BitsAllocated"],
        bits_stored=values["BitsStored"], high_bit=values["HighBit"],
        pixel_representation=values["PixelRepresentation"], rows=values["Rows"], columns=values["Columns"],
        frames=_or(values["NumberOfFrames"], 1), samples_per_pixel=values["SamplesPerPixel"],
        planar_configuration=values["PlanarConfiguration"])


def _pixel_offset(head: bytes, size: int, fmt: PixelFormat, fd: int) -> int | None:
    """The file offset of the Pixel Data element: its exact element header (tag, VR, the declared length or, for
    encapsulated data, undefined length and a first item), found once in the first 64 KiB, or None.

    Native data is first looked for where the element ends the file (alone, or followed by Data Set Trailing
    Padding): the first bytes of its tag there are the element, since another in a header value would not end
    the file, and one in its own value comes after. This spares a search through the pixel values.
    """
    if fmt.transfer_syntax_uid not in (_EXPLICIT_LE, _IMPLICIT_LE):
        candidates = [_ENCAPSULATED_HEADER]
        needed = len(_ENCAPSULATED_HEADER)
    else:
        expected = fmt.expected_bytes()
        if not expected:
            return None
        length = struct.pack("<L", expected + expected % 2)
        candidates = ([PIXEL_DATA_LE + length] if fmt.implicit_vr else
                      [PIXEL_DATA_LE + vr + b"\x00\x00" + length for vr in (b"OW", b"OB")])
        needed = len(candidates[0]) + expected + expected % 2
        at = _find(head, PIXEL_DATA_LE)
        if (at >= 0 and any(head.startswith(candidate, at) for candidate in candidates)
                and _ends_file(head, fd, at + needed, size, fmt.implicit_vr)):
            return at
    if len(head) < min(size, _SEARCH):  # the search looks through 64 KiB, beyond the bytes parsed if need be
        head += os.pread(fd, min(size, _SEARCH) - len(head), len(head))
    found = [(candidate, head.find(candidate)) for candidate in candidates]
    found = [(candidate, at) for candidate, at in found if at >= 0]
    if len(found) != 1 or head.find(found[0][0], found[0][1] + 1) >= 0 or found[0][1] + needed > size:
        return None
    return found[0][1]


def _ends_file(head: bytes, fd: int, end: int, size: int, implicit_vr: bool) -> bool:
    """Whether an element ending at ``end`` ends the file, alone or followed by Data Set Trailing Padding."""
    if end == size:
        return True
    header = element_header_length(implicit_vr)
    trailer = head[end:end + header] if end + header <= len(head) else os.pread(fd, header, end)
    if len(trailer) < header or not trailer.startswith(_TRAILING_PADDING if implicit_vr else
                                                        _TRAILING_PADDING + b"OB\x00\x00"):
        return False
    return end + header + struct.unpack("<L", trailer[-4:])[0] == size


def _find(head: bytes, needle: bytes, end: int | None = None) -> int:
    """``head.find(needle, 0, end)``, faster for a needle whose first byte is rare before it: that byte is
    looked for with memchr and each hit checked (bytes.find scans for a longer needle at about 1 GB/s)."""
    start, first, end = 0, needle[:1], len(head) if end is None else end
    for _ in range(64):
        start = head.find(first, start, end)
        if start < 0 or head.startswith(needle, start, end):
            return start
        start += 1
    return head.find(needle, start, end)


_T = TypeVar("_T")


def _or(value: _T | None, default: _T) -> _T:
    return default if value is None else value
