"""The text check on real ultrasound and secondary-capture images with text drawn into their pixels (Pillow's
default font, 10-20 px, white on dark and dark on light): the source's name, ID and birth date, and harmless
text; de-identified copies blank all, some or none of it. Every identity string left must be found (recall 1)
with the right attributes and boxes, and the harmless text never matches (precision 1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pikepdf
import pytest
from conftest import faulty_env, run_script
from helpers import page_text, run_with
from PIL import Image, ImageDraw, ImageFont
from sampledata import decoded, deidentify, load_source, save, with_pixels

from dicomimgcmp.checks.text import date_forms, fuzzy_contains, identity_values, matching_attributes, normalise

pytest.importorskip("rapidocr", reason="the text check needs pip install -r requirements-text.txt")

PATIENT = dict(PatientName="DOE^JANE", PatientID="AB12345678", PatientBirthDate="19750214",
               StudyDate="20190304", InstitutionName="Saint Mary Hospital", OperatorsName="KIM^LEE")
#: What is drawn: (key, text, top-left (row, col), size px, dark on light); key None is harmless text.
WRITTEN = [("PatientName", "DOE, JANE", (12, 14), 16, False),
           ("PatientID", "ID: AB12345678", (40, 14), 12, False),
           ("PatientBirthDate", "DOB 14/02/1975", (64, 14), 10, True),
           (None, "L", (150, 290), 20, False),
           (None, "5 cm", (200, 250), 12, False)]


EXPECTED = {"none": {"PatientName", "PatientID", "PatientBirthDate"}, "some": {"PatientID", "PatientBirthDate"},
            "all": set()}


def _write(arr: np.ndarray, items) -> tuple[np.ndarray, dict[str, tuple[int, int, int, int]]]:
    """Draw the items into an (rows, columns, 3) uint8 image; returns it and each item's box (rows, cols)."""
    image = Image.fromarray(arr)
    draw = ImageDraw.Draw(image)
    boxes = {}
    for key, text, (row, col), size, dark in items:
        font = ImageFont.load_default(size=size)
        c0, r0, c1, r1 = draw.textbbox((col, row), text, font=font)
        if dark:  # dark text on a light label
            draw.rectangle((c0 - 4, r0 - 4, c1 + 4, r1 + 4), fill=(235, 235, 235))
        draw.text((col, row), text, font=font, fill=(20, 20, 20) if dark else (255, 255, 255))
        boxes[key or text] = (r0, r1, c0, c1)
    return np.asarray(image).copy(), boxes


def blank(arr: np.ndarray, box: tuple[int, int, int, int]) -> None:
    r0, r1, c0, c1 = box
    arr[max(0, r0 - 6):r1 + 6, max(0, c0 - 6):c1 + 6] = 0


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """A tree of US and SC pairs with text, compared with the text check on; returns (run, boxes)."""
    from conftest import Tree

    tree = Tree(tmp_path_factory.mktemp("text"))
    boxes = {}
    for base, modality in (("examples_rgb_color.dcm", "US"), ("SC_rgb_rle.dcm", "SC")):
        frame = _frame_of(load_source(base, "frame"))
        written, boxes[modality] = _write(frame, WRITTEN)
        for case, blanked in (("none", ()), ("some", ("PatientName",)), ("all", EXPECTED["none"])):
            name = f"{modality}_{case}.dcm"
            source = with_pixels(load_source(base, name, Modality=modality, **PATIENT), written)
            arr = written.copy()
            for key in blanked:
                blank(arr, boxes[modality][key])
            save(source, tree.source / name)
            save(with_pixels(deidentify(source, name, tree.mapping), arr), tree.deid / name)
    return run_script(tree.config(text_check="all"), multi=True), boxes


def _frame_of(ds) -> np.ndarray:
    """The first frame as 240x320 RGB (a small image enlarged by repeating pixels, so that the text fits)."""
    frame = decoded(ds)
    frame = frame[0] if frame.ndim == 4 else frame
    if frame.shape[:2] != (240, 320):
        frame = np.kron(frame, np.ones((3, 3, 1), frame.dtype))[:240, :320]
        frame = np.pad(frame, ((0, 240 - frame.shape[0]), (0, 320 - frame.shape[1]), (0, 0)))
    return np.ascontiguousarray(frame)


@pytest.mark.parametrize("modality", ["US", "SC"])
@pytest.mark.parametrize("case", list(EXPECTED))
def test_every_identity_left_is_found_and_nothing_else(checked, modality, case):
    run, boxes = checked
    row = run.row(f"{modality}_{case}.dcm")
    assert set(filter(None, row.phi_match.split(";"))) == EXPECTED[case]
    assert row.status == ("identical" if case == "none" else "changed")  # the text check does not change it
    lines = row.text_found.split("; ")
    found_boxes = [_parse_box(text) for text in row.text_boxes.split("; ")]
    assert len(lines) == len(found_boxes)
    assert any("5" in line and "cm" in line.lower() for line in lines), "harmless text is read and listed"
    for key in EXPECTED[case]:  # the matched text's box holds the drawn text
        r0, r1, c0, c1 = boxes[modality][key]
        assert any(b[0] <= r0 + 2 and b[1] >= r1 - 2 and b[2] <= c0 + 2 and b[3] >= c1 - 2 for b in found_boxes), key


def _parse_box(text: str) -> tuple[int, int, int, int]:
    rows, cols = text.replace("rows ", "").split(" x cols ")
    return (*map(int, rows.split("-")), *map(int, cols.split("-")))


def test_pages_with_identity_come_first_and_the_summary_says_so(checked):
    run, _ = checked
    csv = run.csv
    found = csv[csv.phi_match != ""]
    assert len(found) == 4
    pdfs = {}
    for name in sorted(csv.pdf_file[csv.pdf_file != ""].unique()):
        with pikepdf.open(run.run_dir / name) as pdf:
            summary = page_text(pdf, 0)
            assert "Identity found in pixels: 4 images" in summary
            pages = csv[csv.pdf_file == name].astype({"pdf_page": int}).sort_values("pdf_page")
            phi, others = pages[pages.phi_match != ""], pages[pages.phi_match == ""]
            assert max(phi.pdf_page, default=0) < min(others.pdf_page, default=10 ** 6)
            pdfs[name] = len(phi)
            for row in phi.itertuples():
                assert "IDENTITY IN PIXELS" in page_text(pdf, row.pdf_page - 1)
    assert sum(pdfs.values()) == 4
    assert "IDENTITY FOUND IN PIXELS: 4 images" in run.proc.stdout


def test_the_identical_pair_with_identity_gets_a_page(checked):
    run, _ = checked
    row = run.row("US_none.dcm")
    assert row.status == "identical" and row.pdf_page != ""


def test_the_check_off_does_not_import_rapidocr_and_on_without_it_exits_2(tree):
    tree.add("a.dcm", "CT_small.dcm")
    off = run_with(tree.config(), faulty_env("no-module:rapidocr"))
    assert off.returncode == 0, off.stderr  # importing rapidocr would have failed the run
    csv = pd.read_csv(tree.root / "out" / "run" / "comparison_summary.csv", keep_default_na=False, dtype=str)
    at = list(csv.columns).index("text_found")
    assert list(csv.columns[at:at + 3]) == ["text_found", "phi_match", "text_boxes"]
    assert (csv.text_found == "").all() and (csv.phi_match == "").all()
    on = run_with(tree.config(run_name="on", text_check="changed"), faulty_env("no-module:rapidocr"))
    assert on.returncode == 2
    assert "pip install -r requirements-text.txt" in on.stderr and "text_check" in on.stderr


def test_modalities_limit_what_is_read(tree):
    tree.add("ct.dcm", "CT_small.dcm", Modality="CT")
    run = run_script(tree.config(text_check="all", text_modalities="US,SC"))
    assert run.row("ct.dcm").text_found == "" and "text check" not in run.row("ct.dcm").reason


# --- matching, without OCR ----------------------------------------------------------------------------------

def _values(**attrs):
    from pydicom.dataset import Dataset

    ds = Dataset()
    for key, value in attrs.items():
        setattr(ds, key, value)
    return identity_values(ds)


def test_matching_forgives_one_error_per_six_characters_and_never_short_values():
    values = _values(**PATIENT, OtherPatientIDs=["X1", "ZZ99887766"], StationName="US")
    assert matching_attributes("Patient: Doe, Jane", values) == ("PatientName",)
    assert matching_attributes("JANE D0E", values) == ("PatientName",)  # by JANE: 3-character DOE allows no error
    assert matching_attributes("D0E", values) == ()
    assert matching_attributes("ID AB12845678", values) == ("PatientID",)  # one error in 10 characters
    assert matching_attributes("ID AB128456X8", values) == ()  # two errors in 10: not the ID
    assert matching_attributes("14.02.1975", values) == ("PatientBirthDate",)
    assert matching_attributes("Feb 14 1975", values) == ("PatientBirthDate",)
    assert matching_attributes("Mar 14 1975", values) == ()  # three characters off
    assert matching_attributes("14-FEB-1975", values) == ("PatientBirthDate",)
    assert matching_attributes("04-MAR-19 11:24:20", values) == ("StudyDate",)  # as gdcm-US-ALOKA-16.dcm shows
    assert matching_attributes("ZZ99887766", values) == ("OtherPatientIDs",)
    assert matching_attributes("US 5 cm L R X1", values) == ()  # "US", "X1": under 3 characters
    assert matching_attributes("ST MARY HOSPITAL", values) == ()  # not "Saint Mary Hospital"
    assert matching_attributes("Saint Mary Hospital", values) == ("InstitutionName",)
    assert matching_attributes("op: Lee Kim", values) == ("OperatorsName",)


def test_normalise_and_dates_and_substring_distance():
    assert normalise("Müller-Lüdenscheidt, J.") == "MULLERLUDENSCHEIDTJ"
    assert [(v.text, v.errors) for v in date_forms("20190304")] == [
        ("20190304", 1), ("04032019", 1), ("03042019", 1), ("04MAR2019", 1), ("MAR042019", 1), ("04MAR19", 0),
        ("MAR0419", 0)]
    assert fuzzy_contains("XXABCDEFYY", "ABCDEF", 0) and fuzzy_contains("XXABCXEFYY", "ABCDEF", 1)
    assert not fuzzy_contains("XXABCXEFYY", "ABCDEF", 0) and not fuzzy_contains("AB", "ABCDEF", 1)


def test_text_in_an_overlay_plane_is_read_and_matched(tree):
    """examples_overlay.dcm (MR) with the patient's name written in its overlay plane, kept by de-identification."""
    from pydicom.tag import Tag

    src = load_source("examples_overlay.dcm", "overlay-text", **PATIENT)
    plane = np.zeros((src[Tag(0x6000, 0x0010)].value, src[Tag(0x6000, 0x0011)].value, 3), np.uint8)
    written, boxes = _write(plane, [("PatientName", "DOE JANE", (250, 20), 16, False)])
    bits = np.packbits((written[..., 0] > 127).ravel(), bitorder="little").tobytes()
    src[Tag(0x6000, 0x3000)].value = bits + b"\0" * (len(bits) % 2)
    save(src, tree.source / "mr.dcm")
    save(deidentify(src, "mr.dcm", tree.mapping), tree.deid / "mr.dcm")
    row = run_script(tree.config(text_check="all", text_modalities="*")).row("mr.dcm")
    assert row.status == "identical" and row.phi_match == "PatientName"
    line = row.text_found.split("; ").index("DOE JANE")
    box = row.text_boxes.split("; ")[line]
    assert box.startswith("overlay 6000 rows ")
    r0, r1, c0, c1 = _parse_box(box.removeprefix("overlay 6000 "))
    t0, t1, u0, u1 = boxes["PatientName"]
    assert r0 <= t0 + 2 and r1 >= t1 - 2 and c0 <= u0 + 2 and c1 >= u1 - 2


def test_text_on_a_later_frame_of_a_cine_is_found(tree):
    """Six frames of pydicom's ultrasound cine (examples_ybr_color.dcm); only frame 4 carries the name."""
    src = load_source("examples_ybr_color.dcm", "cine", **PATIENT)
    frames = decoded(src)[:6].copy()
    frames[4], boxes = _write(frames[4], [("PatientName", "DOE, JANE", (150, 30), 16, False)])
    source = with_pixels(src, frames)
    save(source, tree.source / "cine.dcm")
    save(deidentify(source, "cine.dcm", tree.mapping), tree.deid / "cine.dcm")
    row = run_script(tree.config(text_check="all")).row("cine.dcm")
    assert row.phi_match == "PatientName"
    matched = [box for text, box in zip(row.text_found.split("; "), row.text_boxes.split("; ")) if "JANE" in text]
    assert matched and all(box.startswith("frame 4 rows ") for box in matched)
