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


def _variants(path: Path, tmp_path: Path) -> list[bytes]:
    """Headers of one real file as a series holds them: the file, then copies with values of their own at the top
    level and inside a sequence item (longer and shorter), then the file again."""
    import pydicom

    ds = pydicom.dcmread(path, force=True)
    heads = [elements.header_bytes(str(path))]
    for k, (number, text) in enumerate([("7", "X"), ("1234", "A LONGER VALUE"), ("7", "X")]):
        ds.InstanceNumber = number
        for elem in ds.iterall():
            if elem.VR in ("LO", "SH", "CS") and elem.tag != 0x00080005 and not isinstance(elem.value, list):
                elem.value = text  # the first text element at any depth (inside an item when one comes first)
                break
        out = tmp_path / f"{path.name}.{k}"
        ds.save_as(out, enforce_file_format=False)
        heads.append(elements.header_bytes(str(out)))
    return [*heads, heads[0]]


def test_a_walk_that_remembers_gives_what_a_fresh_walk_gives(tmp_path):
    """The walk remembers elements and runs of them from header to header (a series' files repeat them): each
    header of a series walked after the others gives exactly what a walker that saw nothing gives it."""
    import functools

    from dicomimgcmp.read.bytewalk import Walker

    def fresh() -> Walker:
        return Walker(lambda tag, vr: elements._read(tag, vr, None), elements._known_vr, elements.tag_text,
                      functools.partial(elements._element, encoding="latin-1"))

    remembering, series, taken = fresh(), 0, 0
    for path in _real_files():
        try:
            heads = _variants(path, tmp_path)
            fresh().walk(heads[0])
        except Exception:  # noqa: BLE001 - not a file this walk reads, or pydicom cannot write it again
            continue
        for head in heads:
            try:
                expected = fresh().walk(head)
            except NotPlain:
                continue
            assert remembering.walk(head) == expected, path.name
        taken += sum(len(elems) for _, elems in remembering.runs.values())
        series += 1
        if series == 40:
            break
    assert series == 40 and taken > 1000, (series, taken)  # runs were remembered, and so given whole
