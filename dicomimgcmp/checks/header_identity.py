"""The header check: which of the source's own identity values survived anywhere in the de-identified file?

What is looked for (:mod:`.roles` says which attributes are identity), from the whole source data set (sequences
and private elements included, VR UN read through the dictionary):
- every Person Name, whole and by component (family, given, ...: a component alone only where the source's
  element at the same place held it too, not in a value the de-identifier made up);
- the values of the profile's identifying attributes (PS3.15 Table E.1-1): IDs, accession numbers, institution,
  addresses, telephone numbers, station and device names and serial numbers; not the patient's characteristics
  (age, sex, size, weight...) nor free text and descriptions, whose own words identify no one;
- dates (DA, DT, placeholders aside) in the forms the text check knows (20190304, 04-MAR-2019, ...), and the
  DICOM form also where it is glued to a time or to text (20190304101502.000000, 20190304AM);
- every instance UID (standard UIDs and class UIDs aside), unless the mapping keeps it (``id_old`` equal to
  ``id_new``) or the pairing found it unchanged.

Where: the elements of the de-identified file that are places (:func:`.roles.is_place`: the profile's attributes,
private elements, anything changed), at any depth, and the bytes of UN/OB/OW elements other than pixel data (read
as text, UTF-16 runs included). Text matches as the text check matches it, exactly (case, spaces and
punctuation aside) and on whole words: a value is found when a run of the element's words is the value; a name's
component alone only where it was carried over; a value of one plain word ("NIH") only as an element's whole value
(a department "RADIOLOGY" not at all: :data:`.roles.KINDS_OF_SERVICE`); a UID only as a whole value.
Values shorter than 3 characters and words that are not identity on their own (:data:`NOT_IDENTITY`) never match.

The de-identified file's bytes before its pixel data are searched first (one pass; a deflated data set
inflated): a file that holds none of the values in any form is not parsed at all.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Container, Iterable, Iterator
from typing import NamedTuple

from pydicom.uid import UID_dictionary

from dicomimgcmp.checks.dates import date_shift, real_date
from dicomimgcmp.checks.header_profile import headers_judged, judged_pair
from dicomimgcmp.checks.header_set import uid_values
from dicomimgcmp.checks.identity import MIN_VALUE, fold, folded_words, written_dates
from dicomimgcmp.checks.roles import (
    attribute_name,
    date_is_identity,
    is_place,
    keyword,
    names_the_patient,
    plain_word_is_identity,
    text_is_identity,
)
from dicomimgcmp.enums import NeedleKind
from dicomimgcmp.model import PairResult
from dicomimgcmp.read.dicomfile import TEXT_VRS
from dicomimgcmp.read.elements import (
    BYTES_VRS,
    REMEMBERED,
    SEARCHED_VRS,
    SHORT,
    Element,
    Header,
)

#: Values that are not identity on their own, normalised (modality codes are under 3 characters or listed here).
NOT_IDENTITY = frozenset({"anonymous", "anonymized", "anonymised", "anon", "removed", "none", "unknown", "yes",
                          "null", "deleted", "deidentified", "blank", "other", "derived", "primary", "original",
                          "secondary", "axial", "male", "female", "patient", "test"})
#: Words a placeholder is made of: a value of these alone ("*NO INFO NO INFO* NO INFO", "Not connected", "N/A")
#: says that there is no value, and is no one's identity.
PLACEHOLDER_WORDS = frozenset({"no", "not", "info", "information", "connected", "available", "applicable", "given",
                               "provided", "specified", "none", "unknown", "n", "a", "na", "nil", "null", "empty",
                               "blank", "anonymous", "anonymized", "anonymised", "removed", "deleted"})
#: Every byte that is not an ASCII letter or digit: the de-identified header's bytes without them, in lower case,
#: are searched first (a value folded the same way is in them if it is in any element).
_NOT_ALNUM = bytes(b for b in range(256) if not (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122))
_NUMBER_VRS = frozenset({"TM", "DS", "IS"})
MIN_NAME_PART = 4  # characters of a name's component looked for alone


#: A file as the check reads it: its path and the offset of its pixel data element (None: not known).
Located = tuple[str, "int | None"]


class Needle(NamedTuple):
    """A source value to look for: its normalised text, how it matches (:class:`~.enums.NeedleKind`), and the
    source attribute it came from."""

    text: str
    kind: NeedleKind
    attribute: str


def check_headers(result: PairResult, kept_uids: frozenset[str], profile: tuple[str, ...] | None = None,
                  set_values: bool = False) -> PairResult:
    """The result with the header check's findings, with ``profile`` (not None) the profile judgement's
    (:mod:`.header_profile`: each header walked once for both), and with ``set_values`` the UIDs the set judgement
    needs (:mod:`.header_set`); a pair whose headers cannot both be read is left as is."""
    if not headers_judged(result):
        return result
    deid, source = result.files
    kept: Container[str] = kept_uids
    if deid.sop_instance_uid == source.sop_instance_uid:  # the pairing found it unchanged
        kept = _Kept(kept_uids, deid.sop_instance_uid)
    try:
        headers = Header(deid.path, deid.pixel_offset), Header(source.path, source.pixel_offset)
        for header in headers if profile is not None else ():  # one whole walk each serves both judgements
            header.elements()
        found = _found(*headers, kept)
        uids = uid_values(*headers) if set_values else ()
    except Exception as exc:  # the comparison's row must survive a header that cannot be searched  # noqa: BLE001
        return result.with_note(f"header check failed: {type(exc).__name__}: {exc}")
    fields = {"header_identity": found, "date_shift_days": date_shift(source.dates, deid.dates), "set_uids": uids}
    return result.replace(**fields) if profile is None else judged_pair(result, headers, profile, **fields)


class _Kept:
    """The UIDs the mapping keeps and one more (a set of any size is not copied for a pair)."""

    def __init__(self, kept: Container[str], also: str) -> None:
        self.kept, self.also = kept, also

    def __contains__(self, uid: object) -> bool:
        return uid == self.also or uid in self.kept


def identity_found(deid: Located, source: Located, kept_uids: Container[str] = frozenset()) -> tuple[str, ...]:
    """The source's identity values found in the de-identified file, each "SourceAttribute@tag path", sorted.
    Each file is given as (path, pixel data offset or None); UIDs in ``kept_uids`` may stay."""
    return _found(Header(*deid), Header(*source), kept_uids)


def _found(deid: Header, source: Header, kept_uids: Container[str]) -> tuple[str, ...]:
    elements = source.elements(_may_hold_identity)
    values = _source_values(tuple(elem for elem in elements if elem.vr != "UI" and elem.texts))
    uids = [needle for elem in elements if elem.vr == "UI" for needle in _uid_needles(elem, kept_uids)]
    head = deid.searched
    ascii_words = head.lower().translate(None, _NOT_ALNUM)
    candidates = [needle for needle in uids if needle.text.encode() in ascii_words]
    candidates += (needle for key, text in values.ascii if key in ascii_words for needle in values.by_text[text])
    if values.other:  # names in other scripts: in the header's text as UTF-8 or as a single-byte character set
        folded = fold(head.decode("utf-8", "ignore")) + "\0" + fold(head.decode("latin-1"))
        candidates += (needle for text in values.other if text in folded for needle in values.by_text[text])
    kept = _kept_short(deid, values.short) if values.short else ()
    if not candidates:
        return kept
    places = deid.elements(_searched if any(n.kind is NeedleKind.UID for n in candidates) else _not_uid)
    found = _locate(places, candidates, source.elements)
    return tuple(sorted({*found, *kept})) if kept else found


def _kept_short(deid: Header, short: dict[str, tuple[str, tuple[str, ...]]]) -> tuple[str, ...]:
    """The patient's identifiers too short to be looked for anywhere (:func:`_short_identifier`) that the
    de-identified file holds unchanged at their place, as "attribute@path"."""
    held = {elem.path: elem.texts for elem in deid.elements(_not_uid) if elem.path in short}
    return tuple(f"{attribute}@{path}" for path, (attribute, texts) in short.items()
                 if path in held and tuple(v.strip() for v in held[path]) == texts)


def _searched(_tag: int, vr: str) -> bool:
    """Whether an element of the de-identified file is searched: text and bytes (:data:`SEARCHED_VRS`)."""
    return vr in SEARCHED_VRS


def _not_uid(_tag: int, vr: str) -> bool:
    """Whether a searched element may hold a value other than a UID (a UI element holds nothing else)."""
    return vr in SEARCHED_VRS and vr != "UI"


class _SourceValues:
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
                      for elem in elements if any(map(_short_identifier, elem.texts))
                      and names_the_patient(attribute_name(elem.tag))}


_source_values = functools.lru_cache(maxsize=256)(_SourceValues)


def _uid_needles(elem: Element, kept_uids: Container[str]) -> list[Needle]:
    """An element's instance UIDs (standard and class UIDs aside) that the mapping does not keep."""
    attribute = _instance_uid_attribute(elem.tag)
    if attribute is None:
        return []
    return [Needle(_fold_uid(uid), NeedleKind.UID, attribute) for uid in elem.texts
            if uid and uid not in UID_dictionary and uid not in kept_uids]


@functools.lru_cache(maxsize=8192)
def _instance_uid_attribute(tag: int) -> str | None:
    """The attribute of a UI element whose values are instance UIDs (None for a class UID and the like)."""
    attribute = attribute_name(tag)
    return None if attribute.endswith("ClassUID") or attribute in _NOT_INSTANCE_UIDS else attribute


def _fold_uid(uid: str) -> str:
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
def _may_hold_identity(tag: int, vr: str) -> bool:
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


def _short_identifier(value: str) -> bool:
    """A value too short to be looked for (under :data:`MIN_VALUE` characters, or a short number), that is still
    an identifier where it stands: not one character or digit repeated, not a placeholder."""
    text = fold(value)
    return (len(text) < MIN_VALUE or _only_a_number(text)) and len(set(text)) > 1 and text not in NOT_IDENTITY \
        and not set(folded_words(value)) <= PLACEHOLDER_WORDS


def _only_a_number(text: str) -> bool:
    """A short number (an age, a weight, a time zone) or one digit repeated: not identity on its own."""
    return text.isdigit() and (len(text) < 5 or len(set(text)) == 1)


def _locate(deid: Iterable[Element], needles: list[Needle], source: Callable[[], list[Element]]) -> tuple[str, ...]:
    """Each needle found in a place of the de-identified data set (:func:`.roles.is_place`), as "attribute@path",
    sorted. Where values of several source attributes are found in one element (the same date in StudyDate and
    ContentDate), the element's own attribute is named if it is one of them, else the first in
    :func:`_naming_order`. The source's
    elements (``source``) are read only if an element found needs them."""
    finder = _value_finder(frozenset(needle for needle in needles if needle.kind is not NeedleKind.UID))
    uids: dict[str, set[str]] = {}  # an instance's UIDs are its own: looked for pair by pair
    for needle in needles:
        if needle.kind is NeedleKind.UID:
            uids.setdefault(needle.text, set()).add(needle.attribute)
    source_at = _SourceTexts(source)
    found = []
    for elem in deid:
        place = is_place(elem.tag, elem.vr)
        if not elem.texts or not place and elem.tag >> 16 == 0x0002:
            continue
        names = finder.in_element(elem, source_at) if elem.vr != "UI" else set()
        if uids and (elem.vr == "UI" or elem.vr in BYTES_VRS):
            names = names | _uid_names(elem, uids)
        if names and (place or source_at.get(elem.path) != elem.texts):
            own = keyword(elem.tag)
            found.append(f"{own if own in names else min(names, key=_naming_order)}@{elem.path}")
    return tuple(sorted(found))


def _naming_order(attribute: str) -> tuple[bool, bool, str]:
    """Which of the source attributes that hold a value found names it: the patient's own identifiers first, then
    public attributes, then private ones ("(0033,1013)", a vendor's copy of the patient's name, is PatientName)."""
    return not names_the_patient(attribute), attribute.startswith("("), attribute


def _uid_names(elem: Element, uids: dict[str, set[str]]) -> set[str]:
    """The source attributes whose UIDs (``uids``: folded, :func:`_fold_uid`) an element holds as values (a UI
    element's, or a run of a bytes value's)."""
    names: set[str] = set()
    for value in elem.texts:
        for part in re.split(r"[\\\s\x00]+", value):
            names |= uids.get(_fold_uid(part), set())
    return names


class _SourceTexts:
    """The source's element values by path, read on first use."""

    def __init__(self, read: Callable[[], list[Element]]) -> None:
        self.read = read
        self.at: dict[str, tuple[str, ...]] | None = None

    def get(self, path: str) -> tuple[str, ...] | None:
        if self.at is None:
            self.at = {e.path: e.texts for e in self.read()}
        return self.at.get(path)


class _Finder:
    """The needles of a source's values other than UIDs found in a de-identified header, by how they match
    (:class:`~.enums.NeedleKind`): text as a run of whole words (every run of an element's words looked up once), a
    plain word as a whole value, a date also glued to a time or text. An element whose folded text holds none of
    them at all is passed over at once. Made once per distinct set of needles (a series' files share theirs), it
    remembers what it found in each element of short values unless that depended on the source's element at the
    same place."""

    def __init__(self, needles: frozenset[Needle]) -> None:
        by_kind: dict[NeedleKind, dict[str, set[str]]] = {kind: {} for kind in NeedleKind}
        for needle in needles:
            by_kind[needle.kind].setdefault(needle.text, set()).add(needle.attribute)
        self.texts, self.parts, self.wholes, self.dates = (
            by_kind[k] for k in (NeedleKind.WORDS, NeedleKind.NAME_PART, NeedleKind.WHOLE, NeedleKind.DATE))
        self.glued = _glued_dates(self.dates)
        self.anywhere = re.compile("|".join(map(re.escape, sorted({*self.texts, *self.parts, *self.wholes,
                                                                     *self.dates})))) if needles else None
        self.remembered: dict[Element, set[str]] = {}

    def in_element(self, elem: Element, source_at: _SourceTexts) -> set[str]:
        """The source attributes whose values the element holds (not a UI element: its values are UIDs)."""
        if self.anywhere is None:
            return set()
        seen = self.remembered.get(elem)
        if seen is not None:
            return seen
        names: set[str] = set()
        remember = True  # not when the source's element at the same place decided, nor for a long value
        for value in elem.texts:
            if len(value) <= SHORT:
                folded = _short_folded(value)
            else:  # a long value (a vendor's XML, a report) is rarely another file's: kept, it would hold memory
                folded, remember = fold(value), False
            if not self.anywhere.search(folded):
                continue  # a date glued to a time or text is in the folded value too
            if self.texts or self.parts:
                words = _Words(value)
                for text in filter(words.has_run, self.texts):
                    names |= self.texts[text]
                for part in filter(words.has_run, self.parts):  # a part of a name found whole needs no more
                    if not self.parts[part] <= names:
                        remember = False
                        if _carried(part, source_at.get(elem.path) or ()):
                            names |= self.parts[part]
            names |= self.wholes.get(folded, set())
            if self.glued is not None:
                names.update(*(self.dates[match.group(1)] for match in self.glued.finditer(value)))
        if remember:
            if len(self.remembered) > _REMEMBERED_PLACES:
                self.remembered.clear()
            self.remembered[elem] = names
        return names


_REMEMBERED_PLACES = 1 << 11  # elements a finder remembers (a few series' headers)
_value_finder = functools.lru_cache(maxsize=64)(_Finder)


_short_folded = functools.lru_cache(maxsize=REMEMBERED)(fold)  # element values repeat from file to file


def _carried(part: str, source_texts: tuple[str, ...]) -> bool:
    """Whether a name's component found alone in an element was carried over from the source's element at the
    same place (a description kept, or cleaned of other words), not written there by the de-identifier: a
    pseudonym or a made-up institution that happens to hold a common surname (dicognito's "NANJING'S SMITH STREET
    CLINIC" for a source physician Smith) is someone else's."""
    return any(_Words(text).has_run(part) for text in source_texts)


def _glued_dates(dates: dict[str, set[str]]) -> re.Pattern | None:
    """One pattern for the DICOM form of every date: not inside a longer number, but glued to letters or to a
    time (20190304101502.000000, 2019030410:15)."""
    if not dates:
        return None
    alternatives = "|".join(sorted(dates))
    return re.compile(rf"(?<!\d)({alternatives})(?:(?!\d)|(?=(?:[01]\d|2[0-3])(?:[0-5]\d|\D|$)))")


class _Words:
    """A text's folded words (:func:`.identity.folded_words`), joined, with where each word starts and ends."""

    def __init__(self, text: str) -> None:
        words = folded_words(text)
        self.ends = set(itertools.accumulate(map(len, words)))
        self.starts = {0, *self.ends}
        self.joined = "".join(words)

    def has_run(self, run: str) -> bool:
        """Whether ``run`` (folded) is a run of consecutive whole words of the text."""
        at = self.joined.find(run)
        while at >= 0:
            if at in self.starts and at + len(run) in self.ends:
                return True
            at = self.joined.find(run, at + 1)
        return False
