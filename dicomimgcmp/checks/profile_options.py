"""The options of the confidentiality profile (PS3.15 E.3, CID 7050) by the names the config key ``profile``
takes: each one's code and its column in Table E.1-1 (:mod:`.profile`). Imports nothing: the config reads it."""

from __future__ import annotations

from typing import NamedTuple


class Option(NamedTuple):
    """An option of the profile: its code in CID 7050 and its column in Table E.1-1 ("" when it has none)."""

    code: str
    column: str


#: The options by the names the config key ``profile`` takes (CID 7050, 113100-113112).
OPTIONS: dict[str, Option] = {
    "basic": Option("113100", ""),
    "clean_pixel": Option("113101", ""),
    "clean_recognizable_visual_features": Option("113102", ""),
    "clean_graphics": Option("113103", "cleanGraphOpt"),
    "clean_structured_content": Option("113104", "cleanStructContOpt"),
    "clean_descriptors": Option("113105", "cleanDescOpt"),
    "retain_longitudinal_full_dates": Option("113106", "rtnLongFullDatesOpt"),
    "retain_longitudinal_modified_dates": Option("113107", "rtnLongModifDatesOpt"),
    "retain_patient_characteristics": Option("113108", "rtnPatCharsOpt"),
    "retain_device_identity": Option("113109", "rtnDevIdOpt"),
    "retain_uids": Option("113110", "rtnUIDsOpt"),
    "retain_safe_private": Option("113111", "rtnSafePrivOpt"),
    "retain_institution_identity": Option("113112", "rtnInstIdOpt"),
}
