"""Plan a PDF: number its pages (the summary pages, as many as its lines need, then a page per pair or change
group) and write the summary's lines; a plan is saved a page at a time and read as it is drawn."""

from __future__ import annotations

import json
import pickle
import textwrap
from collections.abc import Callable, Iterable, Iterator, Set
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from dicomimgcmp.enums import ChangeKind, RecipeVerdict
from dicomimgcmp.model import PairResult, Status
from dicomimgcmp.output.pdf.layout import STYLES, TEXT_BOTTOM, TEXT_TOP, Line
from dicomimgcmp.output.review import share_text
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

_PAGE_FIELD = 8  # "p.12345 " before a listed line
TABLE_SHOWN = 5  # rows of a header judgement's table the summary shows (review.html shows them all)
FINDINGS_SHOWN = 4  # findings of a set the summary names (the CSV has them all)


@dataclass(frozen=True)
class Summary:
    """What every PDF of a run opens with."""

    run_name: str
    date: str
    deid_root: str
    source_root: str
    mapping_file: str
    counts: dict[Status, int]
    part: int  # 0-based
    parts: int
    changed_total: int
    per_group: bool = False  # pages: "per_group"
    phi_total: int = 0  # images of the run whose pixels show text matching the source's identity
    recipe_name: str = ""  # config key recipe, as given
    recipe: RecipeTally | None = None  # the run's recipe verdicts
    header: HeaderTally | None = None  # identity found in the run's headers (None: the check is off)
    unpaired: str = ""  # why nothing was paired ("" when something was)
    profile: ProfileTally | None = None  # the profile judgement's findings (None: it is off)
    set: SetTally | None = None  # the run judged as one set (None: it is off)


@dataclass(frozen=True)
class Page:
    """A pair page: the pair it shows first, then the other changed pairs it stands for (pages: per_group)."""

    members: tuple[PairResult, ...]
    #: Whether the page shows its change group's first member (its panels make the group's thumbnail).
    thumbnail: bool = False

    @property
    def shown(self) -> PairResult:
        return self.members[0]

    @property
    def number(self) -> int:
        """The page's number in its PDF (1-based), given when the plan numbered it."""
        if self.shown.pdf_page is None:
            raise ValueError(f"the page of {self.shown.record.rel_path} was never numbered")
        return self.shown.pdf_page


class Listed(NamedTuple):
    """What the summary pages say of a pair that has a page: they are planned from these, not from the pairs'
    results (a few hundred bytes a pair instead of a few KB: a PDF may have 100,000 pages)."""

    rel_path: str
    status: Status
    changed_pixels: int | None
    change_group: str
    reason: str
    phi_match: str
    group_size: int | None
    change: str
    series: str  # the source's SeriesInstanceUID, series label and modality
    series_label: str
    modality: str
    pdf_page: int | None
    recipe_verdict: RecipeVerdict | None
    recipe_rule: str
    change_kind: ChangeKind | None

    @classmethod
    def of(cls, m: PairResult) -> Listed:
        deid, source = m.files
        return cls(deid.rel_path, m.status, m.changed_pixels, m.change_group, m.reason, m.phi_match,
                   m.group_size, m.change, source.series_instance_uid, source.series_label, source.modality,
                   m.pdf_page, m.recipe_verdict, m.recipe_rule, m.change_kind)


@dataclass(frozen=True)
class _Numbered:
    """The pages of ``units``, numbered from ``first``: made again each time they are read (``units`` is read
    again too: a list, or the store's query), so that no process holds a PDF's pages."""

    units: Iterable[list[PairResult]]
    first: int
    pdf_file: str
    leaders: Set[str]

    def __iter__(self) -> Iterator[Page]:
        for number, unit in enumerate(self.units, self.first):
            yield Page(tuple(m.replace(pdf_file=self.pdf_file, pdf_page=number) for m in unit),
                       unit[0].record.rel_path in self.leaders)


@dataclass(frozen=True)
class _Saved:
    """The pages of a plan saved by :func:`save_plan`, read from its file one at a time each time they are
    read."""

    path: Path

    def __iter__(self) -> Iterator[Page]:
        with open(self.path, "rb") as fh:
            pickle.load(fh)  # the summary's lines and the page count
            while True:
                try:
                    yield pickle.load(fh)
                except EOFError:
                    return


@dataclass(frozen=True)
class PdfPlan:
    """Everything one PDF holds, its page numbers assigned: the summary pages' lines, then the pair pages
    (read, not held: see :class:`_Numbered`)."""

    summary: list[list[Line]]
    pages: Iterable[Page]
    page_count: int


def plan_pdf(summary: Summary, units: Iterable[list[PairResult]], pdf_file: str,
             series_sizes: Callable[[set[str]], dict[str, int]], leaders: Set[str] = frozenset()) -> PdfPlan:
    """Number the pages of one PDF: the summary pages (as many as its lines need), then a page per unit (a
    changed pair, or a change group's members with the one shown first; ``units`` is read twice). Every member
    gets ``pdf_file`` and its page; ``series_sizes`` gives the de-identified files of source series (by
    SeriesInstanceUID), for the group lines; the pages showing a file of ``leaders`` (rel_paths) give their
    group's thumbnail."""
    listed = [[Listed.of(m) for m in unit] for unit in units]
    sizes = series_sizes({m.series for page in listed for m in page})
    # How many summary pages come first: counted with every page field present, numbered as if no summary page
    # came first. A line wraps by whether it names a page, never by which (the field has a fixed width), so the
    # count holds once the pages are numbered after the summary.
    offset = len(_paginate(_summary_lines(summary, _numbered(listed, 1), sizes)))
    lines = _paginate(_summary_lines(summary, _numbered(listed, offset + 1), sizes))
    return PdfPlan(lines, _Numbered(units, offset + 1, pdf_file, leaders), offset + len(listed))


def _numbered(listed: list[list[Listed]], first: int) -> list[list[Listed]]:
    """The pages' pairs, each page numbered from ``first``."""
    return [[m._replace(pdf_page=number) for m in page] for number, page in enumerate(listed, first)]


def save_plan(plan: PdfPlan, fh: BinaryIO) -> Iterator[Page]:
    """Pickle ``plan`` into ``fh`` a page at a time (the pages are read, not held); yields each page saved."""
    pickle.dump((plan.summary, plan.page_count), fh)
    for page in plan.pages:
        pickle.dump(page, fh)
        yield page


def load_plan(path: Path) -> PdfPlan:
    """A plan saved by :func:`save_plan`; its pages are read from the file as they are drawn."""
    with open(path, "rb") as fh:
        summary, page_count = pickle.load(fh)
    return PdfPlan(summary, _Saved(path), page_count)


def _summary_lines(summary: Summary, pages: list[list[Listed]], series_sizes: dict[str, int]) -> list[Line]:
    """The summary's lines; ``pages`` the pair pages, each as the pairs it stands for (the one shown first)."""
    head = [Line(f"DICOMImgCmp — {summary.run_name}", "title"),
            Line(f"Date: {summary.date}    PDF {summary.part + 1} of {summary.parts}"),
            Line(f"De-identified: {summary.deid_root}"),
            Line(f"Source: {summary.source_root}"),
            Line(f"UID mapping: {summary.mapping_file}"),
            Line("Files per status (whole run): " + ", ".join(f"{k} {v}" for k, v in summary.counts.items()))]
    if nothing_paired(summary.counts):
        head.append(Line(f"WARNING: {NOTHING_PAIRED}: {summary.unpaired or 'check uid_mapping_file'}.", "warn"))
    if summary.phi_total:
        head.append(Line(f"Identity found in pixels: {counted(summary.phi_total, 'image')}", "warn"))
    if summary.header is not None and not nothing_paired(summary.counts):
        head += _header_lines(summary.header)
    if summary.profile is not None and not nothing_paired(summary.counts):
        head += _profile_lines(summary.profile)
    if summary.set is not None and not nothing_paired(summary.counts):
        head.append(Line(summary.set.headline(), "warn" if summary.set.files else "text"))
        head += [Line(line) for line in summary.set.group_lines(TABLE_SHOWN)]  # long UIDs: wrapped
    head += _recipe_lines(summary)
    members = [m for page in pages for m in page if m.status is Status.CHANGED]
    missed = [page[0] for page in pages if page[0].status is not Status.CHANGED and not page[0].phi_match]
    if missed:
        head.append(Line("Unchanged, but the recipe expects a region blanked (page, de-identified file, rule):"))
        head += _capped([Line(f"{m.rel_path}   {m.recipe_rule}", "mono", m.pdf_page) for m in missed], _PAGES)
    found = [page[0] for page in pages if page[0].phi_match]
    if found:
        head.append(Line("Identity found in pixels (page, de-identified file, attributes matched, status):"))
        head += _capped([Line(f"{m.rel_path}   {m.phi_match.replace(';', ', ')}   {m.status}", "mono", m.pdf_page)
                         for m in found], _PAGES)
    if summary.changed_total == 0:
        return head + [Line("No changed images: every compared pair has identical pixel values.")]
    if not members:
        return head + [Line(f"No changed images in this PDF ({summary.changed_total} in the run, in the other "
                            "PDFs).")]
    shown = "one page per change group" if summary.per_group else "one page per changed image"
    lines = head + [Line(f"This PDF: {len(members)} of the run's {summary.changed_total} changed images, "
                         f"{shown}.")]
    groups = _shared_changes(members, series_sizes)
    if groups:
        lines.append(Line("Changes shared by several images of a series, largest first "
                          "(page, series, change, images):"))
        lines += groups
    if summary.per_group:
        lines.append(Line("Changed images by page (page, change group, its images here):"))
        lines += _capped([Line(f"group {page[0].change_group} ({len(page)} image{'s' * (len(page) > 1)}): "
                               + _some_files(page), "mono", page[0].pdf_page)
                          for page in pages if page[0].status is Status.CHANGED], _PAGES)
    else:
        lines.append(Line("Changed images (page, de-identified file, changed pixels, change group, note):"))
        lines += _capped([Line(f"{m.rel_path}   {m.changed_pixels} px   group {m.change_group}"
                               f"{'   ' + m.reason if m.reason else ''}", "mono", m.pdf_page) for m in members],
                         _PAGES)
    return lines


#: Lines a list of the summary shows (files, pages, places); the rest are counted: the outline has every page,
#: the CSV and review.html every file.
SHOWN = 40


# what more lines of a list are, and where they are
_IN_FILES = "(in the CSV and review.html)"
_PAGES = ("page", "(in the outline, the CSV and review.html)")


def _capped(lines: list[Line], more: tuple[str, str], shown: int = SHOWN) -> list[Line]:
    """The first ``shown`` lines and one saying how many more there are (``more``: what they are, singular, and
    where they are)."""
    if len(lines) <= shown:
        return lines
    noun, where = more
    return lines[:shown] + [Line(f"... and {counted(len(lines) - shown, 'more ' + noun)} {where}")]


def _some_files(page: list[Listed], shown: int = 3) -> str:
    """The first files a group's page stands for, and how many more."""
    names = ", ".join(m.rel_path for m in page[:shown])
    return names + (f" and {len(page) - shown} more" if len(page) > shown else "")


def _header_lines(header: HeaderTally) -> list[Line]:
    """Identity found in headers: the count (in red when any), the table (files, source attribute, where; the
    first :data:`TABLE_SHOWN` places), the sets of findings most files share (never file by file: the CSV and
    review.html have every file), and the patients whose date shifts differ."""
    lines = [Line(f"Identity found in headers: {counted(header.files, 'file')}{unjudged_text(header.unjudged)}",
                  "warn" if header.files else "text")]
    if header.table:
        lines.append(Line("Source attribute found in the de-identified files (files, attribute @ where):"))
        lines += _capped([Line(f"{files:>7}   {attribute} @ {place}", "mono")
                          for attribute, place, files in header.table], ("place", _IN_FILES), TABLE_SHOWN)
        lines.append(Line(f"The sets of findings most files share (files, findings; {header.combination_count} "
                          "different sets in all, each file's in the CSV column header_identity):"))
        lines += [Line(f"{files:>7}   {_some(json.loads(found))}", "mono") for found, files in header.combinations]
    if header.shifts:
        lines.append(Line(f"Date shifts differ within {counted(len(header.shifts), 'patient')} (intervals between "
                          "their studies are lost): " + "; ".join(f"{patient or '(no ID)'}: {shifts} days"
                                                                  for patient, shifts in header.shifts), "warn"))
    return lines


def _profile_lines(profile: ProfileTally) -> list[Line]:
    """The profile judgement: files with findings (in red when any), then the findings by attribute, the first
    :data:`TABLE_SHOWN` (all in header_actions.csv)."""
    said = f"Confidentiality Profile not followed: {counted(profile.files, 'file')}{unjudged_text(profile.unjudged)}"
    lines = [Line(said, "warn" if profile.files else "text")]
    if profile.table:
        lines.append(Line("Findings by attribute (files, finding, attribute: the action asked, the action seen):"))
        lines += _capped([Line(f"{files:>7}   {finding}   {attribute}: {expected}, {observed}", "mono")
                          for finding, attribute, expected, observed, files in profile.table],
                         ("finding", _IN_FILES), TABLE_SHOWN)
    return lines


def _some(findings: list[str]) -> str:
    """The first :data:`FINDINGS_SHOWN` findings of a set, and how many more."""
    more = len(findings) - FINDINGS_SHOWN
    return "; ".join(findings[:FINDINGS_SHOWN]) + (f"; and {more} more" if more > 0 else "")


def _recipe_lines(summary: Summary) -> list[Line]:
    """The recipe verdicts of the run, and a line per rule (images it named, as the recipe says, failing)."""
    tally = summary.recipe
    if tally is None:
        return []
    lines = [Line(f"Recipe {summary.recipe_name}: {tally.counts_text()} (pages of pairs that fail it come first)",
                  "warn" if tally.failing else "text")]
    if tally.rules:
        lines.append(Line("Per rule (images named, as the recipe says, failing it, then the rule; the others are "
                          "flagged for a person):"))
        lines += [Line(f"{rule.images:>7} {rule.as_recipe:>7} {rule.failing:>7}   {rule.rule}", "mono")
                  for rule in tally.rules]
    return lines


def _shared_changes(members: list[Listed], series_sizes: dict[str, int]) -> list[Line]:
    """A line for each change group of several images, largest first, linked to its first page here."""
    first: dict[str, tuple[int, Listed]] = {}  # each group's size and its first member here
    for m in members:
        if m.group_size is not None and m.group_size > 1:
            first.setdefault(m.change_group, (m.group_size, m))
    lines = []
    for size, m in sorted(first.values(), key=lambda entry: (-entry[0], entry[1].pdf_page or 0)):
        in_series = series_sizes.get(m.series, size)
        lines.append(Line(f"series {m.series_label} ({m.modality or '-'}, {in_series} images): {m.change}"
                          f"{f' ({m.change_kind})' if m.change_kind else ''} on "
                          f"{share_text(size, in_series)}   [group {m.change_group}]", "mono", m.pdf_page))
    return lines


def _paginate(lines: list[Line]) -> list[list[Line]]:
    """Wrap the lines to the page width and cut them into pages (no line cut at the page edge or bottom)."""
    pages: list[list[Line]] = [[]]
    y = TEXT_TOP
    for line in lines:
        for part in _wrapped(line):
            step = STYLES[part.style].step
            if y - step < TEXT_BOTTOM and pages[-1]:
                pages.append([])
                y = TEXT_TOP
            pages[-1].append(part)
            y -= step
    return pages


def _wrapped(line: Line) -> list[Line]:
    """The physical lines of a line: a linked line's continuation lines are indented under its text and link
    to the same page."""
    width = STYLES[line.style].width
    if line.target is None:
        return [Line(text, line.style) for text in textwrap.wrap(line.text, width) or [""]]
    texts = textwrap.wrap(line.text, width - _PAGE_FIELD, break_on_hyphens=False) or [""]
    return [Line(f"{'p.' + str(line.target) if i == 0 else '':<{_PAGE_FIELD}}{text}", line.style, line.target)
            for i, text in enumerate(texts)]
