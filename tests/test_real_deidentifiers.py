"""Right answers on what real de-identifiers write: pydicom's and pydicom-data's files de-identified by dicognito
(its Python API), deid (its default recipe, told to replace the UIDs so that its files can be paired) and
dicom-anonymizer, and the defects seen on their output: each test fails on the code before its mend."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pydicom
import pytest
from conftest import run_script
from helpers import source_with_identity
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid
from sampledata import save

from dicomimgcmp.checks.header_identity import identity_found
from dicomimgcmp.read.dicomfile import quiet_pydicom

dicognito = pytest.importorskip("dicognito.anonymizer", reason="dicognito is in requirements-test.txt")
dicomanonymizer = pytest.importorskip("dicomanonymizer", reason="dicom-anonymizer is in requirements-test.txt")

#: Files of several makers and encodings (JPEG, JPEG 2000, RLE, big endian, colour, overlay, multi-frame).
FILES = ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm", "ExplVR_BigEnd.dcm",
         "examples_overlay.dcm", "SC_rgb_rle.dcm", "rtdose_1frame.dcm")
#: What a patient's files hold beside the images: the identity a de-identifier must remove.
PATIENT = {"PatientName": "KOWALCZYK^ANNA^MARIA", "PatientID": "PID-778812", "PatientBirthDate": "19620524",
           "InstitutionName": "St Elsewhere General Hospital", "StationName": "CTSCAN07",
           "StudyDate": "20190304", "StudyTime": "101502"}


def _with_dicognito(ds: Dataset, _seed: str) -> Dataset:
    dicognito.Anonymizer(seed="one run").anonymize(ds)  # one Anonymizer per run: one seed, one shift
    return ds


def _with_anonymizer(ds: Dataset, _seed: str) -> Dataset:
    dicomanonymizer.anonymize_dataset(ds)
    return ds


def _tree(tree, tool, files=FILES, **attrs) -> None:
    """Sources made from ``files`` for one patient, de-identified by ``tool``; the mapping from the UIDs."""
    for k, name in enumerate(files):
        src = source_with_identity(name, f"{name}-{k}", **{**PATIENT, **attrs})
        src.SOPInstanceUID = generate_uid(entropy_srcs=["real", name])
        save(src, tree.source / name)
        with quiet_pydicom():
            deid = tool(copy.deepcopy(pydicom.dcmread(tree.source / name)), name)
            tree.mapping[str(src.SOPInstanceUID)] = str(deid.SOPInstanceUID)
            deid.save_as(tree.deid / name, enforce_file_format=False)  # as the tool wrote it


def _items(cell: str) -> list[str]:
    return [item for item in cell.split(";") if item]


def test_dicognito_output_gives_no_false_alarm_and_its_kept_leaks(tree):
    tree.deid.mkdir(parents=True)
    _tree(tree, _with_dicognito, StudyDescription="CT CHEST KOWALCZYK follow-up")
    run = run_script(tree.config())
    found = {item for cell in run.csv.header_identity for item in _items(cell)}
    attributes = {item.split("@")[0] for item in found}
    # dicognito keeps descriptions: the name typed into one is a leak, wherever the profile acts
    assert "PatientName@(0008,1030)" in found
    # what it keeps that identifies no one: characteristics, comments of the file's own making
    assert not attributes & {"PatientAge", "PatientSex", "PatientSize", "PatientWeight", "ImageComments",
                             "StudyComments", "StudyDescription"}
    # one patient, one offset of hours: one number in every row, no "shifts differ" anywhere
    shifts = set(run.csv[run.csv.status.isin(["identical", "changed"])].date_shift_days)
    assert len(shifts) == 1 and "" not in shifts
    assert "SHIFTS DIFFER" not in run.proc.stdout.upper()
    assert "shifts differ" not in (run.run_dir / "review.html").read_text().lower()


def test_dicom_anonymizer_placeholder_dates_are_no_shift(tree):
    tree.deid.mkdir(parents=True)
    _tree(tree, _with_anonymizer, files=FILES[:4])
    run = run_script(tree.config())
    assert set(run.csv.date_shift_days) == {""}
    assert "SHIFTS DIFFER" not in run.proc.stdout.upper()


def _recipe_with_uids(tmp_path: Path) -> Path:
    import deid

    text = (Path(deid.__file__).parent / "data" / "deid.dicom").read_text()
    lines = "".join(f"REPLACE {k} deid_func:pydicom_uuid\n" for k in ("SOPInstanceUID", "StudyInstanceUID",
                                                                     "SeriesInstanceUID"))
    path = tmp_path / "deid.dicom"
    path.write_text(text.replace("%header\n", "%header\n" + lines, 1))
    return path


def test_deid_default_recipe_output(tree, tmp_path):
    from deid.config import DeidRecipe
    from deid.dicom import replace_identifiers

    recipe = _recipe_with_uids(tmp_path)

    def with_deid(ds: Dataset, name: str) -> Dataset:
        return replace_identifiers(dicom_files=[str(tree.source / name)], deid=DeidRecipe(str(recipe)))[0]

    tree.deid.mkdir(parents=True)
    _tree(tree, with_deid, files=FILES[:5])
    run = run_script(tree.config())
    compared = run.csv[run.csv.status.isin(["identical", "changed"])]
    assert len(compared) == 5
    for cell in compared.header_identity:
        attributes = {item.split("@")[0] for item in _items(cell)}
        # deid's default recipe keeps the institution and the station: leaks, in every file
        assert {"InstitutionName", "StationName"} <= attributes
        assert "PatientAge" not in attributes and "ImageComments" not in attributes


def test_a_source_stored_with_vr_un_is_read_through_the_dictionary(tmp_path):
    data_store = pytest.importorskip("data_store", reason="pydicom-data is in requirements-test.txt")
    source = Path(data_store.__file__).parent / "data" / "explicit_VR-UN.dcm"
    raw = source.read_bytes()
    old = pydicom.dcmread(source, stop_before_pixels=True).SOPInstanceUID
    new = generate_uid(entropy_srcs=["un"])[:len(old)].ljust(len(old), "1")
    kept = tmp_path / "deid.dcm"  # a copy that keeps everything but its instance UID, still stored as UN
    kept.write_bytes(raw.replace(old.encode(), new.encode()))
    found = {item.split("@")[0] for item in identity_found((str(kept), None), (str(source), None))}
    assert {"PatientName", "PatientID", "InstitutionName", "StudyDate", "StudyInstanceUID"} <= found


def test_toolkit_file_meta_plain_words_and_others_names_are_not_identity(tree):
    def plant(deid, _src):
        deid.file_meta.ImplementationVersionName = "OFFIS_DCMTK_367"
        block = deid.private_block(0x0019, "SIEMENS MR HEADER", create=True)
        block.add_new(0x50, "UT", "<Protocol><Region>ABDOMEN</Region><Dept>RADIOLOGY</Dept></Protocol>")

    from helpers import pair_cleaned

    pair_cleaned(tree, "meta.dcm", source_with_identity("CT_small.dcm", "meta", InstitutionName="OFFIS",
                                                        BranchOfService="ABDOMEN",
                                                        InstitutionalDepartmentName="RADIOLOGY"), plant)

    def kept(deid, src):
        deid.InstitutionalDepartmentName = "RADIOLOGY"  # an ordinary word of its field: no identity on its own
        deid.AccessionNumber = src.AccessionNumber  # an identifier of letters only, kept: found
        deid.OtherPatientNames = "MCCARTY^PHIL^ANNA"  # a replaced name that shares the given name: someone else
        deid.AdditionalPatientHistory = "RIS COMMENTS- seen by SyngoWorkflow"  # a short component alone: a word
        # what a de-identifier makes up may hold a common surname: dicognito's institutions and operators
        deid.InstitutionName = "NANJING'S KOWALCZYK STREET CLINIC"
        deid.OperatorsName = "KOWALCZYK^DILLON^DAVE"
        deid.StudyDescription = "CT KOWALCZYK"  # cleaned of its date, the name carried over: found

    pair_cleaned(tree, "kept.dcm", source_with_identity("CT_small.dcm", "kept", AccessionNumber="QWERTYX",
                                                        InstitutionalDepartmentName="RADIOLOGY",
                                                        PerformingPhysicianName="Workflow^RIS^CCF",
                                                        StudyDescription="CT KOWALCZYK 2019-03-04"), kept)
    run = run_script(tree.config())
    assert run.row("meta.dcm").header_identity == ""
    assert run.row("kept.dcm").header_identity == "AccessionNumber@(0008,0050);PatientName@(0008,1030)"


def test_dates_glued_to_times_text_or_written_in_utf16_are_found(tree):
    def plant(deid, _src):
        block = deid.private_block(0x0029, "SIEMENS CSA HEADER", create=True)
        block.add_new(0x10, "LO", "20190304101502.000000")
        block.add_new(0x11, "LO", "20190304HDL10005Supria")
        block.add_new(0x12, "OB", "<Time>2019030410:15</Time>".encode("utf-16-le"))
        block.add_new(0x13, "LO", "120190304")  # inside a longer number: not a date
    from helpers import pair_cleaned

    pair_cleaned(tree, "glued.dcm", source_with_identity("CT_small.dcm", "glued", StudyDate="20190304",
                                                         AcquisitionDate="20190305", ContentDate="20190306"),
                 plant)
    run = run_script(tree.config())
    assert _items(run.row("glued.dcm").header_identity) == [
        "StudyDate@(0029,1010)", "StudyDate@(0029,1011)", "StudyDate@(0029,1012)"]


def test_a_deflated_data_set_is_searched(tree):
    from helpers import pair_cleaned

    def kept_name(deid, src):
        deid.PatientName = src.PatientName
        deid.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian

    pair_cleaned(tree, "deflated.dcm", source_with_identity("CT_small.dcm", "deflated"), kept_name)
    run = run_script(tree.config())
    assert run.row("deflated.dcm").header_identity == "PatientName@(0010,0010)"


def test_an_overlay_whose_data_was_removed_is_removed(tree):
    def drop_overlay_data(deid):
        del deid[0x60003000]
        return deid

    tree.add("overlay.dcm", "examples_overlay.dcm", drop_overlay_data)
    run = run_script(tree.config())
    row = run.row("overlay.dcm")
    assert row.status == "changed" and "overlay 6000 removed" in row.reason
    assert "overlay 6000" not in row.hidden_content and row.changed_pixels == "0"


def test_a_compressed_file_cut_short_is_unreadable(tree):
    for name in ("SC_rgb_jpeg_dcmtk.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm"):
        tree.add(name, name)
        data = (tree.deid / name).read_bytes()
        at = data.rfind(b"\xe0\x7f\x10\x00")  # the pixel data element
        (tree.deid / name).write_bytes(data[:at + (len(data) - at) // 2])  # cut in its frames
    run = run_script(tree.config())
    for name in ("SC_rgb_jpeg_dcmtk.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm"):
        row = run.row(name)
        assert row.status == "unreadable" and "cut short" in row.reason, (name, row.reason)


def test_an_empty_deidentified_tree_and_a_swapped_mapping_are_named(tree):
    tree.add("a.dcm", "CT_small.dcm")
    empty = tree.root / "empty"
    empty.mkdir()
    run = run_script(tree.config(input_data_path="empty", run_name="empty"))
    assert "input_data_path holds no readable DICOM file" in run.proc.stdout
    tree.mapping = {new: old for old, new in tree.mapping.items()}
    run = run_script(tree.config(run_name="swapped"))
    assert "id_old column, not id_new: the columns look swapped." in run.proc.stdout
    assert "headers" not in run.proc.stdout  # nothing was searched: no "0 files" to reassure
    shutil.rmtree(empty)


def test_the_header_table_counts_files_not_sequence_items(tree):
    from helpers import pair_cleaned
    from pydicom.sequence import Sequence

    def in_items(count):
        def plant(deid, src):
            items = [Dataset() for _ in range(count)]
            for item in items:
                item.PatientName = src.PatientName
            deid.ReferencedPatientSequence = Sequence(items)
        return plant

    pair_cleaned(tree, "three.dcm", source_with_identity("CT_small.dcm", "three"), in_items(3))
    pair_cleaned(tree, "one.dcm", source_with_identity("CT_small.dcm", "one"), in_items(1))
    run = run_script(tree.config())
    html = (run.run_dir / "review.html").read_text()
    assert ("<tr><td>PatientName</td><td><code>(0008,1120)[*]/(0010,0010)</code></td><td class=\"num\">2</td></tr>"
            in html)
