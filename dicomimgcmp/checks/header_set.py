"""What the set judgement needs of a pair's headers (:mod:`.run.store.set_check` judges the run as a whole): the
instance UIDs both files hold at the same path, with what each holds there.

Every standard UI element at any depth is taken (study, series, instance and frame of reference UIDs, the
references in sequences, ...) whose source value is an instance UID, not one the standard defines (SOP classes,
transfer syntaxes, coding schemes), and where the de-identified file holds a value at the same path: a UID removed
is the profile judgement's to judge, not the set's. Private elements and the file meta are left out (the file
meta's MediaStorageSOPInstanceUID repeats SOPInstanceUID)."""

from __future__ import annotations

from pydicom.uid import UID_dictionary

from dicomimgcmp.checks.roles import attribute_name, is_private, private_part
from dicomimgcmp.read.elements import Element, Header

#: (attribute, path, source value, de-identified value)
UidValue = tuple[str, str, str, str]


def uid_values(deid: Header, source: Header) -> tuple[UidValue, ...]:
    """The instance UIDs of the source both files hold at the same path, in the source's order (a multi-valued
    element value by value)."""
    held = {elem.path: elem.texts for elem in _uids(deid)}
    found = []
    for elem in _uids(source):
        new = held.get(elem.path)
        if not new or elem.tag >> 16 == 0x0002 or is_private(elem.tag) or private_part(elem.path):
            continue
        for old, value in zip(elem.texts, new):
            old, value = old.strip("\0 "), value.strip("\0 ")
            if old and value and old not in UID_dictionary:
                found.append((attribute_name(elem.tag), elem.path, old, value))
    return tuple(found)


def _uids(header: Header) -> list[Element]:
    """The header's UI elements: of its whole walk when it was walked whole (a filter, no call per element)."""
    return [elem for elem in header.elements() if elem.vr == "UI"] if header.walked else header.elements(_is_uid)


def _is_uid(_tag: int, vr: str) -> bool:
    return vr == "UI"

