"""The text check: is any identity left written in the de-identified image?

Text is read in the de-identified image, windowed as on the PDF page, by RapidOCR (PP-OCR models shipped inside
its wheel, run by onnxruntime: nothing is downloaded), and each line read is matched against the identity values
of the *source* header (names, IDs, dates, accession number, institution, physicians, operators, station).
Matching ignores case, spaces and punctuation and forgives one OCR error per 6 characters; a value shorter than 3
characters never matches on its own. A match is a strong signal; no match is not a proof (OCR misses stylised
and tiny text).

rapidocr is imported only when the check is on (:func:`engine`), once per process.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from dicomimgcmp.checks.dates import real_date
from dicomimgcmp.checks.identity import MIN_VALUE, normalise, written_dates
from dicomimgcmp.enums import TextMode
from dicomimgcmp.model import PairResult, Status, TextLine
from dicomimgcmp.optional import install_hint, require
from dicomimgcmp.pixels.decode import iter_frames
from dicomimgcmp.pixels.layers import read_overlays
from dicomimgcmp.read.dicomfile import read_dataset
from dicomimgcmp.read.layers import overlay_name

if TYPE_CHECKING:  # the settings are the config's; only their type is needed here
    from dicomimgcmp.config import TextCheck

DETECTION_SIDE = 1024  # longest side text is detected at: larger images are reduced, smaller ones never enlarged
CHARS_PER_ERROR = 6

#: Source attributes whose values count as identity, as pydicom keywords.
NAME_ATTRIBUTES = ("PatientName", "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName")
ID_ATTRIBUTES = ("PatientID", "OtherPatientIDs", "AccessionNumber", "InstitutionName", "StationName")
DATE_ATTRIBUTES = ("PatientBirthDate", "StudyDate", "SeriesDate", "AcquisitionDate")


def check_pair(result: PairResult, check: TextCheck) -> PairResult:
    """The result with the text read in its de-identified image and the identity it matches (when the check
    applies to it); a failure to read is said in the reason, never raised."""
    if not reads(check, result):
        return result
    try:
        d_ds, s_ds = (read_dataset(rec.path) for rec in result.files)
        values = identity_values(s_ds)
        lines = [line._replace(matches=matching_attributes(line.text, values))
                 for line in _read_pair(result, d_ds, s_ds)]
    except Exception as exc:  # the comparison's row must survive a failed reading  # noqa: BLE001
        return result.with_note(f"text check failed: {type(exc).__name__}: {exc}").replace(
            text_lines=(), phi_match="")
    matched = sorted({name for line in lines for name in line.matches})
    return result.replace(text_lines=tuple(lines), phi_match=";".join(matched))


def reads(check: TextCheck, result: PairResult) -> bool:
    """Whether the check reads this pair's de-identified image: a compared pair (a changed one, in mode
    "changed") of one of the modalities read."""
    if check.mode is TextMode.OFF or not result.status.compared:
        return False
    if check.mode is TextMode.CHANGED and result.status is not Status.CHANGED:
        return False
    return check.modalities is None or bool({rec.modality for rec in result.files} & set(check.modalities))


def _read_pair(result: PairResult, d_ds: Dataset, s_ds: Dataset) -> list[TextLine]:
    """Every text line read in the de-identified image, each distinct frame once (a cine's frames often
    repeat: frames are told apart by a hash of their values), then in its overlay planes; ``d_ds`` and
    ``s_ds`` are both files' headers (for the window)."""
    from dicomimgcmp.base.colour import rgb
    from dicomimgcmp.pixels.display import display_pair8, to_rgb8

    deid, source = result.files
    seen: set[bytes] = set()
    said: set[tuple] = set()
    lines: list[TextLine] = []
    for index, (d_frame, s_frame) in enumerate(zip_longest(iter_frames(deid), iter_frames(source))):
        if d_frame is None:
            break
        digest = hashlib.blake2b(d_frame.tobytes(), digest_size=16).digest()
        if digest in seen:
            continue
        seen.add(digest)
        same_shape = s_frame is not None and s_frame.shape == d_frame.shape
        shown, _ = display_pair8(d_frame, d_ds, s_frame if same_shape else d_frame, s_ds)
        for line in read_text(rgb(shown)):
            if (line.text, line.box) not in said:  # an annotation on every frame is listed once
                said.add((line.text, line.box))
                lines.append(line._replace(frame=index))
    shape = (deid.pixels.rows or 0, deid.pixels.columns or 0)
    for group, plane in read_overlays(deid).items():  # overlays carry annotations too: read as white on black
        if plane is not None:
            lines += [line._replace(layer=overlay_name(group)) for line in read_text(to_rgb8(plane.placed(shape)))]
    return lines


_engine = None


def engine() -> Callable[[np.ndarray], Any]:
    """RapidOCR set up for this use, once per process: one onnxruntime thread (workers run in parallel), no
    orientation classifier (burned-in text is upright), detection at up to :data:`DETECTION_SIDE` pixels with
    no enlarging (9-pixel text is still read), the models from the wheel and nowhere else."""
    global _engine
    if _engine is None:
        rapidocr = require("rapidocr", "config key 'text_check' is on")
        models = Path(rapidocr.__file__ or "").parent / "models"  # a namespace package has no file: no models
        det, rec = (sorted(models.glob(f"*_{task}_*.onnx")) for task in ("det", "rec"))
        if len(det) != 1 or len(rec) != 1:
            raise RuntimeError(f"rapidocr's models are not in {models} (the wheel ships them; nothing may be "
                               f"downloaded): reinstall with {install_hint('rapidocr')}")
        _engine = rapidocr.RapidOCR(params={
            "Global.use_cls": False, "Global.log_level": "error",  # "no text found" is no news here
            "EngineConfig.onnxruntime.intra_op_num_threads": 1, "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            "Det.limit_type": "max", "Det.limit_side_len": DETECTION_SIDE,
            "Det.model_path": str(det[0]), "Rec.model_path": str(rec[0])})
    return _engine


def read_text(image: np.ndarray) -> list[TextLine]:
    """The text lines RapidOCR reads in an (rows, columns, 3) uint8 image, top to bottom, with their boxes."""
    found = engine()(image)
    if found.txts is None:
        return []
    lines = []
    for text, quad in zip(found.txts, found.boxes):
        quad = np.asarray(quad)
        rows, cols = image.shape[:2]
        box = (max(0, int(np.floor(quad[:, 1].min()))), min(rows, int(np.ceil(quad[:, 1].max())) + 1),
               max(0, int(np.floor(quad[:, 0].min()))), min(cols, int(np.ceil(quad[:, 0].max())) + 1))
        lines.append(TextLine(str(text), box, 0))
    return sorted(lines, key=lambda line: (line.box[0], line.box[2]))


class IdentityValue(NamedTuple):
    """One identity value, normalised (:func:`normalise`), and the OCR errors forgiven when matching it."""

    text: str
    errors: int


def identity_value(text: str, *, exact: bool = False) -> IdentityValue:
    """A value, forgiven one error per :data:`CHARS_PER_ERROR` characters unless ``exact``."""
    norm = normalise(text)
    return IdentityValue(norm, 0 if exact else len(norm) // CHARS_PER_ERROR)


def identity_values(ds: Dataset) -> dict[str, list[IdentityValue]]:
    """The source's identity values by attribute, each at least :data:`MIN_VALUE` characters: names whole and
    by component, IDs, and dates in the common written forms."""
    values: dict[str, set[IdentityValue]] = {}

    def add(name: str, value: IdentityValue) -> None:
        if len(value.text) >= MIN_VALUE:
            values.setdefault(name, set()).add(value)

    for name in NAME_ATTRIBUTES:
        for person in _multi(ds.get(name)):
            parts = [p for p in re.split(r"[\^=]", str(person)) if p.strip()]
            add(name, identity_value(" ".join(parts)))
            for part in parts:
                for word in part.split():
                    add(name, identity_value(word))
    for name in ID_ATTRIBUTES:
        for value in _multi(ds.get(name)):
            add(name, identity_value(str(value)))
    for name in DATE_ATTRIBUTES:
        for day in filter(None, (real_date(str(value)) for value in _multi(ds.get(name)))):  # placeholders aside
            for form in date_forms(day):
                add(name, form)
    return {name: sorted(found) for name, found in values.items()}


def _multi(value: object) -> list:
    """The values of an attribute's value (several for a multi-valued one; none when empty)."""
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]


def date_forms(value: str) -> list[IdentityValue]:
    """A DA value in the forms it is written on images (:func:`.identity.written_dates`)."""
    return [IdentityValue(text, 0 if exact else len(text) // CHARS_PER_ERROR) for text, exact in written_dates(value)]


def matching_attributes(line: str, values: dict[str, list[IdentityValue]]) -> tuple[str, ...]:
    """The attributes one of whose values occurs in the line, with at most the errors it forgives."""
    text = normalise(line)
    return tuple(name for name, found in values.items()
                 if any(fuzzy_contains(text, value.text, value.errors) for value in found))


def fuzzy_contains(text: str, value: str, errors: int) -> bool:
    """Whether ``value`` occurs in ``text`` with at most ``errors`` edits (Sellers' approximate substring
    match: a substring of the text may start and end anywhere)."""
    if not value or len(text) < len(value) - errors:
        return False
    previous = list(range(len(value) + 1))
    for char in text:
        current = [0]
        for i, expected in enumerate(value, start=1):
            current.append(min(previous[i] + 1, current[i - 1] + 1, previous[i - 1] + (char != expected)))
        if current[-1] <= errors:
            return True
        previous = current
    return False
