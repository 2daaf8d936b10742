"""The summary's page planning, as a property: whatever the lengths of the listed lines (archive paths of 200
characters), the sizes of the change groups and the pages, every summary line that names a page links to the page
that shows its pair, the outline's leaves land on their pages, and the page count is what the PDF has.

The pairs' files do not exist: each pair page says it cannot display its images, which keeps a PDF of a hundred
pages fast to write while its summary, links and outline are the real ones."""

from __future__ import annotations

import re
from pathlib import Path

import pikepdf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dicomimgcmp.model import FileRecord, PairResult, PixelFormat, Status
from dicomimgcmp.output.pdf.plan import Page, Summary, plan_pdf
from dicomimgcmp.output.pdf.write import write_pdf

_FORMAT = PixelFormat("1.2.840.10008.1.2.1", False, True, "MONOCHROME2", 16, 12, 11, 0, 8, 8, 1, 1, None)
_UID = st.text("0123456789.", min_size=1, max_size=64)


@st.composite
def _pairs(draw) -> tuple[list[list[PairResult]], bool]:
    """Changed pairs in page order, cut into pages (a page per pair, or per change group), with paths from 10 to
    230 characters (UID folders, TCIA-style names, non-ASCII)."""
    per_group = draw(st.booleans())
    sizes = draw(st.lists(st.integers(1, 12), min_size=1, max_size=25))
    units: list[list[PairResult]] = []
    number = 0
    for group, size in enumerate(sizes):
        members = []
        for _ in range(size):
            folder = draw(st.sampled_from(["", "1.000000-CT ABDOMEN-12345/", "São Paulo/Ærø-Über/"]))
            path = folder + draw(_UID) + "/" + draw(_UID) + "/" + draw(
                st.text("0123456789.", min_size=1, max_size=230 - len(folder)))
            number += 1
            record = FileRecord(f"/nowhere/{number}", f"{number}/{path}", patient_id=f"P{group % 3}",
                                study_instance_uid="1.2", series_instance_uid=f"1.2.{group}", series_number=group,
                                instance_number=number, format=_FORMAT)
            members.append(PairResult(Status.CHANGED, deid=record, source=record, changed_pixels=number,
                                      changed_fraction=0.5,
                                      change=draw(st.sampled_from(["rows 0-40 x cols 0-640 set to 0", "cropped"])),
                                      change_group=f"g{group}", group_size=size, reason=draw(
                                          st.sampled_from(["", "paired by unchanged SOPInstanceUID " * 3]))))
        units += [members] if per_group else [[m] for m in members]
    return units, per_group


def _summary(per_group: bool, changed: int) -> Summary:
    return Summary("run", "2026-12-02", "/d/" + "x" * 150, "/s", "/m.csv", {"identical": 1, "changed": changed},
                   0, 1, changed, per_group)


def _listed_text(lines) -> dict[int, list[str]]:
    """The summary's logical lines that name a page, by page: a linked line and its continuation lines (indented
    under it, linked to the same page) joined, whitespace removed (a path may be cut anywhere)."""
    texts: list[tuple[int, str]] = []
    for line in (line for page in lines for line in page):
        if line.target is None:
            continue
        if line.text.startswith("p."):
            texts.append((line.target, ""))
        target, text = texts[-1]
        assert target == line.target
        texts[-1] = (target, text + re.sub(r"\s", "", line.text[8:]))
    by_page: dict[int, list[str]] = {}
    for target, text in texts:
        by_page.setdefault(target, []).append(text)
    return by_page


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(_pairs())
def test_every_summary_link_lands_on_the_page_of_its_pair(tmp_path: Path, case) -> None:
    units, per_group = case
    changed = sum(map(len, units))
    summary = _summary(per_group, changed)
    plan = plan_pdf(summary, units, "p.pdf", lambda series: {})
    pages: list[Page] = list(plan.pages)
    first = len(plan.summary) + 1
    assert [page.shown.pdf_page for page in pages] == list(range(first, first + len(units)))
    assert plan.page_count == len(plan.summary) + len(units)
    shows = {page.shown.pdf_page: page for page in pages}
    for target, texts in _listed_text(plan.summary).items():
        page = shows[target]
        for text in texts:  # a pair's line names one of the page's pairs; a group's line, the page's group
            assert any(re.sub(r"\s", "", m.deid.rel_path) in text for m in page.members) or \
                f"[group{page.shown.change_group}]" in text or text.startswith(f"group{page.shown.change_group}(")

    write_pdf(tmp_path / "p.pdf", summary, plan, 0.0)
    with pikepdf.open(tmp_path / "p.pdf") as pdf:
        assert len(pdf.pages) == plan.page_count
        for number, lines in enumerate(plan.summary):
            annots = pdf.pages[number].obj.get("/Annots", [])
            targets = [line.target for line in lines if line.target is not None]
            assert [pdf.pages.index(pikepdf.Page(a.Dest[0])) + 1 for a in annots] == targets
        leaves = _outline_leaves(pdf)
    # each page's bookmark, under its patient, study and series (so not in page order)
    assert sorted((page, title.split(" ", 1)[1].split(" (and ")[0]) for title, page in leaves) == \
        [(page.shown.pdf_page, page.shown.deid.rel_path) for page in pages]


def _outline_leaves(pdf: pikepdf.Pdf) -> list[tuple[str, int]]:
    """The outline's leaves below Summary (the pages' bookmarks), as (title, 1-based page)."""
    leaves = []
    with pdf.open_outline() as outline:
        def walk(items):
            for item in items:
                if item.children:
                    walk(item.children)
                elif item.title != "Summary":
                    leaves.append((item.title, pdf.pages.index(pikepdf.Page(item.destination[0])) + 1))
        walk(outline.root)
    return leaves
