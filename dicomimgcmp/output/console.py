"""What the command line prints when a run ends."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dicomimgcmp.enums import Status
from dicomimgcmp.summary import (
    NOTHING_PAIRED,
    HeaderTally,
    ProfileTally,
    RecipeTally,
    SetTally,
    counted,
    nothing_paired,
    unjudged_text,
)

CONSOLE_ATTRIBUTES = 8  # source attributes named after the header check's count (review.html lists every one)
CONSOLE_GROUPS = 10  # groups of the set judgement's findings printed (review.html lists more, the CSV every file)


def incomplete_outputs(failed: list[str], complete: list[str], log_path: Path) -> str:
    """The one line that says which outputs a run could not write and which it wrote."""
    said = (f"{_and(complete)} {'is' if len(complete) == 1 else 'are'} complete" if complete
            else "no output was written")
    return (f"{_and(failed)} could not be written (internal error, see the log in {log_path}; the same command "
            f"again writes what is missing without comparing again); {said}")


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def console_summary(counts: dict[Status, int], outputs: list[Path], log_path: Path, notes: Iterable[str] = (),
                    reused: dict[str, int] | None = None, identity_found: int = 0,
                    recipe: RecipeTally | None = None, header: HeaderTally | None = None, unpaired: str = "",
                    profile: ProfileTally | None = None, set_tally: SetTally | None = None) -> str:
    """The closing lines printed to the console; ``notes`` say how the mapping was read, ``reused`` how much
    was taken from the saved state of an earlier run, ``identity_found`` how many images show the source's
    identity in their pixels (the text check), ``recipe`` the recipe verdicts, ``unpaired`` why nothing was
    paired."""
    width = max(len(k) for k in counts)
    lines = [f"UID mapping: {note}" for note in notes]
    if reused and any(reused.values()):
        lines.append(f"Reused from an earlier run of this run_name: {reused.get('records', 0)} headers, "
                     f"{reused.get('results', 0)} comparisons (files unchanged; --restart to redo everything)")
    lines += ["Files per status:"] + [f"  {k:<{width}}  {v}" for k, v in counts.items()]
    if identity_found:
        lines.append(f"IDENTITY FOUND IN PIXELS: {counted(identity_found, 'image')} "
                     "(their pages come first in the PDF)")
    if header is not None and not nothing_paired(counts):  # nothing was searched: no reassurance
        lines.append(f"{'IDENTITY FOUND IN HEADERS' if header.files else 'Identity found in headers'}: "
                     + counted(header.files, "file") + (" (CSV column header_identity)" if header.files else "")
                     + unjudged_text(header.unjudged))
        if header.attributes:  # the patient's own identifiers first: a name left is not lost among serial numbers
            shown = header.attributes[:CONSOLE_ATTRIBUTES]
            more = len(header.attributes) - len(shown)
            lines.append("  values of: " + ", ".join(f"{name} ({counted(files, 'file')})" for name, files in shown)
                         + (f", and {counted(more, 'more attribute')} (review.html)" if more else ""))
        if header.shifts:
            lines.append(f"DATE SHIFTS DIFFER within {counted(len(header.shifts), 'patient')}: "
                         + "; ".join(f"{p or '(no ID)'}: {s} days" for p, s in header.shifts[:10]))
    if profile is not None and not nothing_paired(counts):
        lines.append(f"{'PROFILE NOT FOLLOWED' if profile.files else 'Profile followed'}: "
                     + counted(profile.files, "file") + (" (CSV column profile_findings)" if profile.files else "")
                     + unjudged_text(profile.unjudged))
    if set_tally is not None and not nothing_paired(counts):
        lines.append(set_tally.headline("NOT CONSISTENT AS A SET"))
        lines += [f"  {line}" for line in set_tally.group_lines(CONSOLE_GROUPS)]
    if recipe is not None:
        lines.append(f"{'RECIPE NOT FOLLOWED' if recipe.failing else 'Recipe'}: {recipe.counts_text()} "
                     "(CSV column recipe_verdict)")
    if nothing_paired(counts):
        lines.append(f"WARNING: {NOTHING_PAIRED}: {unpaired or 'check uid_mapping_file'}.")
    lines += ["Outputs:"] + [f"  {p}" for p in outputs] + [f"Log: {log_path}"]
    return "\n".join(lines)
