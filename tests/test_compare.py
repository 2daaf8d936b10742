"""The comparison on real files: re-encodings are identical, every real change is found and measured."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import float_image
from pydicom.uid import RLELossless
from sampledata import TEST_FILES, decoded, load_source, save, with_pixels

from dicomimgcmp.compare.crop import locate_crop
from dicomimgcmp.compare.metrics import ssim
from dicomimgcmp.compare.pair import compare_pair
from dicomimgcmp.model import Status
from dicomimgcmp.read.record import read_record


def compare_files(tmp_path: Path, source_ds, deid_ds, tolerance: float = 0.0):
    src = read_record(save(source_ds, tmp_path / "src.dcm"), tmp_path)
    deid = read_record(save(deid_ds, tmp_path / "deid.dcm"), tmp_path)
    return compare_pair(deid, src, tolerance)


# The same pixel values stored in different encodings (pydicom's test files, checked against each other there).
REENCODED = [
    ("MR_small.dcm", "MR_small_RLE.dcm"),
    ("MR_small.dcm", "MR_small_bigendian.dcm"),
    ("MR_small.dcm", "MR_small_implicit.dcm"),
    ("MR_small.dcm", "MR_small_jp2klossless.dcm"),
    ("MR_small.dcm", "MR_small_jpeg_ls_lossless.dcm"),
    ("rtdose.dcm", "rtdose_rle.dcm"),
    ("rtdose.dcm", "rtdose_expb.dcm"),
    ("SC_rgb_rle.dcm", "SC_rgb_jpeg_gdcm.dcm"),
    ("SC_rgb_rle.dcm", "SC_rgb_gdcm_KY.dcm"),
    ("rtdose_1frame.dcm", "rtdose_rle_1frame.dcm"),
    ("liver_1frame.dcm", "liver_expb_1frame.dcm"),
    ("SC_rgb_small_odd.dcm", "SC_rgb_small_odd_big_endian.dcm"),
]


@pytest.mark.parametrize("source_name, deid_name", REENCODED)
def test_reencoded_identical_images_are_identical(source_name, deid_name):
    deid, source = read_record(TEST_FILES / deid_name, TEST_FILES), read_record(TEST_FILES / source_name, TEST_FILES)
    assert deid.format != source.format  # stored otherwise: decoded, never the byte fast path
    result = compare_pair(deid, source)
    assert result.status is Status.IDENTICAL, result.reason
    assert (result.changed_pixels, result.max_abs_diff, result.mse) == (0, 0, 0)


@pytest.mark.parametrize("name", ["image_dfl.dcm", "examples_jpeg2k.dcm", "JPGExtended.dcm", "693_J2KI.dcm",
                                  "SC_rgb_dcmtk_+eb+cy+np.dcm", "examples_palette.dcm",
                                  "SC_rgb_rle_16bit_2frame.dcm"])
def test_decompressed_copy_is_identical(tmp_path, name):
    src = load_source(name, name)
    assert compare_files(tmp_path, src, with_pixels(src, decoded(src))).status is Status.IDENTICAL


def test_one_pixel_changed_by_one_is_found(tmp_path):
    src = load_source("CT_small.dcm", "ct")
    arr = decoded(src).copy()
    arr[100, 37] += 1
    result = compare_files(tmp_path, src, with_pixels(src, arr))
    assert result.status is Status.CHANGED
    assert (result.changed_pixels, result.bbox, result.max_abs_diff) == (1, (100, 101, 37, 38), 1)
    assert result.changed_fraction == pytest.approx(1 / (128 * 128))
    assert result.mse == pytest.approx(1 / (128 * 128))


def test_no_wraparound_at_the_ends_of_the_type(tmp_path):
    src = load_source("SC_rgb_rle.dcm", "wrap")
    arr = decoded(src).copy()
    arr[0, 0] = (0, 0, 0)
    deid = arr.copy()
    deid[0, 0] = (255, 255, 255)
    result = compare_files(tmp_path, with_pixels(src, arr), with_pixels(src, deid))
    assert result.max_abs_diff == 255
    assert result.mse == pytest.approx(255 ** 2 * 3 / arr.size)


def test_tolerance_ignores_small_differences(tmp_path):
    src = load_source("CT_small.dcm", "tol")
    arr = decoded(src).copy()
    arr[10, 10] += 2
    arr[20, 20] += 5
    result = compare_files(tmp_path, src, with_pixels(src, arr), tolerance=2)
    assert (result.status, result.changed_pixels, result.bbox) == (Status.CHANGED, 1, (20, 21, 20, 21))


def test_one_channel_colour_change(tmp_path):
    src = load_source("SC_rgb_jpeg_gdcm.dcm", "rgb")
    arr = decoded(src).copy()
    arr[40:45, 50:52, 1] ^= 1  # green only, by one
    result = compare_files(tmp_path, src, with_pixels(src, arr))
    assert (result.status, result.changed_pixels, result.bbox) == (Status.CHANGED, 10, (40, 45, 50, 52))


def test_ybr_source_compares_with_its_rgb_copy(tmp_path):
    src = load_source("SC_ybr_full_422_uncompressed.dcm", "ybr")
    assert compare_files(tmp_path, src, with_pixels(src, decoded(src))).status is Status.IDENTICAL


def test_middle_frame_change_in_a_multiframe_colour_cine(tmp_path):
    src = load_source("examples_ybr_color.dcm", "cine")
    frames = decoded(src).copy()
    frames[12, 100:110, 200:230] ^= 0x80  # every value changes
    result = compare_files(tmp_path, src, with_pixels(src, frames))
    assert result.status is Status.CHANGED
    assert result.changed_frames == (12,) and result.shown_frame == 12
    assert result.bbox == (100, 110, 200, 230)
    assert result.changed_fraction == pytest.approx(300 / (30 * 240 * 320))


def test_crop_is_located_and_removed_rows_reported(tmp_path):
    src = load_source("examples_overlay.dcm", "crop")
    arr = decoded(src)
    deid = arr[20:280, 10:400].copy()
    deid[5, 5] += 1  # and one changed pixel inside the kept part: source (25, 15)
    result = compare_files(tmp_path, src, with_pixels(src, deid))
    assert result.status is Status.CHANGED
    assert (result.crop.row0, result.crop.col0) == (20, 10)
    assert "cropped: 300x484 -> 260x390" in result.reason
    assert result.bbox == (0, 300, 0, 484)
    removed = 300 * 484 - 260 * 390
    assert result.changed_pixels == removed + 1


def test_band_crop_box_is_the_band(tmp_path):
    src = load_source("MR_small.dcm", "band")
    result = compare_files(tmp_path, src, with_pixels(src, decoded(src)[:56].copy()))
    assert (result.bbox, result.changed_pixels, result.max_abs_diff) == ((56, 64, 0, 64), 8 * 64, 0)


def test_unrelated_shape_change_is_changed_without_pixel_metrics(tmp_path):
    ct, mr = load_source("CT_small.dcm", "a"), load_source("MR_small.dcm", "b")
    result = compare_files(tmp_path, mr, ct)  # 128x128 de-identified vs 64x64 source
    assert result.status is Status.CHANGED and "shape changed" in result.reason
    assert result.bbox == (0, 64, 0, 64) and result.mse is None


def test_frame_count_change_is_reported(tmp_path):
    src = load_source("rtdose.dcm", "frames")
    result = compare_files(tmp_path, src, with_pixels(src, decoded(src)[:14].copy()))
    assert result.status is Status.CHANGED and "frame count differs: source 15, de-identified 14" in result.reason
    assert result.changed_frames == (14,)


def test_undecodable_pixel_data_is_unreadable_with_the_decoder_message():
    # pydicom's JPEG-lossy.dcm has a malformed scan header that libjpeg refuses
    result = compare_pair(read_record(TEST_FILES / "JPEG-lossy.dcm", TEST_FILES),
                          read_record(TEST_FILES / "JPGExtended.dcm", TEST_FILES))
    assert result.status is Status.UNREADABLE
    assert "cannot decode pixel data" in result.reason and "misplaced marker" in result.reason


def test_locate_crop_returns_none_for_unrelated_images():
    rng = np.random.default_rng(0)
    assert locate_crop(rng.integers(0, 4000, (64, 64)), rng.integers(0, 4000, (32, 32))) is None


def test_rle_recompression_is_identical(tmp_path):
    src = load_source("CT_small.dcm", "rle")
    deid = load_source("CT_small.dcm", "rle")
    deid.compress(RLELossless, decoded(deid), generate_instance_uid=False)
    assert compare_files(tmp_path, src, deid).status is Status.IDENTICAL


skimage_metrics = pytest.importorskip("skimage.metrics")


@pytest.mark.parametrize("name, channel_axis", [("CT_small.dcm", None), ("examples_overlay.dcm", None),
                                                ("examples_rgb_color.dcm", -1), ("JPGExtended.dcm", None)])
def test_ssim_matches_scikit_image(name, channel_axis):
    src = load_source(name, "ssim")
    a = decoded(src)
    b = a.copy()
    rows, cols = a.shape[:2]
    b[rows // 4: rows // 2, cols // 3: cols // 2] //= 2  # a real-looking blanked/dimmed block
    data_range = float(2 ** int(src.BitsStored) - 1)
    expected = skimage_metrics.structural_similarity(a, b, data_range=data_range, channel_axis=channel_axis)
    assert ssim(a, b, data_range) == pytest.approx(expected, abs=1e-9)
    region = (rows // 4, rows // 2, cols // 3, cols // 2)  # the changed block: only its windows are computed
    assert ssim(a, b, data_range, region) == pytest.approx(expected, abs=1e-9)
    assert expected < 0.999  # the test image really differs


@pytest.mark.parametrize("box", [(0, 1, 0, 1), (63, 64, 0, 64), (30, 31, 62, 64), (0, 64, 0, 64)])
def test_ssim_of_a_region_at_the_border_matches_scikit_image(box):
    a = decoded(load_source("MR_small.dcm", "border"))
    b = a.copy()
    b[box[0]:box[1], box[2]:box[3]] += 100
    expected = skimage_metrics.structural_similarity(a, b, data_range=65535.0)
    assert ssim(a, b, 65535.0, box) == pytest.approx(expected, abs=1e-9)


def test_equal_stored_bytes_are_identical_without_decoding(tmp_path, monkeypatch):
    import dicomimgcmp.compare.pair as compare

    src = load_source("CT_small.dcm", "fast")
    deid = load_source("CT_small.dcm", "fast-deid")
    decoded_path = compare_files(tmp_path, src, deid)
    monkeypatch.setattr(compare, "iter_frames", lambda *a, **k: (_ for _ in ()).throw(AssertionError("decoded")))
    fast = compare_files(tmp_path, src, deid)
    assert fast.status is Status.IDENTICAL
    assert fast == decoded_path.replace(deid=fast.deid, source=fast.source)
    arr = decoded(src).copy()
    arr[1, 1] += 1
    with pytest.raises(AssertionError, match="decoded"):  # different bytes: decoded, never taken as identical
        compare_files(tmp_path, src, with_pixels(src, arr))


@pytest.mark.parametrize("tail", [None, bytes(8)])
def test_what_follows_the_pixel_data_is_no_pixel(tmp_path, monkeypatch, tail):
    # CT_small ends with Data Set Trailing Padding: de-identifiers remove it (X in the profile) or write their own
    import dicomimgcmp.compare.pair as compare

    src = load_source("CT_small.dcm", "tail")
    assert "DataSetTrailingPadding" in src
    deid = load_source("CT_small.dcm", "tail-deid")
    if tail is None:
        del deid.DataSetTrailingPadding
    else:
        deid.DataSetTrailingPadding = tail
    monkeypatch.setattr(compare, "iter_frames", lambda *a, **k: (_ for _ in ()).throw(AssertionError("decoded")))
    assert compare_files(tmp_path, src, deid).status is Status.IDENTICAL
    arr = decoded(src).copy()
    arr[-1, -1] += 1  # the last pixel, just before the tail: decoded, never taken as identical
    changed = with_pixels(src, arr)
    del changed.DataSetTrailingPadding
    with pytest.raises(AssertionError, match="decoded"):
        compare_files(tmp_path, src, changed)


def test_fast_path_needs_the_same_storage(tmp_path):
    from dicomimgcmp.compare.fastpath import same_stored_bytes

    src = load_source("MR_small.dcm", "fmt")
    same = read_record(save(load_source("MR_small.dcm", "fmt2"), tmp_path / "b.dcm"), tmp_path)
    signed_as_unsigned = load_source("MR_small.dcm", "fmt3", PixelRepresentation=0)
    other = read_record(save(signed_as_unsigned, tmp_path / "c.dcm"), tmp_path)
    first = read_record(save(src, tmp_path / "a.dcm"), tmp_path)
    assert same_stored_bytes(first, same)
    assert not same_stored_bytes(first, other)  # same bytes, other values: must be decoded


# --- wrong answers that must not happen -------------------------------------------------------------------------

def save_with_implicit_vr_data_set(ds, path: Path) -> Path:
    """Write ``ds`` with its explicit-VR transfer syntax in the file meta but its data set in implicit VR, as some
    writers in the wild do (pydicom then warns "Expected explicit VR, but found implicit VR")."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info

    body, meta = DicomBytesIO(), DicomBytesIO()
    body.is_little_endian = meta.is_little_endian = True
    body.is_implicit_VR, meta.is_implicit_VR = True, False
    write_dataset(body, ds)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    write_file_meta_info(meta, ds.file_meta, enforce_standard=True)
    path.write_bytes(bytes(128) + b"DICM" + meta.getvalue() + body.getvalue())
    return path


@pytest.mark.parametrize("name", ["CT_small.dcm", "JPGExtended.dcm", "MR_small_jp2klossless.dcm"])
def test_data_set_encoded_otherwise_than_its_transfer_syntax_is_decoded_from_the_data_set(tmp_path, name):
    src = load_source(name, "vr")
    good = read_record(save(src, tmp_path / "good.dcm"), tmp_path)
    odd = read_record(save_with_implicit_vr_data_set(src, tmp_path / "odd.dcm"), tmp_path)
    assert odd.format.encoding_mismatch and not good.format.encoding_mismatch
    result = compare_pair(odd, good)
    assert (result.status, result.changed_pixels) == (Status.IDENTICAL, 0), result.reason
    arr = decoded(src).copy()
    arr[(5,) * arr.ndim] += 1
    changed = compare_pair(odd, read_record(save(with_pixels(src, arr), tmp_path / "one.dcm"), tmp_path))
    assert (changed.status, changed.changed_pixels) == (Status.CHANGED, 1)


def test_pydicoms_own_mismatched_jpeg_is_compared():
    # SC_rgb_jpeg.dcm: JPEG Baseline in the file meta, an implicit VR data set; decoding by the transfer syntax
    # fails, so it used to be called unreadable
    rec = read_record(TEST_FILES / "SC_rgb_jpeg.dcm", TEST_FILES)
    assert rec.format.encoding_mismatch
    assert compare_pair(rec, rec).status is Status.IDENTICAL


def test_decoding_leaves_no_warning_filter_or_disabled_logger_behind(tmp_path):
    import logging
    import warnings

    src = load_source("MR_small_RLE.dcm", "quiet")
    arr = decoded(src).copy()
    arr[2, 2] += 1
    filters, logger = list(warnings.filters), logging.getLogger("pydicom")
    result = compare_files(tmp_path, src, with_pixels(src, arr))  # two frame generators side by side
    assert result.status is Status.CHANGED
    assert warnings.filters == filters
    assert not logger.disabled


def test_frame_count_change_leaves_metrics_empty_and_shows_a_common_frame(tmp_path):
    src = load_source("rtdose.dcm", "one-frame")
    result = compare_files(tmp_path, src, with_pixels(src, decoded(src)[:1].copy()))
    assert result.status is Status.CHANGED
    assert "frame count differs: source 15, de-identified 1" in result.reason
    assert (result.max_abs_diff, result.mse, result.psnr, result.ssim) == (None, None, None, None)
    assert result.shown_frame == 0 and result.changed_frames == tuple(range(1, 15))


def test_monochrome1_copy_is_compared_on_stored_values_and_said_so(tmp_path):
    src = load_source("CT_small.dcm", "mono1")
    deid = load_source("CT_small.dcm", "mono1", PhotometricInterpretation="MONOCHROME1")
    result = compare_files(tmp_path, src, deid)  # same stored values, other grey scale direction
    assert result.status is Status.IDENTICAL
    assert "PhotometricInterpretation differs: source MONOCHROME2, de-identified MONOCHROME1" in result.reason


def test_rescale_only_change_is_identical_and_the_reason_says_the_rescale_differs(tmp_path):
    src = load_source("CT_small.dcm", "rescale")
    deid = load_source("CT_small.dcm", "rescale", RescaleIntercept=-1000, RescaleSlope=2)
    result = compare_files(tmp_path, src, deid)
    assert result.status is Status.IDENTICAL  # stored values are compared
    assert "rescale differs: source slope 1 intercept -1024, de-identified slope 2 intercept -1000" in result.reason
    same = compare_files(tmp_path, src, load_source("CT_small.dcm", "rescale", RescaleIntercept="-1024.0"))
    assert same.reason == ""  # the same numbers written otherwise are the same rescale


@pytest.mark.parametrize("keyword", ["FloatPixelData", "DoubleFloatPixelData"])
def test_float_pixel_data_is_compared_exactly(tmp_path, keyword):
    src, values = float_image("CT_small.dcm", "float", keyword)
    deid, _ = float_image("CT_small.dcm", "float", keyword)
    result = compare_files(tmp_path, src, deid)
    assert result.status is Status.IDENTICAL and result.changed_pixels == 0
    changed_values = values.copy()
    changed_values[7, 9] += 0.5
    changed_values[8, 9] = np.nan
    deid = float_image("CT_small.dcm", "float", keyword)[0]
    setattr(deid, keyword, changed_values.tobytes())
    result = compare_files(tmp_path, src, deid)
    assert (result.status, result.changed_pixels, result.bbox) == (Status.CHANGED, 2, (7, 9, 9, 10))


def test_native_pixel_data_shorter_than_declared_is_unreadable_not_identical(tmp_path):
    src = load_source("CT_small.dcm", "short")
    for name in ("a.dcm", "b.dcm"):  # both cut the same way: equal bytes, in the same format
        path = save(src, tmp_path / name)
        path.write_bytes(path.read_bytes()[:-2000])
    result = compare_pair(read_record(tmp_path / "a.dcm", tmp_path), read_record(tmp_path / "b.dcm", tmp_path))
    assert result.status is Status.UNREADABLE and "cannot decode pixel data" in result.reason
