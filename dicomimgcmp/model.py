"""The records that travel along the data path, and the words users see.

Status words, CSV columns and output file names are part of the user contract: each is defined here once.
Every record is plain, picklable data so that any ``concurrent.futures`` executor can carry it.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, NamedTuple

from dicomimgcmp.enums import ChangeKind, RecipeVerdict, Status

CSV_COLUMNS: tuple[str, ...] = (
    "status", "reason", "deid_file", "source_file", "deid_sop_instance_uid", "source_sop_instance_uid",
    "patient_id", "modality", "series_description", "rows", "columns", "frames",
    "changed_pixels", "changed_fraction", "changed_frames",
    "bbox_row0", "bbox_row1", "bbox_col0", "bbox_col1",
    "max_abs_diff", "mse", "psnr", "ssim", "pdf_file", "pdf_page", "change_group", "group_size", "hidden_content",
    "text_found", "phi_match", "text_boxes", "recipe_verdict", "recipe_rule", "recipe_boxes", "header_identity",
    "date_shift_days", "change_kind", "display_changes", "profile", "profile_findings", "set_findings",
)
HEADER_FOUND_CAP = 20  # header findings written in a CSV cell
TEXT_FOUND_CAP = 20  # text lines written in a CSV cell

#: Default limit on the values an image may declare (rows x columns x frames x samples) to be decoded:
#: a 1000-frame 1024x1024 cine and any mammogram pass, a header claiming 10^12 does not.
DEFAULT_MAX_PIXELS = 2 ** 32

#: The dates the index reads from every header, each with its time: a pair's date shift is measured on the first
#: date that both have (with its time when both have it).
DATE_KEYWORDS = ("StudyDate", "StudyTime", "SeriesDate", "SeriesTime", "AcquisitionDate", "AcquisitionTime",
                 "ContentDate", "ContentTime", "PatientBirthDate", "PatientBirthTime")

#: How stored values become a picture, beyond the Image Pixel attributes: values read as text ...
DISPLAY_VALUES = ("WindowCenter", "WindowWidth", "VOILUTFunction", "LossyImageCompression",
                  "LossyImageCompressionRatio")
#: ... and tables whose presence is read ("present"): the palette, the modality and VOI LUTs.
DISPLAY_TABLES = ("RedPaletteColorLookupTableData", "ModalityLUTSequence", "VOILUTSequence")

SUMMARY_CSV = "comparison_summary.csv"
REVIEW_HTML = "review.html"
HEADER_ACTIONS_CSV = "header_actions.csv"
#: Columns of ``header_actions.csv``: per attribute, what the profile asks, what was done, in how many files.
HEADER_ACTIONS_COLUMNS = ("attribute", "expected", "observed", "files", "finding")
LOG_FILE = "imgCmpLog.log"


def days_text(days: float | None) -> str:
    """A date shift as it is written (CSV, store, summary): whole days as an integer (-463), else up to 4
    decimals (-463.25); "" when there is none."""
    if days is None:
        return ""
    return str(int(days)) if days == int(days) else f"{days:.4f}".rstrip("0")


def pdf_name(part: int | None) -> str:
    """``comparison_results.pdf`` for the single script, ``comparison_results_<k>.pdf`` for part k of multiT."""
    return "comparison_results.pdf" if part is None else f"comparison_results_{part}.pdf"


class PixelFormat(NamedTuple):
    """How a file stores its pixel data: the transfer syntax, the encoding its data set really uses, and the
    Image Pixel attributes that shape the bytes. Two files whose formats are equal store equal values in equal
    bytes (the byte fast path relies on it)."""

    transfer_syntax_uid: str
    #: The encoding pydicom found the data set in; some files in the wild disagree with their transfer syntax.
    implicit_vr: bool
    little_endian: bool
    photometric_interpretation: str
    bits_allocated: int | None
    bits_stored: int | None
    high_bit: int | None
    pixel_representation: int | None
    rows: int | None
    columns: int | None
    #: NumberOfFrames (1 when absent); None when the file declares no image (no Rows).
    frames: int | None
    samples_per_pixel: int | None
    planar_configuration: int | None

    @property
    def encoding_mismatch(self) -> bool:
        """Whether the data set is encoded otherwise than its transfer syntax says (pydicom warns "Expected
        explicit VR, but found implicit VR"): reading the file by its transfer syntax would misread it."""
        from pydicom.uid import UID, ImplicitVRLittleEndian  # not at import: the command line starts fast

        tsyntax = UID(self.transfer_syntax_uid or ImplicitVRLittleEndian)
        return (tsyntax.is_implicit_VR, tsyntax.is_little_endian) != (self.implicit_vr, self.little_endian)

    @property
    def declared_values(self) -> int:
        """rows x columns x frames x samples, as the header declares them."""
        return (self.rows or 0) * (self.columns or 0) * max(self.frames or 1, 1) * max(self.samples_per_pixel or 1, 1)

    def expected_bytes(self) -> int | None:
        """Bytes of native pixel data the header declares (pydicom's rule, YBR_FULL_422's 2/3 included);
        None when the attributes needed are missing."""
        return _expected_length(self.rows, self.columns, self.samples_per_pixel, self.bits_allocated, self.frames,
                                self.photometric_interpretation)


@functools.lru_cache(maxsize=256)  # the files of a collection share a few formats; pydicom's rule costs 40 us
def _expected_length(rows: int | None, columns: int | None, samples: int | None, bits: int | None, frames: int | None,
                     photometric: str) -> int | None:
    from pydicom.pixels.utils import get_expected_length

    attrs = {"Rows": rows, "Columns": columns, "SamplesPerPixel": samples, "BitsAllocated": bits,
             "NumberOfFrames": frames, "PhotometricInterpretation": photometric}
    if None in attrs.values():
        return None
    return get_expected_length(_Attributes(attrs))  # type: ignore[arg-type]  # what it reads of a Dataset


class _Attributes(dict):
    """Attribute access over a dict, the little of a Dataset that ``get_expected_length`` reads."""

    def __getattr__(self, name: str) -> object:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What the index learned from one file's header (pixel data is never read to make it).

    ``path`` is absolute; ``rel_path`` is relative to its tree's root, with '/' separators.
    ``error`` is set (and the DICOM fields empty) when the file is not DICOM or its header cannot be read.
    """

    path: str
    rel_path: str
    error: str = ""
    #: The file's size and modification time (ns) when it was read, "size:mtime": the same stamp, the same file.
    stamp: str = ""
    sop_instance_uid: str = ""
    patient_id: str = ""
    modality: str = ""
    series_description: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    series_number: int | None = None
    instance_number: int | None = None
    #: (RescaleSlope, RescaleIntercept), (1, 0) when absent: the modality LUT's linear form.
    rescale: tuple[float, float] = (1.0, 0.0)
    has_pixel_data: bool = False
    #: File offset (bytes) of the pixel data element, when its raw bytes can be compared in place (not deflated).
    pixel_offset: int | None = None
    #: How the pixel data is (or would be) stored; None only when the header could not be read.
    format: PixelFormat | None = None
    #: What the header says lies beside the image (:func:`~.layers.header_layers`): "overlay 6000",
    #: "IconImageSequence", "BurnedInAnnotation YES".
    layers: tuple[str, ...] = ()
    #: The text of the header attributes the configured recipe reads (:mod:`.read.attributes`; source files
    #: only, empty without a recipe).
    attributes: tuple[str, ...] = ()
    #: The values of :data:`DATE_KEYWORDS` ("" when absent).
    dates: tuple[str, ...] = ()
    #: :data:`DISPLAY_VALUES` as text, then :data:`DISPLAY_TABLES` as "present" ("" when absent).
    display: tuple[str, ...] = ()

    @property
    def series_label(self) -> str:
        """SeriesNumber and SeriesDescription as a reviewer reads them: "3 Abdomen" ("?" for no number)."""
        return f"{'?' if self.series_number is None else self.series_number} {self.series_description}".strip()

    @property
    def pixels(self) -> PixelFormat:
        """How the file stores its pixel data; raises ValueError for a file whose header could not be read
        (such a file is never decoded or shown: its row says why)."""
        if self.format is None:
            raise ValueError(f"{self.rel_path}: no pixel format (header not read: {self.error or 'unknown'})")
        return self.format


def box_text(box: tuple[int, int, int, int]) -> str:
    """A half-open box (row0, row1, col0, col1) as the summary, the CSV and the review page write it."""
    return "rows {}-{} x cols {}-{}".format(*box)


def slice_text(box: tuple[int, int, int, int]) -> str:
    """A half-open box as a pair's page header and reason write it, in slice notation: "rows 0:40, cols 0:640"."""
    return "rows {}:{}, cols {}:{}".format(*box)


class TextLine(NamedTuple):
    """A line of text read in a de-identified image (:mod:`.checks.text`): its text, its box (row0, row1, col0,
    col1; half-open, image coordinates), the 0-based frame it was read in, the source attributes it matches
    (empty: harmless text), and the overlay plane it was read in ("overlay 6000"; empty: the image)."""

    text: str
    box: tuple[int, int, int, int]
    frame: int
    matches: tuple[str, ...] = ()
    layer: str = ""

    def box_text(self) -> str:
        where = self.layer or (f"frame {self.frame}" if self.frame else "")
        return f"{where + ' ' if where else ''}{box_text(self.box)}"


@dataclass(frozen=True)
class Crop:
    """Where a smaller de-identified image sits in its source: source rows [row0, row0+rows), cols [col0, col0+cols)."""

    row0: int
    col0: int
    rows: int
    columns: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The kept region as a half-open box (row0, row1, col0, col1)."""
        return self.row0, self.row0 + self.rows, self.col0, self.col0 + self.columns


@dataclass(slots=True)
class PairResult:
    """One row of the summary: a de-identified file, its source (if any) and what the comparison found.

    Pixel coordinates are source coordinates; boxes are half-open ([row0, row1) x [col0, col1)).
    ``shown_frame`` is the 0-based frame with the most changed pixels (the one the PDF page shows).
    """

    status: Status
    reason: str = ""
    deid: FileRecord | None = None
    source: FileRecord | None = None
    changed_pixels: int | None = None
    changed_fraction: float | None = None
    changed_frames: tuple[int, ...] = ()
    bbox: tuple[int, int, int, int] | None = None
    max_abs_diff: float | None = None
    mse: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    crop: Crop | None = None
    shown_frame: int = 0
    #: The change, in words ("rows 0-40 x cols 0-640 set to 0"), and the id of the group of pairs of the same
    #: series that received the same change (empty when not changed); ``mask_digest`` tells members apart
    #: whose changed pixels differ (see :class:`~.compare.groups.FrameChange`).
    change: str = ""
    change_group: str = ""
    #: What kind of change (None when not changed), and the display attributes that differ between the two
    #: files, whatever the pixels (:func:`~.compare.kinds.display_changes`).
    change_kind: ChangeKind | None = None
    display_changes: str = ""
    mask_digest: str = ""
    #: The shown frame's changed pixels inside its change's box (:func:`~.compare.groups.pack_mask`).
    shown_mask: str = ""
    #: What the de-identified file carries beside its pixel values (:mod:`.pixels.layers`), "; "-separated.
    hidden_content: str = ""
    #: The text read in the de-identified image and the source attributes it matches, ";"-separated (the text
    #: check, :mod:`.checks.text`; empty when it did not run).
    text_lines: tuple[TextLine, ...] = ()
    phi_match: str = ""
    #: The recipe verdict (:mod:`.checks.recipe.verdict`; None without a recipe), the rules that matched the
    #: source header and the regions they name.
    recipe_verdict: RecipeVerdict | None = None
    recipe_rule: str = ""
    recipe_boxes: str = ""
    #: The source's identity values found in the de-identified file (:mod:`.checks.header_identity`), each
    #: "SourceAttribute@tag path", and its dates' shift from the source's, in days (None: not measured).
    header_identity: tuple[str, ...] = ()
    date_shift_days: float | None = None
    #: The options the header was judged against and the judgement's findings, "finding:Keyword@path"
    #: (:mod:`.checks.header_profile`; empty when it did not run).
    profile: str = ""
    profile_findings: tuple[str, ...] = ()
    profile_actions: str = ""  # what was done to each attribute, packed (:func:`.checks.header_profile.pack`)
    #: The instance UIDs both files hold at the same path, (attribute, path, source's, de-identified's), for the
    #: set judgement (:mod:`.checks.header_set`; empty when it does not run).
    set_uids: tuple[tuple[str, str, str, str], ...] = ()
    pdf_file: str = ""
    pdf_page: int | None = None
    #: Changed pairs in this pair's group (the run's, set when the rows are read back).
    group_size: int | None = None

    @property
    def files(self) -> tuple[FileRecord, FileRecord]:
        """The de-identified file and its source, for a compared pair; raises ValueError for a row without
        both (a file nothing was compared with is never shown on a page)."""
        if self.deid is None or self.source is None:
            raise ValueError(f"{self.status}: {(self.deid or self.source or 'no file')} is not a compared pair")
        return self.deid, self.source

    @property
    def record(self) -> FileRecord:
        """The row's file: the de-identified one, or the source file of a source-only row."""
        rec = self.deid or self.source
        if rec is None:
            raise ValueError(f"a {self.status} row with no file")
        return rec

    def csv_row(self) -> dict[str, str | int | float | None]:
        """The row of ``comparison_summary.csv``: a cell for each of :data:`CSV_COLUMNS`."""
        info = self.deid if self.deid and not self.deid.error else self.source
        fmt = info.format if info else None
        bbox = self.bbox or (None, None, None, None)
        row = {
            "status": self.status.value,
            "reason": self.reason,
            "deid_file": self.deid.rel_path if self.deid else "",
            "source_file": self.source.rel_path if self.source else "",
            "deid_sop_instance_uid": self.deid.sop_instance_uid if self.deid else "",
            "source_sop_instance_uid": self.source.sop_instance_uid if self.source else "",
            "patient_id": info.patient_id if info else "",
            "modality": info.modality if info else "",
            "series_description": info.series_description if info else "",
            "rows": fmt.rows if fmt else None,
            "columns": fmt.columns if fmt else None,
            "frames": fmt.frames if fmt else None,
            "changed_pixels": self.changed_pixels,
            "changed_fraction": self.changed_fraction,
            "changed_frames": ";".join(str(f) for f in self.changed_frames),
            "bbox_row0": bbox[0], "bbox_row1": bbox[1], "bbox_col0": bbox[2], "bbox_col1": bbox[3],
            "max_abs_diff": self.max_abs_diff,
            "mse": self.mse,
            "psnr": self.psnr,
            "ssim": self.ssim,
            "pdf_file": self.pdf_file,
            "pdf_page": self.pdf_page,
            "change_group": self.change_group,
            "group_size": self.group_size,
            "hidden_content": self.hidden_content,
            **self._text_cells(),
            "recipe_verdict": self.recipe_verdict or "",
            "recipe_rule": self.recipe_rule,
            "recipe_boxes": self.recipe_boxes,
            "header_identity": ";".join(self.header_identity[:HEADER_FOUND_CAP]) + (
                f";... ({len(self.header_identity) - HEADER_FOUND_CAP} more)"
                if len(self.header_identity) > HEADER_FOUND_CAP else ""),
            "date_shift_days": days_text(self.date_shift_days),
            "change_kind": self.change_kind or "",
            "display_changes": self.display_changes,
            "profile": self.profile,
            "profile_findings": ";".join(self.profile_findings),
            "set_findings": "",  # the run's, known once every pair is compared (:mod:`.run.store.set_check`)
        }
        return row

    @property
    def series_label(self) -> str:
        """The series of the row's file as the review page lists it ("" for a file that could not be read)."""
        rec = self.deid or self.source
        return "" if rec is None or rec.error else rec.series_label

    def _text_cells(self) -> dict[str, str]:
        lines = self.text_lines[:TEXT_FOUND_CAP]
        more = f"; ... ({len(self.text_lines) - len(lines)} more)" if len(self.text_lines) > len(lines) else ""
        return {"text_found": "; ".join(line.text.replace(";", ",") for line in lines) + more,
                "phi_match": self.phi_match,
                "text_boxes": "; ".join(line.box_text() for line in lines) + more}

    def replace(self, **changes: Any) -> PairResult:
        return dataclasses.replace(self, **changes)

    def with_note(self, note: str) -> PairResult:
        """The same result with ``note`` put before its reason."""
        if not note:
            return self
        return self.replace(reason="; ".join(text for text in (note, self.reason) if text))


class Pair(NamedTuple):
    """A de-identified file and the source it is compared with. ``note`` says what the reviewer should know
    about how they were paired (an unchanged UID, other copies of the file); it opens the row's reason."""

    deid: FileRecord
    source: FileRecord
    note: str = ""
