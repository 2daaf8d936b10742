"""Every element of an Explicit VR Little Endian header, walked in its bytes: the header check's fast path.

Most headers in archives are explicit VR little endian. Walked here with one ``struct`` read per element and the
value sliced where it lies, a header of 100 elements takes a quarter of the time that asking dicomsdl for each
element's tag, VR and bytes takes (four calls into the library per element). Anything this walk is not sure of
(another encoding, a VR it does not know, a length that runs past the bytes, a UN of undefined length) raises
:class:`NotPlain`, and the caller reads the header with dicomsdl instead: the two give the same elements
(``tests/test_bytewalk.py`` holds them to it on every real file of pydicom, pydicom-data and deid-data)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Generic, TypeVar

from dicomimgcmp.read.dicomfile import PIXEL_DATA_TAGS, UNDEFINED_LENGTH, data_set_start

_TAG_VR = struct.Struct("<HH2s")  # group, element, VR
_SHORT = struct.Struct("<H")
_LONG = struct.Struct("<L")
_ITEM = struct.Struct("<HHL")  # (FFFE,xxxx) and its 32-bit length
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_SHORT_VRS = frozenset({b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
                        b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"})
_MAX_KNOWN = 1 << 16  # tags and VRs a walker remembers
SHORT = 256  # bytes: an element of a value up to this long is remembered at its place (most repeat)
REMEMBERED = 1 << 14  # elements remembered: a few series' worth (memory stays flat however long the run)
_RUNS = 1 << 11  # runs of them remembered (each with its bytes, up to a few KB: a vendor's private block)
_ITEM_END_NAME = "item end"  # an item delimiter's place among the names of VRs
_ITEM_TAG, _ITEM_END, _SEQUENCE_END = 0xE000, 0xE00D, 0xE0DD
#: The transfer syntaxes whose data set is not Explicit VR Little Endian (every other one's is: compressed
#: ones included), and a file without file meta ("").
_NOT_EXPLICIT_LE = frozenset({"", "1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})
_TRANSFER_SYNTAX = b"\x02\x00\x10\x00UI"


class NotPlain(Exception):
    """The header is not one this walk reads with certainty."""


T = TypeVar("T")
#: Makes what the walk gives for an element: called with (the element's path, "(gggg,eeee)" or
#: "(gggg,eeee)[k]/(gggg,eeee)", tag, VR, raw value) for every element that :data:`Accept` accepts (a sequence
#: with no value, before its items' elements).
Make = Callable[[str, int, str, bytes], T]
#: Whether an element (tag, VR) is visited: asked once per tag and VR, the answer remembered.
Accept = Callable[[int, str], bool]
#: What a UN element's VR is read as (the dictionary's, for a public tag; "SQ" is not followed but searched).
KnownVR = Callable[[int], str]


def character_set(head: bytes) -> bytes:
    """The data set's SpecificCharacterSet (0008,0005) as stored (b"" when absent): it comes before its text."""
    at = head.find(b"\x08\x00\x05\x00CS", data_set_start(head))
    if at < 0:
        return b""
    (length,) = struct.unpack_from("<H", head, at + 6)
    return head[at + 8:at + 8 + length]


def _transfer_syntax(head: bytes) -> str:
    """The TransferSyntaxUID of the file meta ("" when there is none to read)."""
    start = data_set_start(head)
    at = head.find(_TRANSFER_SYNTAX, 0, start)
    if not start or at < 0:
        return ""
    (length,) = struct.unpack_from("<H", head, at + 6)
    return head[at + 8:at + 8 + length].rstrip(b"\0 ").decode("ascii", "replace")


class Walker(Generic[T]):
    """Walks Explicit VR Little Endian headers, making what ``make`` makes of the elements ``accept`` accepts. What
    it learns of a tag and VR (their kind, whether they are made) is kept from header to header, and so is what
    it made of an element of a short value at its place (:data:`REMEMBERED` of them; not of a UID): most repeat in
    every file of a series, and are then neither sliced nor made again."""

    def __init__(self, accept: Accept, known_vr: KnownVR, tag_text: Callable[[int], str], make: Make[T]) -> None:
        self.accept, self.known_vr, self.tag_text, self.make = accept, known_vr, tag_text, make
        self.known: dict[bytes, tuple[int, str, str, bool, bool]] = {}
        self.made: dict[tuple[str, bytes], T] = {}
        self.runs: dict[tuple[str, bytes], tuple[bytes, list[T]]] = {}  # by the place of the first

    def walk(self, head: bytes) -> list[T]:
        """What is made of the accepted elements of a file's header bytes (file meta included, pixel data
        excluded), in order, when the data set is Explicit VR Little Endian; raises :class:`NotPlain` otherwise or
        on anything unexpected."""
        if _transfer_syntax(head) in _NOT_EXPLICIT_LE:
            raise NotPlain("not Explicit VR Little Endian")
        if len(self.known) > _MAX_KNOWN:  # private tags without end in a long run: memory stays flat
            self.known.clear()
        if len(self.made) > REMEMBERED or len(self.runs) > _RUNS:
            self.made.clear()
            self.runs.clear()
        return self._made(head, 132 if head[128:132] == b"DICM" else 0)

    def walk_on(self, tail: bytes) -> list[T]:
        """What is made of the accepted elements of a data set's bytes after its pixel data (``tail``), whose header
        :meth:`walk` walked; raises :class:`NotPlain` on anything unexpected."""
        return self._made(tail, 0)

    def _made(self, data: bytes, at: int) -> list[T]:
        """What is made of the top-level elements of ``data`` from ``at`` on."""
        out: list[T] = []
        try:
            self.elements(data, out, at, len(data), "")
        except struct.error as exc:  # a length that points past the bytes
            raise NotPlain(str(exc)) from None
        return out

    def elements(self, head: bytes, out: list[T], at: int, end: int, prefix: str) -> int:
        """Walk the elements from ``at`` up to ``end`` (or an item delimiter) into ``out``; returns where the walk
        stopped. Remembered elements met one after the other (a run: most of a series' headers, between the values
        each file has its own: UIDs, instance numbers, positions, times) are remembered by the place of the first,
        and the next header that holds the same bytes there is given them at once."""
        known, made, make, runs = self.known, self.made, self.make, self.runs
        run_start, run_place = -1, ("", b"")  # the run met so far (none: -1)
        run: list[T] = []
        given: tuple[bytes, list[T]] = (b"", [])  # a run seen before, the same bytes again
        while at + 8 <= end:
            start = at
            key = head[at:at + 6]  # tag and VR
            kind = known.get(key)
            if kind is None:
                kind = known[key] = self.kind(key, at)
            tag, text, name, long, wanted = kind
            if long:
                (length,) = _LONG.unpack_from(head, at + 8)
                at += 12
            else:
                (length,) = _SHORT.unpack_from(head, at + 6)
                at += 8
            if name != "SQ" and name != _ITEM_END_NAME:
                if length == UNDEFINED_LENGTH or at + length > end:
                    raise NotPlain(f"value of {text} runs past the header")
                if not wanted:  # passed over (a run goes on)
                    at += length
                    continue
                if length <= SHORT and name != "UI":
                    place = prefix, head[start:at + length]  # the element at its place, its bytes whole
                    elem = made.get(place)
                    if elem is not None:
                        seen = runs.get(place)  # and the elements that followed it then, the same bytes again?
                        if seen is not None and start + len(seen[0]) <= end and head.startswith(seen[0], start):
                            given = seen
                        else:
                            if run_start < 0:
                                run_start, run_place, run = start, place, []
                            run.append(elem)
                            out.append(elem)
                            at += length
                            continue
            if run_start >= 0:  # anything else ends the run (one of one element gains nothing)
                if len(run) > 1:
                    runs[run_place] = head[run_start:start], run
                run_start = -1
            if name == "SQ":
                if wanted:
                    out.append(make(prefix + text, tag, name, b""))
                at = self.sequence(head, out, at, length, prefix + text)
            elif name == _ITEM_END_NAME:
                return at
            elif length > SHORT or name == "UI":  # not remembered (an instance's UIDs never repeat)
                out.append(make(prefix + text, tag, name, head[at:at + length]))
                at += length
            elif elem is None:
                out.append(made.setdefault(place, make(prefix + text, tag, name, place[1][at - start:])))
                at += length
            else:
                out += given[1]
                at = start + len(given[0])
        if run_start >= 0 and len(run) > 1:
            runs[run_place] = head[run_start:at], run
        return at

    def kind(self, key: bytes, at: int) -> tuple[int, str, str, bool, bool]:
        """An element's tag, as a number and as a path writes it, the VR it is read as, whether its length is
        32-bit, and whether it is visited."""
        group, element, vr = _TAG_VR.unpack(key)
        tag = group << 16 | element
        if group == 0xFFFE:
            if element == _ITEM_END:
                return tag, "", _ITEM_END_NAME, False, False
            raise NotPlain(f"item tag at {at}")
        if vr not in _LONG_VRS and vr not in _SHORT_VRS:
            raise NotPlain(f"unknown VR {vr!r} at {at}")
        name = vr.decode()
        if name == "UN":  # read as the dictionary's VR; a sequence stored as UN is searched as bytes
            name = self.known_vr(tag).replace("SQ", "UN")
        wanted = self.accept(tag, name) and tag not in PIXEL_DATA_TAGS
        return tag, self.tag_text(tag), name, vr in _LONG_VRS, wanted

    def sequence(self, head: bytes, out: list[T], at: int, length: int, path: str) -> int:
        """Walk a sequence's items; returns the offset after the sequence."""
        end = len(head) if length == UNDEFINED_LENGTH else at + length
        if end > len(head):
            raise NotPlain(f"sequence {path} runs past the header")
        k = 0
        while at + 8 <= end:
            group, element, item_length = _ITEM.unpack_from(head, at)
            if group != 0xFFFE:
                raise NotPlain(f"no item in {path} at {at}")
            at += 8
            if element == _SEQUENCE_END:
                return at
            if element != _ITEM_TAG:
                raise NotPlain(f"unexpected delimiter in {path} at {at}")
            item_end = end if item_length == UNDEFINED_LENGTH else at + item_length
            if item_end > end:
                raise NotPlain(f"item of {path} runs past its sequence")
            stop = self.elements(head, out, at, item_end, f"{path}[{k}]/")
            at = stop if item_length == UNDEFINED_LENGTH else item_end
            k += 1
        if length == UNDEFINED_LENGTH:
            raise NotPlain(f"sequence {path} has no end")
        return end

