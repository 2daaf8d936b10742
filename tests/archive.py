"""Trees laid out as archives lay them out, built from pydicom's real files (shared by the tests).

- The de-identified tree as archives publish it: ``<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``,
  paths of about 200 characters (some files without an extension);
- the source tree as TCIA downloads name it: ``<PatientID>/<date>-<study> - <accession>/<n>.000000-<series>-<id>/
  1-<k>.dcm``, with spaces, dashes and dots, a patient folder with CJK and accented letters, files without an
  extension.

Most series get a band blanked on every slice (a change group each); one CT series gets a pixel changed on
several slices (a group each) and keeps others identical; with ``text``, ultrasound images keep the patient's name
written in their pixels (the text check finds it).
"""

from __future__ import annotations

import numpy as np
from conftest import Tree
from pydicom.uid import generate_uid
from sampledata import decoded, deidentify, load_source, save, with_pixels

BAND = np.s_[0:8, :]
NAME = "DOE^JANE"


def _source_folder(patient: str, series: int, description: str) -> str:
    return (f"{patient}/07-04-2019-NA-CT ABDOMEN W CONTRAST-{series:05d}/"
            f"{series}.000000-{description}-{40000 + series}")


def _archive_name(ds, extension: bool) -> str:
    return f"{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}{'.dcm' if extension else ''}"


def _pair(tree: Tree, src, source_name: str, edit, k: int) -> None:
    deid = deidentify(src, source_name, tree.mapping)
    deid = with_pixels(deid, edit(decoded(deid).copy()))
    save(src, tree.source / (source_name + (".dcm" if k % 7 else "")))
    save(deid, tree.deid / _archive_name(deid, extension=k % 5 != 0))


def _slice(test_file: str, seed: str, series_uid: str, number: int, k: int, **attrs):
    src = load_source(test_file, seed, SeriesInstanceUID=series_uid, SeriesNumber=number, InstanceNumber=k + 1,
                      **attrs)
    arr = decoded(src).copy()
    arr[arr.shape[0] // 2:] += k  # every slice different
    return with_pixels(src, arr)


def _blank(arr: np.ndarray) -> np.ndarray:
    arr[BAND] = 0
    return arr


def build_archive(tree: Tree, *, blanked_series: int = 8, slices: int = 25, bumped: int = 30, identical: int = 10,
                  text: bool = False) -> Tree:
    """Fill ``tree``: ``blanked_series`` MR series of ``slices`` slices with the band blanked, a CT series with
    ``bumped`` slices changed by one pixel each and ``identical`` unchanged, and with ``text`` three ultrasound
    images keeping the patient's name in their pixels."""
    study = generate_uid(entropy_srcs=["archive study"])
    for s in range(blanked_series):
        patient = "Ærø 患者 Ñandú" if s == 0 else f"TCGA-{s:02d}-A1B2"
        uid = generate_uid(entropy_srcs=["archive series", str(s)])
        for k in range(slices):
            src = _slice("MR_small.dcm", f"mr{s}-{k}", uid, s + 1, k, StudyInstanceUID=study, PatientID=patient)
            _pair(tree, src, f"{_source_folder(patient, s + 1, 'MR T1 AX-POST')}/1-{k + 1:03d}", _blank, k)
    uid = generate_uid(entropy_srcs=["archive ct"])
    for k in range(bumped + identical):
        src = _slice("CT_small.dcm", f"ct-{k}", uid, 90, k, PatientID="TCGA-CT-0001")

        def bump(arr, k=k):
            if k < bumped:
                arr[10 + k, 20 + k] += 5
            return arr
        _pair(tree, src, f"{_source_folder('TCGA-CT-0001', 90, 'CT 5.0 mm B30f')}/1-{k + 1:03d}", bump, k)
    if text:
        _add_text(tree)
    return tree


def _add_text(tree: Tree) -> None:
    from PIL import Image, ImageDraw, ImageFont

    for k in range(3):
        src = load_source("examples_rgb_color.dcm", f"us-{k}", PatientName=NAME, PatientID="US-0042")
        image = Image.fromarray(decoded(src).copy())
        ImageDraw.Draw(image).text((14, 12), "DOE, JANE", font=ImageFont.load_default(size=16), fill=(255, 255, 255))
        src = with_pixels(src, np.asarray(image).copy())

        def edit(arr):  # the lower half blanked, the name left
            arr[120:] = 0
            return arr
        _pair(tree, src, f"US-0042/01-01-2020-US-{k}/1.000000-US-{k}/1-001", edit, k + 1)
