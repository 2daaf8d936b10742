"""What the header check makes of an attribute, from the confidentiality profile (PS3.15 Table E.1-1,
:mod:`.profile`): whether a source value of it identifies someone (it is looked for), and whether an element of
the de-identified file is a place where identity can be left (it is searched).

Identity: a value that points at a person, a site, a device or a date of care: person names, IDs, addresses,
institution, station and device names and numbers, dates, instance UIDs. Not identity on its own: what the
profile's options keep as characteristics of the patient (age, sex, size, weight...) and of groups of people
(branch of service, rank, religion), and what the Clean Descriptors Option cleans (descriptions, comments,
protocol names, free text): such text is searched for identity values, its own words are not identity.

Places: every element the profile acts on (kept unchanged or not), every private element, and any element whose
value is not the source's value at the same path. Not places: a public attribute outside the profile that holds
what the source's same element holds (Manufacturer, ImageType), and the file meta's elements other than UIDs,
which the de-identifier's own toolkit writes (ImplementationVersionName ``OFFIS_DCMTK_367``).
"""

from __future__ import annotations

import functools

from pydicom.datadict import keyword_for_tag, tag_for_keyword

from dicomimgcmp.checks.profile import ATTRIBUTES, REPEATING, SAFE_PRIVATE, Attribute
from dicomimgcmp.read.elements import REMEMBERED, tag_text

#: Attributes that describe a group of people, not one: identity only with other values (not in the profile's
#: Retain Patient Characteristics Option, but of its kind).
GROUP_CHARACTERISTICS = frozenset({"BranchOfService", "MilitaryRank", "PatientReligiousPreference"})
#: Attributes that name a kind of service: a value of one plain word ("RADIOLOGY") is an ordinary word of the
#: field, not a site; a longer value ("Radiology, St Mary's") is looked for.
KINDS_OF_SERVICE = frozenset({"InstitutionalDepartmentName", "RequestingService", "PerformedLocation",
                              "ScheduledStudyLocation"})
_CHARACTERISTIC_OPTION = "rtnPatCharsOpt"
_DESCRIPTOR_OPTION = "cleanDescOpt"


@functools.lru_cache(maxsize=8192)
def keyword(tag: int) -> str:
    """pydicom's keyword of a tag ("" for a private or unknown one), looked up once per tag."""
    return keyword_for_tag(tag)


@functools.lru_cache(maxsize=8192)
def profile_entry(tag: int) -> Attribute | None:
    """The attribute's row of Table E.1-1 (repeating groups by their mask), or None when the table lists none."""
    return ATTRIBUTES.get(tag) or next((e for (mask, value), e in REPEATING.items() if tag & mask == value), None)


@functools.lru_cache(maxsize=8192)
def attribute_name(tag: int) -> str:
    """How a finding names an attribute: its keyword, or "(gggg,eeee)" for a private or unknown tag."""
    return keyword(tag) or tag_text(tag)


def names_the_patient(attribute: str) -> bool:
    """Whether a source attribute identifies the patient directly (PatientName, PatientID, PatientBirthDate,
    OtherPatientIDs, PatientAddress...): what a report lists first, before device, site, date and UID findings.
    Not the patient's characteristics (PatientSex, PatientAge, PatientWeight...), descriptions (PatientComments)
    nor the markers (PatientIdentityRemoved): an identity attribute of the profile (:func:`text_is_identity`)."""
    return attribute.startswith(("Patient", "OtherPatient")) and text_is_identity(tag_for_keyword(attribute) or 0)


def is_private(tag: int) -> bool:
    return bool((tag >> 16) & 1)


def is_private_creator(tag: int) -> bool:
    """A private block's creator, (gggg,0010-00FF): it names the block, it holds no data."""
    return is_private(tag) and 0x0010 <= tag & 0xFFFF <= 0x00FF


def is_private_data(tag: int) -> bool:
    """A private data element, (gggg,xxee) with xx the block (not a creator nor a group length)."""
    return is_private(tag) and bool(tag & 0xFF00)


def segment_tag(segment: str) -> int:
    """The tag of a path's segment, "(gggg,eeee)" or "(gggg,eeee)[k]"."""
    return int(segment[1:5] + segment[6:10], 16)


def is_safe_private(segment: str, creator: str) -> bool:
    """Whether a private data element, a path's segment "(gggg,eeee)" in the block of ``creator``, is one of the
    standard's safe private attributes (Table E.3.10-1, kept under the Retain Safe Private Option)."""
    tag = segment_tag(segment)
    return (tag >> 16, creator, tag & 0xFF) in SAFE_PRIVATE


@functools.lru_cache(maxsize=REMEMBERED)  # paths repeat from file to file
def private_part(path: str) -> str:
    """The path to the first private data element on ``path`` (the element, or the private sequence it is in),
    "" when there is none; private creators (gggg,0010-00FF) are not private data elements."""
    segments = path.split("/")
    for k, segment in enumerate(segments):
        if is_private_data(segment_tag(segment)):
            return "/".join([*segments[:k], segment.split("[")[0]])
    return ""


@functools.lru_cache(maxsize=8192)
def text_is_identity(tag: int) -> bool:
    """Whether a source text value (not a name, date or UID) of this attribute identifies someone: a profile
    attribute that is neither a characteristic nor free text or a descriptor."""
    entry = profile_entry(tag)
    if entry is None or keyword(tag) in GROUP_CHARACTERISTICS:
        return False
    return entry.options.get(_CHARACTERISTIC_OPTION) != "K" and _DESCRIPTOR_OPTION not in entry.options


def plain_word_is_identity(tag: int) -> bool:
    """Whether a value of one plain word (letters only) of this identity attribute is identity on its own: an
    institution "NIH" or an accession number is; a department "RADIOLOGY" is not (:data:`KINDS_OF_SERVICE`)."""
    return keyword(tag) not in KINDS_OF_SERVICE


def date_is_identity(tag: int) -> bool:
    """Whether a source date (DA, DT) of this attribute is identity: every date but the versions of the
    standard's resources (ContextGroupVersion: a date the template was published, the same in every file)."""
    return not keyword(tag).endswith("Version")


_IMPLEMENTATION_CLASS_UID = 0x00020012


def is_place(tag: int, vr: str) -> bool:
    """Whether an element of the de-identified file is searched even when it holds its source's value (see the
    module's docstring). File meta elements other than UIDs are not places, and are never searched; nor is the
    ImplementationClassUID, the UID of the software that wrote the file (a source's InstanceCreatorUID may be the
    same software's)."""
    if tag >> 16 == 0x0002:
        return vr == "UI" and tag != _IMPLEMENTATION_CLASS_UID
    return is_private(tag) or profile_entry(tag) is not None

