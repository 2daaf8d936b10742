"""Recognising DICOM by content, reading headers only, and reading the UID mapping as real exports write it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from sampledata import TEST_FILES, load_source, save

from dicomimgcmp.model import Pair, PairResult, Status
from dicomimgcmp.pairing.mapping import MappingFile
from dicomimgcmp.pairing.rules import pair_deid, settle_sources
from dicomimgcmp.read.dicomfile import looks_like_dicom
from dicomimgcmp.read.record import read_record
from dicomimgcmp.read.walk import iter_file_paths
from dicomimgcmp.run.store import DEID, SOURCE, RunState
from dicomimgcmp.run.store.rows import record_row


def test_every_bundled_image_is_indexed_with_pixel_data_and_non_dicom_is_not():
    records = {Path(p).name: read_record(p, TEST_FILES) for p in iter_file_paths(TEST_FILES)}
    for name in ("CT_small.dcm", "image_dfl.dcm", "examples_ybr_color.dcm", "rtdose_expb.dcm", "JPEG2000.dcm"):
        assert records[name].has_pixel_data and not records[name].error, name
    for name in ("rtplan.dcm", "test-SR.dcm", "waveform_ecg.dcm"):
        assert not records[name].has_pixel_data and not records[name].error, name
    for name in ("README.txt", "zipMR.gz", "test1.json", "crayons.icc"):
        assert records[name].error == "not a DICOM file", name
    assert records["examples_ybr_color.dcm"].format.frames == 30
    assert records["ExplVR_BigEndNoMeta.dcm"].sop_instance_uid  # no preamble, no file meta, big endian


def test_file_without_preamble_or_extension_is_dicom(tmp_path):
    ds = load_source("CT_small.dcm", "np")
    path = save(ds, tmp_path / "IMAGE")
    raw = path.read_bytes()
    bare = tmp_path / "bare"
    bare.write_bytes(raw[132:])  # drop preamble and DICM: starts with the group 0x0002 file meta
    assert looks_like_dicom(bare.read_bytes()[:132])
    rec = read_record(bare, tmp_path)
    assert rec.sop_instance_uid == ds.SOPInstanceUID and rec.has_pixel_data


def test_header_only_read_never_touches_pixel_data(tmp_path):
    path = save(load_source("MR_small.dcm", "cut"), tmp_path / "a.dcm")
    data = path.read_bytes()
    path.write_bytes(data[:-4000])  # pixel data truncated: the header is still fine
    rec = read_record(path, tmp_path)
    assert not rec.error and rec.has_pixel_data and rec.format.rows == 64


@pytest.mark.parametrize("content", [b"", b"DICM", b"hello world" * 30, bytes(132)])
def test_junk_is_not_dicom(tmp_path, content):
    path = tmp_path / "junk.dcm"
    path.write_bytes(content)
    assert read_record(path, tmp_path).error


def test_mapping_with_bom_crlf_and_spaces(tmp_path):
    path = tmp_path / "map.csv"
    path.write_bytes("\ufeff id_old , id_new ,other\r\n 1.2.3 , 9.8.7 ,x\r\n1.2.4,9.8.6,\r\n,9.9,\r\n".encode())
    assert {new: old for old, new in MappingFile(path)} == {"9.8.7": "1.2.3", "9.8.6": "1.2.4"}


def test_pairing_statuses(tmp_path):
    def rec(uid, name):
        ds = Dataset()
        ds.SOPInstanceUID = uid
        return read_record(save(_image(ds), tmp_path / name), tmp_path)

    deid = [rec("9.1", "a"), rec("9.2", "b"), rec("9.3", "c"), rec("9.4", "d1"), rec("9.4", "d2"), rec("1.5", "e"),
            rec("9.6", "f")]
    source = [rec("1.1", "s1"), rec("1.3", "s3"), rec("1.4", "s4"), rec("1.5", "s5"), rec("1.6", "s6a"),
              rec("1.6", "s6b")]
    mapping = MappingFile(_write(tmp_path / "m.csv", "id_old,id_new\n1.1,9.1\n1.2,9.2\n1.4,9.4\n1.6,9.6\n"))
    pairs, settled = _paired(tmp_path / "run", deid, source, mapping)
    # both de-identified copies of one UID are compared, each naming the other; an unchanged UID is paired
    assert [(p.deid.rel_path, p.source.rel_path, p.note) for p in pairs] == [
        ("a", "s1", ""),
        ("d1", "s4", "other de-identified files with this SOPInstanceUID: d2"),
        ("d2", "s4", "other de-identified files with this SOPInstanceUID: d1"),
        ("e", "s5", "paired by unchanged SOPInstanceUID (not an id_new of the mapping)")]
    status = {(r.deid or r.source).rel_path: r.status for r in settled}
    assert status == {"b": Status.MISSING_PRE, "c": Status.UNMAPPED, "f": Status.DUPLICATE_UID,
                      "s3": Status.SOURCE_ONLY, "s6a": Status.DUPLICATE_UID, "s6b": Status.DUPLICATE_UID}
    assert "s6a, s6b" in next(r.reason for r in settled if r.deid and r.deid.rel_path == "f")


def _paired(run_dir, deid, source, mapping) -> tuple[list[Pair], list[PairResult]]:
    """Pair as a run does: the records and the mapping in the run's store, pairing's questions answered by it a
    batch at a time, the source files settled once the pairs have used theirs."""
    with RunState(run_dir, {}) as state:
        state.load_mapping(mapping, "mapping")
        for tree, records in ((DEID, deid), (SOURCE, source)):
            state.save_records(tree, [record_row(rec) for rec in records])
        state.finish_records()
        outcomes = [o for batch in state.pairing_batches(DEID) for o in pair_deid(batch.records(), batch.lookups)]
        pairs = [o for o in outcomes if isinstance(o, Pair)]
        state.mark_used(pair.source.sop_instance_uid for pair in pairs)
        settled = [o for o in outcomes if isinstance(o, PairResult)]
        settled += [r for batch in state.pairing_batches(SOURCE)
                    for r in settle_sources(batch.records(), batch.lookups, batch.lookups.is_used)]
    return pairs, settled


def _image(ds: Dataset) -> Dataset:
    src = load_source("MR_small.dcm", "pairing")
    src.SOPInstanceUID = ds.SOPInstanceUID
    return src


def _write(path, text):
    path.write_text(text)
    return path


def test_each_file_is_yielded_once_whatever_names_it_has(tmp_path):
    import os

    tree, outside = tmp_path / "tree", tmp_path / "outside"
    for folder in (tree / "a", outside):
        folder.mkdir(parents=True)
    (tree / "a" / "one").write_bytes(b"1")
    (tree / "a" / "two").write_bytes(b"2")
    os.link(tree / "a" / "two", tree / "two_again")  # a hard link in the tree
    (tree / "to_one").symlink_to(tree / "a" / "one")  # a link to a file of the tree
    (outside / "far").write_bytes(b"3")
    (tree / "to_far").symlink_to(outside / "far")  # a link to a file outside: yielded under the link's name
    (tree / "loop").symlink_to(tree, target_is_directory=True)
    aliases: list = []
    found = sorted(Path(p).relative_to(tree).as_posix() for p in iter_file_paths(tree, aliases))
    assert found == ["a/one", "to_far", "two_again"]  # a folder's files before its folders: two_again is first
    assert sorted((p.name, q.name) for p, q in aliases) == [("to_one", "one"), ("two", "two_again")]
