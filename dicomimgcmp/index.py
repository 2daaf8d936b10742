"""Find every file in a tree and read what the comparison needs from its DICOM header.

DICOM is recognised by content, not by name: the ``DICM`` marker after the 128-byte preamble, or, for files
written without preamble and file meta, a first element that is a plausible DICOM tag. Pixel data is never read.
"""

from __future__ import annotations

import dataclasses
import io
import os
import stat as stat_mode
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pydicom
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import DeflatedExplicitVRLittleEndian, MediaStorageDirectoryStorage

from .layers import LAYER_TAGS, header_layers
from .model import FileRecord, PixelFormat
from .pixels import quiet_pydicom

_PIXEL_TAGS = {Tag(0x7FE0, 0x0010), Tag(0x7FE0, 0x0008), Tag(0x7FE0, 0x0009)}
HEADER_PREFIX = 1 << 16  # bytes read at once to parse a header in memory

#: The attributes that, with the transfer syntax, decide how pixel values are laid out in the bytes.
_FORMAT_KEYWORDS = ("PhotometricInterpretation", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
                    "Rows", "Columns", "NumberOfFrames", "SamplesPerPixel", "PlanarConfiguration")
#: Every attribute the index reads (pydicom then converts only these: a third faster on rich headers).
_HEADER_KEYWORDS = ["SOPInstanceUID", "PatientID", "Modality", "SeriesDescription", "StudyInstanceUID",
                    "SeriesInstanceUID", "SeriesNumber", "InstanceNumber", "RescaleSlope", "RescaleIntercept",
                    *_FORMAT_KEYWORDS, "BurnedInAnnotation", *(Tag(tag) for tag in LAYER_TAGS)]
_META_GROUP_LENGTH = b"\x02\x00\x00\x00UL\x04\x00"  # (0002,0000) UL, length 4: the file meta's first element
_EXPLICIT_VRS = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB",
                 b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
                 b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV"}


def iter_files(root: Path, aliases: list[tuple[Path, Path]] | None = None) -> Iterator[Path]:
    """:func:`iter_file_paths`, as Paths."""
    return map(Path, iter_file_paths(root, aliases))


def iter_file_paths(root: Path, aliases: list[tuple[Path, Path]] | None = None) -> Iterator[str]:
    """The path of every file below ``root``, as :func:`iter_walked_files` finds them."""
    return (walked.path for walked in iter_walked_files(root, aliases))


class WalkedFile(NamedTuple):
    """A file the walk found: its path, and its :func:`stamp` from the walk's own stat ("" when none)."""

    path: str
    stamp: str


def iter_walked_files(root: Path, aliases: list[tuple[Path, Path]] | None = None) -> Iterator[WalkedFile]:
    """Yield every file below ``root`` (any name, any depth): a folder's files in name order, then its folders.
    Paths are strings: a Path for each of a million files would cost more than the walk itself; the stamp
    comes from the stat the walk makes anyway (a resumed run need not stat each file again).

    Symbolic links are followed after the real tree has been walked, each folder is visited once (link loops
    end) and each file on disk is yielded once, under its real path where it has one: another path to an
    already yielded file is appended to ``aliases`` as (path, first path). Broken links are yielded (reading
    them reports the problem); sockets and FIFOs are not files to read. The walk is iterative, so a deep tree
    cannot exhaust the interpreter's recursion limit, and its memory does not grow with the number of files:
    only files with several names (hard links) or reached through a link are remembered, since a file with one
    name in the real tree cannot be met again but through a link, whose target is then known by its real path.
    """
    seen_dirs: set[tuple[int, int]] = set()
    named: dict[tuple[int, int], Path] = {}  # files met under a name that another path may share
    real_root = Path(os.path.realpath(root))
    stack: list[tuple[Path, bool]] = [(root, False)]  # (folder, reached through a link)
    links: list[Path] = []
    while stack or links:
        if not stack:
            link = links.pop(0)
            if link.is_dir():
                stack.append((link, True))
            else:
                yield from _link_once(link, real_root, named, aliases)
            continue
        folder, via_link = stack.pop()
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in seen_dirs:
                continue
            seen_dirs.add((info.st_dev, info.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            yield WalkedFile(str(folder), "")  # reading it reports why it cannot be listed
            continue
        subfolders = []
        for entry in entries:
            if entry.is_symlink():
                links.append(Path(entry.path))
            elif entry.is_dir(follow_symlinks=False):
                subfolders.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    yield WalkedFile(entry.path, "")
                    continue
                if info.st_nlink == 1 and not via_link:
                    yield WalkedFile(entry.path, stamp_of(info))
                else:
                    yield from _once(Path(entry.path), info, named, aliases)
        stack.extend((sub, via_link) for sub in reversed(subfolders))


def _link_once(link: Path, real_root: Path, named: dict[tuple[int, int], Path],
               aliases: list | None) -> Iterator[WalkedFile]:
    """Yield a link to a file unless the file was yielded already (then note the alias)."""
    try:
        info = link.stat()
    except OSError:
        yield WalkedFile(str(link), "")  # a broken link: reading it reports the problem
        return
    if not stat_mode.S_ISREG(info.st_mode):
        return
    target = Path(os.path.realpath(link))
    if info.st_nlink == 1 and (target == real_root or real_root in target.parents):
        if aliases is not None:  # a file with one name in the real tree: the walk yielded it there
            aliases.append((link, target))
        return
    yield from _once(link, info, named, aliases)


def _once(path: Path, info: os.stat_result, named: dict[tuple[int, int], Path], aliases: list | None
          ) -> Iterator[WalkedFile]:
    """Yield ``path`` (``info``: its file's stat) unless that file was yielded already (then note the alias)."""
    key = (info.st_dev, info.st_ino)
    if key in named:
        if aliases is not None:
            aliases.append((path, named[key]))
        return
    named[key] = path
    yield WalkedFile(str(path), stamp_of(info))


def looks_like_dicom(head: bytes) -> bool:
    """Whether the first bytes of a file (at least 132 wanted) are those of a DICOM file.

    Accepts the standard 128-byte preamble + ``DICM`` and the preamble-less form that starts straight with a
    group 0x0002 or 0x0008 element, implicit or explicit VR, little or big endian.
    """
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) < 8:
        return False
    for endian in "<>":
        group, _elem = struct.unpack(endian + "HH", head[:4])
        if group in (0x0002, 0x0008):
            if head[4:6] in _EXPLICIT_VRS:
                return True
            (length,) = struct.unpack(endian + "L", head[4:8])
            if length < 1024:  # implicit VR: a short header value follows
                return True
    return False


class HeaderError(Exception):
    """A file whose DICOM header cannot be read; the message is the reason users see."""


class NotDicomError(HeaderError):
    """A file that is not DICOM at all."""

    def __init__(self) -> None:
        super().__init__("not a DICOM file")


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
        except Exception as exc:  # a damaged header makes pydicom raise almost anything
            raise HeaderError(f"unreadable DICOM header: {type(exc).__name__}: {exc}") from None


def _found_implicit_vr(ds: Dataset, prefix: bytes, start: int) -> bool:
    """Whether the data set starting at ``start`` is really implicit VR (see :func:`explicit_vr_at`); the
    transfer syntax's word where the data set cannot be seen (deflated, or beyond the prefix)."""
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    explicit = None if tsyntax == DeflatedExplicitVRLittleEndian else explicit_vr_at(prefix, start)
    return bool(ds.original_encoding[0]) if explicit is None else not explicit


def data_set_start(prefix: bytes) -> int:
    """The file offset where the data set starts, in a file whose first bytes are ``prefix``: after the preamble
    (if any) and the file meta, by its group length element; 0 when there is no group length to read."""
    at = 132 if prefix[128:132] == b"DICM" else 0
    if prefix[at:at + 8] != _META_GROUP_LENGTH or len(prefix) < at + 12:
        return 0
    return at + 12 + struct.unpack("<L", prefix[at + 8:at + 12])[0]


def explicit_vr_at(prefix: bytes, start: int) -> bool | None:
    """Whether the element at ``start`` is explicit VR, by pydicom's own test (two upper-case letters after the
    tag); None when there is no element there to look at."""
    if not start or len(prefix) < start + 6:
        return None
    return all(0x40 < b < 0x5B for b in prefix[start + 4:start + 6])


def read_record(path: str | os.PathLike, root: str | os.PathLike, *, fast: bool = False) -> FileRecord:
    """Read the header of ``path`` into a :class:`FileRecord`; problems go into ``error``, never raise.

    A header without SOPInstanceUID (see :func:`sop_instance_uid`) is an error here: the comparison pairs by
    it, and a header that lacks it is usually cut short. ``fast`` tries the fast scan first (:mod:`.scan`;
    only in a worker process that may crash), pydicom reads what it is not sure of.
    """
    path, root = os.fspath(path), os.fspath(root)
    rel = relative_path(path, root)
    if fast:
        from .scan import scan_record

        record = scan_record(path, rel)
        if record is not None:
            return record
    file_stamp = stamp(path)  # before reading: a file changed while it is read gets another stamp next time
    try:
        header = read_header(Path(path), _HEADER_KEYWORDS)
    except HeaderError as exc:
        return FileRecord(path, rel, error=str(exc), stamp=file_stamp)
    with quiet_pydicom():  # values are converted here: their warnings are pydicom's, not the user's
        if not sop_instance_uid(header.dataset):
            return FileRecord(path, rel, error="no SOPInstanceUID in its data set, so it cannot be paired "
                                               "(a fragment, or cut short?)", stamp=file_stamp)
        return _record(header, path, rel, file_stamp)


def relative_path(path: str, root: str) -> str:
    """``path`` relative to ``root``, with "/" between folders (a string operation for a path found below root,
    0.3 instead of 6 us)."""
    prefix = root.rstrip(os.sep) + os.sep
    if path.startswith(prefix) and root.rstrip(os.sep):
        return path[len(prefix):].replace(os.sep, "/")
    return Path(path).relative_to(root).as_posix()


def stamp(path: str) -> str:
    """What says a file is unchanged: "size:mtime_ns" ("" when it cannot be seen)."""
    try:
        return stamp_of(os.stat(path))
    except OSError:
        return ""


def stamp_of(info: os.stat_result) -> str:
    return f"{info.st_size}:{info.st_mtime_ns}"


def sop_instance_uid(ds: Dataset) -> str:
    """The dataset's SOPInstanceUID ("" when missing: a header cut short has only its file meta's).

    A DICOMDIR has none in its dataset by design: its file meta's MediaStorageSOPInstanceUID is used.
    """
    uid = str(ds.get("SOPInstanceUID", "") or "").strip()
    meta = getattr(ds, "file_meta", None) or {}
    if not uid and meta.get("MediaStorageSOPClassUID", "") == MediaStorageDirectoryStorage:
        uid = str(meta.get("MediaStorageSOPInstanceUID", "") or "").strip()
    return uid


def _record(header: Header, path: str, rel: str, file_stamp: str) -> FileRecord:
    ds = header.dataset
    return FileRecord(
        path=path, rel_path=rel, stamp=file_stamp, sop_instance_uid=sop_instance_uid(ds),
        patient_id=_text(ds, "PatientID"), modality=_text(ds, "Modality"),
        series_description=_text(ds, "SeriesDescription"), study_instance_uid=_text(ds, "StudyInstanceUID"),
        series_instance_uid=_text(ds, "SeriesInstanceUID"),
        series_number=_int(ds, "SeriesNumber"), instance_number=_int(ds, "InstanceNumber"),
        rescale=(_float(ds, "RescaleSlope", 1.0), _float(ds, "RescaleIntercept", 0.0)),
        has_pixel_data=header.has_pixel_data, pixel_offset=header.pixel_offset,
        format=_pixel_format(ds, header.implicit_vr),
        layers=header_layers({int(tag) for tag in ds.keys()}, _text(ds, "BurnedInAnnotation")),
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


def _parse_header(fp, path: Path, keywords: list[str], *, whole: bool) -> Header | None:
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
        return Header(ds, any(tag in full for tag in _PIXEL_TAGS), None)
    offset = fp.tell()
    head = fp.read(4)
    if len(head) < 4:
        return Header(ds, False, None) if whole else None
    _implicit, little = ds.original_encoding
    group, elem = struct.unpack("<HH" if little in (None, True) else ">HH", head)
    found = Tag(group, elem) in _PIXEL_TAGS
    return Header(ds, found, offset if found else None)


def _text(ds, keyword: str) -> str:
    return str(ds.get(keyword, "") or "").strip()


def _float(ds, keyword: str, default: float) -> float:
    try:
        value = ds.get(keyword, None)
        return default if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return default


def _int(ds, keyword: str, default: int | None = None) -> int | None:
    try:
        value = ds.get(keyword, None)
        return default if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return default
