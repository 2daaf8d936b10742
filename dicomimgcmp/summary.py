"""What a whole run found, as every output says it: the rows read back, the recipe verdicts and the header check
counted over the run, and whether anything was paired at all."""

from __future__ import annotations

from typing import Any, NamedTuple

from dicomimgcmp.enums import RecipeVerdict, SetFinding, Status

#: Said loudly by the console and every PDF when :func:`nothing_paired` (a wrong mapping file, most often).
NOTHING_PAIRED = "no de-identified file was paired with a source file"


class SummaryRow(NamedTuple):
    """A row of the summary as the report writes it: the cells of ``comparison_summary.csv`` (columns
    :data:`~.model.CSV_COLUMNS`) and the series its file belongs to (:attr:`~.model.PairResult.series_label`)."""

    cells: dict[str, Any]  # as read back from the store's JSON
    series: str


class RuleTally(NamedTuple):
    """A recipe rule's images in a run: how many it named, how many of them are as the recipe says, how many
    fail it (the others: flagged for a person)."""

    rule: str
    images: int
    as_recipe: int
    failing: int  # missed a region or changed outside them (:attr:`~.enums.RecipeVerdict.fails`)


class RecipeTally(NamedTuple):
    """The recipe verdicts of a run: pairs per verdict (every verdict listed, worst first) and per rule."""

    verdicts: dict[RecipeVerdict, int]
    rules: tuple[RuleTally, ...]

    @property
    def failing(self) -> int:
        return sum(n for verdict, n in self.verdicts.items() if verdict.fails)

    def counts_text(self) -> str:
        return ", ".join(f"{verdict} {n}" for verdict, n in self.verdicts.items() if n)


class HeaderTally(NamedTuple):
    """The header check over a run: files with findings; (source attribute, where found, files), the patient's own
    identifiers first (:func:`~.checks.roles.names_the_patient`), then most files first; the files' sets of
    findings, (findings as JSON, files), most files first, and how many sets there are in all; patients whose date
    shifts differ, (source PatientID, the shifts in days, comma-separated); (source attribute, files), in the
    table's order."""

    files: int
    table: tuple[tuple[str, str, int], ...]
    combinations: tuple[tuple[str, int], ...]
    combination_count: int
    shifts: tuple[tuple[str, str], ...]
    attributes: tuple[tuple[str, int], ...]
    unjudged: int = 0  # de-identified files not searched: not paired, or not read (:func:`unjudged_text`)


class ProfileTally(NamedTuple):
    """The profile judgement over a run: files with findings, and (finding, attribute, expected action, observed
    action, files), most files first (the rows of ``header_actions.csv`` that make a finding)."""

    files: int
    table: tuple[tuple[str, str, str, str, int], ...]
    unjudged: int = 0  # de-identified files not judged: not paired, or not read (:func:`unjudged_text`)


class SetGroup(NamedTuple):
    """A group of the set judgement's findings: one source UID split, one new UID merged, one place of dangling
    references, one patient split or shifted, one pseudonym merged."""

    finding: str  # a :class:`~.enums.SetFinding`
    key: str  # the attribute and its value, the place, or the patient
    match: str  # what its files' items start with ("uid_split:SeriesInstanceUID@"): review.html filters by it
    files: int  # pairs flagged
    total: int  # pairs of the group (split, shift: the UID's or the patient's; merged: every pair involved)
    detail: str  # how many values (split, merged), or the patient's usual shift in days

    def text(self) -> str:
        """The group in words, as the console, the PDF and review.html say it."""
        return _SET_GROUP_TEXT[SetFinding(self.finding)].format(**self._asdict(), files_n=counted(self.files, "file"),
                                                                 total_files=counted(self.total, "file"))


#: How a group of each set finding is said (fields of :class:`SetGroup`).
_SET_GROUP_TEXT = {
    SetFinding.UID_SPLIT: "{key} became {detail} different values: {files} of {total_files} with another than the "
                          "usual one",  # or with both: a copy in a sequence not remapped
    SetFinding.UID_MERGED: "{detail} source values became one, {key}: {files_n}",
    SetFinding.UID_DANGLING: "{key} not remapped to the file it refers to: {files_n}",
    SetFinding.PATIENT_SPLIT: "patient {key} given {detail} PatientIDs: {files} of {total_files} not given the "
                              "usual one",
    SetFinding.PATIENT_MERGED: "{detail} source patients given one PatientID, {key}: {files_n}",
    SetFinding.SHIFT_DIFFERS: "patient {key}: {files} of {total_files} shifted other than the usual {detail} days",
}


class SetTally(NamedTuple):
    """The set judgement over a run: pairs with findings, pairs per finding, and the groups of findings, most
    files first (the first :data:`~.run.store.set_check.GROUPS`), with how many groups there are in all; and how
    many pairs were judged, of which how many had a PatientID on both sides and a date shift measured (the others'
    pseudonyms and shifts could not be judged: a "no finding" says nothing of them)."""

    files: int
    counts: tuple[tuple[str, int], ...]
    groups: tuple[SetGroup, ...]
    group_count: int
    pairs: int = 0
    with_patient_ids: int = 0
    with_shifts: int = 0

    def headline(self, alarm: str = "Not consistent as a set") -> str:
        """The judgement in a line: ``alarm``, the files with findings and how many per finding; or none."""
        not_judged = self._not_judged()
        if not self.files:
            return "Consistent as a set: no finding" + (f" ({not_judged})" if not_judged else "")
        counts = ", ".join(f"{finding} {n}" for finding, n in self.counts)
        return f"{alarm}: {counted(self.files, 'file')} ({counts}; CSV column set_findings)" + \
            (f"; {not_judged}" if not_judged else "")

    def _not_judged(self) -> str:
        """What the judgement could not look at: the pairs without a PatientID on a side, or without a date shift
        (no date on a side: removed, or not real)."""
        missing = [f"{what} of {counted(self.pairs - n, 'pair')}" for what, n in (
            ("PatientIDs", self.with_patient_ids), ("date shifts", self.with_shifts)) if n < self.pairs]
        return "not judged: " + " and ".join(missing) + " (a side holds none)" if missing else ""

    def group_lines(self, shown: int) -> list[str]:
        """The first ``shown`` groups in words, and how many more there are."""
        lines = [group.text() for group in self.groups[:shown]]
        more = self.group_count - len(lines)
        said = f"... and {counted(more, 'more group')} (each file's findings in the CSV)"
        return lines + ([said] if more > 0 else [])


def unjudged_text(files: int) -> str:
    """What a count of files with findings leaves out: the de-identified files not judged ("" when none)."""
    return f"; {counted(files, 'de-identified file')} not judged (not paired, or not read)" if files else ""


def counted(count: int, noun: str) -> str:
    """A count and its noun, singular for one ("1 patient", "3 patients")."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def nothing_paired(counts: dict[Status, int]) -> bool:
    """Whether a run compared no pair at all (its status counts: every status listed)."""
    return counts.get(Status.IDENTICAL, 0) + counts.get(Status.CHANGED, 0) == 0
