"""Write a PDF: summary page(s), then one page per changed pair (de-identified | source | changed area).

Images are shown as a radiologist would see them: the source file's modality LUT and VOI transform (its first
window or VOI LUT, through pydicom; a robust percentile window when it has none) on both sides so that both
panels share one grey scale and a blanked region looks blanked, each side's MONOCHROME1 inverted, colour in colour.
Images are downsampled for display only; the changed-pixel mask is max-pooled so that a one-pixel change
stays visible. Pair pages are written straight into PDF (:mod:`.pdfpage`); matplotlib draws the summary pages
and a pair page whose text the PDF's standard fonts cannot show. It is imported here only, so the command line
starts fast.
"""

from __future__ import annotations

import logging
import math
import pickle
import re
import textwrap
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
import pydicom

from .atomic import atomic_output, temporary_name
from .report import log
from .compare import changed_mask, unpack_mask
from .layers import read_overlays
from .model import PairResult, Status
from .pdfjoin import Link, OutlineItem, join_pdfs
from .pdfpage import (CYAN, FOOTER_SIZE, GRID, LABEL_SIZE, MAGENTA, PAGE_SIZE, POINTS, RED, STYLES, TEXT_BOTTOM,
                      TEXT_LEFT, TEXT_TOP, TITLES, YELLOW, Box, Line, PairDrawing, Panels, TextDrawing,
                      in_standard_fonts, rgb, write_pages)
from .pixels import quiet_pydicom, read_frame
from .review import share_text, thumbnail_path, write_thumbnail

MAX_DISPLAY = 768  # longest side of a displayed image, pixels
PAGES_PER_CHUNK = 16  # pages held in memory before a chunk file is written (about 6 MB each)
DIMMED = 0.35  # the changed-area panel shows the source at this brightness under the red changed pixels
_PAGE_FIELD = 8  # "p.12345 " before a listed line


@dataclass(frozen=True)
class Summary:
    """What every PDF of a run opens with."""

    run_name: str
    date: str
    deid_root: str
    source_root: str
    mapping_file: str
    counts: dict[str, int]
    part: int  # 0-based
    parts: int
    changed_total: int
    per_group: bool = False  # pages: "per_group"
    phi_total: int = 0  # images of the run whose pixels show text matching the source's identity


@dataclass(frozen=True)
class Page:
    """A pair page: the pair it shows first, then the other changed pairs it stands for (pages: per_group)."""

    members: tuple[PairResult, ...]
    #: Whether the page shows its change group's first member (its panels make the group's thumbnail).
    thumbnail: bool = False

    @property
    def shown(self) -> PairResult:
        return self.members[0]


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

    @classmethod
    def of(cls, m: PairResult) -> Listed:
        return cls(m.deid.rel_path, m.status, m.changed_pixels, m.change_group, m.reason, m.phi_match,
                   m.group_size, m.change, m.source.series_instance_uid, m.source.series_label, m.source.modality,
                   m.pdf_page)


@dataclass(frozen=True)
class _Numbered:
    """The pages of ``units``, numbered from ``first``: made again each time they are read (``units`` is read
    again too: a list, or the store's query), so that no process holds a PDF's pages."""

    units: Iterable[list[PairResult]]
    first: int
    pdf_file: str
    leaders: set[str]

    def __iter__(self) -> Iterator[Page]:
        for number, unit in enumerate(self.units, self.first):
            yield Page(tuple(m.replace(pdf_file=self.pdf_file, pdf_page=number) for m in unit),
                       unit[0].deid.rel_path in self.leaders)


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
             series_sizes: Callable[[set[str]], dict[str, int]], leaders: set[str] = frozenset()) -> PdfPlan:
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


def write_pdf(path: Path, summary: Summary, plan: PdfPlan, tolerance: float) -> None:
    """Write the PDF at ``path`` atomically, with an outline (Patient > Study > Series > page), every summary
    line that names a page a link to it, and "page N of M" in the footer; the pages marked ``thumbnail`` also
    give their group's thumbnail for the review page (:func:`~.review.write_thumbnail`, beside the PDF).

    Pages go to chunk files of at most :data:`PAGES_PER_CHUNK` pages, each written by one drawer (matplotlib
    or :func:`~.pdfpage.write_pages`), joined by :func:`~.pdfjoin.join_pdfs` a chunk at a time (pikepdf's page
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

        figure = figure or _Figure()
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
        batch: list = []
        for drawing in chain(summary_pages, _pair_drawings(path.parent, plan, tolerance, footer, outline)):
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


def _pair_drawings(folder: Path, plan: PdfPlan, tolerance: float, footer, outline: _Outline
                   ) -> Iterator[PairDrawing]:
    """Each pair page of the plan as it is drawn, added to ``outline``; the pages marked ``thumbnail`` write
    their group's thumbnail."""
    for number, page in enumerate(plan.pages, len(plan.summary) + 1):
        outline.add(page)
        drawing = _pair_drawing(page, tolerance, footer(number))
        if page.thumbnail:
            write_thumbnail(thumbnail_path(folder, page.shown.change_group),
                            (drawing.panels or _UNDISPLAYABLE).composited())
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
        item = page.shown
        rec = item.deid
        levels = [f"Patient {rec.patient_id or '(none)'}", f"Study {rec.study_instance_uid or '(none)'}",
                  f"Series {rec.series_label} ({rec.modality or '-'})"]
        children = self.items
        for depth in range(len(levels)):
            key = tuple(levels[:depth + 1])
            if key not in self._branch:
                self._branch[key] = OutlineItem(levels[depth], item.pdf_page - 1, [])
                children.append(self._branch[key])
            children = self._branch[key].children
        title = f"p.{item.pdf_page} {rec.rel_path}"
        if len(page.members) > 1:
            title += f" (and {len(page.members) - 1} more with the same change)"
        children.append(OutlineItem(title, item.pdf_page - 1, []))


def _summary_lines(summary: Summary, pages: list[list[Listed]], series_sizes: dict[str, int]) -> list[Line]:
    """The summary's lines; ``pages`` the pair pages, each as the pairs it stands for (the one shown first)."""
    head = [Line(f"DICOMImgCmp — {summary.run_name}", "title"),
            Line(f"Date: {summary.date}    PDF {summary.part + 1} of {summary.parts}"),
            Line(f"De-identified: {summary.deid_root}"),
            Line(f"Source: {summary.source_root}"),
            Line(f"UID mapping: {summary.mapping_file}"),
            Line("Files per status (whole run): " + ", ".join(f"{k} {v}" for k, v in summary.counts.items()))]
    compared = summary.counts.get(Status.IDENTICAL.value, 0) + summary.counts.get(Status.CHANGED.value, 0)
    if compared == 0:
        head.append(Line("WARNING: no de-identified file was paired with a source file. "
                         "Check uid_mapping_file and the input folders.", "warn"))
    if summary.phi_total:
        head.insert(1, Line(f"Identity found in pixels: {summary.phi_total} images", "warn"))
    members = [m for page in pages for m in page if m.status is Status.CHANGED]
    found = [page[0] for page in pages if page[0].phi_match]
    if found:
        head.append(Line("Identity found in pixels (page, de-identified file, attributes matched, status):"))
        head += [Line(f"{m.rel_path}   {m.phi_match.replace(';', ', ')}   {m.status.value}", "mono", m.pdf_page)
                 for m in found]
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
        lines += [Line(f"group {page[0].change_group} ({len(page)} image"
                       f"{'s' * (len(page) > 1)}): " + ", ".join(m.rel_path for m in page),
                       "mono", page[0].pdf_page) for page in pages if page[0].status is Status.CHANGED]
    else:
        lines.append(Line("Changed images (page, de-identified file, changed pixels, change group, note):"))
        lines += [Line(f"{m.rel_path}   {m.changed_pixels} px   group {m.change_group}"
                       f"{'   ' + m.reason if m.reason else ''}", "mono", m.pdf_page) for m in members]
    return lines


def _shared_changes(members: list[Listed], series_sizes: dict[str, int]) -> list[Line]:
    """A line for each change group of several images, largest first, linked to its first page here."""
    first: dict[str, Listed] = {}
    for m in members:
        if (m.group_size or 0) > 1:
            first.setdefault(m.change_group, m)
    lines = []
    for m in sorted(first.values(), key=lambda m: (-m.group_size, m.pdf_page)):
        in_series = series_sizes.get(m.series, m.group_size)
        lines.append(Line(f"series {m.series_label} ({m.modality or '-'}, {in_series} images): {m.change} on "
                          f"{share_text(m.group_size, in_series)}   [group {m.change_group}]", "mono", m.pdf_page))
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


class _Figure:
    """Two matplotlib figures reused for every page: creating figures and axes per page is what makes
    matplotlib slow. Images are embedded at their own resolution (``interpolation="none"``), not resampled."""

    def __init__(self) -> None:
        from matplotlib.figure import Figure  # not pyplot: nothing global holds the figures after the PDF
        from matplotlib.patches import Rectangle

        # matplotlib finds no "normal" weight of the standard fonts and says so for every page: it uses "medium"
        logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
        self.text_fig = Figure(figsize=PAGE_SIZE)
        self.fig = Figure(figsize=PAGE_SIZE)
        # parse_math off: a "$" in a file name is a dollar sign, not mathtext
        self.header = self.fig.text(0.02, 0.98, "", va="top", size=9, family="monospace", parse_math=False)
        self.error = self.fig.text(0.5, 0.5, "", ha="center", color=RED, parse_math=False)
        self.footer = self.fig.text(0.98, 0.015, "", ha="right", size=FOOTER_SIZE)
        self.axes = self.fig.subplots(1, 3, gridspec_kw=GRID)
        self.images = []
        for ax, title in zip(self.axes, TITLES):
            ax.set_title(title, size=11)
            ax.set_xticks([])
            ax.set_yticks([])
            self.images.append(ax.imshow(np.zeros((1, 1, 3), np.uint8), interpolation="none"))
        self.box = self.axes[2].add_patch(Rectangle((0, 0), 1, 1, fill=False, lw=1.2, edgecolor=YELLOW))
        self.kept = self.axes[2].add_patch(Rectangle((0, 0), 1, 1, fill=False, lw=1.2, edgecolor=CYAN,
                                                     linestyle="--"))
        self.marks: list = []  # this page's boxes around identity read in the image

    def text_page(self, drawing: TextDrawing):
        """Draw a summary page (one whose text needs glyphs outside the standard fonts)."""
        fig = self.text_fig
        fig.clear()
        fig.text(0.98, 0.015, drawing.footer, ha="right", size=FOOTER_SIZE)
        for y, line in drawing.placed():
            style = STYLES[line.style]
            fig.text(TEXT_LEFT, y, line.text, va="top", parse_math=False, size=style.size, color=style.colour,
                     weight="bold" if style.bold else "normal", family="monospace" if style.mono else "sans-serif")
        return fig

    def pair_page(self, drawing: PairDrawing):
        """Draw a pair page (one whose text needs glyphs outside the standard fonts)."""
        from matplotlib.patches import Rectangle

        self.header.set_text(drawing.header)
        self.footer.set_text(drawing.footer)
        self.error.set_text(drawing.error)
        panels = drawing.panels.composited() if drawing.panels else _UNDISPLAYABLE.composited()
        for ax, image, panel in zip(self.axes, self.images, panels):
            rows, cols = panel.shape[:2]
            image.set_data(panel)
            image.set_extent((-0.5, cols - 0.5, rows - 0.5, -0.5))
            ax.set_xlim(-0.5, cols - 0.5)
            ax.set_ylim(rows - 0.5, -0.5)
        _place(self.box, drawing.changed_box)
        _place(self.kept, drawing.kept_box)
        for artist in self.marks:
            artist.remove()
        self.marks = []
        for box, label in drawing.identity:
            self.marks.append(self.axes[0].add_patch(Rectangle(
                (box.x - 0.5, box.y - 0.5), box.width, box.height, fill=False, lw=1.5, edgecolor=MAGENTA)))
            self.marks.append(self.axes[0].text(box.x, box.y - 2, label, color=MAGENTA, size=LABEL_SIZE,
                                                va="bottom", clip_on=True))
        return self.fig


def _place(rect, box: Box | None) -> None:
    """Move a rectangle onto a box in display pixels (matplotlib's pixel centres are whole numbers)."""
    rect.set_visible(box is not None)
    if box is not None:
        rect.set_bounds(box.x - 0.5, box.y - 0.5, box.width, box.height)


def _pair_drawing(page: Page, tolerance: float, footer: str) -> PairDrawing:
    """What a pair page shows: its header, the panels of the shown frame, the changed box, the crop's kept
    region, and the text read in the image that matches the source's identity."""
    item = page.shown
    try:
        panels = _panels(item, tolerance)
    except Exception as exc:  # the page must exist to keep numbering; say why it has no images
        return PairDrawing(_header(page), footer, None, f"Cannot display this pair: {exc}")
    step = _display_step(item)
    crop = item.crop
    kept = None if crop is None else (crop.row0, crop.row0 + crop.rows, crop.col0, crop.col0 + crop.columns)
    identity = tuple((_box(line.box, step), ", ".join(line.matches)) for line in item.text_lines
                     if line.matches and (line.layer or line.frame == item.shown_frame))
    return PairDrawing(_header(page), footer, panels, changed_box=_box(item.bbox, step), kept_box=_box(kept, step),
                       identity=identity)


def _box(box: tuple[int, int, int, int] | None, step: int) -> Box | None:
    """A half-open box of image pixels (row0, row1, col0, col1) on an image downsampled by ``step``."""
    if box is None:
        return None
    r0, r1, c0, c1 = box
    return Box(c0 / step, r0 / step, (c1 - c0) / step, (r1 - r0) / step)


def _header(page: Page) -> str:
    item = page.shown
    d, s = item.deid, item.source
    d_frames, s_frames = d.format.frames or 1, s.format.frames or 1
    frames = []
    if d_frames != s_frames:
        frames.append(f"Frames: source {s_frames}, de-identified {d_frames}; shown frame {item.shown_frame} "
                      "(0-based), one both files have")
    elif item.changed_frames and d_frames > 1:
        others = [f for f in item.changed_frames if f != item.shown_frame]
        frames.append(f"Shown frame {item.shown_frame} (0-based) of {d_frames}; other changed frames: " + (
            _short_list(others) if others else "none"))
    box = "none" if item.bbox is None else "rows {}:{}, cols {}:{}".format(*item.bbox)
    metrics = (f"changed pixels {item.changed_pixels} ({100 * item.changed_fraction:.3g}%)   "
               f"max |diff| {_fmt(item.max_abs_diff)}   MSE {_fmt(item.mse)}   PSNR {_fmt(item.psnr)} dB   "
               f"SSIM {_fmt(item.ssim)}")
    lines = [f"Page {item.pdf_page}   De-identified: {d.rel_path}", f"Source: {s.rel_path}",
             f"PatientID {d.patient_id or '-'}   Modality {d.modality or '-'}   "
             f"Series {d.series_description or '-'}", metrics, f"Changed box (source coordinates, half-open): {box}"]
    if item.change_group:
        lines.append(_group_line(page))
    if item.reason:
        lines.append(f"Note: {item.reason}")
    if item.hidden_content:
        lines.append(f"Hidden content in the de-identified file: {item.hidden_content}")
    if item.phi_match:
        found = [f"{line.text} ({', '.join(line.matches)})" for line in item.text_lines if line.matches]
        lines.append(f"IDENTITY IN PIXELS (boxed in magenta): {'; '.join(found)}")
    if item.text_lines:
        lines.append("Text read: " + _short_text("; ".join(line.text for line in item.text_lines)))
    if any(layer.startswith("overlay ") for layer in d.layers + s.layers):
        lines.append("Overlay planes are drawn in green on their images.")
    return "\n".join(textwrap.fill(line, _HEADER_WIDTH, break_on_hyphens=False) for line in lines + frames)


_HEADER_WIDTH = 140  # characters of the 9-pt monospace header that fit across the page


def _group_line(page: Page) -> str:
    """What the page says of its change group: how many images share the change and, on a page that stands
    for them all, how many of them changed other pixels than the one shown."""
    item = page.shown
    line = f"Change: {item.change}   group {item.change_group}"
    if (item.group_size or 1) > 1:
        line += f", shared by {item.group_size} images of this series"
    if len(page.members) > 1:
        others = [m for m in page.members[1:] if m.mask_digest != item.mask_digest]
        line += (f"; this page stands for {len(page.members)} of them (all listed on the summary and in the CSV)"
                 + (f"; {len(others)} changed other pixels than the one shown (by up to "
                    f"{max(_mask_difference(m, item) for m in others)} pixels)" if others
                    else "; all changed the same pixels"))
    return line


def _mask_difference(member: PairResult, shown: PairResult) -> int:
    """Pixels changed in one of the two but not in the other, on the frame each shows (both masks cover the
    group's box); at least the difference of their changed-pixel counts over all frames."""
    counted = abs(member.changed_pixels - shown.changed_pixels)
    if not member.shown_mask or not shown.shown_mask:
        return counted
    a, b = unpack_mask(member.shown_mask), unpack_mask(shown.shown_mask)
    return max(counted, int(np.count_nonzero(a ^ b))) if a.shape == b.shape else counted


def _short_text(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[:limit] + " ..."


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _short_list(frames: list[int], limit: int = 30) -> str:
    text = ", ".join(str(f) for f in frames[:limit])
    return text + (f" ... ({len(frames)} in all)" if len(frames) > limit else "")


def _display_step(item: PairResult) -> int:
    rows, cols = item.source.format.rows or 1, item.source.format.columns or 1
    return max(1, math.ceil(max(rows, cols) / MAX_DISPLAY))


def _panels(item: PairResult, tolerance: float) -> Panels:
    """The panels of a pair page, downsampled for display, for the frame with most changes."""
    d_frame, s_frame = (read_frame(rec, item.shown_frame) for rec in (item.deid, item.source))
    with quiet_pydicom():
        d_ds, s_ds = (pydicom.dcmread(rec.path, stop_before_pixels=True, force=True)
                      for rec in (item.deid, item.source))
    step = _display_step(item)
    d8, s8 = (image[::step, ::step] for image in display_pair8(d_frame, d_ds, s_frame, s_ds))
    dimmed = _DIMMED[s8] if s8.ndim == 2 else np.rint(DIMMED * s8.mean(axis=-1)).astype(np.uint8)
    if d_frame.shape[:2] == s_frame.shape[:2] or item.crop is not None:
        mask = changed_mask(d_frame, s_frame, item.crop, tolerance)
    else:  # not comparable: everything changed
        mask = np.ones(s_frame.shape[:2], dtype=bool)
    d_planes, s_planes = (_overlay_mask(rec, frame.shape[:2]) for rec, frame in
                          ((item.deid, d_frame), (item.source, s_frame)))
    if d_planes.shape == s_planes.shape == mask.shape:  # a removed or changed overlay is changed area too
        mask = mask | (d_planes ^ s_planes)
    return Panels((d8, s8, dimmed), (_max_pool(d_planes, step), _max_pool(s_planes, step)), _max_pool(mask, step))


_DIMMED = np.rint(DIMMED * np.arange(256)).astype(np.uint8)
#: The page of a pair that cannot be displayed (its thumbnail, and matplotlib's page) shows black panels.
_UNDISPLAYABLE = Panels((np.zeros((1, 1), np.uint8),) * 3, (None, None), np.zeros((1, 1), bool))


def _overlay_mask(record, shape: tuple[int, int]) -> np.ndarray:
    """Where any of the file's overlay planes is set, on an image of ``shape``."""
    mask = np.zeros(shape, dtype=bool)
    for plane in read_overlays(record).values():
        mask |= plane.placed(shape)
    return mask


def display_pair(d_frame: np.ndarray, d_ds, s_frame: np.ndarray, s_ds) -> tuple[np.ndarray, np.ndarray]:
    """Both frames as shown on the page, float64 in [0, 1]: (rows, columns) grey or (rows, columns, 3) RGB.

    Grey frames go through the *source's* modality LUT and VOI transform on both sides (one grey scale, so a
    blanked region looks blanked), then each side's MONOCHROME1 is inverted by its own PhotometricInterpretation
    (a de-identified MONOCHROME1 copy of a MONOCHROME2 source looks the same, not as a negative).
    """
    if _is_colour(d_frame, d_ds) or _is_colour(s_frame, s_ds):
        return _rgb01(_colour_or_modality(d_frame, d_ds, s_ds)), _rgb01(_colour_or_modality(s_frame, s_ds, s_ds))
    d_shown, s_shown = _grey_display(d_ds, s_ds, s_frame)
    return d_shown(d_frame), s_shown(s_frame)


def display_pair8(d_frame: np.ndarray, d_ds, s_frame: np.ndarray, s_ds) -> tuple[np.ndarray, np.ndarray]:
    """:func:`display_pair` as uint8 (:func:`to_uint8`). Integer grey frames are looked up in a table holding
    the display value of every stored value from their least to their greatest: the transforms run once per
    value instead of once per pixel (a 512x512 CT pair: 1 instead of 18 ms)."""
    if not (_is_colour(d_frame, d_ds) or _is_colour(s_frame, s_ds)) and d_frame.dtype.kind in "iu" \
            and s_frame.dtype.kind in "iu" and d_frame.size and s_frame.size:
        low = min(int(d_frame.min()), int(s_frame.min()))
        high = max(int(d_frame.max()), int(s_frame.max()))
        if high - low < _TABLE_LIMIT:
            values = np.arange(low, high + 1)
            return tuple(to_uint8(shown(values))[np.subtract(frame, low, dtype=np.int64)]
                         for shown, frame in zip(_grey_display(d_ds, s_ds, s_frame), (d_frame, s_frame)))
    return tuple(to_uint8(image) for image in display_pair(d_frame, d_ds, s_frame, s_ds))


_TABLE_LIMIT = 1 << 20  # stored values spanning more than this are transformed pixel by pixel


def _is_colour(frame: np.ndarray, ds) -> bool:
    return frame.ndim == 3 or ds.get("PhotometricInterpretation") == "PALETTE COLOR"


def _grey_display(d_ds, s_ds, s_frame: np.ndarray):
    """Two functions mapping stored grey values to what the page shows, float64 in [0, 1]: the source's
    modality LUT and VOI transform (its window found from ``s_frame`` when it has none), then the de-identified
    or the source file's MONOCHROME1 inversion."""
    from pydicom.pixels import apply_modality_lut

    def modality(values: np.ndarray) -> np.ndarray:
        with quiet_pydicom():
            return apply_modality_lut(values, s_ds)

    with quiet_pydicom():
        window = _voi_window(s_ds, lambda: modality(s_frame))

    def shown(ds):
        invert = ds.get("PhotometricInterpretation") == "MONOCHROME1"

        def show(values: np.ndarray) -> np.ndarray:
            with quiet_pydicom():
                image = window(modality(values))
            return 1.0 - image if invert else image
        return show
    return shown(d_ds), shown(s_ds)


def _colour_or_modality(frame: np.ndarray, own_ds, source_ds) -> np.ndarray:
    """Colour frames as RGB (a palette through the file's own LUT); grey frames through the source's modality
    LUT."""
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    with quiet_pydicom():
        if own_ds.get("PhotometricInterpretation") == "PALETTE COLOR":
            return apply_color_lut(frame, own_ds)
        if frame.ndim == 3:
            return frame
        return apply_modality_lut(frame, source_ds)


def _voi_window(ds, modality_image):
    """A function mapping modality values to [0, 1] by the dataset's first VOI LUT or window (pydicom's
    ``apply_voi_lut``, SIGMOID included), scaled by that transform's output range; by the 0.5-99.5 percentile
    range of ``modality_image()`` (the frame's modality values) when the dataset has neither (or an unusable
    one)."""
    from pydicom.pixels import apply_voi_lut

    try:
        low, high = _voi_output_range(ds)
        if high > low:
            return lambda img: np.clip((np.asarray(apply_voi_lut(img, ds), np.float64) - low) / (high - low), 0, 1)
    except (AttributeError, TypeError, ValueError, IndexError, KeyError, NotImplementedError):
        pass
    image = modality_image()
    finite = image[np.isfinite(image)]
    low, high = np.percentile(finite, (0.5, 99.5)) if finite.size else (0.0, 1.0)
    high = high if high > low else low + 1
    return lambda img: np.clip((img - low) / (high - low), 0.0, 1.0)


def _voi_output_range(ds) -> tuple[float, float]:
    """The least and greatest value the dataset's VOI transform gives: its LUT's entries, or the window's
    output range; raises ValueError when the dataset has none."""
    from pydicom.pixels import apply_voi_lut

    seq = ds.get("VOILUTSequence")
    if seq and "LUTDescriptor" in seq[0] and "LUTData" in seq[0]:
        entries, first, _bits = seq[0].LUTDescriptor
        out = apply_voi_lut(np.arange(first, first + (entries or 1 << 16)), ds)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        with np.errstate(over="ignore"):
            out = apply_voi_lut(np.array([-1e300, 1e300]), ds)
    else:
        raise ValueError("no VOI transform")
    return float(np.min(out)), float(np.max(out))


def _rgb01(image: np.ndarray) -> np.ndarray:
    """Scale an integer RGB image to [0, 1] by its dtype's range (float images by their maximum)."""
    if image.dtype.kind in "ui":
        return image.astype(np.float64) / np.iinfo(image.dtype).max
    return np.clip(image / max(float(np.nanmax(image)), 1e-9), 0, 1)


def to_uint8(image01: np.ndarray) -> np.ndarray:
    """A [0, 1] image as uint8 (NaN as 0)."""
    return np.rint(np.nan_to_num(image01) * 255).astype(np.uint8)


def to_rgb8(image01: np.ndarray) -> np.ndarray:
    """A [0, 1] grey (rows, columns) or RGB image as (rows, columns, 3) uint8."""
    return rgb(to_uint8(image01))


def _max_pool(mask: np.ndarray, step: int) -> np.ndarray:
    """Downsample a boolean mask by ``step`` so that any True pixel in a block keeps the block True."""
    if step == 1:
        return mask
    rows, cols = mask.shape
    padded = np.zeros((math.ceil(rows / step) * step, math.ceil(cols / step) * step), dtype=bool)
    padded[:rows, :cols] = mask
    return padded.reshape(padded.shape[0] // step, step, -1, step).any(axis=(1, 3))
