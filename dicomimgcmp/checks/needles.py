"""What the header check looks for: the needles of a source's identity values (:mod:`.header_identity` says
where they are found).

Looked for (:mod:`.roles` says which attributes are identity), from the whole source data set (sequences and
private elements included, VR UN read through the dictionary):
- every Person Name, whole (also given name first, as people write it) and by component (family, given, ...: a
  component alone only where the source's element at the same place held it too, not in a value the
  de-identifier made up);
- the values of the profile's identifying attributes (PS3.15 Table E.1-1): IDs, accession numbers, institution,
  addresses, telephone numbers, station and device names and serial numbers; not the patient's characteristics
  (age, sex, size, weight...) nor free text and descriptions, whose own words identify no one;
- dates (DA, DT, placeholders aside) in the forms the text check knows (20190304, 04-MAR-2019, ...), and the
  DICOM form also where it is glued to a time or to text (20190304101502.000000, 20190304AM);
- every instance UID (standard UIDs and class UIDs aside), unless the mapping keeps it (``id_old`` equal to
  ``id_new``) or the pairing found it unchanged.
Values shorter than 3 characters, words that are not identity on their own (:data:`NOT_IDENTITY`) and
placeholders (:data:`PLACEHOLDER_WORDS`) are never looked for; the patient's own identifier too short to look for
(a PatientID "204") only where the de-identified file keeps it at its place.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Container, Iterable, Iterator
from typing import NamedTuple

from pydicom.uid import UID_dictionary

from dicomimgcmp.checks.dates import real_date
from dicomimgcmp.checks.identity import MIN_VALUE, fold, folded_words, written_dates
from dicomimgcmp.checks.roles import (
    attribute_name,
    date_is_identity,
    names_the_patient,
    plain_word_is_identity,
    text_is_identity,
)
from dicomimgcmp.enums import NeedleKind
from dicomimgcmp.read.dicomfile import TEXT_VRS
from dicomimgcmp.read.elements import REMEMBERED, Element

#: Values that are not identity on their own, normalised (modality codes are under 3 characters or listed here).
NOT_IDENTITY = frozenset({"anonymous", "anonymized", "anonymised", "anon", "removed", "none", "unknown", "yes",
                          "null", "deleted", "deidentified", "blank", "other", "derived", "primary", "original",
                          "secondary", "axial", "male", "female", "patient", "test"})
#: Words a placeholder is made of: a value of these alone ("*NO INFO NO INFO* NO INFO", "Not connected", "N/A")
#: says that there is no value, and is no one's identity.
PLACEHOLDER_WORDS = frozenset({"no", "not", "info", "information", "connected", "available", "applicable", "given",
                               "provided", "specified", "none", "unknown", "n", "a", "na", "nil", "null", "empty",
                               "blank", "anonymous", "anonymized", "anonymised", "removed", "deleted"})
_NUMBER_VRS = frozenset({"TM", "DS", "IS"})
MIN_NAME_PART = 4  # characters of a name's component looked for alone


class Needle(NamedTuple):
    """A source value to look for: its normalised text, how it matches (:class:`~.enums.NeedleKind`), and the
    source attribute it came from."""

    text: str
    kind: NeedleKind
    attribute: str


class SourceValues:
    """The needles of a source's values other than UIDs, by text, and the texts' search keys: derived once per
    distinct set of elements (the files of a series share theirs)."""

    def __init__(self, elements: tuple[Element, ...]) -> None:
        self.by_text: dict[str, list[Needle]] = {}
        for needle in {n for elem in elements for n in _value_needles(elem.tag, elem.vr, elem.texts)}:
            self.by_text.setdefault(needle.text, []).append(needle)
        self.ascii = [(text.encode(), text) for text in self.by_text if text.isascii()]
        self.other = [text for text in self.by_text if not text.isascii()]
        #: The patient's own identifiers whose values are too short to look for (a PatientID "204"), by path: found
        #: only where the de-identified file keeps them at their place.
        self.short = {elem.path: (attribute_name(elem.tag), tuple(v.strip() for v in elem.texts))
                      for elem in elements if any(map(short_identifier, elem.texts))
                      and names_the_patient(attribute_name(elem.tag))}


source_values = functools.lru_cache(maxsize=256)(SourceValues)


def uid_needles(elem: Element, kept_uids: Container[str]) -> list[Needle]:
    """An element's instance UIDs (standard and class UIDs aside) that the mapping does not keep."""
    attribute = _instance_uid_attribute(elem.tag)
    if attribute is None:
        return []
    return [Needle(fold_uid(uid), NeedleKind.UID, attribute) for uid in elem.texts
            if uid and uid not in UID_dictionary and uid not in kept_uids]


@functools.lru_cache(maxsize=8192)
def _instance_uid_attribute(tag: int) -> str | None:
    """The attribute of a UI element whose values are instance UIDs (None for a class UID and the like)."""
    attribute = attribute_name(tag)
    return None if attribute.endswith("ClassUID") or attribute in _NOT_INSTANCE_UIDS else attribute


def fold_uid(uid: str) -> str:
    """:func:`.identity.fold` of a UID: a valid one (digits and dots) without its dots, at once."""
    digits = uid.replace(".", "")
    return digits if digits.isascii() and digits.isdigit() else fold(uid)


@functools.lru_cache(maxsize=REMEMBERED)
def _value_needles(tag: int, vr: str, texts: tuple[str, ...]) -> tuple[Needle, ...]:
    """The needles of one element's values: names whole and by component, dates in their written forms, the
    profile's identifying text (a plain word only as a whole value)."""
    attribute = attribute_name(tag)
    found: list[Needle] = []
    for value in texts:
        if vr == "PN":
            found += _name_needles(attribute, value)
        elif vr in ("DA", "DT"):
            if day := real_date(value):
                found.append(Needle(day, NeedleKind.DATE, attribute))
                found += _needles(attribute, [text for text, _exact in written_dates(day)], NeedleKind.WORDS)
        elif not _plain_word(value):
            found += _needles(attribute, [value], NeedleKind.WORDS)
        elif plain_word_is_identity(tag):
            found += _needles(attribute, [value], NeedleKind.WHOLE)
    return tuple(found)


def _name_needles(attribute: str, person: str) -> Iterator[Needle]:
    """A person name whole, also given name first as people write it ("Mary Smith", "Mary Ann Smith" for
    SMITH^MARY^ANN), and its components alone (:attr:`~.enums.NeedleKind.NAME_PART`). A lone component shorter
    than :data:`MIN_NAME_PART` is not looked for ("RIS", "LEE" are words too)."""
    parts = [part for part in re.split(r"[\^=]", person) if part.strip()]
    family, given, middle = (person.split("=")[0].split("^") + ["", ""])[:3]
    given_first = [f"{given} {family}", f"{given} {middle} {family}"] if given.strip() and family.strip() else []
    yield from _needles(attribute, [" ".join(parts), *given_first[:1 + bool(middle.strip())]], NeedleKind.WORDS)
    words = [word for part in parts for word in part.split() if len(fold(word)) >= MIN_NAME_PART]
    yield from _needles(attribute, words, NeedleKind.NAME_PART)


def _plain_word(value: str) -> bool:
    """A value of one word of letters only ("NIH", "RADIOLOGY"): looked for only as an element's whole value (as a
    word inside text it is too often another word: a BranchOfService "ABDOMEN" in a protocol)."""
    return len(words := folded_words(value)) == 1 and words[0].isalpha()


_NOT_INSTANCE_UIDS = frozenset({"TransferSyntaxUID", "ImplementationClassUID", "CodingSchemeUID",
                                "ContextGroupExtensionCreatorUID", "PrivateInformationCreatorUID",
                                "MappingResourceUID", "ContextUID"})


@functools.lru_cache(maxsize=8192)
def may_hold_identity(tag: int, vr: str) -> bool:
    """Whether a source element's values are looked for: names, dates, UIDs, the profile's identifying text."""
    if vr in ("DA", "DT"):
        return date_is_identity(tag)
    return vr in ("PN", "UI") or (vr in TEXT_VRS and vr not in _NUMBER_VRS and text_is_identity(tag))


def _needles(attribute: str, values: Iterable[str], kind: NeedleKind) -> Iterator[Needle]:
    for value in values:
        text = fold(value)
        if len(text) >= MIN_VALUE and text not in NOT_IDENTITY and not _only_a_number(text) and \
                not set(folded_words(value)) <= PLACEHOLDER_WORDS:
            yield Needle(text, kind, attribute)


def short_identifier(value: str) -> bool:
    """A value too short to be looked for (under :data:`MIN_VALUE` characters, or a short number), that is still
    an identifier where it stands: not one character or digit repeated, not a placeholder."""
    text = fold(value)
    return (len(text) < MIN_VALUE or _only_a_number(text)) and len(set(text)) > 1 and text not in NOT_IDENTITY \
        and not set(folded_words(value)) <= PLACEHOLDER_WORDS


def _only_a_number(text: str) -> bool:
    """A short number (an age, a weight, a time zone) or one digit repeated: not identity on its own."""
    return text.isdigit() and (len(text) < 5 or len(set(text)) == 1)
