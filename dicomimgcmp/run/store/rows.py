"""What the store saves, encoded where it is made (a worker): header records, comparisons and rows as JSON,
and read back."""

from __future__ import annotations

import json
from typing import NamedTuple

from dicomimgcmp.checks.dates import shift_attribute
from dicomimgcmp.enums import ChangeKind, RecipeVerdict, Side
from dicomimgcmp.model import CSV_COLUMNS, Crop, FileRecord, Pair, PairResult, PixelFormat, Status, TextLine, days_text

_RECORD_FIELDS = tuple(FileRecord.__dataclass_fields__)


#: Where a record's JSON array holds its error (a file not read): :meth:`.FindingQueries.unjudged_files` asks.
RECORD_ERROR = _RECORD_FIELDS.index("error")
_RESCALE, _FORMAT, _LAYERS, _ATTRIBUTES, _DATES, _DISPLAY = (
    _RECORD_FIELDS.index(name) for name in ("rescale", "format", "layers", "attributes", "dates", "display"))


def _pair_key(pair: Pair) -> str:
    """Both files by path and stamp: a record is made from its file alone (the settings, versions included,
    are the same for the whole store), so the same stamps mean the same records and the same comparison."""
    return "\0".join((pair.deid.path, pair.deid.stamp, pair.source.path, pair.source.stamp))


class RowValues(NamedTuple):
    """A row of the rows table (its columns, in order): a file's final result."""

    side: int  # DEID or SOURCE
    rel_path: str
    status: str
    patient_id: str
    study: str
    series_number: int  # -1 when absent (sorted first)
    instance_number: int
    series: str
    change_group: str | None
    phi: int
    result: str | None  # JSON; None: the pair's comparison as the results table saves it (not written twice)
    deid_path: str | None
    source_path: str | None
    summary: str  # JSON: the CSV cells (CSV_COLUMNS order) and the series label (SummaryRow), made where the row is
    recipe_verdict: RecipeVerdict | None  # None without a recipe, or for a pair not compared
    recipe_rule: str | None
    header_items: str | None  # JSON: the header check's findings (None: none)
    date_shift: str | None  # days, as the CSV writes them (:func:`~.model.days_text`): compared as text
    source_patient: str | None  # the source's PatientID (date shifts must agree within a patient)
    profile_found: int | None  # the profile judgement's findings, how many (None: none; they are in the CSV cells)
    profile_actions: str | None  # what was done to each attribute, packed (files handled alike share it)
    # saved for the set judgement (table set_rows), not in the rows table:
    set_uids: str | None  # JSON: the pair's UIDs (None: not judged)
    shift_on: str | None  # the date attribute the date shift was measured on (StudyDate, ...)


def row_values(r: PairResult, result: str | None = None) -> RowValues:
    """The row of a file's final result; ``result`` its JSON when already made."""
    rec = r.record
    return RowValues(Side.DEID if r.deid else Side.SOURCE, rec.rel_path, str(r.status), rec.patient_id,
                     rec.study_instance_uid, -1 if rec.series_number is None else rec.series_number,
                     -1 if rec.instance_number is None else rec.instance_number,
                     (r.source or rec).series_instance_uid, r.change_group or None, int(bool(r.phi_match)),
                     result or json.dumps(result_to_json(r)), r.deid.path if r.deid else None,
                     r.source.path if r.source else None,
                     json.dumps([*map(r.csv_row().__getitem__, CSV_COLUMNS), r.series_label]),  # read by position
                     r.recipe_verdict, r.recipe_rule if r.recipe_verdict else "",
                     json.dumps(r.header_identity) if r.header_identity else None, days_text(r.date_shift_days) or None,
                     r.source.patient_id if r.source else None,
                     len(r.profile_findings) or None,
                     r.profile_actions or None, json.dumps(r.set_uids) if r.set_uids else None,
                     shift_attribute(r.source.dates, r.deid.dates) if r.date_shift_days is not None and r.source
                     and r.deid else None)


class ComparedRow(NamedTuple):
    """A comparison as the store saves it, made where the comparison is (a worker: the process that runs the
    pipeline then neither unpickles the result nor encodes it): its result under the pair's key, and the
    de-identified file's row, the pairing's note in its reason."""

    pair_key: str
    result: str  # JSON
    row: RowValues


def compared_row(pair: Pair, result: PairResult, text: str | None = None) -> ComparedRow:
    """``text``: the result's JSON when already made (a saved comparison)."""
    text = text or json.dumps(result_to_json(result))
    if pair.note:  # the row's result says how the files were paired: its own
        return ComparedRow(_pair_key(pair), text, row_values(result.with_note(pair.note)))
    return ComparedRow(_pair_key(pair), text, row_values(result, text)._replace(result=None))


class RecordRow(NamedTuple):
    """A header record as the store saves it, made where it is read (a worker: the process that runs the
    pipeline then neither unpickles the record nor encodes it)."""

    path: str
    stamp: str
    record: str  # JSON
    rel_path: str
    uid: str | None  # None for a file that could not be read


def record_row(rec: FileRecord) -> RecordRow:
    return RecordRow(rec.path, rec.stamp, json.dumps(record_to_json(rec)), rec.rel_path,
                     None if rec.error else rec.sop_instance_uid)


def record_to_json(rec: FileRecord) -> list:
    """A record as the JSON array of its fields' values, in order: read back in half the time an object with
    the fields' names takes (the fields' order is part of the store's settings)."""
    data = [getattr(rec, name) for name in _RECORD_FIELDS]
    data[_FORMAT] = None if rec.format is None else list(rec.format)
    return data


def record_from_json(data: list) -> FileRecord:
    values = list(data)
    values[_RESCALE], values[_LAYERS] = tuple(data[_RESCALE]), tuple(data[_LAYERS])
    values[_ATTRIBUTES], values[_DATES], values[_DISPLAY] = (tuple(data[k]) for k in (_ATTRIBUTES, _DATES, _DISPLAY))
    values[_FORMAT] = None if data[_FORMAT] is None else PixelFormat(*data[_FORMAT])
    return FileRecord(*values)


def result_to_json(result: PairResult) -> dict:
    """A comparison's own findings (without the records, which key it, and the page, assigned afterwards)."""
    skip = ("deid", "source", "pdf_file", "pdf_page", "group_size")
    data = {name: getattr(result, name) for name in PairResult.__dataclass_fields__ if name not in skip}
    data["status"] = str(result.status)
    data["crop"] = None if result.crop is None else [result.crop.row0, result.crop.col0, result.crop.rows,
                                                      result.crop.columns]
    data["text_lines"] = [list(line) for line in result.text_lines]
    return data


def result_from_json(data: dict, deid: FileRecord | None, source: FileRecord | None) -> PairResult:
    return PairResult(**{**data, "status": Status(data["status"]),
                         "change_kind": ChangeKind(data["change_kind"]) if data["change_kind"] else None,
                         "recipe_verdict": RecipeVerdict(data["recipe_verdict"]) if data["recipe_verdict"] else None,
                         "crop": None if data["crop"] is None else Crop(*data["crop"]),
                         "changed_frames": tuple(data["changed_frames"]),
                         "header_identity": tuple(data["header_identity"]),
                         "profile_findings": tuple(data.get("profile_findings", ())),
                         "set_uids": tuple(map(tuple, data.get("set_uids", ()))),
                         "text_lines": tuple(TextLine(text, tuple(box), frame, tuple(matches), layer)
                                             for text, box, frame, matches, layer in data["text_lines"]),
                         "bbox": None if data["bbox"] is None else tuple(data["bbox"])},
                      deid=deid, source=source)


def _row_from_json(data: dict, **extra: object) -> PairResult:
    """A row of ``full_rows`` as a result, with ``extra`` fields (its page) set."""
    deid, source = (None if data[side] is None else record_from_json(data[side]) for side in ("deid", "source"))
    return result_from_json({**data["result"], **extra}, deid, source)

