"""What several test modules share (as pydicom's ``pixels_reference``): building real DICOM pairs and series,
running the scripts with an environment, reading pages back."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pikepdf
from conftest import REPO
from pydicom.dataset import Dataset
from pydicom.uid import UID_dictionary, generate_uid
from sampledata import decoded, deidentify, load_source, save, with_pixels

from dicomimgcmp.checks.profile import ATTRIBUTES
from dicomimgcmp.read.dicomfile import quiet_pydicom

BAND = (slice(0, 20), slice(None))  # rows 0:20, every column: where a CT's burned-in text would be


def series_slice(test_file: str, series: str, k: int, hole: bool = False):
    """Slice k of a series made from a real file; ``hole``: the source already holds 0 along the band's top edge
    and inside it, so blanking the band changes fewer pixels there (its changed mask has holes)."""
    src = load_source(test_file, f"{series}-{k}", SeriesInstanceUID=generate_uid(entropy_srcs=[series]),
                      SeriesNumber=3, InstanceNumber=k + 1)
    arr = np.roll(decoded(src), 3 * k, axis=1).copy()
    arr[arr.shape[0] // 2:] += k  # every slice different, also inside the band's columns
    if hole:
        arr[0:3] = 0
        arr[8:12, 30:50] = 0
    return with_pixels(src, arr)


def add(tree, name: str, src, edit) -> None:
    deid = deidentify(src, name, tree.mapping)
    arr = decoded(deid).copy()
    save(src, tree.source / name)
    save(with_pixels(deid, edit(arr)), tree.deid / name)


def blank(arr):
    arr[BAND] = 0
    return arr


def blank_and_bump(arr):
    arr = blank(arr)
    arr[100, 100] += 7
    return arr


def series(tree, name: str = "ct", n: int = 6):
    for k in range(n):
        add(tree, f"{name}/s{k}.dcm", series_slice("CT_small.dcm", name, k, hole=k == 2), blank)


def page_text(pdf: pikepdf.Pdf, page_index: int) -> str:
    """The text matplotlib wrote on a page (its Type 3 fonts keep ASCII codes)."""
    parts = []
    for operands, operator in pikepdf.parse_content_stream(pdf.pages[page_index]):
        if str(operator) == "Tj":
            parts.append(bytes(operands[0]).decode("latin-1"))
        elif str(operator) == "TJ":
            parts += [bytes(x).decode("latin-1") for x in operands[0] if isinstance(x, pikepdf.String)]
        elif str(operator) == "ET":
            parts.append("\n")
    return "".join(parts)


def page_images(pdf_path: Path, page: int) -> list[tuple[int, int]]:
    with pikepdf.open(pdf_path) as pdf:
        found = pdf.pages[page - 1]
        found = found.get_images() if hasattr(found, "get_images") else found.images  # pikepdf < 10 has .images
        images = [pikepdf.PdfImage(obj) for obj in found.values()]
        return sorted((im.width, im.height) for im in images)


def float_image(name: str, seed: str, keyword: str):
    """A real image's values (modality LUT applied) stored as Float or Double Float Pixel Data."""
    from pydicom.pixels import apply_modality_lut

    ds = load_source(name, seed)
    values = apply_modality_lut(decoded(ds), ds).astype(np.float32 if keyword == "FloatPixelData" else np.float64)
    for gone in ("PixelData", "BitsStored", "HighBit", "PixelRepresentation", "RescaleSlope", "RescaleIntercept",
                 "SmallestImagePixelValue", "LargestImagePixelValue", "WindowCenter", "WindowWidth"):
        ds.pop(gone, None)
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds.BitsAllocated = 32 if keyword == "FloatPixelData" else 64
    setattr(ds, keyword, values.tobytes())
    return ds, values


def run_with(config: Path, env: dict, multi: bool = True) -> subprocess.CompletedProcess:
    script = REPO / ("run_DICOMImgCmp_multiT.py" if multi else "run_DICOMImgCmp.py")
    return subprocess.run([sys.executable, str(script), str(config)], capture_output=True, text=True, env=env,
                          timeout=600)


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "zero":
        data = bytearray()
    elif how == "truncated-header":
        data = data[:300]
    elif how == "truncated-pixels":
        data = data[:-1000]
    elif how == "bitflip":
        for i in range(len(data) // 2, len(data), 97):
            data[i] ^= 0xFF
    elif how == "header-bitflip":
        for i in range(140, min(len(data), 2000), 37):
            data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def grouped_tree(tree):
    """One CT series: 6 slices with the band blanked (one with holes), one with an extra change, one cropped,
    one unchanged; a second series with the same band; a US file with the band."""
    series(tree)
    add(tree, "ct/s6.dcm", series_slice("CT_small.dcm", "ct", 6), blank_and_bump)
    add(tree, "ct/s7.dcm", series_slice("CT_small.dcm", "ct", 7), lambda a: a[10:, 5:].copy())
    add(tree, "ct/s8.dcm", series_slice("CT_small.dcm", "ct", 8), lambda a: a)
    series(tree, "ct2", 2)
    add(tree, "us.dcm", load_source("examples_rgb_color.dcm", "us"), blank)
    return tree


# The header check's de-identifier and identity (tests/test_header_check.py, tests/test_review.py).
BIRTH = "19620524"
INSTITUTION = "St Elsewhere General Hospital"


def clean(ds: Dataset, mapping: dict[str, str]) -> Dataset:
    """A de-identified copy made with pydicom's own functions: private tags removed; at any depth every attribute
    of the profile removed (UIDs apart), person names blanked, dates removed, UIDs replaced (``mapping``)."""
    out = copy.deepcopy(ds)
    out.remove_private_tags()

    def callback(dataset: Dataset, elem) -> None:
        if elem.VR == "UI" and elem.value and str(elem.value) not in UID_dictionary:
            values = elem.value if isinstance(elem.value, list) or elem.VM > 1 else [elem.value]
            new = [mapping.setdefault(str(v), generate_uid(entropy_srcs=["clean", str(v)])) for v in values]
            elem.value = new if len(new) > 1 else new[0]
        elif elem.VR in ("DA", "DT") or (int(elem.tag) in ATTRIBUTES and elem.VR != "SQ"):
            del dataset[elem.tag]
        elif elem.VR == "PN":
            elem.value = "ANONYMOUS"

    with quiet_pydicom():
        out.walk(callback)
        for elem in out.file_meta or []:
            if elem.VR == "UI" and str(elem.value) not in UID_dictionary:
                elem.value = mapping.setdefault(str(elem.value), generate_uid(entropy_srcs=["clean", str(elem.value)]))
    return out


def source_with_identity(name: str, seed: str, **attrs) -> Dataset:
    return load_source(name, seed, **{"PatientName": "KOWALCZYK^ANNA^MARIA", "PatientID": "PID-778812",
                                      "PatientBirthDate": BIRTH, "InstitutionName": INSTITUTION, **attrs})


def pair_cleaned(tree, name: str, src: Dataset, plant=None) -> Dataset:
    """Source and its copy de-identified by :func:`clean` under ``name``; ``plant(deid, src)`` then edits it."""
    save(src, tree.source / name)
    mapping: dict[str, str] = {}
    deid = clean(src, mapping)
    for old in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        tree.mapping[str(src[old].value)] = mapping[str(src[old].value)]
    deid.PatientName = "ANONYMOUS"
    if plant is not None:
        plant(deid, src)
    save(deid, tree.deid / name)
    return deid


def id_in_private(deid, src):
    block = deid.private_block(0x0011, "ACME 1.0", create=True)
    block.add_new(0x10, "LO", f"mrn {src.PatientID}")
