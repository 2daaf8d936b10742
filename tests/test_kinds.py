"""What kind of change: real pydicom files changed by the test in each way the kinds name, every changed pair of a
run given a kind, and the kinds' order (a band blanked on a lossy re-encoding is lossy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import run_script
from pydicom.pixels import convert_color_space
from pydicom.uid import JPEG2000, JPEGLSNearLossless
from sampledata import decoded, with_pixels

from dicomimgcmp.compare.pair import compare_pair
from dicomimgcmp.read.record import read_record


def _data(name: str) -> str:
    """A file of pydicom-data (requirements-test.txt), by its absolute path."""
    data_store = pytest.importorskip("data_store", reason="pip install -r requirements-test.txt (pydicom-data)")
    return str(Path(data_store.__file__).parent / "data" / name)


def _kind(tree, name: str, test_file: str, edit) -> tuple[str, str]:
    """The kind and reason of a pair whose de-identified copy is ``edit(ds)`` of a bundled file."""
    tree.add(name, test_file, edit)
    result = compare_pair(*(read_record(root / name, root) for root in (tree.deid, tree.source)))
    assert result.status.value == "changed", result.reason
    return result.change_kind, result.reason


def _pixels(edit):
    """An edit of the decoded values, stored uncompressed."""
    return lambda ds: with_pixels(ds, edit(decoded(ds).copy()))


def _compressed(syntax, **options):
    def edit(ds):
        ds = with_pixels(ds, decoded(ds).copy())
        ds.compress(syntax, generate_instance_uid=False, **options)
        return ds
    return edit


def _scrambled_block(arr):
    arr[40:60, 40:60] = np.random.default_rng(7).permutation(arr[40:60, 40:60].ravel()).reshape(20, 20)
    return arr


def _one_pixel(arr):
    arr[50, 60] += 1
    return arr


def _band(arr):
    arr[:8] = 0
    return arr


CASES = {
    "blanked": ("CT_small.dcm", _pixels(_band), "blanked", "to 0"),
    "cropped": ("CT_small.dcm", _pixels(lambda a: a[16:].copy()), "cropped", ""),
    "lossy_ct_j2k": ("CT_small.dcm", _compressed(JPEG2000, j2k_cr=[10]), "lossy", "PSNR"),
    "lossy_us_jpegls": ("US1_UNCR.dcm", _compressed(JPEGLSNearLossless, jls_error=2), "lossy",
                        "max diff 2 where small"),
    "colour_space": ("examples_rgb_color.dcm", _pixels(lambda a: convert_color_space(a, "RGB", "YBR_FULL")),
                     "colour_space", "RGB -> YBR_FULL"),
    "inverted": ("MR_small.dcm", _pixels(lambda a: (a.max() - a).astype(a.dtype)), "inverted", "- source"),
    "rescaled": ("MR_small.dcm", _pixels(lambda a: (3 * a + 10).astype(a.dtype)), "rescaled", "3 x source + 10"),
    "bit_shift": ("MR_small.dcm", _pixels(lambda a: (a >> 1).astype(a.dtype)), "rescaled", "1-bit shift right"),
    "flip": ("CT_small.dcm", _pixels(lambda a: a[:, ::-1].copy()), "geometric", "flipped left-right"),
    "shift": ("CT_small.dcm", _pixels(lambda a: np.roll(a, 3, axis=0)), "geometric", "shifted by 3 rows"),
    "reordered_cine": ("emri_small.dcm", _pixels(lambda a: a[::-1].copy()), "frames", "another order"),
    "blanked_on_lossy": ("CT_small.dcm", lambda ds: _compressed(JPEG2000, j2k_cr=[10])(_pixels(_band)(ds)), "lossy",
                         "PSNR"),
    "other": ("CT_small.dcm", _pixels(_scrambled_block), "other", ""),
    "one_pixel": ("CT_small.dcm", _pixels(_one_pixel), "other", ""),  # one value, but nothing blanked
}


@pytest.mark.parametrize("case", CASES)
def test_each_kind_is_recognised_on_real_files(tree, case):
    test_file, edit, kind, said = CASES[case]
    test_file = _data(test_file) if test_file.startswith(("US1", "emri")) else test_file
    found, reason = _kind(tree, case, test_file, edit)
    assert found == kind, reason
    assert said in reason


def test_every_changed_pair_of_a_run_has_a_kind_in_the_csv_and_the_review_page(tree):
    for name in ("blanked", "flip", "inverted", "cropped"):
        test_file, edit, _, _ = CASES[name]
        tree.add(name, test_file, edit)
    tree.add("same", "CT_small.dcm")
    run = run_script(tree.config())
    changed = run.csv[run.csv.status == "changed"]
    assert dict(zip(changed.deid_file, changed.change_kind)) == {
        "blanked": "blanked", "flip": "geometric", "inverted": "inverted", "cropped": "cropped"}
    assert run.row("same").change_kind == ""
    review = (run.run_dir / "review.html").read_text()
    assert 'id="kind-filter"' in review and "geometric" in review


def test_display_attributes_that_differ_are_named_even_for_identical_values(tree):
    """MONOCHROME1 against MONOCHROME2 with the same values, a lossless file re-encoded lossy: named."""
    tree.add("inverted_display", "MR_small.dcm", lambda ds: _set(ds, PhotometricInterpretation="MONOCHROME1"))
    tree.add("lossy_syntax", "CT_small.dcm", _compressed(JPEG2000, j2k_cr=[10]))
    tree.add("same", "CT_small.dcm")
    results = {name: compare_pair(*(read_record(root / name, root) for root in (tree.deid, tree.source)))
               for name in ("inverted_display", "lossy_syntax", "same")}
    assert results["inverted_display"].status.value == "identical"
    assert results["inverted_display"].display_changes == "photometric_interpretation MONOCHROME2 -> MONOCHROME1"
    assert "transfer syntax lossless -> lossy" in results["lossy_syntax"].display_changes
    assert results["same"].display_changes == ""


def _set(ds, **values):
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def test_a_palette_removed_and_a_window_changed_are_named_for_identical_values(tree):
    def without_palette(ds):
        for keyword in ("RedPaletteColorLookupTableData", "GreenPaletteColorLookupTableData",
                        "BluePaletteColorLookupTableData"):
            delattr(ds, keyword)
        return ds

    tree.add("palette", "examples_palette.dcm", without_palette)
    tree.add("window", "CT_small.dcm", lambda ds: _set(ds, WindowCenter="40", WindowWidth="80"))
    results = {name: compare_pair(*(read_record(root / name, root, fast=True) for root in (tree.deid, tree.source)))
               for name in ("palette", "window")}
    assert results["palette"].status.value == "identical"
    assert results["palette"].display_changes == "RedPaletteColorLookupTableData removed"
    assert "WindowWidth" in results["window"].display_changes and "-> 80" in results["window"].display_changes
