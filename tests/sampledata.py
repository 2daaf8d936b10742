"""Build de-identification samples from pydicom's bundled real DICOM files (MIT-licensed).

Used by ``examples/make_sample.py`` (the shipped sample) and by the tests. A *source* dataset is a real test file
given fresh, deterministic UIDs (several bundled files share one SOPInstanceUID); its *de-identified* copy gets
new UIDs and a pseudonym, and the old -> new UIDs go to the mapping CSV, written as real exports write it
(UTF-8 BOM, CRLF, spaces around values).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicomimgcmp.read.dicomfile import quiet_pydicom

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
_UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")


def test_file(name: str) -> Path:
    """Path of one of pydicom's bundled test files (listed directly: never downloads)."""
    path = TEST_FILES / name
    if not path.is_file():
        raise FileNotFoundError(f"pydicom test file not found: {path}")
    return path


def load_source(name: str, seed: str, **attributes) -> Dataset:
    """Read a bundled file and give it fresh UIDs derived from ``seed`` (plus any ``attributes`` to set)."""
    with quiet_pydicom():
        ds = pydicom.dcmread(test_file(name))
    for keyword in _UID_KEYWORDS:
        setattr(ds, keyword, generate_uid(entropy_srcs=[seed, keyword]))
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def deidentify(ds: Dataset, seed: str, mapping: dict[str, str]) -> Dataset:
    """A copy of ``ds`` with new UIDs and a pseudonymous patient; records old -> new UIDs in ``mapping``."""
    out = copy.deepcopy(ds)
    for keyword in _UID_KEYWORDS:
        old = str(ds.get(keyword, ""))
        if old:
            new = mapping.setdefault(old, generate_uid(entropy_srcs=["deid", seed, old]))
            setattr(out, keyword, new)
    out.PatientName = "ANONYMOUS"
    out.PatientID = f"ANON-{str(ds.get('PatientID', '') or 'X')[:8]}"
    return out


def with_pixels(ds: Dataset, array: np.ndarray) -> Dataset:
    """A copy of ``ds`` holding ``array`` (frames, rows, columns[, samples]) as uncompressed little endian.

    Works from compressed and big-endian datasets too (pydicom will not write big endian as little endian, so
    the elements are carried over into a fresh dataset). The photometric interpretation is kept, YBR excepted:
    decoded YBR is RGB.
    """
    out = Dataset()
    for elem in ds:
        if elem.keyword not in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
            out.add(copy.deepcopy(elem))
    out.file_meta = FileMetaDataset(copy.deepcopy(ds.file_meta))
    out.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    photometric = str(ds.PhotometricInterpretation)
    if photometric.startswith("YBR"):
        photometric = "RGB"
    array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))  # decoded big endian stays '>'
    if array.dtype.itemsize <= 2:
        out.set_pixel_data(array, photometric, int(ds.BitsStored),
                           generate_instance_uid=False)
    else:  # set_pixel_data takes 8- and 16-bit arrays only; 32-bit (RT dose) keeps its header, new bytes
        image_dims = 2 if int(ds.SamplesPerPixel) == 1 else 3
        out.PhotometricInterpretation = photometric
        out.Rows, out.Columns = array.shape[-image_dims:][:2]
        if array.ndim > image_dims:
            out.NumberOfFrames = array.shape[0]
        out.PixelData = array.tobytes()
        out["PixelData"].VR = "OW"
    return out


def decoded(ds: Dataset) -> np.ndarray:
    """The dataset's pixel values (YBR as RGB), as the comparison decodes them."""
    from pydicom.pixels import pixel_array

    from dicomimgcmp.pixels.decode import decoding_plugin

    with quiet_pydicom():
        return pixel_array(ds, decoding_plugin=decoding_plugin(ds.file_meta.TransferSyntaxUID))


def save(ds: Dataset, path: Path) -> Path:
    """Write ``ds`` in the DICOM file format (preamble and file meta), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    with quiet_pydicom():
        ds.save_as(path, enforce_file_format=True)
    return path


def write_mapping(path: Path, mapping: dict[str, str], extra_rows: Iterable[tuple[str, str]] = ()) -> Path:
    """Write the ``id_old``,``id_new`` CSV as real exports do: UTF-8 BOM, CRLF, spaces around values."""
    rows = [" id_old , id_new , note "] + [f" {old} , {new} , uid" for old, new in
                                          [*sorted(mapping.items()), *extra_rows]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("utf-8-sig"))
    return path
