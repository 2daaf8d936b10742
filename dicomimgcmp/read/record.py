"""Read what the comparison needs from a file's DICOM header with pydicom (the reference reader), never the
pixel data.

DICOM is recognised by content, not by name: the ``DICM`` marker after the 128-byte preamble, or, for files
written without preamble and file meta, a first element that is a plausible DICOM tag."""

from __future__ import annotations

import dataclasses
import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import DeflatedExplicitVRLittleEndian, MediaStorageDirectoryStorage

from dicomimgcmp.errors import HeaderError, NotDicomError
from dicomimgcmp.model import DATE_KEYWORDS, DISPLAY_TABLES, DISPLAY_VALUES, FileRecord, PixelFormat
from dicomimgcmp.read.attributes import attribute_tags, attribute_texts
from dicomimgcmp.read.dicomfile import (
    HEADER_PREFIX,
    PIXEL_DATA_TAGS,
    data_set_start,
    explicit_vr_at,
    looks_like_dicom,
    quiet_pydicom,
)
from dicomimgcmp.read.layers import LAYER_TAGS, header_layers
from dicomimgcmp.read.walk import relative_path, stamp

#: The attributes that, with the transfer syntax, decide how pixel values are laid out in the bytes.
_FORMAT_KEYWORDS = ("PhotometricInterpretation", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
                    "Rows", "Columns", "NumberOfFrames", "SamplesPerPixel", "PlanarConfiguration")


#: Every attribute the index reads (pydicom then converts only these: a third faster on rich headers).
_HEADER_KEYWORDS = ["SOPInstanceUID", "PatientID", "Modality", "SeriesDescription", "StudyInstanceUID",
                    "SeriesInstanceUID", "SeriesNumber", "InstanceNumber", "RescaleSlope", "RescaleIntercept",
                    *_FORMAT_KEYWORDS, "BurnedInAnnotation", *DATE_KEYWORDS, *DISPLAY_VALUES, *DISPLAY_TABLES,
                    *(Tag(tag) for tag in LAYER_TAGS)]



@dataclass(frozen=True)
class Header:
    """A header read up to the pixel data: the dataset (the keywords asked for, and the file meta), whether
    pixel data follows, and its file offset when its raw bytes can be compared in place (not deflated)."""

    dataset: Dataset
    has_pixel_data: bool
    pixel_offset: int | None
    #: Whether the data set is really implicit VR, as found in its first element (pydicom reads it so, with a
    #: warning, but reports the transfer syntax's encoding in ``original_encoding``).
    implicit_vr: bool | None = None


def read_header(path: Path, keywords: list) -> Header:
    """Read the header of ``path`` (only ``keywords`` are converted), never the pixel data.

    Raises :class:`HeaderError` for a file that is not DICOM, whose header cannot be read, or that ends within
    its file meta information (pydicom reads such a stump without complaint).
    """
    with quiet_pydicom():
        try:
            with open(path, "rb") as fp:
                prefix = fp.read(HEADER_PREFIX)
                if not looks_like_dicom(prefix[:132]):
                    raise NotDicomError()
                header = _parse_header(io.BytesIO(prefix), path, keywords, whole=len(prefix) < HEADER_PREFIX)
                if header is None:  # the header runs past the prefix: parse it from the file
                    fp.seek(0)
                    header = _parse_header(fp, path, keywords, whole=True)
                if header is None:  # parsed whole, it never is: said rather than assumed
                    raise HeaderError("unreadable DICOM header")
                size = os.fstat(fp.fileno()).st_size
            start = data_set_start(prefix)
            if size <= start:
                raise HeaderError("DICOM file ends within its file meta information (cut short?)")
            return dataclasses.replace(header, implicit_vr=_found_implicit_vr(header.dataset, prefix, start))
        except HeaderError:
            raise
        except IsADirectoryError:
            raise HeaderError("cannot list this folder") from None
        except OSError as exc:
            raise HeaderError(f"cannot read file: {exc.strerror or exc}") from None
        except Exception as exc:  # noqa: BLE001 - a damaged header makes pydicom raise almost anything
            raise HeaderError(f"unreadable DICOM header: {type(exc).__name__}: {exc}") from None


def _found_implicit_vr(ds: Dataset, prefix: bytes, start: int) -> bool:
    """Whether the data set starting at ``start`` is really implicit VR (see :func:`explicit_vr_at`); the
    transfer syntax's word where the data set cannot be seen (deflated, or beyond the prefix)."""
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    explicit = None if tsyntax == DeflatedExplicitVRLittleEndian else explicit_vr_at(prefix, start)
    return bool(ds.original_encoding[0]) if explicit is None else not explicit


def read_record(path: str | os.PathLike, root: str | os.PathLike, *, fast: bool = False,
                attributes: tuple[str, ...] = ()) -> FileRecord:
    """Read the header of ``path`` into a :class:`FileRecord`; problems go into ``error``, never raise.

    A header without SOPInstanceUID (see :func:`sop_instance_uid`) is an error here: the comparison pairs by
    it, and a header that lacks it is usually cut short. ``fast`` tries the fast scan first (:mod:`.fastscan`;
    only in a worker process that may crash), pydicom reads what it is not sure of. ``attributes`` are read too
    (:mod:`.attributes`: what a recipe reads).
    """
    path, root = os.fspath(path), os.fspath(root)
    rel = relative_path(path, root)
    if fast:
        from dicomimgcmp.read.fastscan import scan_record

        record = scan_record(path, rel, attributes)
        if record is not None:
            return record
    file_stamp = stamp(path)  # before reading: a file changed while it is read gets another stamp next time
    try:
        header = read_header(Path(path), _HEADER_KEYWORDS + [Tag(attribute_tags(a)[0]) for a in attributes])
    except HeaderError as exc:
        return FileRecord(path, rel, error=str(exc), stamp=file_stamp)
    with quiet_pydicom():  # values are converted here: their warnings are pydicom's, not the user's
        if not sop_instance_uid(header.dataset):
            return FileRecord(path, rel, error="no SOPInstanceUID in its data set, so it cannot be paired "
                                               "(a fragment, or cut short?)", stamp=file_stamp)
        return _record(header, path, rel, file_stamp, attribute_texts(header.dataset, attributes))


def sop_instance_uid(ds: Dataset) -> str:
    """The dataset's SOPInstanceUID ("" when missing: a header cut short has only its file meta's).

    A DICOMDIR has none in its dataset by design: its file meta's MediaStorageSOPInstanceUID is used.
    """
    uid = str(ds.get("SOPInstanceUID", "") or "").strip()
    meta = getattr(ds, "file_meta", None) or {}
    if not uid and meta.get("MediaStorageSOPClassUID", "") == MediaStorageDirectoryStorage:
        uid = str(meta.get("MediaStorageSOPInstanceUID", "") or "").strip()
    return uid


def _record(header: Header, path: str, rel: str, file_stamp: str, attributes: tuple[str, ...]) -> FileRecord:
    ds = header.dataset
    return FileRecord(
        path=path, rel_path=rel, stamp=file_stamp, sop_instance_uid=sop_instance_uid(ds),
        patient_id=_text(ds, "PatientID"), modality=_text(ds, "Modality"),
        series_description=_text(ds, "SeriesDescription"), study_instance_uid=_text(ds, "StudyInstanceUID"),
        series_instance_uid=_text(ds, "SeriesInstanceUID"),
        series_number=_int(ds, "SeriesNumber"), instance_number=_int(ds, "InstanceNumber"),
        rescale=(_float(ds, "RescaleSlope", 1.0), _float(ds, "RescaleIntercept", 0.0)),
        has_pixel_data=header.has_pixel_data, pixel_offset=header.pixel_offset,
        format=_pixel_format(ds, bool(header.implicit_vr)),
        layers=header_layers({int(tag) for tag in ds.keys()}, _text(ds, "BurnedInAnnotation")),
        attributes=attributes, dates=tuple(_text(ds, keyword) for keyword in DATE_KEYWORDS),
        display=attribute_texts(ds, DISPLAY_VALUES) + tuple("present" if k in ds else "" for k in DISPLAY_TABLES),
    )


def _pixel_format(ds: Dataset, implicit: bool) -> PixelFormat:
    meta = getattr(ds, "file_meta", None) or {}
    _implicit, little = ds.original_encoding
    return PixelFormat(
        transfer_syntax_uid=str(meta.get("TransferSyntaxUID", "") or ""),
        implicit_vr=bool(implicit), little_endian=little in (None, True),
        photometric_interpretation=_text(ds, "PhotometricInterpretation"),
        bits_allocated=_int(ds, "BitsAllocated"), bits_stored=_int(ds, "BitsStored"), high_bit=_int(ds, "HighBit"),
        pixel_representation=_int(ds, "PixelRepresentation"), rows=_int(ds, "Rows"), columns=_int(ds, "Columns"),
        frames=_int(ds, "NumberOfFrames", default=1) if "Rows" in ds else None,
        samples_per_pixel=_int(ds, "SamplesPerPixel"), planar_configuration=_int(ds, "PlanarConfiguration"),
    )


def _parse_header(fp: BinaryIO, path: Path, keywords: list[str], *, whole: bool) -> Header | None:
    """Parse ``fp`` up to the pixel data. ``whole`` says ``fp`` holds the entire file; when it holds only a
    prefix and the header does not end inside it, None (parsing from memory avoids pydicom's hundreds of small
    reads on a file)."""
    try:
        ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True, specific_tags=keywords)
    except Exception:
        if whole:  # an element cut short (pydicom raises OSError, EOFError...): here it means the prefix ended
            raise
        return None
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if ts == DeflatedExplicitVRLittleEndian:  # the stream we stopped in is the inflated copy: no offset
        full = pydicom.dcmread(path, force=True)
        return Header(ds, any(tag in full for tag in PIXEL_DATA_TAGS), None)
    offset = fp.tell()
    head = fp.read(4)
    if len(head) < 4:
        return Header(ds, False, None) if whole else None
    _implicit, little = ds.original_encoding
    group, elem = struct.unpack("<HH" if little in (None, True) else ">HH", head)
    found = Tag(group, elem) in PIXEL_DATA_TAGS
    return Header(ds, found, offset if found else None)


def _text(ds: Dataset, keyword: str) -> str:
    return str(ds.get(keyword, "") or "").strip()


def _float(ds: Dataset, keyword: str, default: float) -> float:
    try:
        value = ds.get(keyword, None)
        return default if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return default


def _int(ds: Dataset, keyword: str, default: int | None = None) -> int | None:
    try:
        value = ds.get(keyword, None)
        return default if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return default
