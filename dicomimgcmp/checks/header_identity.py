"""The header check: which of the source's own identity values (:mod:`.needles`: what is looked for) survived
anywhere in the de-identified file?

Where: the elements of the de-identified file that are places (:func:`.roles.is_place`: the profile's attributes,
private elements, anything changed), at any depth, and the bytes of UN/OB/OW elements other than pixel data (read
as text, UTF-16 runs included). Text matches as the text check matches it, exactly (case, spaces and
punctuation aside) and on whole words: a value is found when a run of the element's words is the value; a name's
component alone only where it was carried over; a value of one plain word ("NIH") only as an element's whole value
(a department "RADIOLOGY" not at all: :data:`.roles.KINDS_OF_SERVICE`); a UID only as a whole value.

The de-identified file's bytes before its pixel data are searched first (one pass; a deflated data set
inflated): a file that holds none of the values in any form is not parsed at all.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Container, Iterable

from dicomimgcmp.checks.dates import date_shift
from dicomimgcmp.checks.header_profile import headers_judged, judged_pair
from dicomimgcmp.checks.header_set import uid_values
from dicomimgcmp.checks.identity import fold, folded_words
from dicomimgcmp.checks.needles import Needle, fold_uid, may_hold_identity, source_values, uid_needles
from dicomimgcmp.checks.roles import is_place, keyword, names_the_patient
from dicomimgcmp.enums import NeedleKind
from dicomimgcmp.model import PairResult
from dicomimgcmp.read.elements import BYTES_VRS, REMEMBERED, SEARCHED_VRS, SHORT, Element, Header

#: Every byte that is not an ASCII letter or digit: the de-identified header's bytes without them, in lower case,
#: are searched first (a value folded the same way is in them if it is in any element).
_NOT_ALNUM = bytes(b for b in range(256) if not (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122))
#: A file as the check reads it: its path and the offset of its pixel data element (None: not known).
Located = tuple[str, "int | None"]


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
    elements = source.elements(may_hold_identity)
    values = source_values(tuple(elem for elem in elements if elem.vr != "UI" and elem.texts))
    uids = [needle for elem in elements if elem.vr == "UI" for needle in uid_needles(elem, kept_uids)]
    head = deid.searched
    ascii_words = head.lower().translate(None, _NOT_ALNUM)
    candidates = [needle for needle in uids if needle.text.encode() in ascii_words]
    candidates += (needle for key, text in values.ascii if key in ascii_words for needle in values.by_text[text])
    if values.other:  # names in other scripts: in the header's text as UTF-8 or as a single-byte character set
        folded = fold(head.decode("utf-8", "ignore")) + "\0" + fold(head.decode("latin-1"))
        candidates += (needle for text in values.other if text in folded for needle in values.by_text[text])
    if not candidates and not values.short:
        return ()
    places = deid.elements(_searched if any(n.kind is NeedleKind.UID for n in candidates) else _not_uid)
    found = _locate(places, candidates, source.elements) if candidates else ()
    kept = _kept_short(places, values.short) if values.short else ()
    return tuple(sorted({*found, *kept})) if kept else found


def _kept_short(deid: list[Element], short: dict[str, tuple[str, tuple[str, ...]]]) -> tuple[str, ...]:
    """The patient's identifiers too short to be looked for anywhere (:func:`.needles.short_identifier`) that the
    de-identified file (``deid``: its searched elements) holds unchanged at their place, as "attribute@path"."""
    held = {elem.path: elem.texts for elem in deid if elem.path in short}
    return tuple(f"{attribute}@{path}" for path, (attribute, texts) in short.items()
                 if path in held and tuple(v.strip() for v in held[path]) == texts)


def _searched(_tag: int, vr: str) -> bool:
    """Whether an element of the de-identified file is searched: text and bytes (:data:`SEARCHED_VRS`)."""
    return vr in SEARCHED_VRS


def _not_uid(_tag: int, vr: str) -> bool:
    """Whether a searched element may hold a value other than a UID (a UI element holds nothing else)."""
    return vr in SEARCHED_VRS and vr != "UI"


def _locate(deid: Iterable[Element], needles: list[Needle], source: Callable[[], list[Element]]) -> tuple[str, ...]:
    """Each needle found in a place of the de-identified data set (:func:`.roles.is_place`), as "attribute@path",
    sorted. Where values of several source attributes are found in one element (the same date in StudyDate and
    ContentDate), the element's own attribute is named if it is one of them, else the first in
    :func:`_naming_order`. The source's elements (``source``) are read only if an element found needs them."""
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
    """The source attributes whose UIDs (``uids``: folded, :func:`fold_uid`) an element holds as values (a UI
    element's, or a run of a bytes value's)."""
    names: set[str] = set()
    for value in elem.texts:
        for part in re.split(r"[\\\s\x00]+", value):
            names |= uids.get(fold_uid(part), set())
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
