"""The header check on real headers: pydicom's and pydicom-data's files de-identified by a cleaner made of pydicom's
own functions (private tags removed, every attribute of the Confidentiality Profile removed, person names
blanked, UIDs replaced through a mapping, dates removed) give no finding; each fault planted on top of it is found
where it was planted; the date shift is measured and a patient whose shifts differ is listed."""

from __future__ import annotations

from pathlib import Path

import pikepdf
import pydicom
import pytest
from conftest import run_script
from helpers import INSTITUTION, clean, id_in_private, page_text, pair_cleaned, source_with_identity
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from sampledata import TEST_FILES

from dicomimgcmp.checks.header_identity import identity_found
from dicomimgcmp.read.dicomfile import quiet_pydicom


def _real_files() -> list[Path]:
    files = sorted(TEST_FILES.glob("*.dcm"))
    try:
        import data_store  # pydicom-data's package

        files += sorted((Path(data_store.__file__).parent / "data").rglob("*.dcm"))
    except ImportError:
        pass
    return files


@pytest.mark.parametrize("path", _real_files(), ids=lambda p: p.name)
def test_a_clean_deidentification_has_no_finding(path, tmp_path):
    with quiet_pydicom():
        try:
            ds = pydicom.dcmread(path, force=True)
            if "SOPClassUID" not in ds and "PatientName" not in ds:
                pytest.skip("no header to de-identify (a fragment or a DICOMDIR-like file)")
            cleaned = clean(ds, {})
            cleaned.save_as(tmp_path / "deid.dcm", enforce_file_format=False)
        except Exception as exc:  # noqa: BLE001 - files pydicom cannot rewrite are not this test's subject
            pytest.skip(f"pydicom cannot rewrite it: {type(exc).__name__}")
    assert identity_found((str(tmp_path / "deid.dcm"), None), (str(path), None)) == ()


def _name_in_sequence(deid, src):
    item = Dataset()
    item.PatientName = src.PatientName
    deid.ReferencedPatientSequence = Sequence([Dataset(), item])


def _study_in_references(deid, src):
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    item.ReferencedSOPInstanceUID = src.StudyInstanceUID
    deid.ReferencedStudySequence = Sequence([item])


def _birth_in_comments(deid, src):
    deid.PatientComments = "follow-up; born 24-MAY-1962, seen twice"


def _institution_in_un(deid, src):
    deid.add_new(0x00131010, "UN", b"\x01\x00" + INSTITUTION.encode() + b"\x00")


def _short_and_anonymous(deid, src):
    deid.OperatorsName = "AB"
    deid.ImageComments = "ANONYMOUS"
    deid.PatientBirthDate = src.PatientBirthDate  # a placeholder date (the source's): not identity


FAULTS = {
    "name_in_sequence": (_name_in_sequence, {"PatientName@(0008,1120)[1]/(0010,0010)"}),
    "id_in_private": (id_in_private, {"PatientID@(0011,1010)"}),
    "study_in_references": (_study_in_references, {"StudyInstanceUID@(0008,1110)[0]/(0008,1155)"}),
    "birth_in_comments": (_birth_in_comments, {"PatientBirthDate@(0010,4000)"}),
    "institution_in_un": (_institution_in_un, {"InstitutionName@(0013,1010)"}),
}


def test_each_planted_fault_is_found_where_it_was_planted(tree):
    for k, (name, (plant, _)) in enumerate(FAULTS.items()):
        pair_cleaned(tree, name, source_with_identity("CT_small.dcm", f"fault-{k}", OperatorsName="AB^CD"), plant)
    pair_cleaned(tree, "clean", source_with_identity("MR_small.dcm", "clean"))
    pair_cleaned(tree, "short_and_anonymous", source_with_identity("MR_small.dcm", "short", OperatorsName="AB",
                                                                    PatientBirthDate="19000101"), _short_and_anonymous)
    run = run_script(tree.config())
    for name, (_, expected) in FAULTS.items():
        assert set(run.row(name).header_identity.split(";")) == expected, name
    assert run.row("clean").header_identity == run.row("short_and_anonymous").header_identity == ""
    assert f"IDENTITY FOUND IN HEADERS: {len(FAULTS)} files" in run.proc.stdout
    review = (run.run_dir / "review.html").read_text()
    assert 'id="header-filter"' in review and "PatientBirthDate" in review
    off = run_script(tree.config(header_check="off", run_name="off"))
    assert set(off.csv.header_identity) == {""} and "HEADERS" not in off.proc.stdout


def test_date_shifts_are_measured_and_a_patient_with_two_shifts_is_listed(tree):
    for k, (study_date, shifted) in enumerate((("20200110", "20200201"), ("20200310", "20200402"),
                                               ("20210505", "20210601"))):
        src = source_with_identity("CT_small.dcm", f"shift-{k}", StudyDate=study_date,
                      **({"PatientID": "OTHER-PATIENT"} if k == 2 else {}))

        def plant(deid, _src, shifted=shifted):
            deid.StudyDate = shifted
        pair_cleaned(tree, f"s{k}", src, plant)
    run = run_script(tree.config())
    assert [run.row(f"s{k}").date_shift_days for k in range(3)] == ["22", "23", "27"]
    assert "DATE SHIFTS DIFFER within 1 patient: PID-778812: 22,23 days" in run.proc.stdout


def test_uids_the_mapping_keeps_may_stay_and_others_are_found(tree):
    """A de-identifier that retains UIDs (the profile's option) lists them in the mapping as themselves: the
    study UID it keeps is no finding, in its own element or in a reference; the series UID it was to replace is."""
    src = source_with_identity("CT_small.dcm", "keeps-study")

    def keep_study(deid, src):
        deid.StudyInstanceUID = src.StudyInstanceUID
        _study_in_references(deid, src)
        deid.add_new(0x00081250, "SQ", Sequence([Dataset()]))  # RelatedSeriesSequence
        deid[0x00081250].value[0].SeriesInstanceUID = src.SeriesInstanceUID
    pair_cleaned(tree, "keeps_study", src, keep_study)
    tree.mapping[str(src.StudyInstanceUID)] = str(src.StudyInstanceUID)
    run = run_script(tree.config())
    assert run.row("keeps_study").header_identity == "SeriesInstanceUID@(0008,1250)[0]/(0020,000E)"


def test_one_offset_of_hours_is_one_shift_whether_or_not_a_file_has_a_time(tree):
    """dicognito shifts by hours: -658.5 days moves 20190304 18:50:59 to 20170515 06:50:59 and a date without
    its time, 20190304, to 20170514 (-659 days). One patient, one offset: no "shifts differ"; two studies shifted
    by offsets hours apart, both measured on date and time, do differ."""
    cases = {"timed": ("20190304", "185059", "20170515", "065059", "PID-1"),
             "untimed": ("20190304", "", "20170514", "", "PID-1"),
             "colon_time": ("20190304", "18:50:59", "20170515", "065059", "PID-1"),  # as before DICOM 3.0
             "other_a": ("20200101", "120000", "20180101", "000000", "PID-2"),
             "other_b": ("20200201", "120000", "20180201", "180000", "PID-2")}
    for name, (day, time, shifted_day, shifted_time, patient) in cases.items():
        src = source_with_identity("CT_small.dcm", name, StudyDate=day, StudyTime=time, PatientID=patient)

        def plant(deid, _src, shifted_day=shifted_day, shifted_time=shifted_time):
            deid.StudyDate, deid.StudyTime = shifted_day, shifted_time
        pair_cleaned(tree, name, src, plant)
    run = run_script(tree.config())
    assert [run.row(name).date_shift_days for name in cases] == ["-658.5", "-659", "-658.5", "-730.5", "-729.75"]
    assert "DATE SHIFTS DIFFER within 1 patient: PID-2" in run.proc.stdout


def _keep_serial(deid, src):
    deid.DeviceSerialNumber = src.DeviceSerialNumber


def _keep_name(deid, src):
    deid.PatientName = src.PatientName


def test_the_patients_own_identifiers_are_named_first_however_few_files_hold_them(tree):
    """A patient's name left in one file is named first in the console and the PDF summary, not lost among a
    device serial number that seven files keep (from a new-user trial: the summary listed places by file count)."""
    for k in range(7):
        src = source_with_identity("CT_small.dcm", f"serial-{k}", DeviceSerialNumber="SN-4471")
        pair_cleaned(tree, f"serial_{k}", src, _keep_serial)
    for k, plant in enumerate((_keep_name, lambda deid, src: None)):
        pair_cleaned(tree, f"name_{k}", source_with_identity("MR_small.dcm", f"name-{k}"), plant)
    run = run_script(tree.config())
    assert "  values of: PatientName (1 file), DeviceSerialNumber (7 files)" in run.proc.stdout
    with pikepdf.open(run.run_dir / "comparison_results.pdf") as pdf:
        summary = page_text(pdf, 0)
    assert summary.index("PatientName @ (0010,0010)") < summary.index("DeviceSerialNumber @ (0018,1000)")
    profile = summary[summary.index("Findings by attribute"):]  # the profile judgement's table, the same order
    assert profile.index("kept   PatientName") < profile.index("kept   DeviceSerialNumber")


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_a_name_part_is_found_where_the_source_held_it_whichever_file_comes_first(tmp_path, order):
    """What a series' files share is looked for once and remembered, but not where the source's element at the same
    place decides: two de-identified files hold the same description naming the patient's surname; in one the
    description came from the source (a leak), in the other the source's said something else (not this patient's
    name carried over). Each is judged on its own source, in either order."""
    pairs = []
    for k, description in enumerate(("SMITHSON follow-up", "Routine chest")):
        src = source_with_identity("CT_small.dcm", "name-part", PatientName="SMITHSON^JOHNATHAN",
                                   StudyDescription=description)
        deid = clean(src, {})
        deid.StudyDescription = "SMITHSON follow-up"
        for name, ds in (("src", src), ("deid", deid)):
            ds.save_as(tmp_path / f"{name}{k}.dcm", enforce_file_format=False)
        pairs.append(((str(tmp_path / f"deid{k}.dcm"), None), (str(tmp_path / f"src{k}.dcm"), None)))
    found = {k: identity_found(*pairs[k]) for k in order}
    assert found == {0: ("PatientName@(0008,1030)",), 1: ()}


@pytest.mark.parametrize("attribute, first", [("PatientName", True), ("OtherPatientIDs", True),
                                              ("PatientBirthDate", True), ("PatientSex", False),
                                              ("PatientWeight", False), ("PatientIdentityRemoved", False),
                                              ("PatientComments", False), ("DeviceSerialNumber", False)])
def test_only_the_patients_identifiers_are_listed_first(attribute, first):
    """The patient's own identifiers lead the summaries' tables; the patient's characteristics, the markers and
    descriptions do not (a third new-user trial found PatientSex and PatientIdentityRemoved listed first, above the
    markers every file lacked)."""
    from dicomimgcmp.checks.roles import names_the_patient

    assert names_the_patient(attribute) is first


def test_the_software_that_wrote_a_file_is_no_ones_identity(tmp_path):
    """A file meta's ImplementationClassUID names the software that wrote the file: a source whose
    InstanceCreatorUID is that software's UID (DCMTK writes its own there) leaks nothing when a de-identified
    file written by the same software holds it in its file meta."""
    dcmtk = "1.2.276.0.7230010.3.0.3.6.4"
    src = source_with_identity("CT_small.dcm", "writer", InstanceCreatorUID=dcmtk)
    deid = clean(src, {})
    assert deid.InstanceCreatorUID != dcmtk
    deid.file_meta.ImplementationClassUID = dcmtk
    for name, ds in (("src", src), ("deid", deid)):
        ds.save_as(tmp_path / f"{name}.dcm", enforce_file_format=True)
    assert pydicom.dcmread(tmp_path / "deid.dcm").file_meta.ImplementationClassUID == dcmtk
    assert identity_found((str(tmp_path / "deid.dcm"), None), (str(tmp_path / "src.dcm"), None)) == ()


def _found_after(tmp_path, src, edit) -> tuple[str, ...]:
    """The identity found in a copy of ``src`` de-identified by :func:`clean`, then edited."""
    deid = clean(src, {})
    edit(deid)
    for name, ds in (("src", src), ("deid", deid)):
        ds.save_as(tmp_path / f"{name}.dcm", enforce_file_format=False)
    return identity_found((str(tmp_path / "deid.dcm"), None), (str(tmp_path / "src.dcm"), None))


@pytest.mark.parametrize("written", ["US chest wall for Mary Zzzdowntime", "mary ANN zzzdowntime, follow-up"])
def test_a_name_written_given_name_first_is_found(tmp_path, written):
    src = source_with_identity("CT_small.dcm", "given-first", PatientName="ZZZDOWNTIME^MARY^ANN")
    found = _found_after(tmp_path, src, lambda deid: setattr(deid, "ImageComments", written))
    assert "PatientName@(0020,4000)" in found


def test_the_patients_name_held_also_in_a_private_element_is_named_patientname(tmp_path):
    # Philips and Siemens ultrasounds keep a copy of the name in (0033,1013), "Patient's Name Single Byte"
    src = source_with_identity("CT_small.dcm", "private-copy", PatientName="ZZZDOWNTIME^MARY")
    block = src.private_block(0x0033, "MITRA OBJECT UTF8 ATTRIBUTES 1.0", create=True)
    block.add_new(0x13, "PN", "ZZZDOWNTIME^MARY")
    found = _found_after(tmp_path, src, lambda deid: setattr(deid, "StudyDescription", "ZZZDOWNTIME MARY chest"))
    assert "PatientName@(0008,1030)" in found and not any(f.startswith("(0033,1013)@") for f in found)


def test_a_placeholder_kept_is_no_ones_identity(tmp_path):
    src = source_with_identity("CT_small.dcm", "placeholder", InstitutionName="*NO INFO NO INFO*      NO INFO",
                               StationName="Not connected", InstitutionalDepartmentName="N/A")

    def keep(deid):
        for keyword in ("InstitutionName", "StationName", "InstitutionalDepartmentName"):
            setattr(deid, keyword, src[keyword].value)

    assert _found_after(tmp_path, src, keep) == ()


@pytest.mark.parametrize("kept, found", [("204", True), ("  204 ", True), ("205", False)])
def test_a_short_patient_id_kept_at_its_place_is_found(tmp_path, kept, found):
    # too short to look for anywhere (a number of three digits is in every header), but the patient's own ID
    src = source_with_identity("CT_small.dcm", "short-id", PatientID="204")
    assert ("PatientID@(0010,0020)" in _found_after(tmp_path, src, lambda deid: setattr(deid, "PatientID", kept))) \
        == found


def test_the_count_of_files_with_findings_says_which_files_were_not_judged(tree):
    # an unmapped file and one cut inside its file meta: no source to search against, no header read
    pair_cleaned(tree, "a.dcm", source_with_identity("CT_small.dcm", "judged"))
    tree.add("unmapped.dcm", "MR_small.dcm", mapped=False)
    _src, cut = tree.add("cut.dcm", "MR_small.dcm")
    (tree.deid / "cut.dcm").write_bytes((tree.deid / "cut.dcm").read_bytes()[:200])
    run = run_script(tree.config(), multi=True)
    said = "; 2 de-identified files not judged (not paired, or not read)"
    lines = run.proc.stdout.splitlines()
    assert any(line.startswith("Identity found in headers: 0 files" + said) for line in lines), run.proc.stdout
    assert any(line.startswith("PROFILE NOT FOLLOWED: 1 file (CSV column profile_findings)" + said) for line in lines)
    assert "Identity found in headers: 0 files" + said in (run.run_dir / "review.html").read_text()
