"""What the PDF page shows, checked as pydicom checks its processing: values at known coordinates of the panel
arrays (before the PDF), then real pages read back with pikepdf, written straight and by matplotlib."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pikepdf
import pydicom
import pytest
from helpers import float_image, page_images
from pydicom.dataset import Dataset
from sampledata import TEST_FILES, decoded, load_source, save, with_pixels

from dicomimgcmp.compare.pair import compare_pair
from dicomimgcmp.model import Status
from dicomimgcmp.output.pdf.plan import Summary, plan_pdf
from dicomimgcmp.output.pdf.write import write_pdf
from dicomimgcmp.pixels.display import display_pair, display_pair8, to_uint8
from dicomimgcmp.read.record import read_record


def _linear_window(hu: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2.1 (LINEAR), as a fraction of the output range."""
    return np.clip((hu - (center - 0.5)) / (width - 1) + 0.5, 0.0, 1.0)


def test_windowed_ct_uses_the_sources_window_and_rescale_on_both_sides():
    src = load_source("693_J2KI.dcm", "win")  # CT, window 40/100, rescale intercept -1024
    frame = decoded(src)
    blanked = frame.copy()
    blanked[200:224, 130:330] = frame.min()
    d01, s01 = display_pair(blanked, src, frame, src)
    hu = frame.astype(np.float64) - 1024
    for r, c in [(256, 256), (100, 300), (400, 100), (10, 10)]:
        assert s01[r, c] == pytest.approx(_linear_window(hu[r, c], 40, 100), abs=1e-9)
        assert d01[r, c] == pytest.approx(s01[r, c], abs=1e-9)  # outside the band: the same grey
    assert d01[210, 200] == 0.0  # the blanked band is black on the source's scale
    assert 0 < np.count_nonzero((s01 > 0) & (s01 < 1))  # the window really cuts through the image


def test_monochrome1_is_inverted_by_each_sides_own_photometric_interpretation():
    src = load_source("MR_small.dcm", "m1")  # MONOCHROME2, window 600/1600
    deid = load_source("MR_small.dcm", "m1", PhotometricInterpretation="MONOCHROME1")
    frame = decoded(src)
    inverted = frame.max() - frame  # a MONOCHROME1 copy would store the picture this way ...
    d01, s01 = display_pair(frame, deid, frame, src)  # ... but here the same values, read as MONOCHROME1
    expected = _linear_window(frame.astype(np.float64), 600, 1600)
    assert s01[30, 30] == pytest.approx(expected[30, 30])
    assert d01[30, 30] == pytest.approx(1 - expected[30, 30])
    m1_source = load_source("MR_small.dcm", "m1", PhotometricInterpretation="MONOCHROME1")
    d01, s01 = display_pair(inverted, deid, inverted, m1_source)
    assert s01[30, 30] == pytest.approx(1 - _linear_window(float(inverted[30, 30]), 600, 1600))
    np.testing.assert_allclose(d01, s01)


def test_voi_lut_sequence_is_applied_on_both_sides():
    src = load_source("CT_small.dcm", "voi")  # stored 128..2191, rescale intercept -1024
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    ramp = (np.minimum(np.arange(4096), 1000) * 60).astype(np.uint16)  # a ramp that saturates at input 1000
    item.LUTData = ramp.tolist()
    item["LUTData"].VR = "US"
    src.VOILUTSequence = [item]
    frame = decoded(src)
    d01, s01 = display_pair(frame, src, frame, src)
    hu = frame.astype(np.int64) - 1024
    expected = ramp[np.clip(hu, 0, 4095)] / ramp.max()
    for r, c in [(64, 64), (10, 120), (100, 20)]:
        assert s01[r, c] == pytest.approx(expected[r, c])
    np.testing.assert_allclose(d01, s01)


def test_colour_is_shown_in_colour_by_its_range():
    src = load_source("SC_rgb_rle.dcm", "rgb")
    frame = decoded(src)
    edited = frame.copy()
    edited[10:20, 60:90, 0] = 0
    d01, s01 = display_pair(edited, src, frame, src)
    assert s01.shape == (*frame.shape[:2], 3)
    np.testing.assert_allclose(s01[5, 70], frame[5, 70] / 255)
    assert d01[15, 70, 0] == 0.0 and d01[15, 70, 1] == pytest.approx(frame[15, 70, 1] / 255)


def _grey_files() -> list[Path]:
    return sorted(TEST_FILES.glob("*.dcm"))


@pytest.mark.parametrize("path", _grey_files(), ids=lambda p: p.name)
def test_the_pages_table_lookup_equals_the_transforms_pixel_by_pixel(path):
    """The page looks integer grey frames up in a table of the display value of every stored value: on every
    real file, both sides (the de-identified one read as MONOCHROME1 too) equal the transforms run on each
    pixel."""
    try:
        ds = pydicom.dcmread(path)
        frame = decoded(ds)
    except Exception:  # noqa: BLE001 - a file pydicom cannot decode is not this test's subject
        pytest.skip("no pixel data pydicom decodes here")
    frame = frame[0] if frame.ndim == 3 and frame.shape[-1] not in (3, 4) else frame
    if frame.ndim != 2 or frame.dtype.kind not in "iu" or ds.get("PhotometricInterpretation") == "PALETTE COLOR":
        pytest.skip("not an integer grey frame")
    m1 = pydicom.dcmread(path, stop_before_pixels=True)
    m1.PhotometricInterpretation = "MONOCHROME1"
    blanked = frame.copy()
    blanked[: max(1, frame.shape[0] // 8)] = frame.min()
    for deid_ds in (ds, m1):
        pixelwise = [to_uint8(image) for image in display_pair(blanked, deid_ds, frame, ds)]
        tabled = display_pair8(blanked, deid_ds, frame, ds)
        for expected, found in zip(pixelwise, tabled):
            assert found.dtype == np.uint8
            np.testing.assert_array_equal(found, expected)


def _write_one(tmp_path: Path, source_ds, deid_ds) -> tuple[Path, object]:
    src = read_record(save(source_ds, tmp_path / "src.dcm"), tmp_path)
    deid = read_record(save(deid_ds, tmp_path / "deid.dcm"), tmp_path)
    result = compare_pair(deid, src)
    assert result.status is Status.CHANGED
    summary = Summary("t", "today", "d", "s", "m", {"changed": 1}, 0, 1, 1)
    plan = plan_pdf(summary, [[result]], "p.pdf", lambda series: {})
    write_pdf(tmp_path / "p.pdf", summary, plan, 0.0)
    [page] = plan.pages
    assert page.shown.pdf_page == 2
    return tmp_path / "p.pdf", page.shown


def test_a_real_page_holds_three_images_of_the_frame_size(tmp_path):
    src = load_source("693_J2KI.dcm", "page")
    arr = decoded(src).copy()
    arr[200:224, 130:330] = arr.min()
    pdf, _ = _write_one(tmp_path, src, with_pixels(src, arr))
    with pikepdf.open(pdf) as opened:
        assert len(opened.pages) == 2 and opened.docinfo["/Title"] == "DICOMImgCmp t"
    assert page_images(pdf, 2) == [(512, 512)] * 3


def test_a_frame_count_change_shows_a_frame_both_files_have(tmp_path):
    src = load_source("rtdose.dcm", "frames-page")
    pdf, item = _write_one(tmp_path, src, with_pixels(src, decoded(src)[:1].copy()))
    assert item.shown_frame == 0
    assert page_images(pdf, 2) == [(src.Columns, src.Rows)] * 3  # not the 1x1 placeholder of an error


def test_float_pixel_data_is_rendered(tmp_path):
    src, values = float_image("CT_small.dcm", "float-page", "FloatPixelData")
    deid, _ = float_image("CT_small.dcm", "float-page", "FloatPixelData")
    values = values.copy()
    values[40:50, 40:50] = 0
    deid.FloatPixelData = values.tobytes()
    pdf, _ = _write_one(tmp_path, src, deid)
    assert page_images(pdf, 2) == [(128, 128)] * 3


def _drawn_images(page) -> list[tuple[np.ndarray, tuple[float, float, float, float]]]:
    """Each image (not image mask) the page paints, in order, as RGB the right way up, with the rectangle it
    covers (points)."""
    stack, ctm, found = [], np.eye(3), []
    for operands, operator in pikepdf.parse_content_stream(page):
        op = str(operator)
        if op == "q":
            stack.append(ctm)
        elif op == "Q":
            ctm = stack.pop()
        elif op == "cm":
            a, b, c, d, e, f = map(float, operands)
            ctm = np.array([[a, b, 0], [c, d, 0], [e, f, 1]]) @ ctm
        elif op == "Do":
            xobject = page.Resources.XObject[operands[0]]
            if xobject.Subtype == "/Image" and not xobject.get("/ImageMask", False):
                corners = np.array([[0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]]) @ ctm
                image = np.asarray(pikepdf.PdfImage(xobject).as_pil_image().convert("RGB"))
                found.append((image[::-1] if ctm[1, 1] < 0 else image,  # matplotlib stores rows bottom up
                              (*corners[:, :2].min(axis=0), *corners[:, :2].max(axis=0))))
    return found


def _band(name: str):
    """The source and a de-identified copy with a band blanked and one more pixel changed."""
    src = load_source(name, "same-page")
    arr = decoded(src).copy()
    arr[20:44, 30:90] = 0
    arr[-3, 7] ^= 1
    return src, with_pixels(src, arr)


def _cropped(name: str):
    src = load_source(name, "same-page")
    return src, with_pixels(src, decoded(src)[20:-20, 10:-84].copy())


def _stencil(page, name: str, shape: tuple[int, int]) -> np.ndarray | None:
    if name not in page.Resources.XObject:
        return None
    stencil = page.Resources.XObject[name]
    assert stencil.ImageMask and list(stencil.Decode) == [1, 0]
    bits = np.unpackbits(np.frombuffer(stencil.read_bytes(), np.uint8)).reshape(shape[0], -1)
    return bits[:, :shape[1]].astype(bool)


@pytest.mark.parametrize("case", [("693_J2KI.dcm", _band), ("SC_rgb_rle.dcm", _band),
                                  ("examples_overlay.dcm", _band), ("examples_overlay.dcm", _cropped)],
                         ids=["ct-band", "rgb-band", "overlay-band", "overlay-crop"])
def test_the_page_written_straight_is_the_page_matplotlib_draws(tmp_path, case):
    """A file name the standard fonts cannot show (Polish ł is not in WinAnsi) sends the page to matplotlib:
    the same panels (grey, colour, or of two sizes after a crop) in the same places, painted red (changed
    pixels) or green (overlay planes) where the straight page paints its stencils; the straight page's text is
    in the standard Courier, matplotlib's embedded."""
    name, make = case
    src, deid = make(name)
    pdfs = {}
    for file_name in ("deid.dcm", "deid ł.dcm"):
        folder = tmp_path / file_name.replace(" ", "_")
        folder.mkdir()
        src_rec = read_record(save(src, folder / "src.dcm"), folder)
        result = compare_pair(read_record(save(deid, folder / file_name), folder), src_rec)
        assert result.status is Status.CHANGED and (result.crop is not None) == (make is _cropped)
        summary = Summary("t", "today", "d", "s", "m", {"changed": 1}, 0, 1, 1)
        write_pdf(folder / "p.pdf", summary, plan_pdf(summary, [[result]], "p.pdf", lambda series: {}), 0.0)
        pdfs[file_name] = pikepdf.open(folder / "p.pdf")
    for pdf in pdfs.values():  # the summary, drawn either way, links its line to the page
        assert [pdf.pages.index(pikepdf.Page(a.Dest[0])) for a in pdf.pages[0].obj.Annots] == [1]
    straight, drawn = pdfs["deid.dcm"].pages[1], pdfs["deid ł.dcm"].pages[1]
    assert {str(f.BaseFont) for f in straight.Resources.Font.values()} <= {"/Courier", "/Courier-Bold", "/Helvetica",
                                                                         "/Helvetica-Bold"}
    assert not any("/FontDescriptor" in f.keys() for f in straight.Resources.Font.values())  # nothing embedded
    assert any(f.Subtype == "/Type3" or "/FontDescriptor" in f.keys() for f in drawn.Resources.Font.values())
    s_images, d_images = _drawn_images(straight), _drawn_images(drawn)
    assert len(s_images) == len(d_images) == 3
    painted = []
    for k, ((s_image, s_rect), (d_image, d_rect)) in enumerate(zip(s_images, d_images)):
        np.testing.assert_allclose(s_rect, d_rect, atol=0.01)  # points
        assert s_image.shape == d_image.shape
        mask = _stencil(straight, f"/M{k}", s_image.shape[:2])
        mask = np.zeros(s_image.shape[:2], bool) if mask is None else mask
        colour = (255, 0, 0) if k == 2 else (0, 255, 0)
        np.testing.assert_array_equal((d_image == colour).all(axis=-1) & mask, mask)
        np.testing.assert_array_equal(s_image[~mask], d_image[~mask])
        painted.append(int(mask.sum()))
    assert (s_images[0][0].shape != s_images[1][0].shape) == (make is _cropped)
    assert all(painted[:2]) == (name == "examples_overlay.dcm")  # its overlay plane, in green
    assert painted[2] >= (1 if make is _cropped else 24 * 60 + 1)
