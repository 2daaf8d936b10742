"""What a whole run found, as every output says it: the rows read back, the recipe verdicts and the header check
counted over the run, and whether anything was paired at all."""

from __future__ import annotations

from typing import Any, NamedTuple

from dicomimgcmp.enums import RecipeVerdict, Status

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
    """The header check over a run: files with findings; (source attribute, where found, files), most files
    first; the files' sets of findings, (findings as JSON, files), most files first, and how many sets there are
    in all; patients whose date shifts differ, (source PatientID, the shifts in days, comma-separated)."""

    files: int
    table: tuple[tuple[str, str, int], ...]
    combinations: tuple[tuple[str, int], ...]
    combination_count: int
    shifts: tuple[tuple[str, str], ...]


class ProfileTally(NamedTuple):
    """The profile judgement over a run: files with findings, and (finding, attribute, expected action, observed
    action, files), most files first (the rows of ``header_actions.csv`` that make a finding)."""

    files: int
    table: tuple[tuple[str, str, str, str, int], ...]


def nothing_paired(counts: dict[Status, int]) -> bool:
    """Whether a run compared no pair at all (its status counts: every status listed)."""
    return counts.get(Status.IDENTICAL, 0) + counts.get(Status.CHANGED, 0) == 0
