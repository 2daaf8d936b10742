"""The run judged as one set: real images laid out as two patients, each with two studies and three series, one
image referring to another, de-identified consistently by dicognito (one Anonymizer: UIDs, pseudonyms and date
shifts consistent per patient); then one fault at a time, each flagged on exactly its pairs."""

from __future__ import annotations

import copy
import datetime

import pydicom
import pytest
from conftest import run_script
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid
from sampledata import load_source, save

from dicomimgcmp.read.dicomfile import quiet_pydicom

dicognito = pytest.importorskip("dicognito.anonymizer", reason="dicognito is in requirements-test.txt")

#: Per patient: study A with series s1 and s2 (3 CT images each), study B with series s3 (2 MR images).
SERIES = {"A/s1": ("CT_small.dcm", 3), "A/s2": ("CT_small.dcm", 3), "B/s3": ("MR_small.dcm", 2)}
PATIENTS = {"P1": ("KOWALCZYK^ANNA", "PID-1001", {"A": "20190304", "B": "20200611"}),
            "P2": ("NOWAK^JAN", "PID-2002", {"A": "20180102", "B": "20181224"})}
REFERRING = "P1/A/s2/i0.dcm"  # refers to P1/A/s1/i0.dcm (ReferencedImageSequence)


def _uid(*parts: str) -> str:
    return generate_uid(entropy_srcs=["set", *parts])


def _sources() -> dict[str, Dataset]:
    files = {}
    for patient, (name, patient_id, dates) in PATIENTS.items():
        for series, (test_file, count) in SERIES.items():
            study = series.split("/")[0]
            for k in range(count):
                path = f"{patient}/{series}/i{k}.dcm"
                files[path] = load_source(
                    test_file, path, PatientName=name, PatientID=patient_id, StudyDate=dates[study],
                    StudyTime="101502", SeriesDate=dates[study], StudyInstanceUID=_uid(patient, study),
                    SeriesInstanceUID=_uid(patient, series), SOPInstanceUID=_uid(path),
                    FrameOfReferenceUID=_uid(patient, study, "frame"), InstanceNumber=k + 1)
    item = Dataset()
    item.ReferencedSOPClassUID = files["P1/A/s1/i0.dcm"].SOPClassUID
    item.ReferencedSOPInstanceUID = files["P1/A/s1/i0.dcm"].SOPInstanceUID
    files[REFERRING].ReferencedImageSequence = Sequence([item])
    return files


def _consistent(tree) -> dict[str, Dataset]:
    """The sources saved, and their copies de-identified by one dicognito Anonymizer (not saved yet)."""
    anonymizer = dicognito.Anonymizer(seed="one set")
    deid = {}
    for path, src in _sources().items():
        save(src, tree.source / path)
        with quiet_pydicom():
            out = copy.deepcopy(pydicom.dcmread(tree.source / path))
            anonymizer.anonymize(out)
        tree.mapping[str(src.SOPInstanceUID)] = str(out.SOPInstanceUID)
        deid[path] = out
    return deid


def _save(tree, deid: dict[str, Dataset]) -> None:
    for path, ds in deid.items():
        (tree.deid / path).parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(tree.deid / path, enforce_file_format=False)  # as the tool wrote it


def _in(deid: dict[str, Dataset], prefix: str) -> list[str]:
    return [path for path in deid if path.startswith(prefix)]


def _series_split(deid):
    deid["P1/A/s1/i1.dcm"].SeriesInstanceUID = _uid("another series")
    return {"P1/A/s1/i1.dcm": "uid_split:SeriesInstanceUID@(0020,000E)"}


def _series_merged(deid):
    for path in _in(deid, "P2/A/s2/"):
        deid[path].SeriesInstanceUID = deid["P2/A/s1/i0.dcm"].SeriesInstanceUID
    return {path: "uid_merged:SeriesInstanceUID@(0020,000E)" for path in _in(deid, "P2/A/s")}


def _reference_not_remapped(deid):
    source_uid = _sources()["P1/A/s1/i0.dcm"].SOPInstanceUID
    deid[REFERRING].ReferencedImageSequence[0].ReferencedSOPInstanceUID = source_uid
    return {REFERRING: "uid_dangling:ReferencedSOPInstanceUID@(0008,1140)[0]/(0008,1155)"}


def _patient_split(deid):
    deid["P2/B/s3/i1.dcm"].PatientID = "ANON-OTHER"
    return {"P2/B/s3/i1.dcm": "patient_split:PatientID@(0010,0020)"}


def _patients_merged(deid):
    for path in _in(deid, "P2/"):
        deid[path].PatientID = deid["P1/A/s1/i0.dcm"].PatientID
    return {path: "patient_merged:PatientID@(0010,0020)" for path in deid}


def _study_shifted(deid):
    for path in _in(deid, "P1/B/"):
        for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
            if deid[path].get(keyword):
                day = datetime.datetime.strptime(deid[path].data_element(keyword).value, "%Y%m%d")
                setattr(deid[path], keyword, (day + datetime.timedelta(days=3)).strftime("%Y%m%d"))
    return {path: "shift_differs:StudyDate@(0008,0020)" for path in _in(deid, "P1/B/")}


FAULTS = {"none": lambda deid: {}, "series_split": _series_split, "series_merged": _series_merged,
          "reference_not_remapped": _reference_not_remapped, "patient_split": _patient_split,
          "patients_merged": _patients_merged, "study_shifted": _study_shifted}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_flagged_on_exactly_its_pairs(tree, fault):
    deid = _consistent(tree)
    expected = FAULTS[fault](deid)
    _save(tree, deid)
    run = run_script(tree.config(), multi=True)
    csv = run.csv
    found = {row.deid_file: row.set_findings for row in csv.itertuples() if row.set_findings}
    assert found == expected
    said = run.proc.stdout
    assert ("NOT CONSISTENT AS A SET" in said) == bool(expected)
    assert "not judged" not in said  # dicognito keeps a pseudonym and shifts every date
    review = (run.run_dir / "review.html").read_text()
    assert ("Not consistent as a set" if expected else "Consistent as a set: no finding") in review
    for item in expected.values():  # each group links to its files: the table filtered by finding and attribute
        assert f'data-filter="{item.split("@")[0]}@"' in review


def test_no_finding_says_what_could_not_be_judged(tree):
    """A de-identifier that removes the PatientID (or every date) leaves nothing to judge pseudonyms (or shifts)
    by: "no finding" must not reassure about what was not looked at."""
    deid = _consistent(tree)
    for path in _in(deid, "P2/"):
        del deid[path].PatientID
    _save(tree, deid)
    run = run_script(tree.config(), multi=True)
    said = "Consistent as a set: no finding (not judged: PatientIDs of 8 pairs (a side holds none))"
    assert said in run.proc.stdout
    assert said in (run.run_dir / "review.html").read_text()


def test_off_and_without_the_header_check_there_is_no_judgement(tree):
    deid = _consistent(tree)
    _series_split(deid)
    _save(tree, deid)
    for run_name, key in (("off", {"set_check": "off"}), ("no_header", {"header_check": "off"})):
        run = run_script(tree.config(run_name=run_name, **key), multi=True)
        assert (run.csv.set_findings == "").all()
        assert "as a set" not in run.proc.stdout


def test_a_judgement_stopped_midway_leaves_nothing_and_the_next_run_gives_the_same_csv(tree, monkeypatch):
    from dicomimgcmp.base.workers import local_workers
    from dicomimgcmp.config import load_config
    from dicomimgcmp.run import pipeline
    from dicomimgcmp.run.store import set_check

    deid = _consistent(tree)
    expected = _patients_merged(deid)
    _save(tree, deid)
    whole = run_script(tree.config(), multi=True)
    csv = (whole.run_dir / "comparison_summary.csv").read_bytes()
    (whole.run_dir / "comparison_summary.csv").unlink()
    monkeypatch.setattr(set_check, "_SHIFTS", ("SELECT no_such_column FROM rows",))  # fails after three findings
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    with local_workers(1) as workers, pytest.raises(Exception, match="no_such_column"):
        pipeline.run(load_config(tree.root / "config.json"), parts=2, workers=workers)
    assert not (whole.run_dir / "comparison_summary.csv").exists()
    monkeypatch.undo()
    again = run_script(tree.config(), multi=True)
    assert (again.run_dir / "comparison_summary.csv").read_bytes() == csv
    assert {row.deid_file for row in again.csv.itertuples() if row.set_findings} == set(expected)
