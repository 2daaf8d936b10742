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

from dicomimgcmp.read.dicomfile import PIXEL_DATA_TAGS, data_set_start

_HEADER = struct.Struct("<HH2sH")  # group, element, VR, 16-bit length
_LONG = struct.Struct("<L")
_ITEM = struct.Struct("<HHL")  # (FFFE,xxxx) and its 32-bit length
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_SHORT_VRS = frozenset({b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
                        b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"})
_UNDEFINED = 0xFFFFFFFF
_ITEM_TAG, _ITEM_END, _SEQUENCE_END = 0xE000, 0xE00D, 0xE0DD
#: The transfer syntaxes whose data set is not Explicit VR Little Endian (every other one's is: compressed
#: ones included), and a file without file meta ("").
_NOT_EXPLICIT_LE = frozenset({"", "1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})
_TRANSFER_SYNTAX = b"\x02\x00\x10\x00UI"


class NotPlain(Exception):
    """The header is not one this walk reads with certainty."""


#: Called with (the path of the element's data set, "" or "(gggg,eeee)[k]/...", tag, VR, raw value) for every
#: element that is not a sequence and that :data:`Accept` accepts.
Visit = Callable[[str, int, str, bytes], None]
#: Whether an element (tag, VR) is visited: asked once per tag and VR, the answer remembered.
Accept = Callable[[int, str], bool]
_VR_NAMES = {vr: vr.decode() for vr in _LONG_VRS | _SHORT_VRS}
#: What a UN element's VR is read as (the dictionary's, for a public tag; "SQ" is not followed but searched).
KnownVR = Callable[[int], str]


def walk_plain(head: bytes, visit: Visit, accept: Accept, known_vr: KnownVR, tag_text: Callable[[int], str]) -> None:
    """Visit the elements ``accept`` accepts of a file's header bytes (file meta included, pixel data excluded),
    in order, when the data set is Explicit VR Little Endian; raises :class:`NotPlain` otherwise or on anything
    unexpected."""
    if _transfer_syntax(head) in _NOT_EXPLICIT_LE:
        raise NotPlain("not Explicit VR Little Endian")
    walk = _Walk(head, visit, accept, known_vr, tag_text)
    try:
        walk.elements(132 if head[128:132] == b"DICM" else 0, len(head), "")
    except struct.error as exc:  # a length that points past the bytes
        raise NotPlain(str(exc)) from None


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


class _Walk:
    """One walk of one header: its bytes, what it visits, and the answers of ``accept`` so far."""

    def __init__(self, head: bytes, visit: Visit, accept: Accept, known_vr: KnownVR,
                 tag_text: Callable[[int], str]) -> None:
        self.head, self.visit, self.accept, self.known_vr, self.tag_text = head, visit, accept, known_vr, tag_text
        self.accepted: dict[tuple[int, str], bool] = {}

    def elements(self, at: int, end: int, prefix: str) -> int:
        """Walk the elements from ``at`` up to ``end`` (or an item delimiter); returns where the walk stopped."""
        head, accepted = self.head, self.accepted
        while at + 8 <= end:
            group, element, vr, length = _HEADER.unpack_from(head, at)
            tag = group << 16 | element
            if group == 0xFFFE:
                if element == _ITEM_END:
                    return at + 8
                raise NotPlain(f"item tag at {at}")
            if vr in _LONG_VRS:
                (length,) = _LONG.unpack_from(head, at + 8)
                at += 12
            elif vr in _SHORT_VRS:
                at += 8
            else:
                raise NotPlain(f"unknown VR {vr!r} at {at}")
            if vr == b"SQ":
                at = self.sequence(at, length, prefix + self.tag_text(tag))
                continue
            if length == _UNDEFINED or at + length > end:
                raise NotPlain(f"value of {self.tag_text(tag)} runs past the header")
            name = _VR_NAMES[vr]
            if name == "UN":  # read as the dictionary's VR; a sequence stored as UN is searched as bytes
                name = self.known_vr(tag).replace("SQ", "UN")
            key = (tag, name)
            wanted = accepted.get(key)
            if wanted is None:
                wanted = accepted[key] = self.accept(tag, name) and tag not in PIXEL_DATA_TAGS
            if wanted:
                self.visit(prefix, tag, name, head[at:at + length])
            at += length
        return at

    def sequence(self, at: int, length: int, path: str) -> int:
        """Walk a sequence's items; returns the offset after the sequence."""
        head = self.head
        end = len(head) if length == _UNDEFINED else at + length
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
            item_end = end if item_length == _UNDEFINED else at + item_length
            if item_end > end:
                raise NotPlain(f"item of {path} runs past its sequence")
            stop = self.elements(at, item_end, f"{path}[{k}]/")
            at = stop if item_length == _UNDEFINED else item_end
            k += 1
        if length == _UNDEFINED:
            raise NotPlain(f"sequence {path} has no end")
        return end
