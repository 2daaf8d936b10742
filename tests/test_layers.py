"""Hidden layers on real files: pydicom's examples_overlay.dcm (an overlay plane and an icon), CT and MR images
given an overlay in their pixel data's high bits, stray high bits, BurnedInAnnotation."""

from __future__ import annotations

import numpy as np
import pikepdf
import pytest
from conftest import run_script
from helpers import page_images
from pydicom.tag import Tag
from sampledata import decoded, deidentify, load_source, save, with_pixels

from dicomimgcmp.compare.pair import compare_pair
from dicomimgcmp.model import Status
from dicomimgcmp.read.record import read_record

OVERLAY_TEXT = (slice(30, 50), slice(400, 440))  # text written in examples_overlay.dcm's overlay plane
BOX = (slice(20, 40), slice(10, 50))  # a block of "text" in a 64x64 image's high-bit overlay


def _pair(tmp_path, src, deid):
    save(src, tmp_path / "src.dcm")
    save(deid, tmp_path / "deid.dcm")
    return compare_pair(read_record(tmp_path / "deid.dcm", tmp_path), read_record(tmp_path / "src.dcm", tmp_path))


def _overlay_file(seed: str):
    src = load_source("examples_overlay.dcm", seed)
    return src, deidentify(src, seed, {})


def test_an_overlay_kept_is_hidden_content_and_not_a_change(tmp_path):
    src, deid = _overlay_file("kept")
    result = _pair(tmp_path, src, deid)
    assert result.status is Status.IDENTICAL
    assert result.hidden_content == "overlay 6000; IconImageSequence"


def test_an_overlay_removed_is_a_change_of_identical_pixels(tmp_path):
    src, deid = _overlay_file("removed")
    for elem in [e.tag for e in deid if e.tag.group == 0x6000]:
        del deid[elem]
    del deid.IconImageSequence
    result = _pair(tmp_path, src, deid)
    assert result.status is Status.CHANGED and result.changed_pixels == 0
    assert result.reason == "overlay 6000 removed" and result.change == "overlay 6000 removed"
    assert result.change_group and result.hidden_content == ""


def test_an_overlay_changed_counts_its_pixels(tmp_path):
    src, deid = _overlay_file("changed")
    plane = src.overlay_array(0x6000).copy()
    edited = plane.copy()
    edited[OVERLAY_TEXT] = 0
    assert plane[OVERLAY_TEXT].sum() > 0, "the test must blank overlay pixels that are set"
    bits = np.packbits(edited.astype(np.uint8).ravel(), bitorder="little").tobytes()
    deid[Tag(0x6000, 0x3000)].value = bits + b"\0" * (len(bits) % 2)
    result = _pair(tmp_path, src, deid)
    assert result.status is Status.CHANGED
    assert result.reason == f"overlay 6000 changed ({int(plane[OVERLAY_TEXT].sum())} pixels)"


def _high_bit_overlay(seed: str, overlay: np.ndarray | None, declared: bool = True):
    """MR_small (16 bits allocated) stored in 12 bits, with an overlay in bit 13 of its pixel words."""
    src = load_source("MR_small.dcm", seed, BitsStored=12, HighBit=11, PixelRepresentation=0)
    words = np.clip(decoded(src), 0, 4095).astype(np.uint16)
    ds = with_pixels(src, words)
    if overlay is not None:  # bits pydicom refuses to write: set in the stored words directly
        ds.PixelData = (words | overlay.astype(np.uint16) << 13).astype("<u2").tobytes()
    if declared:
        for elem, vr, value in ((0x0010, "US", ds.Rows), (0x0011, "US", ds.Columns), (0x0040, "CS", "G"),
                                (0x0050, "SS", [1, 1]), (0x0100, "US", 16), (0x0102, "US", 13)):
            ds.add_new(Tag(0x6002, elem), vr, value)
    return ds


def test_an_overlay_in_the_high_bits_is_read_and_compared(tmp_path):
    plane = np.zeros((64, 64), bool)
    plane[BOX] = True  # a block of "text"
    src = _high_bit_overlay("hb", plane)
    deid = deidentify(src, "hb", {})
    assert _pair(tmp_path, src, deid).status is Status.IDENTICAL  # kept: bits pydicom drops, compared here
    blanked = plane.copy()
    blanked[20:30] = False
    changed = _pair(tmp_path, src, deidentify(_high_bit_overlay("hb", blanked), "hb", {}))
    assert changed.status is Status.CHANGED and changed.changed_pixels == 0
    assert changed.reason == f"overlay 6002 changed ({int(plane[20:30].sum())} pixels)"
    assert "bits above BitsStored" not in changed.hidden_content  # the declared overlay's bit is not stray
    undeclared = _pair(tmp_path, src, deidentify(_high_bit_overlay("hb", plane, declared=False), "hb", {}))
    assert undeclared.reason == "overlay 6002 removed"
    assert undeclared.hidden_content == f"bits above BitsStored (12) set in {int(plane.sum())} pixels"


def test_a_sign_extension_is_not_stray_but_a_set_bit_is(tmp_path):
    src = load_source("CT_small.dcm", "sign", BitsStored=12, HighBit=11)  # signed
    values = np.clip(decoded(src).astype(np.int16) - 1500, -2048, 2047)  # negative values, sign-extended
    src = with_pixels(src, values)
    assert _pair(tmp_path, src, deidentify(src, "sign", {})).hidden_content == ""
    raw = np.frombuffer(src.PixelData, "<u2").copy()
    positive = np.flatnonzero(values.ravel() >= 0)[:5]
    raw[positive] |= 1 << 14
    deid = deidentify(src, "sign", {})
    deid.PixelData = raw.tobytes()
    result = _pair(tmp_path, src, deid)
    assert result.status is Status.IDENTICAL  # the stored values are the same
    assert result.hidden_content == "bits above BitsStored (12) set in 5 pixels"


def test_burned_in_annotation_yes_is_reported(tmp_path):
    src = load_source("CT_small.dcm", "burned")
    deid = deidentify(src, "burned", {})
    deid.BurnedInAnnotation = "YES"
    assert _pair(tmp_path, src, deid).hidden_content == "BurnedInAnnotation YES"


def test_the_csv_and_the_page_say_it(tree):
    src, deid = _overlay_file("e2e")
    for elem in [e.tag for e in deid if e.tag.group == 0x6000]:
        del deid[elem]
    save(src, tree.source / "overlay.dcm")
    deid.SOPInstanceUID = tree.mapping.setdefault(src.SOPInstanceUID, deid.SOPInstanceUID)
    save(deid, tree.deid / "overlay.dcm")
    run = run_script(tree.config(), multi=False)
    row = run.row("overlay.dcm")
    assert (row.status, row.reason, row.hidden_content) == ("changed", "overlay 6000 removed", "IconImageSequence")
    pdf = run.run_dir / "comparison_results.pdf"
    with pikepdf.open(pdf) as opened:
        assert len(opened.pages) == int(row.pdf_page)
    assert page_images(pdf, int(row.pdf_page)) == [(src.Columns, src.Rows)] * 3  # drawn, not an error page


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "SC_rgb_rle.dcm", "rtdose.dcm"])
def test_files_without_layers_have_none(tmp_path, name):
    src = load_source(name, "plain")
    assert _pair(tmp_path, src, deidentify(src, "plain", {})).hidden_content == ""
