"""Write a planned PDF: its pages drawn in chunks (straight into PDF, or by matplotlib for text the standard
fonts cannot show), joined with the outline and the summary's links."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from itertools import chain
from pathlib import Path

from dicomimgcmp.base.atomic import atomic_output, temporary_name
from dicomimgcmp.base.log import log
from dicomimgcmp.output.pdf.content import UNDISPLAYABLE, pair_drawing
from dicomimgcmp.output.pdf.figure import PageFigure
from dicomimgcmp.output.pdf.join import Link, OutlineItem, join_pdfs
from dicomimgcmp.output.pdf.layout import PAGE_SIZE, POINTS, PairDrawing, TextDrawing, in_standard_fonts, write_pages
from dicomimgcmp.output.pdf.plan import Page, PdfPlan, Summary
from dicomimgcmp.output.review import thumbnail_path, write_thumbnail

PAGES_PER_CHUNK = 16  # pages held in memory before a chunk file is written (about 6 MB each)


def write_pdf(path: Path, summary: Summary, plan: PdfPlan, tolerance: float) -> None:
    """Write the PDF at ``path`` atomically, with an outline (Patient > Study > Series > page), every summary
    line that names a page a link to it, and "page N of M" in the footer; the pages marked ``thumbnail`` also
    give their group's thumbnail for the review page (:func:`~.review.write_thumbnail`, beside the PDF).

    Pages go to chunk files of at most :data:`PAGES_PER_CHUNK` pages, each written by one drawer (matplotlib
    or :func:`~.layout.write_pages`), joined by :func:`~.join.join_pdfs` a chunk at a time (pikepdf's page
    copy would hold every chunk's streams in memory: 491 MB for 1,000 pages; qpdf's page merge about 35 KB a
    page), which also writes the outline and the links: memory does not grow with the number of pages.
    """
    figure = None  # matplotlib, imported only for a page the standard fonts cannot show
    chunks: list[Path] = []

    def write_chunk(drawings: list) -> None:
        nonlocal figure
        chunks.append(temporary_name(path, f".chunk{len(chunks)}"))
        if _standard(drawings[0]):  # a chunk's pages are all of one kind
            write_pages(chunks[-1], drawings)
            return
        from matplotlib.backends.backend_pdf import PdfPages

        figure = figure or PageFigure()
        with PdfPages(chunks[-1], metadata={"CreationDate": None}) as pdf, warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", UserWarning)
            for drawing in drawings:
                pdf.savefig(figure.pair_page(drawing) if isinstance(drawing, PairDrawing)
                            else figure.text_page(drawing))
        _log_missing_glyphs(path.name, seen)

    def footer(number: int) -> str:
        return f"page {number} of {plan.page_count}"

    summary_pages = [TextDrawing(lines, footer(number)) for number, lines in enumerate(plan.summary, 1)]
    outline = _Outline()
    try:
        batch: list[PairDrawing | TextDrawing] = []
        drawings: Iterator[PairDrawing | TextDrawing] = chain(
            summary_pages, _pair_drawings(path.parent, plan, tolerance, footer, outline))
        for drawing in drawings:
            if batch and (len(batch) == PAGES_PER_CHUNK or _standard(drawing) != _standard(batch[-1])):
                write_chunk(batch)
                batch = []
            batch.append(drawing)
        write_chunk(batch)
        with atomic_output(path) as tmp:
            join_pdfs(chunks, tmp, title=f"DICOMImgCmp {summary.run_name}", outline=outline.items,
                      links={k: _links(page) for k, page in enumerate(summary_pages)})
    finally:
        for part in chunks:
            part.unlink(missing_ok=True)


def _log_missing_glyphs(pdf_name: str, seen: list[warnings.WarningMessage]) -> None:
    """Say once per chunk which characters no installed font could draw (matplotlib warns per glyph and page,
    on the console): names in CJK scripts need a CJK font, such as Debian's fonts-noto-cjk."""
    missing = sorted({chr(int(m.group(1))) for w in seen if (m := _MISSING_GLYPH.match(str(w.message)))})
    if missing:
        log.warning("%s: no installed font draws %s; they show as boxes (the CSV and review.html hold them); a "
                    "font such as Noto Sans CJK (Debian: fonts-noto-cjk) draws them", pdf_name, " ".join(missing))


_MISSING_GLYPH = re.compile(r"^Glyph (\d+) .* missing from font")  # the number is the code point


def _pair_drawings(folder: Path, plan: PdfPlan, tolerance: float, footer: Callable[[int], str], outline: _Outline
                   ) -> Iterator[PairDrawing]:
    """Each pair page of the plan as it is drawn, added to ``outline``; the pages marked ``thumbnail`` write
    their group's thumbnail."""
    for number, page in enumerate(plan.pages, len(plan.summary) + 1):
        outline.add(page)
        drawing = pair_drawing(page, tolerance, footer(number))
        if page.thumbnail:
            write_thumbnail(thumbnail_path(folder, page.shown.change_group),
                            (drawing.panels or UNDISPLAYABLE).composited())
        yield drawing


def _standard(drawing: PairDrawing | TextDrawing) -> bool:
    """Whether the page can be written straight into PDF: the standard fonts hold all its text."""
    return all(map(in_standard_fonts, drawing.text()))


def _links(page: TextDrawing) -> list[Link]:
    """A summary page's lines that name a page, as links to it (rectangles in figure fractions, pages from 1)."""
    width, height = (side * POINTS for side in PAGE_SIZE)
    return [Link((x0 * width, y0 * height, x1 * width, y1 * height), target - 1)
            for (x0, y0, x1, y1), target in page.links()]


class _Outline:
    """Bookmarks: Summary, then Patient > Study > Series > page, in page order, added as the pages are drawn
    (the plan's pages are read once)."""

    def __init__(self) -> None:
        self.items = [OutlineItem("Summary", 0, [])]
        self._branch: dict[tuple, OutlineItem] = {}

    def add(self, page: Page) -> None:
        rec, number = page.shown.record, page.number
        levels = [f"Patient {rec.patient_id or '(none)'}", f"Study {rec.study_instance_uid or '(none)'}",
                  f"Series {rec.series_label} ({rec.modality or '-'})"]
        children = self.items
        for depth in range(len(levels)):
            key = tuple(levels[:depth + 1])
            if key not in self._branch:
                self._branch[key] = OutlineItem(levels[depth], number - 1, [])
                children.append(self._branch[key])
            children = self._branch[key].children
        title = f"p.{number} {rec.rel_path}"
        if len(page.members) > 1:
            title += f" (and {len(page.members) - 1} more with the same change)"
        children.append(OutlineItem(title, number - 1, []))
