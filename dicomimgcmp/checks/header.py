"""The header check: which of the source's own identity values survived anywhere in the de-identified file?

What is looked for, from the whole source data set (sequences and private elements included):
- every Person Name, whole and by component (family, given, ...);
- the values of the attributes of the Basic Application Level Confidentiality Profile (PS3.15 Table E.1-1,
  :mod:`.profile`): IDs, accession numbers, institution, addresses, telephone numbers, station and device serial
  numbers, physicians, operators, free-text comments;
- dates (DA, DT, and the date part of birth dates) in the forms the text check knows (20190304, 04-MAR-2019, ...);
- every instance UID (standard UIDs and class UIDs aside), unless the mapping keeps it (``id_old`` equal to
  ``id_new``) or the pairing found it unchanged.

Where: every element of the de-identified file at any depth, private ones and the file meta included, and the
bytes of UN/OB/OW elements other than pixel data (read as text). Text matches as the text check matches it,
exactly (case, spaces and punctuation aside) and on whole words: a value is found when a run of the element's
words is the value; a UID only as a whole value. Values shorter than 3 characters and words that are not identity
on their own (:data:`NOT_IDENTITY`) never match.

The de-identified file's bytes before its pixel data are searched first (one pass): a file that holds none of
the values in any form is not parsed at all.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from datetime import date
from typing import NamedTuple

from pydicom.datadict import keyword_for_tag
from pydicom.uid import UID_dictionary

from dicomimgcmp.checks.identity import MIN_VALUE, fold, folded_words, written_dates
from dicomimgcmp.checks.profile import ATTRIBUTES, REPEATING
from dicomimgcmp.model import PairResult, Status
from dicomimgcmp.read.dicomfile import TEXT_VRS, quiet_pydicom
from dicomimgcmp.read.elements import BYTES_VRS, Element, header_bytes, header_elements

#: Values that are not identity on their own, normalised (modality codes are under 3 characters or listed here).
NOT_IDENTITY = frozenset({"anonymous", "anonymized", "anonymised", "anon", "removed", "none", "unknown", "yes",
                          "null", "deleted", "deidentified", "blank", "other", "derived", "primary", "original",
                          "secondary", "axial", "male", "female", "patient", "test"})
#: Dates that scanners and de-identifiers write when there is none (deid-data's Philips cine has the birth date
#: 19000101, and deid's default recipe writes it too): not identity.
PLACEHOLDER_DATES = frozenset({"19000101", "00000000", "00010101", "18991230", "19700101"})
#: Every byte that is not an ASCII letter or digit: the de-identified header's bytes without them, in lower case,
#: are searched first (a value folded the same way is in them if it is in any element).
_NOT_ALNUM = bytes(b for b in range(256) if not (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122))


#: A file as the check reads it: its path and the offset of its pixel data element (None: not known).
Located = tuple[str, "int | None"]


class Needle(NamedTuple):
    """A source value to look for: its normalised text, whether it is a UID (matched whole), and the source
    attribute it came from."""

    text: str
    uid: bool
    attribute: str


def check_headers(result: PairResult, kept_uids: frozenset[str]) -> PairResult:
    """The result with the header check's findings; a pair whose headers cannot both be read is left as is."""
    if result.deid is None or result.source is None or result.deid.error or result.source.error:
        return result
    if result.status in (Status.UNMAPPED, Status.MISSING_PRE, Status.DUPLICATE_UID):
        return result
    deid, source = result.deid, result.source
    unchanged = {deid.sop_instance_uid} if deid.sop_instance_uid == source.sop_instance_uid else set()
    try:
        with quiet_pydicom():  # sequences are converted as they are searched: their warnings are pydicom's
            found = identity_found((deid.path, deid.pixel_offset), (source.path, source.pixel_offset),
                                   kept_uids | unchanged)
    except Exception as exc:  # the comparison's row must survive a header that cannot be searched  # noqa: BLE001
        return result.with_note(f"header check failed: {type(exc).__name__}: {exc}")
    return result.replace(header_identity=found, date_shift_days=date_shift(source.dates, deid.dates))


def identity_found(deid: Located, source: Located, kept_uids: Iterable[str] = ()) -> tuple[str, ...]:
    """The source's identity values found in the de-identified file, each "SourceAttribute@tag path", sorted.
    Each file is given as (path, pixel data offset or None)."""
    kept = {fold(uid) for uid in kept_uids if uid}
    source_head = header_bytes(*source)
    needles = [n for n in set(source_needles(header_elements(source[0], source_head, _may_hold_identity)))
               if not (n.uid and n.text in kept)]
    head = header_bytes(*deid)
    ascii_words = head.lower().translate(None, _NOT_ALNUM)
    other = [n for n in needles if not n.text.isascii()]
    if other:  # names in other scripts: in the header's text as UTF-8 or as a single-byte character set
        text = fold(head.decode("utf-8", "ignore")) + "\0" + fold(head.decode("latin-1"))
    candidates = [n for n in needles if (n.text.encode() in ascii_words if n.text.isascii() else n.text in text)]
    if not candidates:
        return ()
    return _locate(header_elements(deid[0], head), candidates, header_elements(source[0], source_head))


def source_needles(source: Iterable[Element]) -> Iterator[Needle]:
    """The identity values of a source data set's elements."""
    for elem in source:
        keyword = _keyword(elem.tag) or elem.path.rsplit("/", 1)[-1]
        if elem.vr == "PN":
            for person in elem.texts:
                parts = [p for p in re.split(r"[\^=]", person) if p.strip()]
                yield from _needles(keyword, [" ".join(parts), *(word for part in parts for word in part.split())])
        elif elem.vr in ("DA", "DT"):
            for value in elem.texts:
                if value[:8] not in PLACEHOLDER_DATES:
                    yield from _needles(keyword, [text for text, _exact in written_dates(value[:8])])
        elif elem.vr == "UI":
            for uid in elem.texts:
                if uid and uid not in UID_dictionary and not keyword.endswith("ClassUID") \
                        and keyword not in _NOT_INSTANCE_UIDS:
                    yield Needle(fold(uid), True, keyword)
        elif elem.vr not in ("UI", "TM", "DS", "IS") and elem.vr in TEXT_VRS and _in_profile(elem.tag):
            yield from _needles(keyword, elem.texts)


_NOT_INSTANCE_UIDS = frozenset({"TransferSyntaxUID", "ImplementationClassUID", "CodingSchemeUID",
                                "ContextGroupExtensionCreatorUID", "PrivateInformationCreatorUID",
                                "MappingResourceUID", "ContextUID"})


@functools.lru_cache(maxsize=8192)
def _keyword(tag: int) -> str:
    """pydicom's keyword of a tag ("" for a private one), looked up once per tag (4 us each otherwise)."""
    return keyword_for_tag(tag)


def _may_hold_identity(tag: int, vr: str) -> bool:
    """Whether a source element's values are looked for: names, dates, UIDs, the profile's text attributes."""
    return vr in ("PN", "DA", "DT", "UI") or (vr not in ("TM", "DS", "IS") and _in_profile(tag))


def _needles(attribute: str, values: Iterable[str]) -> Iterator[Needle]:
    for value in values:
        text = fold(value)
        if len(text) >= MIN_VALUE and text not in NOT_IDENTITY and not _only_a_number(text):
            yield Needle(text, False, attribute)


def _only_a_number(text: str) -> bool:
    """A short number (an age, a weight, a time zone) or one digit repeated: not identity on its own."""
    return text.isdigit() and (len(text) < 5 or len(set(text)) == 1)


@functools.lru_cache(maxsize=4096)
def _in_profile(tag: int) -> bool:
    """Whether an attribute of the profile holds identity: descriptors of the procedure aside (the Clean
    Descriptors Option's descriptions and labels, which pipelines keep on purpose)."""
    entry = ATTRIBUTES.get(tag) or next((e for (mask, value), e in REPEATING.items() if tag & mask == value), None)
    return entry is not None and not entry[2]


def _locate(deid: Iterable[Element], needles: list[Needle], source: list[Element]) -> tuple[str, ...]:
    """Each needle found in an element of the de-identified data set, as "attribute@path", sorted. Text is
    found as a run of whole words (every run of an element's words is looked up once), a UID as a whole value.
    Where values of several source attributes are found in one element (the same date in StudyDate and
    ContentDate), the element's own attribute is named if it is one of them, else the first.

    An element the standard does not count as identity (a public attribute outside the profile, Manufacturer),
    holding what the source's element at the same place holds, is no finding: de-identification did not put
    the value there (a test file's InstitutionName "GE MEDICAL SYSTEMS" is also its Manufacturer)."""
    texts: dict[str, set[str]] = {}
    uids: dict[str, set[str]] = {}
    for needle in needles:
        (uids if needle.uid else texts).setdefault(needle.text, set()).add(needle.attribute)
    longest = max(map(len, texts), default=0)
    unchanged = {e.path: e.texts for e in source if not _is_private(e.tag) and not _in_profile(e.tag)}
    found = []
    for elem in deid:
        if not elem.texts or unchanged.get(elem.path) == elem.texts:
            continue
        names: set[str] = set()
        if uids and (elem.vr == "UI" or elem.vr in BYTES_VRS):
            for value in elem.texts:
                for part in re.split(r"[\\\s\x00]+", value):
                    names |= uids.get(fold(part), set())
        if texts and elem.vr != "UI":  # a date is no UID's digits
            for value in elem.texts:
                for run in _runs(folded_words(value), longest):
                    names |= texts.get(run, set())
        if names:
            keyword = _keyword(elem.tag)
            found.append(f"{keyword if keyword in names else min(names)}@{elem.path}")
    return tuple(sorted(found))


def _runs(words: list[str], longest: int) -> Iterator[str]:
    """Every run of consecutive words, joined, up to ``longest`` characters."""
    for start in range(len(words)):
        joined = ""
        for word in words[start:]:
            joined += word
            if len(joined) > longest:
                break
            yield joined


def _is_private(tag: int) -> bool:
    return bool((tag >> 16) & 1)


def date_shift(source: tuple[str, ...], deid: tuple[str, ...]) -> int | None:
    """The de-identified date minus the source date, in days, on the first of the records' dates
    (:data:`~.model.DATE_KEYWORDS`) that both have."""
    for a, b in zip(map(_date, source), map(_date, deid)):
        if a is not None and b is not None:
            return (b - a).days
    return None


def _date(value) -> date | None:
    match = re.fullmatch(r"\s*(\d{4})(\d{2})(\d{2})\s*", str(value or ""))
    if not match:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None
