"""Every element of a header, at any depth, as the header check reads it: where it is (a tag path such as
``(0008,1120)[1]/(0010,0010)``), its tag and VR, and its values as text.

dicomsdl walks the header's bytes (about 10 times faster than converting pydicom's elements: a header is walked
for every pair); pydicom reads what dicomsdl cannot parse, or every header when dicomsdl is not installed. Text
values are decoded in the data set's character set (UTF-8 for ISO_IR 192, else Latin-1: the check folds case and
compares letters and digits); UN, OB and OW values are read as their runs of printable bytes; numbers stored
as binary (US, FL, AT, ...) as their values written out (:func:`number_texts`), arrays of them (OF, OD, ...) not
at all, group lengths never; a sequence is an element of its own (VR SQ, no value) before its items' elements.
An element stored as UN whose tag the dictionary knows (explicit VR files written with UN for known tags) is read
as its dictionary's VR, as pydicom does. A deflated data set is inflated first. Pixel data is never read; the
elements after it (DigitalSignaturesSequence, DataSetTrailingPadding) are, in Explicit VR Little Endian files."""

from __future__ import annotations

import functools
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, NamedTuple

from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from dicomimgcmp.read.bytewalk import REMEMBERED, SHORT, NotPlain, Walker, character_set
from dicomimgcmp.read.dicomfile import (
    PIXEL_DATA_LE,
    PIXEL_DATA_TAGS,
    TEXT_VRS,
    UNDEFINED_LENGTH,
    data_set_start,
    fragments_end,
    is_deflated,
    quiet_pydicom,
    read_dataset,
    text_values,
)
from dicomimgcmp.read.fastscan import dicomsdl_library

BYTES_VRS = frozenset({"UN", "OB", "OW"})
#: Numbers stored as binary, by the struct format of one value (an AT is two: group and element).
NUMBER_FORMATS = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d", "AT": "HH"}
#: What the identity check searches: text and bytes (a binary number is no name, date or UID).
SEARCHED_VRS = TEXT_VRS | BYTES_VRS
MAX_BYTES = 1 << 20  # a header longer than this is read no further; a longer UN/OB/OW value is data
_NOT_PRINTABLE = re.compile(rb"[^\x20-\x7e\xa0-\xff]+")
_UTF16_TEXT = re.compile(rb"(?:[\x20-\x7e]\x00){4,}")  # ASCII written as UTF-16LE (vendors' XML and dates in OB)
_BEFORE_PIXEL_DATA = 0x7FDFFFFF


class Element(NamedTuple):
    path: str
    tag: int
    vr: str
    texts: tuple[str, ...]


def header_bytes(path: str, pixel_offset: int | None = None) -> bytes:
    """The file's bytes before its pixel data (``pixel_offset``, when the index found it; else up to the last
    Pixel Data tag in the first :data:`MAX_BYTES`)."""
    return _header_parts(path, pixel_offset)[0]


def _header_parts(path: str, pixel_offset: int | None) -> tuple[bytes, bytes]:
    """:func:`header_bytes`, and the bytes after the pixel data element (:func:`_after_pixel_data`), read through
    one open file."""
    with open(path, "rb") as fh:
        if pixel_offset:
            head = fh.read(pixel_offset)
            return head, _after_pixel_data(fh, pixel_offset, fh.read(12))
        head = fh.read(MAX_BYTES)
        start = data_set_start(head)
        if is_deflated(head):  # the data set is a deflate stream: searched inflated, after the file meta
            fh.seek(start)
            return head[:start] + _inflated(fh), b""
        for tag in (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10"):  # (7FE0,0010) little and big endian
            at = head.rfind(tag)
            if at > 0:
                fh.seek(at)
                return head[:at], _after_pixel_data(fh, at, fh.read(12))
    return head, b""


_SEQUENCE_END = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"  # (FFFE,E0DD), length 0: the end of encapsulated pixel data


def _after_pixel_data(fh: BinaryIO, at: int, element: bytes) -> bytes:
    """The first :data:`MAX_BYTES` after the pixel data element that starts at ``at`` (``element``: its first 12
    bytes): the elements a data set may hold there (DigitalSignaturesSequence, DataSetTrailingPadding). b"" when
    there are none, or when the pixel data is not an Explicit VR Little Endian element whose end can be found."""
    if len(element) < 12 or element[:4] != PIXEL_DATA_LE or element[4:6] not in (b"OB", b"OW"):
        return b""
    (length,) = struct.unpack_from("<L", element, 8)
    size = os.fstat(fh.fileno()).st_size
    end = at + 12 + length if length != UNDEFINED_LENGTH else _encapsulated_end(fh, at + 12, size)
    if end is None or end >= size:
        return b""
    fh.seek(end)
    return fh.read(MAX_BYTES)


def _encapsulated_end(fh: BinaryIO, at: int, size: int) -> int | None:
    """Where encapsulated pixel data whose items start at ``at`` ends (None: not found): most files end with it,
    the others are walked item by item (:func:`.dicomfile.fragments_end`)."""
    fh.seek(size - 8)
    if fh.read(8) == _SEQUENCE_END:
        return size
    try:
        return fragments_end(fh, at)
    except ValueError:
        return None


class Header:
    """One file's header bytes (:func:`header_bytes`), the bytes after its pixel data, and its elements, walked
    whole at most once: a caller that wants some of them after the whole walk gets them from it (both header
    judgements share one walk)."""

    def __init__(self, path: str, pixel_offset: int | None = None) -> None:
        self.path = path
        self.head, self.tail = _header_parts(path, pixel_offset)
        self._all: list[Element] | None = None

    @property
    def searched(self) -> bytes:
        """The bytes searched for identity: the header, and what follows the pixel data."""
        return self.head + self.tail if self.tail else self.head

    @property
    def walked(self) -> bool:
        """Whether the header was walked whole (a caller's choice of elements is then a filter of that walk)."""
        return self._all is not None

    def elements(self, wanted: Wanted | None = None) -> list[Element]:
        """The elements ``wanted`` accepts (all without it), as :func:`header_elements` gives them."""
        if wanted is None:
            if self._all is None:
                self._all = header_elements(self.path, self.head, tail=self.tail)
            return self._all
        if self._all is not None:
            return [elem for elem in self._all if wanted(elem.tag, elem.vr)]
        return header_elements(self.path, self.head, wanted, self.tail)


def _inflated(fh: BinaryIO) -> bytes:
    """The first :data:`MAX_BYTES` of a raw deflate stream read from ``fh`` (a stream cut short gives what it
    holds)."""
    inflate, out = zlib.decompressobj(-zlib.MAX_WBITS), b""
    while len(out) < MAX_BYTES and (chunk := fh.read(1 << 16)):
        try:
            out += inflate.decompress(chunk, MAX_BYTES - len(out))
        except zlib.error:
            break
    return out


def header_elements(path: str, head: bytes, wanted: Wanted | None = None, tail: bytes = b"") -> list[Element]:
    """Every text and bytes element of a file's header (``head``: its bytes, :func:`header_bytes`), and those after
    its pixel data (``tail``): walked in their bytes when they are Explicit VR Little Endian (:mod:`.bytewalk`),
    else by dicomsdl (the header alone), else by pydicom (the whole file). With ``wanted``, only those it accepts
    by tag and VR (the others are not decoded)."""
    try:
        return _plain_elements(head, wanted, tail)
    except NotPlain:
        pass
    with quiet_pydicom():  # what the libraries warn of is theirs: the check says what it could not read
        dicomsdl = dicomsdl_library()
        if dicomsdl is not None and not is_deflated(head):
            try:
                dataset = dicomsdl.open_memory(head, copy_data=False, load_until=_BEFORE_PIXEL_DATA)
                return _sdl_elements(dataset, "", _encoding_of(dataset), _vr_names(), wanted, [])
            except Exception:  # noqa: BLE001 - dicomsdl's own exception type: pydicom reads it
                pass
        return [e for e in _pydicom_elements(read_dataset(path), "", None) if _read(e.tag, e.vr, wanted)]


#: Which elements a caller wants decoded, by tag and VR.
Wanted = Callable[[int, str], bool]


def _plain_elements(head: bytes, wanted: Wanted | None, tail: bytes = b"") -> list[Element]:
    walker = _walker(wanted, "utf-8" if b"192" in character_set(head) else "latin-1")
    elements = walker.walk(head)
    if tail:
        try:
            elements += walker.walk_on(tail)
        except NotPlain:
            pass  # bytes after the pixel data that are not elements (a file padded or cut): nothing to judge
    return elements


@functools.cache
def _walker(wanted: Wanted | None, encoding: str) -> Walker[Element]:
    """The byte walker of a caller's choice of elements in a character set (one per choice and process: it learns
    the tags, and remembers the elements that repeat)."""
    return Walker(lambda tag, vr: _read(tag, vr, wanted), _known_vr, tag_text, functools.partial(_element,
                                                                                                 encoding=encoding))


def _element(path: str, tag: int, vr: str, raw: bytes, encoding: str) -> Element:
    raw = _stripped(raw, vr)
    return Element(path, tag, vr, texts_of(raw if len(raw) <= MAX_BYTES else b"", vr, encoding))


_READ_VRS = SEARCHED_VRS | NUMBER_FORMATS.keys() | {"SQ"}


def _read(tag: int, vr: str, wanted: Wanted | None) -> bool:
    """Whether an element is read: one of :data:`_READ_VRS` that ``wanted`` accepts; a group length (gggg,0000)
    never (toolkits write it or not as they please)."""
    return vr in _READ_VRS and bool(tag & 0xFFFF) and (wanted is None or wanted(tag, vr))


@functools.cache
def _vr_names() -> dict[int, str]:
    """The name of each of dicomsdl's VRs the check reads, by the enum's integer (no string is made per element)."""
    vr_type = dicomsdl_library().VR
    return {int(getattr(vr_type, name)): name for name in _READ_VRS if hasattr(vr_type, name)}


def _encoding_of(dataset: Any) -> str:
    charset = dataset.getValues([0x00080005])[0]
    return "utf-8" if "192" in str(charset or "") else "latin-1"


def _sdl_elements(dataset: Any, prefix: str, encoding: str, names: dict[int, str], wanted: Wanted | None,
                  out: list[Element]) -> list[Element]:
    """``out`` with the data set's elements (a list filled in place: a generator per element costs a third)."""
    for elem in dataset:
        vr = names.get(int(elem.vr()))
        if vr is None:
            continue
        tag = elem.tag()
        if vr == "UN":  # a sequence stored as UN is not parsed here: its bytes are searched
            vr = _known_vr(tag).replace("SQ", "UN")
        if vr == "SQ":
            path = prefix + tag_text(tag)
            if _read(tag, vr, wanted):
                out.append(Element(path, tag, vr, ()))
            for k, item in enumerate(elem.toSequence()):
                _sdl_elements(item, f"{path}[{k}]/", encoding, names, wanted, out)
        elif _read(tag, vr, wanted) and tag not in PIXEL_DATA_TAGS:
            out.append(Element(prefix + tag_text(tag), tag, vr, _sdl_texts(elem, vr, encoding)))
    return out


def _sdl_texts(elem: Any, vr: str, encoding: str) -> tuple[str, ...]:
    """A dicomsdl element's value as text (numbers through dicomsdl: it knows the data set's byte order)."""
    if vr not in NUMBER_FORMATS:
        return texts_of(elem.toBytes() if elem.length() <= MAX_BYTES else b"", vr, encoding)
    if vr == "AT":
        return number_texts(elem.toLongVector(), vr)
    return number_texts(elem.toDoubleVector() if vr[0] == "F" else elem.toLongLongVector(), vr)


@functools.lru_cache(maxsize=8192)
def tag_text(tag: int) -> str:
    """A tag as a path writes it: "(0010,0010)"."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _pydicom_elements(ds: Dataset, prefix: str, encoding: str | None) -> Iterator[Element]:
    """The same from pydicom's raw elements (values not converted; sequences are)."""
    if encoding is None:
        charset = ds.get("SpecificCharacterSet", "")
        encoding = "utf-8" if "192" in str(charset) else "latin-1"
    meta = getattr(ds, "file_meta", None) if not prefix else None
    for part in ((meta,) if meta is not None else ()) + (ds,):
        for tag in map(int, list(part.keys())):
            if tag in PIXEL_DATA_TAGS:
                continue
            raw = part.get_item(tag)
            vr = _known_vr(tag) if raw.VR in ("", "UN") else raw.VR  # no VR: an implicit VR file
            path = prefix + tag_text(tag)
            if vr == "SQ":
                yield Element(path, tag, vr, ())
                for k, item in enumerate(part[tag].value or []):
                    yield from _pydicom_elements(item, f"{path}[{k}]/", encoding)
            elif vr in NUMBER_FORMATS:
                value = part[tag].value
                yield Element(path, tag, vr, number_texts(value if isinstance(value, (list, MultiValue)) else
                                                          () if value is None else (value,), vr))
            elif vr in TEXT_VRS or vr in BYTES_VRS:
                value = raw.value
                if not isinstance(value, (bytes, bytearray)):  # converted already: back to its text
                    value = ("\\".join(map(str, value)) if isinstance(value, (list, tuple, MultiValue))
                             else str(value or ""))
                    yield Element(path, tag, vr, tuple(value.split("\\")) if value else ())
                else:
                    yield Element(path, tag, vr, texts_of(bytes(value), vr, encoding))


@functools.lru_cache(maxsize=4096)
def _known_vr(tag: int) -> str:
    """The VR of an element stored as UN (or without a VR): the dictionary's for a public tag that is text or a
    sequence, else UN (its bytes are searched)."""
    if tag & 0x10000:
        return "UN"
    try:
        vr = dictionary_VR(tag).split(" or ")[0]
    except KeyError:
        return "UN"
    return vr if vr in _READ_VRS else "UN"


def number_texts(values: Iterable[float], vr: str) -> tuple[str, ...]:
    """Binary numbers as text, the same from every reader: an integer in decimal, a float as Python writes it,
    an AT as its tag, "(gggg,eeee)"."""
    if vr == "AT":
        return tuple(tag_text(int(value)) for value in values)
    return tuple(repr(float(value)) if vr[0] == "F" else str(int(value)) for value in values)


def _numbers(raw: bytes, vr: str) -> tuple[str, ...]:
    """Little endian binary numbers (the byte walk's) as :func:`number_texts` writes them."""
    form = NUMBER_FORMATS[vr]
    values = struct.unpack_from(f"<{len(raw) // struct.calcsize(f'<{form}') * form}", raw)
    if vr == "AT":
        values = tuple(group << 16 | element for group, element in zip(values[::2], values[1::2]))
    return number_texts(values, vr)


def texts_of(raw: bytes, vr: str, encoding: str) -> tuple[str, ...]:
    """A stored value as text: text values one by one, bytes (UN, OB, OW) as their runs of printable bytes,
    binary numbers as :func:`number_texts` writes them.
    Short values are decoded once per process (most repeat from file to file: a patient's, a series' values; an
    instance's UIDs do not, and are not remembered)."""
    if not raw:
        return ()
    if len(raw) <= SHORT:
        return _short_texts(raw, vr, encoding) if vr != "UI" else _texts(raw, vr, encoding)
    return _long_texts(raw, vr, encoding) if len(raw) <= _LONG else _largest_texts(raw, vr, encoding)


_LONG = 1 << 16  # bytes: longer values are remembered fewer (:data:`MAX_BYTES` at most)


def _stripped(raw: bytes, vr: str) -> bytes:
    """A value as the byte walk hands it on: text without its trailing padding and line ends (as dicomsdl gives
    it)."""
    return raw.rstrip(b" \0\r\n\t") if vr in TEXT_VRS else raw


def _texts(raw: bytes, vr: str, encoding: str) -> tuple[str, ...]:
    if vr in NUMBER_FORMATS:
        return _numbers(raw, vr)
    if vr in BYTES_VRS:
        raw = raw[:MAX_BYTES]
        return tuple(part.decode("latin-1") for part in _NOT_PRINTABLE.split(raw) if part) + tuple(
            run.decode("utf-16-le") for run in _UTF16_TEXT.findall(raw))
    return text_values(raw, encoding)


#: :func:`_texts` remembered by how long a value is: a short one in a cache of many (a series' values), a long one
#: in one of 64 (at most 4 MiB of values and their text), the longest in one of 4 (a series' palette LUT data, OW,
#: 100 KiB: 5 ms to split, repeats in each file).
_short_texts = functools.lru_cache(maxsize=REMEMBERED)(_texts)
_long_texts = functools.lru_cache(maxsize=64)(_texts)
_largest_texts = functools.lru_cache(maxsize=4)(_texts)
