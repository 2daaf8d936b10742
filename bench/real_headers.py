"""A benchmark corpus whose headers are real: the header stage measured on what archives hold.

Every pair's header is one of the real images of pydicom, pydicom-data and deid-data (GE, Siemens, Philips,
Toshiba, Agfa, Fuji...; CT, enhanced CT, MR, US, CR, DX, NM, SC, RT: sequences and private blocks kept), given
one of many patients (their own names, IDs, birth dates, institutions, stations, study dates and times) and
fresh UIDs, with a 64x64 image so that headers dominate. The de-identified copy is what dicognito (its Python
API, one anonymizer for the run, as a site would run it) makes of it; pixels are untouched.

    python bench/bench_imgcmp.py --real-headers --pairs 10000            # multiT, 2 workers
    python bench/bench_imgcmp.py --real-headers --pairs 10000 --header-check off
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np

PATIENTS = 200
_FAMILY = ("KOWALCZYK", "BRAITHWAITE", "OYELARAN", "NAKAMURA", "FITZGERALD", "DUBOIS", "ANDERSSON", "MORALES",
           "OKONKWO", "HALVORSEN", "PETROVA", "SILVA", "MACLEOD", "ROSSI", "YILDIZ", "NGUYEN", "SCHMIDT", "KAPOOR")
_GIVEN = ("ANNA", "HUGO", "TEMI", "KENJI", "MAEVE", "LUC", "INGRID", "JAVIER", "CHIDI", "SIGRID", "OLGA", "RUI")
_SITES = ("St Elsewhere General Hospital", "Mercy Northfield Clinic", "Lakeside Imaging Centre",
          "Hopital Saint-Antoine Est", "Karolinska Norra Bilddiagnostik", "Riverside University Medical Center")


def template_files() -> list[Path]:
    """The real images whose headers the corpus uses: every file of pydicom's, pydicom-data's and deid-data's
    that pydicom reads with a SOPInstanceUID and pixel data (listed directly: nothing is downloaded)."""
    import pydicom

    roots = [Path(pydicom.__file__).parent / "data" / "test_files"]
    for package in ("data_store", "deid_data"):
        try:
            module = __import__(package)
            roots.append(Path(module.__file__).parent / "data")
        except ImportError:
            pass
    found = []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ds = pydicom.dcmread(path, stop_before_pixels=True)
            except Exception:  # noqa: BLE001 - not a file the corpus can use
                continue
            if "SOPInstanceUID" in ds and "Rows" in ds and "SOPClassUID" in ds and ds.get("Modality"):
                found.append(path)
    return found


def _templates() -> list:
    """The templates' headers with a 64x64 16-bit grey image in place of theirs."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    out = []
    for path in template_files():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in ("NumberOfFrames", "PlanarConfiguration", "PixelPaddingValue", "RedPaletteColorLookupTableData",
                        "GreenPaletteColorLookupTableData", "BluePaletteColorLookupTableData", "FloatPixelData",
                        "DoubleFloatPixelData", "PerFrameFunctionalGroupsSequence", "LossyImageCompression"):
            ds.pop(keyword, None)
        for tag in [t for t in ds.keys() if t.group & 0xFF00 == 0x6000]:  # overlays belong to their image
            del ds[tag]
        ds.file_meta = FileMetaDataset(getattr(ds, "file_meta", FileMetaDataset()))
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.Rows = ds.Columns = 64
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = bytes(64 * 64 * 2)
        ds["PixelData"].VR = "OW"
        try:
            ds.save_as(os.devnull, enforce_file_format=True)  # a header pydicom cannot write is left out
        except Exception:  # noqa: BLE001 - the corpus takes the headers it can write
            continue
        out.append(ds)
    return out


def _patient(k: int) -> dict[str, str]:
    rng = np.random.default_rng(k)
    family, given = _FAMILY[k % len(_FAMILY)], _GIVEN[(k // len(_FAMILY)) % len(_GIVEN)]
    return {"PatientName": f"{family}^{given}^{chr(65 + k % 26)}", "PatientID": f"MRN{700000 + 37 * k}",
            "PatientBirthDate": f"{1930 + k % 70}{1 + k % 12:02d}{1 + k % 28:02d}",
            "InstitutionName": _SITES[k % len(_SITES)], "StationName": f"SCAN{k % 40:02d}",
            "StudyDate": f"{2015 + k % 9}{1 + (k * 7) % 12:02d}{1 + (k * 5) % 28:02d}",
            "StudyTime": f"{8 + k % 10:02d}{int(rng.integers(60)):02d}{int(rng.integers(60)):02d}",
            "AccessionNumber": f"ACC{900000 + k}", "ReferringPhysicianName": f"{_FAMILY[(k + 5) % len(_FAMILY)]}^DR"}


def make_real_header_corpus(root: Path, pairs: int) -> Path:
    """Write (or reuse) the corpus of ``pairs`` pairs under ``root``; returns its folder."""
    folder = root / f"realhdr_{pairs}p"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    with warnings.catch_warnings():  # dicognito writes hashes into UIs that pydicom warns about
        warnings.simplefilter("ignore")
        templates = _write_pairs(folder, pairs)
    os.sync()
    (folder / "done").write_text(json.dumps({"pairs": pairs, "templates": templates, "patients": PATIENTS}))
    return folder


def _write_pairs(folder: Path, pairs: int) -> int:
    """Write the pairs and the mapping; returns the number of real headers used."""
    from dicognito.anonymizer import Anonymizer
    from pydicom.uid import generate_uid

    templates = _templates()
    anonymizer = Anonymizer(seed="bench")  # one run of the de-identifier: one pseudonym and shift per patient
    rng = np.random.default_rng(7)
    lines = ["id_old,id_new"]
    for i in range(pairs):
        k = i % PATIENTS
        ds = copy.deepcopy(templates[i % len(templates)])
        for keyword, value in _patient(k).items():
            setattr(ds, keyword, value)
        ds.StudyInstanceUID = generate_uid(entropy_srcs=["real", str(k)])
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=["real", str(k), str(i % len(templates))])
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["real", str(i)])
        ds.InstanceNumber = i
        ds.PixelData = rng.integers(0, 4096, (64, 64), dtype="<u2").tobytes()
        ds["PixelData"].VR = "OW"
        rel = Path(f"PAT{k:04d}", f"SER{i % len(templates):03d}", f"IM{i:06d}")
        _save(ds, folder / "source" / rel)
        anonymizer.anonymize(ds)
        _save(ds, folder / "deid" / rel)
        lines.append(f"{generate_uid(entropy_srcs=['real', str(i)])},{ds.SOPInstanceUID}")
    (folder / "map.csv").write_text("\n".join(lines) + "\n")
    return len(templates)


def _save(ds, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(path, enforce_file_format=True)
