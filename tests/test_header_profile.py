"""The header judged against the standard's confidentiality profile: real images de-identified by a Basic Profile
implementation written here with pydicom (Table E.1-1 read from the generated table, options applied as the
standard says), clean with and without declared options; each fault planted alone is found at its path."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pikepdf
import pytest
from conftest import run_script
from helpers import page_text, source_with_identity
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID_dictionary, generate_uid
from sampledata import save

from dicomimgcmp.checks.header_profile import judge
from dicomimgcmp.checks.profile import ATTRIBUTES, REPEATING
from dicomimgcmp.checks.profile_options import OPTIONS
from dicomimgcmp.read.dicomfile import quiet_pydicom
from dicomimgcmp.read.elements import Header

FILES = ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "rtdose_1frame.dcm", "examples_overlay.dcm")


def _action(tag: int, options: tuple[str, ...]) -> str:
    """The standard's action: an option's K, then its C, then the Basic Profile's; K for a tag not listed."""
    entry = ATTRIBUTES.get(tag) or next((e for (mask, value), e in REPEATING.items() if tag & mask == value), None)
    if entry is None:
        return "K"
    asked = [entry.options.get(OPTIONS[name].column) for name in options]
    return "K" if "K" in asked else "C" if "C" in asked else entry.basic


def basic_profile(ds: Dataset, options: tuple[str, ...] = ()) -> Dataset:
    """A de-identified copy: private elements removed; X (and any combination with X) removed, Z emptied, D a
    dummy, U a new UID, C and K kept; the markers set, the options declared."""
    out = copy.deepcopy(ds)
    out.remove_private_tags()

    def callback(dataset: Dataset, elem) -> None:
        action = _action(int(elem.tag), options)
        if action in ("K", "C"):
            return
        if "X" in action:
            del dataset[elem.tag]
        elif action.startswith("U") and elem.VR == "UI" and str(elem.value) not in UID_dictionary:
            elem.value = generate_uid(entropy_srcs=["basic", str(elem.value)])
        elif action.startswith("Z") or elem.VR in ("SQ", "UI"):
            elem.value = [] if elem.VR == "SQ" else ""
        elif action.startswith("D"):
            elem.value = {"DA": "19000101", "DT": "19000101", "TM": "000000", "PN": "DUMMY"}.get(elem.VR, "DUMMY")

    with quiet_pydicom():
        out.walk(callback)
    out.PatientIdentityRemoved = "YES"
    out.DeidentificationMethod = "test basic profile"
    out.DeidentificationMethodCodeSequence = Sequence([_code(OPTIONS[name].code) for name in ("basic", *options)])
    return out


def _code(value: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", "option"
    return item


def _judged(tmp_path: Path, src: Dataset, deid: Dataset, configured: tuple[str, ...] = ()) -> tuple[str, ...]:
    save(src, tmp_path / "src.dcm")
    deid.save_as(tmp_path / "deid.dcm", enforce_file_format=False)
    files = [str(tmp_path / name) for name in ("deid.dcm", "src.dcm")]
    deid_elements, source_elements = (Header(f).elements() for f in files)
    return judge(deid_elements, source_elements, configured).findings


@pytest.mark.parametrize("options", [(), ("retain_device_identity", "retain_patient_characteristics")])
@pytest.mark.parametrize("name", FILES)
def test_a_basic_profile_deidentification_has_no_finding(tmp_path, name, options):
    src = source_with_identity(name, name, DeviceSerialNumber="SN-4471", PatientAge="057Y", PatientSex="F")
    assert _judged(tmp_path, src, basic_profile(src, options)) == ()


def _keep_institution(deid, src):
    deid.InstitutionName = src.InstitutionName


def _keep_in_item(deid, src):
    item = Dataset()
    item.PatientID, item.TypeOfPatientID = src.OtherPatientIDsSequence[0].PatientID, "TEXT"
    deid.OtherPatientIDsSequence = Sequence([item])


def _remove_modality(deid, src):
    del deid.Modality


def _alter_thickness(deid, src):
    deid.SliceThickness = "9.5"


def _leave_private(deid, src):
    deid.private_block(0x0011, "ACME 1.0", create=True).add_new(0x10, "LO", "kept")


def _remove_marker(deid, src):
    del deid.PatientIdentityRemoved


def _keep_trial_site(deid, src):  # group 0012 holds the markers and the clinical trial attributes
    deid.ClinicalTrialSiteName = src.ClinicalTrialSiteName


def _declared_then_removed(deid, src):  # made with retain_device_identity declared, then the serial removed
    del deid.DeviceSerialNumber


def _keep_pregnancy(deid, src):  # a binary number (US) the Basic Profile removes
    deid.PregnancyStatus = src.PregnancyStatus


def _remove_matrix(deid, src):  # a binary number (US) the profile keeps
    del deid.AcquisitionMatrix


def _remove_nested_sequence(deid, src):  # inside an item the de-identified file keeps
    del deid.AnatomicRegionSequence[0].AnatomicRegionModifierSequence


FAULTS = {
    "kept": (_keep_institution, "kept:InstitutionName@(0008,0080)"),
    "kept_in_item": (_keep_in_item, "kept:PatientID@(0010,1002)[0]/(0010,0020)"),
    "lost": (_remove_modality, "lost:Modality@(0008,0060)"),
    "altered": (_alter_thickness, "altered:SliceThickness@(0018,0050)"),
    "private_kept": (_leave_private, "private_kept:(0011,1010)@(0011,1010)"),
    "marker_missing": (_remove_marker, "marker_missing:PatientIdentityRemoved@(0012,0062)"),
    "trial_site_kept": (_keep_trial_site, "kept:ClinicalTrialSiteName@(0012,0031)"),
    "option_declared": (_declared_then_removed, "lost:DeviceSerialNumber@(0018,1000)"),
    "binary_kept": (_keep_pregnancy, "kept:PregnancyStatus@(0010,21C0)"),
    "binary_lost": (_remove_matrix, "lost:AcquisitionMatrix@(0018,1310)"),
    "nested_sequence_lost": (_remove_nested_sequence, "lost:AnatomicRegionModifierSequence@(0008,2218)[0]/(0008,2220)"),
}


def _code_item(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "SCT", meaning
    return item


def _sequences_kept() -> dict[str, Sequence]:
    """Sequences the profile keeps: one whose items hold binary values only (tags), one holding another."""
    index = Dataset()
    index.DimensionIndexPointer, index.FunctionalGroupPointer = 0x00200032, 0x00209113
    index.DimensionOrganizationUID = "1.2.826.0.1.3680043.8.498.77"
    region = _code_item("818981001", "Abdomen")
    region.AnatomicRegionModifierSequence = Sequence([_code_item("7771000", "Left")])
    return {"DimensionIndexSequence": Sequence([index]), "AnatomicRegionSequence": Sequence([region])}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_planted_fault_is_found_at_its_path(tmp_path, fault):
    other = Dataset()
    other.PatientID, other.TypeOfPatientID = "MRN-0099172", "TEXT"
    src = source_with_identity("CT_small.dcm", fault, DeviceSerialNumber="SN-4471", SliceThickness="5.0",
                               OtherPatientIDsSequence=Sequence([other]), ClinicalTrialSiteName="Site 7 Leeds",
                               PregnancyStatus=4, AcquisitionMatrix=[0, 256, 256, 0], **_sequences_kept())
    plant, expected = FAULTS[fault]
    deid = basic_profile(src, ("retain_device_identity",) if fault == "option_declared" else ())
    plant(deid, src)
    assert _judged(tmp_path, src, deid) == (expected,)


def test_configured_options_override_the_declared_and_the_csv_says_which(tree):
    """A file that keeps its device serial number and declares retain_device_identity: no finding as declared; a
    finding when the config names the Basic Profile alone; nothing with the judgement off. The CSV names the
    options and where they came from."""
    src = source_with_identity("CT_small.dcm", "device", DeviceSerialNumber="SN-4471")
    deid = basic_profile(src, ("retain_device_identity",))
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        tree.mapping[str(src[keyword].value)] = str(deid[keyword].value)
    save(src, tree.source / "device")
    tree.deid.mkdir(parents=True)
    deid.save_as(tree.deid / "device", enforce_file_format=False)
    run = run_script(tree.config())  # auto by default
    assert run.row("device").profile == "basic+retain_device_identity (declared)"
    assert run.row("device").profile_findings == ""
    configured = run_script(tree.config(run_name="configured", profile="basic"))
    assert configured.row("device").profile == "basic (configured)"
    # the device identity the option kept: the serial number and CT_small's station name
    assert configured.row("device").profile_findings == \
        "kept:DeviceSerialNumber@(0018,1000);kept:StationName@(0008,1010)"
    assert "PROFILE NOT FOLLOWED: 1 file (CSV column profile_findings)" in configured.proc.stdout
    assert "Profile followed: 0 files" in run.proc.stdout
    with pikepdf.open(configured.run_dir / "comparison_results.pdf") as pdf:
        summary = page_text(pdf, 0)
    assert "Confidentiality Profile not followed: 1 file" in summary
    assert "kept   DeviceSerialNumber: X/Z/D, kept" in summary
    actions = pd.read_csv(configured.run_dir / "header_actions.csv", dtype=str, keep_default_na=False)
    assert list(actions.columns) == ["attribute", "expected", "observed", "files", "finding"]
    row = actions[actions.attribute == "DeviceSerialNumber"].iloc[0]
    assert (row.expected, row.observed, row.files, row.finding) == ("X/Z/D", "kept", "1", "kept")
    assert ("PatientName", "emptied") in set(zip(actions.attribute, actions.observed))
    assert "CodeValue" not in set(actions.attribute)  # the markers' code items are not attributes added
    assert ("SOPInstanceUID", "new UID", "") in set(zip(actions.attribute, actions.observed, actions.finding))
    assert not (run.run_dir.parent / "off" / "header_actions.csv").exists()
    review = (configured.run_dir / "review.html").read_text()
    assert 'id="profile-table"' in review and "<td>DeviceSerialNumber</td>" in review
    alone = run_script(tree.config(run_name="alone", profile="basic", header_check="off"))  # its own walks
    assert alone.row("device").profile_findings == configured.row("device").profile_findings
    off = run_script(tree.config(run_name="off", profile="off"))
    assert off.row("device").profile == off.row("device").profile_findings == ""


def test_a_placeholder_date_is_replaced_not_shifted_and_a_missing_marker_is_missing(tmp_path):
    """dicom-anonymizer writes 00010101 for a date: a dummy, not a shift; a marker the source never had is
    missing, not removed (header_actions.csv's observed action)."""
    src = source_with_identity("CT_small.dcm", "placeholder", StudyDate="20190304", SeriesDate="20190304")
    deid = basic_profile(src)
    deid.StudyDate, deid.SeriesDate = "00010101", "20170514"
    del deid.PatientIdentityRemoved
    save(src, tmp_path / "src.dcm")
    deid.save_as(tmp_path / "deid.dcm", enforce_file_format=False)
    files = [str(tmp_path / name) for name in ("deid.dcm", "src.dcm")]
    actions = judge(*(Header(f).elements() for f in files), ()).actions.split("\n")
    assert "StudyDate\tZ\treplaced\t" in actions and "SeriesDate\tX/D\tshifted\t" in actions
    assert "PatientIdentityRemoved\tmarker\tmissing\tmarker_missing" in actions


def test_a_sequence_left_without_items_is_emptied_and_lost(tmp_path):
    """header_actions.csv tells a sequence removed from one left there empty."""
    src = source_with_identity("CT_small.dcm", "emptied", **_sequences_kept())
    deid = basic_profile(src)
    deid.AnatomicRegionSequence = Sequence([])
    save(src, tmp_path / "src.dcm")
    deid.save_as(tmp_path / "deid.dcm", enforce_file_format=False)
    files = [str(tmp_path / name) for name in ("deid.dcm", "src.dcm")]
    judged = judge(*(Header(f).elements() for f in files), ())
    assert judged.findings == ("lost:AnatomicRegionSequence@(0008,2218)",)
    assert "AnatomicRegionSequence\tK\temptied\tlost" in judged.actions.split("\n")


def test_a_sequence_whose_items_keep_binary_values_only_is_not_lost(tmp_path):
    """dicom-anonymizer removes DimensionOrganizationUID (U) from DimensionIndexSequence's items: what is left are
    tags (AT), and the sequence is there."""
    src = source_with_identity("CT_small.dcm", "binary items", **_sequences_kept())
    deid = basic_profile(src)
    del deid.DimensionIndexSequence[0].DimensionOrganizationUID
    assert _judged(tmp_path, src, deid) == ()


#: Five of Table E.3.10-1's safe private attributes that CT_small.dcm's GE blocks hold: table speed, mid scan
#: time, rotation speed (GEMS_ACQU_01), images in series (GEMS_SERS_01), scan pitch ratio (GEMS_PARM_01).
_SAFE_IN_CT_SMALL = ((0x0019, "GEMS_ACQU_01", 0x23), (0x0019, "GEMS_ACQU_01", 0x24), (0x0019, "GEMS_ACQU_01", 0x27),
                     (0x0025, "GEMS_SERS_01", 0x07), (0x0043, "GEMS_PARM_01", 0x27))


@pytest.mark.parametrize("declared", [True, False])
def test_retain_safe_private_spares_the_standards_safe_private_attributes_only(tmp_path, declared):
    """Declared Retain Safe Private, the safe private attributes kept are no finding (and are kept as expected in
    the actions); a private element the table does not list still is. Without the option, every one is."""
    src = source_with_identity("CT_small.dcm", "safe private")
    deid = basic_profile(src, ("retain_safe_private",) if declared else ())  # every private element removed
    for group, creator, element in _SAFE_IN_CT_SMALL:
        kept = src.private_block(group, creator)[element]
        deid.private_block(group, creator, create=True).add_new(element, kept.VR, kept.value)
    deid.private_block(0x0011, "ACME 1.0", create=True).add_new(0x10, "LO", "kept")
    found = _judged(tmp_path, src, deid)
    safe = {f"private_kept:({group:04X},10{element:02X})@({group:04X},10{element:02X})"
            for group, _creator, element in _SAFE_IN_CT_SMALL}
    assert set(found) == {"private_kept:(0011,1010)@(0011,1010)"} | (set() if declared else safe)


def _signed(src: Dataset) -> Dataset:
    """``src`` with a digital signature, which follows the pixel data in the file: the signer's certificate names a
    person of the source's (its patient here)."""
    signature = Dataset()
    signature.MACIDNumber, signature.CertificateType = 1, "X509_1993_SIG"
    signature.DigitalSignatureUID = "1.2.826.0.1.3680043.8.498.4471"
    signature.DigitalSignatureDateTime = "20190304101502"
    signature.CertificateOfSigner = b"\x30\x82\x01\x0a CN=Anna Maria Kowalczyk, O=Leeds General \x00\x01"
    out = copy.deepcopy(src)
    out.DigitalSignaturesSequence = Sequence([signature])
    out.DataSetTrailingPadding = bytes(16)
    return out


@pytest.mark.parametrize("name", ["CT_small.dcm", "JPEG2000.dcm"])  # pixel data of a defined length; encapsulated
def test_a_digital_signature_after_the_pixel_data_is_judged_and_searched(tmp_path, name):
    """Elements after the pixel data are read (DigitalSignaturesSequence, DataSetTrailingPadding: the profile
    removes both): a signature kept is found, its values at their paths, the certificate's name as identity."""
    from dicomimgcmp.checks.header_identity import identity_found

    src = _signed(source_with_identity(name, "signed"))
    kept = basic_profile(src)
    kept.DigitalSignaturesSequence = copy.deepcopy(src.DigitalSignaturesSequence)
    assert _judged(tmp_path, src, kept) == (
        "kept:CertificateOfSigner@(FFFA,FFFA)[0]/(0400,0115)",
        "kept:DigitalSignatureDateTime@(FFFA,FFFA)[0]/(0400,0105)",
        "kept:DigitalSignatureUID@(FFFA,FFFA)[0]/(0400,0100)")
    assert "PatientName@(FFFA,FFFA)[0]/(0400,0115)" in identity_found((str(tmp_path / "deid.dcm"), None),
                                                                       (str(tmp_path / "src.dcm"), None))
    assert _judged(tmp_path, src, basic_profile(src)) == ()  # removed: no finding


def test_a_private_element_left_empty_is_a_finding_and_a_line_of_actions(tmp_path):
    """Every private element the de-identified file holds is private_kept, with a value or without, and
    header_actions.csv counts it as the CSV does (a new-user trial found empty ones in the CSV only)."""
    src = source_with_identity("CT_small.dcm", "empty private")
    deid = basic_profile(src)
    deid.private_block(0x0011, "ACME 1.0", create=True).add_new(0x10, "LO", "")
    save(src, tmp_path / "src.dcm")
    deid.save_as(tmp_path / "deid.dcm", enforce_file_format=False)
    judged = judge(*(Header(str(tmp_path / name)).elements() for name in ("deid.dcm", "src.dcm")), ())
    assert judged.findings == ("private_kept:(0011,1010)@(0011,1010)",)
    assert "(0011,xx10) ACME 1.0\tX\tkept\tprivate_kept" in judged.actions.split("\n")


def test_what_the_judgement_remembers_does_not_grow_with_each_files_own_blobs():
    """A vendor's private blob (a CSA header) and a long text differ in every file of an archive: judging them is
    never remembered, so a worker's memory stays flat (3,000 such files held 277 MB before)."""
    from dicomimgcmp.checks import header_profile
    from dicomimgcmp.read.elements import Element

    def pair(k: int) -> list[Element]:
        return [Element("(0008,0060)", 0x00080060, "CS", ("CT",)),
                Element("(0020,4000)", 0x00204000, "LT", (f"image {k} " + "x" * 2000,)),
                Element("(0029,0010)", 0x00290010, "LO", ("SIEMENS CSA HEADER",)),
                Element("(0029,1010)", 0x00291010, "OB", tuple(f"run {k} {n} " + "y" * 20 for n in range(100)))]

    judge(pair(0), pair(0), ())
    before = header_profile._judged_element.cache_info().currsize
    for k in range(1, 50):
        assert "kept:ImageComments@(0020,4000)" in judge(pair(k), pair(k), ()).findings
    assert header_profile._judged_element.cache_info().currsize == before
