"""The header check's fast path walks Explicit VR Little Endian headers in their bytes: on every real file of
pydicom, pydicom-data and deid-data it gives exactly the elements dicomsdl gives, and it declines (NotPlain) what
it is not sure of rather than guess."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from sampledata import TEST_FILES

from dicomimgcmp.read import elements
from dicomimgcmp.read.bytewalk import NotPlain
from dicomimgcmp.read.fastscan import dicomsdl_library


def _real_files() -> list[Path]:
    files = sorted(p for p in TEST_FILES.rglob("*") if p.is_file())
    for package in ("data_store", "deid_data"):
        try:
            files += sorted(p for p in (Path(__import__(package).__file__).parent / "data").rglob("*") if p.is_file())
        except ImportError:
            pass
    return files


def test_the_byte_walk_gives_what_dicomsdl_gives_on_every_real_file():
    sdl = dicomsdl_library()
    if sdl is None:
        pytest.skip("dicomsdl is not installed")
    walked = declined = 0
    for path in _real_files():
        head = elements.header_bytes(str(path))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dataset = sdl.open_memory(head, copy_data=False, load_until=elements._BEFORE_PIXEL_DATA)
            reference = elements._sdl_elements(dataset, "", elements._encoding_of(dataset), elements._vr_names(),
                                               None, [])
        except Exception:  # noqa: BLE001 - a file dicomsdl cannot read is pydicom's: not compared here
            continue
        try:
            found = elements._plain_elements(head, None)
        except NotPlain:
            declined += 1
            continue
        assert found == reference, path.name
        walked += 1
    assert walked > 100 and declined > 10, (walked, declined)  # both paths are exercised


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_a_header_cut_short_is_declined_not_guessed(cut):
    head = elements.header_bytes(str(TEST_FILES / "CT_small.dcm"))
    with pytest.raises(NotPlain):
        elements._plain_elements(head[:int(len(head) * cut)] + b"\x08\x00", None)
