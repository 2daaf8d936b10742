#!/usr/bin/env python3
"""Regenerate ``examples/sample/``: a small de-identification sample made from pydicom's real test files.

    python examples/make_sample.py

Writes ``source/`` (before de-identification), ``deid/`` (new UIDs, pseudonymous patients, a few real pixel
changes among identical and re-encoded images) and ``uid_mapping.csv``. What each file should come out as is
listed in ``expected_status.csv``, which the tests check the shipped sample against.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pydicom.uid import RLELossless

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]
from sampledata import decoded, deidentify, load_source, save, with_pixels, write_mapping  # noqa: E402

OUT = Path(__file__).resolve().parent / "sample"


def build(out: Path = OUT) -> None:
    """Write the sample tree under ``out`` (replacing an earlier one)."""
    shutil.rmtree(out, ignore_errors=True)
    src_root, deid_root, mapping, expected = out / "source", out / "deid", {}, []

    def pair(name, test_file, folder, change=None, *, mapped=True, source_written=True, status, **attrs):
        src = load_source(test_file, name, PatientID=attrs.pop("patient", "PAT001"), **attrs)
        deid = deidentify(src, name, mapping if mapped else {})
        if change is not None:
            deid = change(deid)
        if source_written:
            save(src, src_root / folder / name)
        save(deid, deid_root / folder / name)
        expected.append((f"{folder}/{name}", status))
        if source_written and not mapped:
            expected.append((f"(source) {folder}/{name}", "source_only"))

    # identical, including images the de-identification re-encoded
    pair("IM0001", "CT_small.dcm", "PAT001/CT", status="identical", SeriesDescription="HEAD CT")
    pair("IM0002.dcm", "MR_small_jp2klossless.dcm", "PAT001/MR",
         lambda ds: with_pixels(ds, decoded(ds)), status="identical", SeriesDescription="T1 (J2K -> raw)")
    pair("IM0003.dcm", "MR_small_bigendian.dcm", "PAT001/MR",
         lambda ds: with_pixels(ds, decoded(ds)), status="identical", SeriesDescription="T1 (big -> little endian)")
    pair("IM0004.dcm", "MR_small_jpeg_ls_lossless.dcm", "PAT001/MR", _to_rle, status="identical",
         SeriesDescription="T1 (JPEG-LS -> RLE)")
    pair("US0001", "examples_ybr_color.dcm", "PAT002/US", status="identical", patient="PAT002")
    # real pixel changes
    pair("CT0001.dcm", "693_J2KI.dcm", "PAT003/CT", _blank_band, status="changed", patient="PAT003",
         SeriesDescription="burned-in name blanked")
    pair("MR0001.dcm", "examples_overlay.dcm", "PAT003/MR", _crop_top, status="changed", patient="PAT003",
         SeriesDescription="annotation band cropped")
    pair("RTDOSE1.dcm", "rtdose.dcm", "PAT004/RT", _one_pixel_middle_frame, status="changed", patient="PAT004")
    pair("SC0001.dcm", "SC_rgb_rle.dcm", "PAT004/SC", _red_box, status="changed", patient="PAT004")
    # files that cannot be compared
    pair("RTPLAN1.dcm", "rtplan.dcm", "PAT004/RT", status="no_pixel_data", patient="PAT004")
    pair("MR9999.dcm", "MR_small.dcm", "PAT005/MR", mapped=False, status="unmapped", patient="PAT005")
    pair("MR9998.dcm", "MR_small_RLE.dcm", "PAT005/MR", source_written=False, status="missing_pre",
         patient="PAT005")
    only = load_source("rtdose_1frame.dcm", "source-only", PatientID="PAT004")
    save(only, src_root / "PAT004/RT/RTDOSE9.dcm")
    expected.append(("(source) PAT004/RT/RTDOSE9.dcm", "source_only"))
    (deid_root / "PAT005" / "notes.txt").write_text("Transfer notes: not a DICOM file.\n")
    expected.append(("PAT005/notes.txt", "unreadable"))

    write_mapping(out / "uid_mapping.csv", mapping)
    lines = ["file,status"] + [f"{f},{s}" for f, s in sorted(expected)]
    (out / "expected_status.csv").write_text("\n".join(lines) + "\n")


def _to_rle(ds):
    ds.compress(RLELossless, decoded(ds), generate_instance_uid=False)
    return ds


def _blank_band(ds):
    """A burned-in name blanked: rows 200:224, columns 130:330 set to the image minimum."""
    arr = decoded(ds).copy()
    arr[200:224, 130:330] = arr.min()
    return with_pixels(ds, arr)


def _crop_top(ds):
    """An annotation band cropped: the top 30 rows removed."""
    return with_pixels(ds, decoded(ds)[30:].copy())


def _one_pixel_middle_frame(ds):
    """Frame 7 of 15: one pixel (row 4, column 6) raised by 1."""
    arr = decoded(ds).copy()
    arr[7, 4, 6] += 1
    return with_pixels(ds, arr)


def _red_box(ds):
    """Only the red channel changed, in rows 10:20, columns 60:90."""
    arr = decoded(ds).copy()
    arr[10:20, 60:90, 0] = 0
    return with_pixels(ds, arr)


if __name__ == "__main__":
    build()
    print(f"sample written to {OUT}")
