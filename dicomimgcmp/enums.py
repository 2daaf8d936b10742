"""The enumerated values modules exchange: each set of words defined once, compared by name, not as strings.

String enums: a value is its word (``PageMode.PER_GROUP == "per_group"``), so configs, JSON and the store hold
the same text as before.
"""

from __future__ import annotations

import enum

#: Photometric interpretations are pydicom's enum (``pydicom.pixels.common.PhotometricInterpretation``), imported
#: where images are read: this module is imported by the command line, which starts without pydicom.
__all__ = ["ChangeKind", "ExecutorKind", "HeaderMode", "Mode", "NeedleKind", "OutputAccess", "PageMode",
           "Placement", "RecipeVerdict", "ReviewDecision", "SetFinding", "SetMode", "Side", "Status", "TextMode",
           "Word"]


class Word(str, enum.Enum):
    """An enumerated word: printed and formatted as its value (the word users read and configs hold)."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Status(Word):
    """The one outcome each de-identified (or unpaired source) file ends with."""

    IDENTICAL = "identical"
    CHANGED = "changed"
    NO_PIXEL_DATA = "no_pixel_data"
    UNMAPPED = "unmapped"
    MISSING_PRE = "missing_pre"
    DUPLICATE_UID = "duplicate_uid"
    UNREADABLE = "unreadable"
    SOURCE_ONLY = "source_only"

    @property
    def compared(self) -> bool:
        """Whether the pair's pixel values were compared (its checks then apply)."""
        return self in (Status.IDENTICAL, Status.CHANGED)


class ChangeKind(Word):
    """CSV column ``change_kind``: what kind of change a changed pair received (:mod:`.compare.kinds`), in the
    order they are tried (first match wins)."""

    BLANKED = "blanked"
    CROPPED = "cropped"
    LOSSY = "lossy"
    COLOUR_SPACE = "colour_space"
    INVERTED = "inverted"
    RESCALED = "rescaled"
    GEOMETRIC = "geometric"
    FRAMES = "frames"
    OTHER = "other"


class RecipeVerdict(Word):
    """CSV column ``recipe_verdict``: were the pixels changed exactly where the recipe says (config ``recipe``)?
    Listed from the worst: the order the report lists them in."""

    MISSED_REGION = "missed_region"
    CHANGED_OUTSIDE = "changed_outside"
    NOT_IN_RECIPE = "not_in_recipe"
    RULE_FLAGS_ONLY = "rule_flags_only"
    AS_RECIPE = "as_recipe"

    @property
    def fails(self) -> bool:
        """Whether the pixels were not changed as the recipe says (a flag for a person is not a failure)."""
        return self in (RecipeVerdict.MISSED_REGION, RecipeVerdict.CHANGED_OUTSIDE, RecipeVerdict.NOT_IN_RECIPE)


class PageMode(Word):
    """Config key ``pages``: a PDF page per changed image, or per change group."""

    ALL = "all"
    PER_GROUP = "per_group"


class TextMode(Word):
    """Config key ``text_check``: which de-identified images the text check reads."""

    OFF = "off"
    CHANGED = "changed"
    ALL = "all"


class HeaderMode(Word):
    """Config key ``header_check``: whether the source's identity values are looked for in the whole
    de-identified file."""

    ON = "on"
    OFF = "off"


class SetMode(Word):
    """Config key ``set_check``: whether the run is judged as one set (UIDs, references, pseudonyms, date
    shifts: :mod:`.run.store.set_check`)."""

    ON = "on"
    OFF = "off"


class SetFinding(Word):
    """What the set judgement finds on a pair (CSV column ``set_findings``)."""

    UID_SPLIT = "uid_split"  # one source UID of an attribute became several new ones: the pairs not given the usual
    UID_MERGED = "uid_merged"  # several source UIDs of an attribute became one: every pair involved
    UID_DANGLING = "uid_dangling"  # a reference to a source file not remapped to that file's new SOPInstanceUID
    PATIENT_SPLIT = "patient_split"  # one source PatientID became several: the pairs not given the usual one
    PATIENT_MERGED = "patient_merged"  # several source PatientIDs became one: every pair involved
    SHIFT_DIFFERS = "shift_differs"  # a date shift other than the usual one of the source patient


class NeedleKind(Word):
    """How a source identity value is matched in the de-identified file (:mod:`.checks.header_identity`)."""

    WORDS = "words"  # as a run of whole words of an element's text
    NAME_PART = "name_part"  # a name's component alone: the same, where the source's element held it too
    WHOLE = "whole"  # an identifier that is a plain word: only as an element's whole value
    DATE = "date"  # a date in its DICOM form (YYYYMMDD), also glued to a time or to text
    UID = "uid"  # as a whole value


class OutputAccess(Word):
    """Config key ``output_access``: who may read what a run writes (:mod:`.base.access`)."""

    OWNER = "owner"
    GROUP = "group"

    @property
    def dir_mode(self) -> int:
        return 0o700 if self is OutputAccess.OWNER else 0o750

    @property
    def file_mode(self) -> int:
        return 0o600 if self is OutputAccess.OWNER else 0o640

    @property
    def umask(self) -> int:
        return 0o077 if self is OutputAccess.OWNER else 0o027


class ExecutorKind(Word):
    """Config key ``executor``: where the work runs."""

    LOCAL = "local"
    DASK = "dask"


class Placement(Word):
    """The classifier's status of one source file, in its plan and in ``classifier_report.csv``."""

    PLANNED = "planned"  # to be placed under its own name (only seen in a dry run)
    RENAMED = "renamed"  # to be / was placed with a _N suffix: another file has the name
    COPIED = "copied"
    MOVED = "moved"
    LINKED = "linked"
    DUPLICATE_SKIPPED = "duplicate_skipped"
    NOT_DICOM = "not_dicom"
    UNREADABLE = "unreadable"

    @property
    def to_place(self) -> bool:
        return self in (Placement.PLANNED, Placement.RENAMED)


class Mode(Word):
    """The classifier's ``--mode``: what happens to each source file."""

    COPY = "copy"
    MOVE = "move"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"

    @property
    def done(self) -> Placement:
        """What a file this mode acted on became."""
        return {Mode.COPY: Placement.COPIED, Mode.MOVE: Placement.MOVED}.get(self, Placement.LINKED)


class ReviewDecision(Word):
    """A reviewer's decision on a change group in review.html (carried over through ``review_decisions``)."""

    ACCEPT = "accept"
    REJECT = "reject"
    NOTE_ONLY = ""  # a note without a decision


class Side(enum.IntEnum):
    """The two trees of a run: the de-identified files and their sources (0 and 1 in the store)."""

    DEID = 0
    SOURCE = 1
