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

import re
from collections.abc import Iterable, Iterator
from datetime import date
from typing import NamedTuple

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID_dictionary

from dicomimgcmp.checks.identity import MIN_VALUE, fold, folded_words, written_dates
from dicomimgcmp.checks.profile import ATTRIBUTES, REPEATING
from dicomimgcmp.model import PairResult, Status
from dicomimgcmp.read.dicomfile import PIXEL_DATA_TAGS, quiet_pydicom, read_dataset

#: Values that are not identity on their own, normalised (modality codes are under 3 characters or listed here).
NOT_IDENTITY = frozenset({"anonymous", "anonymized", "anonymised", "anon", "removed", "none", "unknown", "yes",
                          "null", "deleted", "deidentified", "blank", "other", "derived", "primary", "original",
                          "secondary", "axial", "male", "female", "patient", "test"})
FINDINGS_CAP = 20  # findings written in a CSV cell
#: Text value representations searched as text (UI apart: matched as whole values).
_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UR",
                       "UT"})
_BYTES_VRS = frozenset({"UN", "OB", "OW"})
_MAX_BYTES = 1 << 20  # a UN/OB/OW value longer than this is data, not a hidden header
#: Every byte that is not an ASCII letter or digit: the de-identified header's bytes without them, in lower case,
#: are searched first (a value folded the same way is in them if it is in any element).
_NOT_ALNUM = bytes(b for b in range(256) if not (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122))


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
        with quiet_pydicom():  # values are converted as they are searched: their warnings are pydicom's
            found = identity_found(deid.path, source.path, kept_uids | unchanged)
    except Exception as exc:  # the comparison's row must survive a header that cannot be searched  # noqa: BLE001
        return result.with_note(f"header check failed: {type(exc).__name__}: {exc}")
    return result.replace(header_identity=found, date_shift_days=date_shift(source.dates, deid.dates))


def identity_found(deid_path: str, source_path: str, kept_uids: Iterable[str] = ()) -> tuple[str, ...]:
    """The source's identity values found in the de-identified file, each "SourceAttribute@tag path", sorted."""
    kept = {fold(uid) for uid in kept_uids if uid}
    source = read_dataset(source_path)
    needles = [n for n in set(source_needles(source)) if not (n.uid and n.text in kept)]
    head = _header_bytes(deid_path)
    ascii_words = head.lower().translate(None, _NOT_ALNUM)
    other = [n for n in needles if not n.text.isascii()]
    if other:  # names in other scripts: in the header's text as UTF-8 or as a single-byte character set
        text = fold(head.decode("utf-8", "ignore")) + "\0" + fold(head.decode("latin-1"))
    candidates = [n for n in needles if (n.text.encode() in ascii_words if n.text.isascii() else n.text in text)]
    return _locate(read_dataset(deid_path), candidates, source) if candidates else ()


def source_needles(ds: Dataset) -> Iterator[Needle]:
    """The identity values of a source data set, at any depth."""
    for elem in _elements(ds):
        keyword = elem.keyword or f"({elem.tag.group:04X},{elem.tag.element:04X})"
        if elem.VR == "PN":
            for person in _values(elem):
                parts = [p for p in re.split(r"[\^=]", str(person)) if p.strip()]
                yield from _texts(keyword, [" ".join(parts), *(word for part in parts for word in part.split())])
        elif elem.VR in ("DA", "DT"):
            for value in _values(elem):
                yield from _texts(keyword, [text for text, _exact in written_dates(str(value)[:8])])
        elif elem.VR == "UI":
            for value in _values(elem):
                uid = str(value).strip().rstrip("\0")
                if uid and uid not in UID_dictionary and not keyword.endswith("ClassUID") \
                        and keyword not in _NOT_INSTANCE_UIDS:
                    yield Needle(fold(uid), True, keyword)
        elif _in_profile(int(elem.tag)) and elem.VR in _TEXT_VRS and elem.VR not in ("TM", "DS", "IS"):
            yield from _texts(keyword, [str(v) for v in _values(elem)])


_NOT_INSTANCE_UIDS = frozenset({"TransferSyntaxUID", "ImplementationClassUID", "CodingSchemeUID",
                                "ContextGroupExtensionCreatorUID", "PrivateInformationCreatorUID",
                                "MappingResourceUID", "ContextUID"})


def _texts(attribute: str, values: Iterable[str]) -> Iterator[Needle]:
    for value in values:
        text = fold(value)
        if len(text) >= MIN_VALUE and text not in NOT_IDENTITY and not _only_a_number(text):
            yield Needle(text, False, attribute)


def _only_a_number(text: str) -> bool:
    """A short number (an age, a weight, a time zone) or one digit repeated: not identity on its own."""
    return text.isdigit() and (len(text) < 5 or len(set(text)) == 1)


def _in_profile(tag: int) -> bool:
    """Whether an attribute of the profile holds identity: descriptors of the procedure aside (the Clean
    Descriptors Option's descriptions and labels, which pipelines keep on purpose)."""
    entry = ATTRIBUTES.get(tag) or next((e for (mask, value), e in REPEATING.items() if tag & mask == value), None)
    return entry is not None and not entry[2]


def _elements(ds: Dataset) -> Iterator[DataElement]:
    """Every element at any depth, the file meta's first; pixel data never."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        yield from meta
    for elem in ds.iterall():
        if int(elem.tag) not in PIXEL_DATA_TAGS:
            yield elem


def _values(elem: DataElement) -> list:
    value = elem.value
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]


def _header_bytes(path: str) -> bytes:
    """The file's bytes before its pixel data (all of a file without): what the check searches first."""
    with open(path, "rb") as fh:
        head = fh.read(_MAX_BYTES)
    for tag in (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10"):  # (7FE0,0010) little and big endian
        at = head.rfind(tag)
        if at > 0:
            return head[:at]
    return head


def _locate(ds: Dataset, needles: list[Needle], source: Dataset) -> tuple[str, ...]:
    """Each needle found in an element of the de-identified data set, as "attribute@path", sorted. Where values
    of several source attributes are found in one element (the same date in StudyDate and ContentDate), the
    element's own attribute is named if it is one of them, else the first.

    An element the standard does not count as identity (a public attribute outside the profile: Manufacturer),
    holding what the source's element at the same place holds, is no finding: de-identification did not put
    the value there (a test file's InstitutionName "GE MEDICAL SYSTEMS" is also its Manufacturer)."""
    unchanged = {path: elem.value for path, elem in _walk(source, "")
                 if not elem.tag.is_private and not _in_profile(int(elem.tag)) and elem.VR not in _BYTES_VRS}
    found = []
    for path, elem in _walk(ds, ""):
        texts = _element_texts(elem)
        if not texts or (path in unchanged and unchanged[path] == elem.value and not elem.tag.is_private):
            continue
        names = sorted({needle.attribute for needle in needles
                        if (needle.uid == (elem.VR == "UI") or elem.VR in _BYTES_VRS)  # a date is no UID's digits
                        and any(_holds(text, needle) for text in texts)})
        if names:
            found.append(f"{elem.keyword if elem.keyword in names else names[0]}@{path}")
    return tuple(sorted(found))


def _walk(ds: Dataset, prefix: str) -> Iterator[tuple[str, DataElement]]:
    """(tag path, element) of every element at any depth, the file meta's at the top."""
    meta = getattr(ds, "file_meta", None) if not prefix else None
    for elem in [*(meta or []), *ds]:
        path = f"{prefix}({elem.tag.group:04X},{elem.tag.element:04X})"
        if elem.VR == "SQ":
            for k, item in enumerate(elem.value or []):
                yield from _walk(item, f"{path}[{k}]/")
        elif int(elem.tag) not in PIXEL_DATA_TAGS:
            yield path, elem


def _element_texts(elem: DataElement) -> list[str]:
    """An element's values as text: text values one by one, bytes (UN, OB, OW) split on what is not printable."""
    value = elem.value
    if elem.VR in _BYTES_VRS or isinstance(value, (bytes, bytearray)):
        raw = bytes(value or b"")[:_MAX_BYTES]
        return [part.decode("latin-1") for part in re.split(rb"[^\x20-\x7e\xa0-\xff]+", raw) if part]
    if elem.VR in _TEXT_VRS or elem.VR == "UI":
        return [str(v) for v in _values(elem)]
    return []


def _holds(text: str, needle: Needle) -> bool:
    """Whether a value holds a needle: a UID as the whole value (or a whole backslash-separated part); text as a
    run of whole words."""
    if needle.uid:
        return any(fold(part) == needle.text and part.strip().strip("\0").replace(".", "").isdigit()
                   for part in re.split(r"[\\\s\x00]+", text))
    runs = folded_words(text)
    for start in range(len(runs)):
        joined = ""
        for word in runs[start:]:
            joined += word
            if joined == needle.text:
                return True
            if len(joined) >= len(needle.text) or not needle.text.startswith(joined):
                break
    return False


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
