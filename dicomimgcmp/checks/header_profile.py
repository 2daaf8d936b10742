"""The header judged against the standard: every element of the source's header given the action the
confidentiality profile asks for (PS3.15 Table E.1-1, :mod:`.profile`, under the options the de-identified file
declares or the config names), and what the de-identifier did with it.

Findings, each ``finding:Keyword@path`` (the keyword of the element, ``(gggg,eeee)`` for a private or unknown
tag; the path as the header check writes it):

- ``kept``: the action is X, Z, D, U or a combination, and the de-identified file holds the source's non-empty
  value at the same path (C and K are never kept);
- ``lost``: a standard attribute the profile keeps (K under an active option, or not in the table) has a value in
  the source and none at the same path of the de-identified file (a sequence, at any depth, that holds elements
  in the source: none in its items there);
- ``altered``: the same, with another value (values compared as values: numbers as numbers, text without its
  padding);
- ``private_kept``: a private element (not its creator) is in the de-identified file; under Retain Safe Private,
  one that is not in the standard's safe private attributes (Table E.3.10-1, as :mod:`.profile` holds it);
- ``marker_missing``: PatientIdentityRemoved (0012,0062) is not YES, or neither DeidentificationMethod (0012,0063)
  nor DeidentificationMethodCodeSequence (0012,0064) is there.

Elements inside a sequence item are judged only where the de-identified file has that item (a removed sequence
takes its contents with it). Never lost or altered: the file meta, the markers, SpecificCharacterSet, what the
display comparison reports (the Image Pixel module, rescale, windows, LUTs, lossy compression, overlays), pixel
data. Elements the header walk reads are judged: text, UIDs, bytes (UN, OB, OW) and binary numbers (US, FL, AT,
...), the elements after the pixel data too; arrays of numbers (OF, OD, OL) are not read.
"""

from __future__ import annotations

import base64
import functools
import zlib
from collections.abc import Iterable
from typing import NamedTuple

from dicomimgcmp.checks.dates import real_date
from dicomimgcmp.checks.profile import Attribute
from dicomimgcmp.checks.profile_options import OPTIONS
from dicomimgcmp.checks.roles import (
    attribute_name,
    is_private,
    is_safe_private,
    private_part,
    profile_entry,
    segment_tag,
)
from dicomimgcmp.enums import Status
from dicomimgcmp.model import PairResult
from dicomimgcmp.read.elements import REMEMBERED, Element, Header

_METHOD_CODES = "(0012,0064)"  # DeidentificationMethodCodeSequence: its items' CodeValue name the options
_CODE_VALUE = "(0008,0100)"
#: The markers a de-identifier writes (PatientIdentityRemoved, DeidentificationMethod and its code sequence):
#: judged as markers, never as attributes of the source (the rest of group 0012, the clinical trial attributes,
#: is judged as any other).
_MARKERS = ("(0012,0062)", "(0012,0063)", "(0012,0064)")
#: Never lost or altered: SpecificCharacterSet, what the display comparison reports (Image Pixel module, rescale,
#: windows, LUTs, lossy compression), BurnedInAnnotation, LongitudinalTemporalInformationModified.
_NOT_JUDGED = frozenset({0x00080005, 0x00280002, 0x00280004, 0x00280006, 0x00280008, 0x00280009, 0x00280010,
                         0x00280011, 0x00280034, 0x00280100, 0x00280101, 0x00280102, 0x00280103, 0x00280106,
                         0x00280107, 0x00280301, 0x00280303, 0x00281050, 0x00281051, 0x00281052, 0x00281053,
                         0x00281054, 0x00281055, 0x00281056, 0x00281101, 0x00281102, 0x00281103, 0x00281199,
                         0x00281201, 0x00281202, 0x00281203, 0x00282110, 0x00282112, 0x00282114, 0x00283000,
                         0x00283010, 0x00283002, 0x00283003, 0x00283006})
_KEEPING = frozenset({"K", "C"})  # every other action removes, empties or replaces (X, Z, D, U and combinations)
#: The VRs whose values may be long (text up to 10,240 characters or unbounded, bytes): judged each time.
_LONG_VRS = frozenset({"ST", "LT", "UT", "UC", "UR", "OB", "OW", "UN"})
_NUMBER_VRS = frozenset({"DS", "IS"})


class Judged(NamedTuple):
    """A pair's judgement: the options judged against, as the CSV says them, the findings, sorted, and what was
    done to each attribute, "attribute\texpected action\tobserved action\tfinding" (:data:`OBSERVED`), sorted, a
    line each."""

    profile: str
    findings: tuple[str, ...]
    actions: str = ""  # one line each: one string to save, the same for files handled alike


#: What a de-identifier did to an attribute the source has (or the de-identified file alone has: added).
OBSERVED = ("removed", "emptied", "replaced", "new UID", "shifted", "kept", "added", "missing")
_DATE_VRS = frozenset({"DA", "DT"})


def headers_judged(result: PairResult) -> bool:
    """Whether a pair's headers are judged (by both header judgements): both files were read, and the pairing
    found them a pair."""
    return (result.deid is not None and result.source is not None and not result.deid.error
            and not result.source.error and result.status not in NOT_A_PAIR)


NOT_A_PAIR = frozenset({Status.UNMAPPED, Status.MISSING_PRE, Status.DUPLICATE_UID})


def check_profile(result: PairResult, configured: tuple[str, ...]) -> PairResult:
    """The result with the profile judgement (the header check off); a pair whose headers are not judged
    (:func:`headers_judged`) is left as is."""
    if not headers_judged(result):
        return result
    deid, source = result.files
    return judged_pair(result, (Header(deid.path, deid.pixel_offset), Header(source.path, source.pixel_offset)),
                       configured)


def judged_pair(result: PairResult, headers: tuple[Header, Header], configured: tuple[str, ...],
                **fields: object) -> PairResult:
    """The result with the judgement of its headers (de-identified, source: walked whole once, whoever asks), and
    the other checks' ``fields`` (one copy of the result for all)."""
    try:
        judged = judge(headers[0].elements(), headers[1].elements(), configured)
    except Exception as exc:  # the comparison's row must survive a header that cannot be judged  # noqa: BLE001
        return result.replace(**fields).with_note(f"profile judgement failed: {type(exc).__name__}: {exc}")
    return result.replace(profile=judged.profile, profile_findings=judged.findings,
                          profile_actions=pack(judged.actions), **fields)


@functools.lru_cache(maxsize=256)  # files handled alike share their lines (61 sets of lines in 10,000 files)
def pack(lines: str) -> str:
    """The lines of actions deflated, as text (a fifth of their size, in the result and its row)."""
    return base64.b64encode(zlib.compress(lines.encode())).decode() if lines else ""


def unpack(packed: str) -> list[str]:
    return zlib.decompress(base64.b64decode(packed)).decode().split("\n")


def declared_options(deid: Iterable[Element]) -> tuple[str, ...]:
    """The options the de-identified file declares in DeidentificationMethodCodeSequence, by name, in the
    table's order (codes of other schemes ignored)."""
    codes = {value.strip() for elem in deid if elem.path.startswith(_METHOD_CODES) and
             elem.path.endswith(_CODE_VALUE) for value in elem.texts}
    return tuple(name for name, option in OPTIONS.items() if option.code in codes)


def judge(deid: list[Element], source: list[Element], configured: tuple[str, ...]) -> Judged:
    """Every element of ``source`` and ``deid`` judged against the profile under ``configured`` options, or
    (``configured`` empty) under those ``deid`` declares: the Basic Profile alone when it declares none."""
    kept = {e.path: e for e in deid}
    options = configured or (declared_options(deid) if _METHOD_CODES in kept else ())
    said = "+".join(options or ("basic",)) + (" (configured)" if configured else
                                               " (declared)" if options else " (none declared)")
    columns = tuple(OPTIONS[name].column for name in options if OPTIONS[name].column)
    source_paths = {e.path for e in source}
    items = _items(kept)  # the items the de-identified file kept
    found: set[str] = set()
    actions: set[str] = set()
    for elem in source:
        path = elem.path
        if "/" in path and path[:path.rfind("/") + 1] not in items:
            continue  # its item was removed with the sequence
        remembered = elem.vr not in _LONG_VRS  # a long text or a vendor's blob is each file's own: not kept
        judged = (_judged_element if remembered else _judge_element)(elem, kept.get(path), columns)
        if judged is not None:
            actions.add(judged[0])
            if judged[1]:
                found.add(judged[1])
    for attribute, path, seen in _lost_sequences(_items(source_paths), items, kept, columns):
        found.add(f"lost:{attribute}@{path}")
        actions.add(f"{attribute}\tK\t{seen}\tlost")
    for attribute, path in _markers_missing(kept):
        found.add(f"marker_missing:{attribute}@{path}")
        actions.add(f"{attribute}\tmarker\tmissing\tmarker_missing")
    _judge_added(kept, source_paths, columns, found, actions)
    return Judged(said, tuple(sorted(found)), "\n".join(sorted(actions)))


def _items(paths: Iterable[str]) -> set[str]:
    """The sequence items, "(gggg,eeee)[k]/" at any depth, that hold an element (a sequence is one itself)."""
    return {path[:path.rfind("/") + 1] for path in paths if "/" in path}


def _judge_element(elem: Element, other: Element | None, columns: tuple[str, ...]) -> tuple[str, str] | None:
    """A source element's line of actions and its finding ("finding:Keyword@path", "" for none), given the
    de-identified file's element at its path (None: there is none); None for an element judged elsewhere or not
    at all (file meta, markers, private elements, sequences, elements without a value)."""
    if not elem.texts or elem.tag >> 16 == 0x0002 or elem.path.startswith(_MARKERS) or is_private(elem.tag) or \
            private_part(elem.path) or not _has_value(elem):
        return None  # private elements (creators too) are judged only where the de-identified file has them
    action = expected_action(elem.tag, columns)
    observed = _observed(elem, other)
    finding = _finding(elem.tag, action, observed)
    name = attribute_name(elem.tag)
    return f"{name}\t{action}\t{observed}\t{finding}", f"{finding}:{name}@{elem.path}" if finding else ""


#: :func:`_judge_element` remembered for short elements: most, and what became of them, repeat from file to file.
_judged_element = functools.lru_cache(maxsize=REMEMBERED)(_judge_element)


def _finding(tag: int, action: str, observed: str) -> str:
    """The finding of a source element (kept, lost, altered) from the action asked and the one observed."""
    if observed == "kept":
        return "" if action in _KEEPING else "kept"
    if action != "K" or tag in _NOT_JUDGED or tag >> 16 in _OVERLAY_GROUPS:
        return ""
    return "lost" if observed in ("removed", "emptied") else "altered"


def _observed(elem: Element, other: Element | None) -> str:
    """What was done to a source element (:data:`OBSERVED`)."""
    if other is None:
        return "removed"
    if not _has_value(other):
        return "emptied"
    if _same(elem, other):
        return "kept"
    if elem.vr == "UI":
        return "new UID"
    shifted = elem.vr in _DATE_VRS and all(real_date(value) for value in other.texts)  # a placeholder replaces
    return "shifted" if shifted else "replaced"


def _judge_added(deid: dict[str, Element], source_paths: set[str], columns: tuple[str, ...], found: set[str],
                 actions: set[str]) -> None:
    """Into ``found`` and ``actions``: the private elements the de-identified file (``deid``: by path) kept (named
    by their creator, as "(gggg,xxee) CREATOR"; under Retain Safe Private, the safe ones are kept as they should
    be), and the attributes only it has (its markers, dummies: added)."""
    safe_kept = _SAFE_PRIVATE_OPTION in columns
    for path, elem in deid.items():
        private = _private_place(path)
        if private is not None:
            creator = deid.get(private[1])
            finding, line = _private_kept(private, creator.texts if creator is not None else (), safe_kept)
            if finding:
                found.add(finding)
            actions.add(line)  # there, with a value or not: as the finding says
        elif path not in source_paths and elem.tag >> 16 != 0x0002 and not path.startswith(_MARKERS) \
                and _has_value(elem):  # the file meta; the markers (with their code items) are judged as markers
            actions.add(f"{attribute_name(elem.tag)}\t{expected_action(elem.tag, columns)}\tadded\t")


_SAFE_PRIVATE_OPTION = OPTIONS["retain_safe_private"].column


@functools.lru_cache(maxsize=REMEMBERED)  # a series' files keep the same private elements
def _private_place(path: str) -> tuple[str, str, str, str] | None:
    """Where an element is private (None: it is not): the path to the private element (or sequence) it is or is
    in, the path of that element's block's creator (in the same data set), its own segment, "(gggg,eeee)", and its
    name without the creator, "(gggg,xxee)"."""
    part = private_part(path)
    if not part:
        return None
    prefix, _, tag = part.rpartition("/")
    return part, f"{prefix}/" * bool(prefix) + f"{tag[:6]}00{tag[6:8]})", tag, f"{tag[:6]}xx{tag[8:10]})"


@functools.lru_cache(maxsize=REMEMBERED)
def _private_kept(private: tuple[str, str, str, str], creator: tuple[str, ...], safe_kept: bool) -> tuple[str, str]:
    """A private element kept (``private``: :func:`_private_place`; ``creator``: its creator's values): its
    finding ("" for none) and its line of actions, named "(gggg,xxee) CREATOR": a finding unless it is safe (Retain
    Safe Private, Table E.3.10-1: expected K)."""
    part, _, segment, name = private
    owner = creator[0].strip() if creator else ""
    safe = safe_kept and is_safe_private(segment, owner)
    line = f"{name} {owner}".rstrip() + ("\tK\tkept\t" if safe else "\tX\tkept\tprivate_kept")
    return "" if safe else f"private_kept:{segment}@{part}", line


@functools.lru_cache(maxsize=8192)
def expected_action(tag: int, columns: tuple[str, ...]) -> str:
    """The action for an attribute under the options' columns: an option's K wins, then its C, then the Basic
    Profile's action; K for an attribute the table does not list."""
    entry: Attribute | None = profile_entry(tag)
    if entry is None:
        return "K"
    actions = {entry.options.get(column) for column in columns}
    return "K" if "K" in actions else "C" if "C" in actions else entry.basic


_OVERLAY_GROUPS = frozenset(range(0x6000, 0x6020, 2))


def _lost_sequences(source_items: set[str], items: set[str], deid: dict[str, Element],
                    columns: tuple[str, ...]) -> set[tuple[str, str, str]]:
    """The sequences the profile keeps that hold something in the source (``source_items``: the items that hold
    an element) and nothing in the de-identified file (``items``, ``deid``) where that file has the item they are
    in (at the top level: always): (attribute, path, observed: removed when the sequence is absent, emptied when
    it is there without items or with empty ones)."""
    lost = set()
    for path in _sequences(source_items) - _sequences(items):
        parent, _, segment = path.rpartition("/")
        tag = segment_tag(segment)
        if (not parent or parent + "/" in items) and not path.startswith(_MARKERS) and not is_private(tag) \
                and not private_part(path) and expected_action(tag, columns) == "K":
            lost.add((attribute_name(tag), path, "emptied" if path in deid else "removed"))
    return lost


def _sequences(items: set[str]) -> set[str]:
    """The sequences of items, "(gggg,eeee)[k]/" -> "(gggg,eeee)"."""
    return {item[:item.rfind("[")] for item in items}


def _markers_missing(deid: dict[str, Element]) -> set[tuple[str, str]]:
    """The markers the de-identified file lacks: (attribute, path)."""
    found = set()
    removed = deid.get("(0012,0062)")
    if removed is None or [v.strip().upper() for v in removed.texts] != ["YES"]:
        found.add(("PatientIdentityRemoved", "(0012,0062)"))
    if "(0012,0063)" not in deid and _METHOD_CODES not in deid:
        found.add(("DeidentificationMethod", "(0012,0063)"))
    return found


def _has_value(elem: Element) -> bool:
    for value in elem.texts:  # a loop, not any(): called for every element of both headers
        if value.strip(" \0"):
            return True
    return False


def _same(a: Element, b: Element) -> bool:
    """Whether two elements hold the same value: numbers as numbers, text without its padding."""
    if a.texts == b.texts:
        return True
    if a.vr in _NUMBER_VRS and b.vr in _NUMBER_VRS:
        try:
            return [float(v) for v in a.texts] == [float(v) for v in b.texts]
        except ValueError:
            pass
    return [v.strip(" \0") for v in a.texts] == [v.strip(" \0") for v in b.texts]
