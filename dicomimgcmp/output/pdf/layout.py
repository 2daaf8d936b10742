"""The pages' layout, and pages written straight into a PDF with pikepdf.

A pair page is three images (de-identified | source | changed area) under a header of text. matplotlib draws it
in about 85 ms, 45 of them spent re-encoding each image (a palette search and a PNG per panel). Written here,
each image is one Flate stream with the PNG "up" predictor, deflated by ISA-L; the masks (changed pixels in red,
overlay planes in green) are 1-bit stencils painted over their image; the text is in the PDF's standard
Courier. The page costs about 13 ms. Summary pages are lines of Helvetica and Courier. matplotlib draws a page
whose text needs a glyph outside the standard fonts' WinAnsi encoding (:func:`in_standard_fonts`), from the
same layout, and is imported only then.
"""

from __future__ import annotations

import textwrap
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from isal import isal_zlib

from dicomimgcmp.base.colour import rgb

if TYPE_CHECKING:  # imported when pages are written
    import pikepdf

PAGE_SIZE = (11.69, 8.27)  # A4 landscape, inches
POINTS = 72  # PDF points per inch
#: Where the three panels go (figure fractions; matplotlib's gridspec parameters, which both drawers use).
GRID = dict(left=0.02, right=0.98, bottom=0.05, top=0.76, wspace=0.04)
TITLES = ("De-identified", "Source", "Changed area")
HEADER_SIZE, TITLE_SIZE, FOOTER_SIZE, ERROR_SIZE, LABEL_SIZE = 9, 11, 8, 12, 7  # points
LINE_SPACING = 1.2  # baseline to baseline, in font sizes (matplotlib's default)
#: Colours (RGB, 0-1): overlay planes, changed pixels, the changed box, the kept crop, identity read in the image.
GREEN, RED, YELLOW, CYAN, MAGENTA = (0, 1, 0), (1, 0, 0), (1, 1, 0), (0, 1, 1), (1, 0, 1)
#: The recipe's expected regions: blanked (orange) and kept (light blue), dashed.
ORANGE, SKY = (1, 0.55, 0), (0.45, 0.75, 1)
#: Deflate level of the images, with ISA-L (0-3): a 512x512 CT panel in 0.5 ms, as small as zlib's level 6 makes
#: it in 6 ms (matplotlib's palette PNG took 15 ms).
COMPRESSION = 1
#: Streams shorter than this are deflated by zlib: ISA-L encoded a 30-byte image two ways, in 4 of 65 runs of one
#: trial (the same bytes decoded, but the PDF not byte-identical; none in 90 runs since), and zlib takes
#: microseconds on these.
SMALL_STREAM = 4096
_COURIER_WIDTH = 0.6  # every Courier glyph is 600/1000 of the font size wide
_ASCENT = 0.75  # from the top of a line of text to its baseline, in font sizes
_FONTS = {"/F1": "Courier", "/F2": "Courier-Bold", "/F3": "Helvetica", "/F4": "Helvetica-Bold"}


@dataclass(frozen=True)
class TextStyle:
    """How a summary line is set: points, line height (figure fraction), characters per line."""

    size: float
    step: float
    width: int
    bold: bool = False
    colour: tuple[float, float, float] = (0, 0, 0)
    mono: bool = False

    @property
    def font(self) -> str:
        return {(True, False): "/F1", (True, True): "/F2", (False, False): "/F3", (False, True): "/F4"}[
            (self.mono, self.bold)]


STYLES = {"title": TextStyle(16, 0.045, 90, bold=True), "warn": TextStyle(12, 0.03, 110, bold=True, colour=RED),
          "text": TextStyle(10, 0.03, 130), "mono": TextStyle(8, 0.021, 150, mono=True)}
TEXT_TOP, TEXT_BOTTOM, TEXT_LEFT = 0.95, 0.06, 0.04  # where summary text may go (figure fraction)


@dataclass(frozen=True)
class Line:
    """A line of the summary: its text, its style (title, warn, text, mono) and the page it links to."""

    text: str
    style: str = "text"
    target: int | None = None  # 1-based page; written before the text as "p.N"


@dataclass(frozen=True)
class TextDrawing:
    """A summary page: its lines, from the top, and its footer."""

    lines: list[Line]
    footer: str

    def text(self) -> list[str]:
        return [line.text for line in self.lines] + [self.footer]

    def placed(self) -> list[tuple[float, Line]]:
        """Each line with the figure fraction of its top edge."""
        tops, y = [], TEXT_TOP
        for line in self.lines:
            tops.append((y, line))
            y -= STYLES[line.style].step
        return tops

    def links(self) -> list[tuple[tuple[float, float, float, float], int]]:
        """The lines that name a page, as ((x0, y0, x1, y1) figure fractions, 1-based page)."""
        return [((TEXT_LEFT, y - STYLES[line.style].step, 1 - TEXT_LEFT, y), line.target)
                for y, line in self.placed() if line.target is not None]


@dataclass(frozen=True)
class Panels:
    """The three images of a pair page, downsampled for display: uint8 (rows, columns) grey or (rows, columns,
    3) RGB, the same size; and what is painted over them: ``overlays`` (where the first two panels' overlay
    planes are set, or None) in green, ``changed`` (the changed pixels, on the third panel) in red."""

    images: tuple[np.ndarray, np.ndarray, np.ndarray]
    overlays: tuple[np.ndarray | None, np.ndarray | None]
    changed: np.ndarray

    def masks(self) -> tuple[tuple[np.ndarray | None, tuple[float, float, float]], ...]:
        """Each panel's mask and its colour."""
        return (self.overlays[0], GREEN), (self.overlays[1], GREEN), (self.changed, RED)

    def composited(self) -> list[np.ndarray]:
        """The three panels as RGB uint8 with their masks painted in (thumbnails, matplotlib)."""
        out = []
        for image, (mask, colour) in zip(self.images, self.masks()):
            image = rgb(image).copy()
            if mask is not None:
                image[mask] = np.rint(np.array(colour) * 255).astype(np.uint8)
            out.append(image)
        return out


@dataclass(frozen=True)
class Box:
    """A rectangle on a panel, in its display pixels: left and top edges, width and height."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class PairDrawing:
    """Everything drawn on a pair page."""

    header: str  # lines of the 9-point monospace header
    footer: str  # "page N of M"
    panels: Panels | None  # None when the pair cannot be displayed: ``error`` says why
    error: str = ""
    changed_box: Box | None = None  # on the changed-area panel, in yellow
    kept_box: Box | None = None  # the crop's kept region, on the changed-area panel, dashed cyan
    identity: tuple[tuple[Box, str], ...] = ()  # text matching the source's identity, on the first panel
    #: The recipe's regions (blanked, or kept: True) on the de-identified and the source panels, dashed.
    expected: tuple[tuple[Box | None, Box, bool], ...] = ()

    def text(self) -> list[str]:
        return [self.header, self.footer, self.error, *TITLES, *(label for _box, label in self.identity)]


def in_standard_fonts(text: str) -> bool:
    """Whether the PDF's standard fonts (WinAnsi encoding, close to cp1252) hold every character of ``text``."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def panel_rect(k: int, shape: tuple[int, ...]) -> tuple[float, float, float, float]:
    """Where panel ``k``'s image of ``shape`` goes on the page, (x, y, width, height) in points from the bottom
    left: the grid's cell, shrunk to the image's aspect and centred, as matplotlib places an ``imshow`` axes."""
    width, height = (side * POINTS for side in PAGE_SIZE)
    cell = (GRID["right"] - GRID["left"]) * width / (3 + 2 * GRID["wspace"])
    cell_h = (GRID["top"] - GRID["bottom"]) * height
    rows, cols = shape[:2]
    scale = min(cell / cols, cell_h / rows)
    return (GRID["left"] * width + k * cell * (1 + GRID["wspace"]) + (cell - cols * scale) / 2,
            GRID["bottom"] * height + (cell_h - rows * scale) / 2, cols * scale, rows * scale)


def write_pages(path: Path, drawings: list[PairDrawing | TextDrawing]) -> None:
    """Write the pages to a new PDF at ``path`` (a chunk that the report joins)."""
    import pikepdf

    pdf = pikepdf.Pdf.new()
    fonts = pikepdf.Dictionary({name: pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name(f"/{font}"),
        Encoding=pikepdf.Name.WinAnsiEncoding)) for name, font in _FONTS.items()})
    width, height = (side * POINTS for side in PAGE_SIZE)
    for drawing in drawings:
        page = _Page(pdf)
        if isinstance(drawing, TextDrawing):
            page.draw_text(drawing, width, height)
        else:
            page.draw(drawing, width, height)
        pdf.pages.append(pikepdf.Page(pikepdf.Dictionary(
            Type=pikepdf.Name.Page, MediaBox=[0, 0, width, height],
            Resources=pikepdf.Dictionary(Font=fonts, XObject=pikepdf.Dictionary(page.xobjects)),
            Contents=pdf.make_stream(page.content()))))
    pdf.save(path, deterministic_id=True, compress_streams=True)


class _Page:
    """One page's content stream and images as they are built."""

    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self.pdf = pdf
        self.ops: list[bytes] = []
        self.xobjects: dict[str, object] = {}

    def content(self) -> bytes:
        return b"\n".join(self.ops)

    def draw_text(self, drawing: TextDrawing, width: float, height: float) -> None:
        for y, line in drawing.placed():
            style = STYLES[line.style]
            self.text(line.text, TEXT_LEFT * width, y * height - _ASCENT * style.size, style.size, style.colour,
                      style.font)
        self.footer(drawing.footer, width, height)

    def footer(self, text: str, width: float, height: float) -> None:
        self.text(text, 0.98 * width - _text_width(text, FOOTER_SIZE), 0.015 * height, FOOTER_SIZE)

    def draw(self, drawing: PairDrawing, width: float, height: float) -> None:
        y = 0.98 * height - _ASCENT * HEADER_SIZE  # the header's top edge at 0.98, as matplotlib's va="top"
        for line in drawing.header.split("\n"):
            self.text(line, 0.02 * width, y, HEADER_SIZE)
            y -= HEADER_SIZE * LINE_SPACING
        self.footer(drawing.footer, width, height)
        if drawing.panels is None:
            for k, line in enumerate(textwrap.wrap(drawing.error, int(width * 0.9 / (ERROR_SIZE * _COURIER_WIDTH)))):
                self.text(line, (width - _text_width(line, ERROR_SIZE)) / 2, height / 2 - k * ERROR_SIZE *
                          LINE_SPACING, ERROR_SIZE, RED)
            return
        images = drawing.panels.images
        rects = [panel_rect(k, image.shape) for k, image in enumerate(images)]
        for k, ((x, y0, w, h), image, (mask, colour), title) in enumerate(zip(
                rects, images, drawing.panels.masks(), TITLES)):
            self.image(f"/I{k}", image, (x, y0, w, h))
            if mask is not None and mask.any():
                self.stencil(f"/M{k}", mask, (x, y0, w, h), colour)
            self.ops.append(b"0 g 0 G 0.8 w %.3f %.3f %.3f %.3f re S" % (x, y0, w, h))  # the axes' frame
            self.text(title, x + (w - _text_width(title, TITLE_SIZE)) / 2, y0 + h + 6, TITLE_SIZE, font="/F2")
        scales = [rect[2] / image.shape[1] for rect, image in zip(rects, images)]  # points per display pixel
        for box, colour, dashed in ((drawing.changed_box, YELLOW, False), (drawing.kept_box, CYAN, True)):
            if box is not None:
                self.rect(box, rects[2], scales[2], colour, 1.2, dashed)
        for on_deid, on_source, keep in drawing.expected:
            for k, box in ((0, on_deid), (1, on_source)):
                if box is not None:
                    self.rect(box, rects[k], scales[k], SKY if keep else ORANGE, 1.0, dashed=True)
        for box, label in drawing.identity:
            self.rect(box, rects[0], scales[0], MAGENTA, 1.5)
            x, y0, w, h = rects[0]
            self.ops.append(b"q %.3f %.3f %.3f %.3f re W n" % (x, y0, w, h))  # the label stays on its panel
            self.text(label, x + box.x * scales[0], y0 + h - box.y * scales[0] + 2, LABEL_SIZE, MAGENTA)
            self.ops.append(b"Q")

    def text(self, text: str, x: float, y: float, size: float, colour: tuple[float, float, float] = (0, 0, 0),
             font: str = "/F1") -> None:
        if text:
            self.ops.append(b"BT %s %g Tf %.3f %.3f %.3f rg %.3f %.3f Td %s Tj ET" % (
                font.encode(), size, *colour, x, y, _pdf_string(text)))

    def rect(self, box: Box, panel: tuple[float, float, float, float], scale: float, colour: tuple[float, float, float],
             line_width: float, dashed: bool = False) -> None:
        """Stroke a box given in display pixels (matplotlib's pixel edges: a pixel's box is its whole square)."""
        x, y0, _w, h = panel
        dash = b"[%.2f %.2f] 0 d " % (3.7 * line_width, 1.6 * line_width) if dashed else b""
        self.ops.append(b"q %s%.3f %.3f %.3f RG %.2f w %.3f %.3f %.3f %.3f re S Q" % (
            dash, *colour, line_width, x + box.x * scale, y0 + h - (box.y + box.height) * scale,
            box.width * scale, box.height * scale))

    def image(self, name: str, image: np.ndarray, rect: tuple[float, float, float, float]) -> None:
        import pikepdf

        rows, cols = image.shape[:2]
        colours = 1 if image.ndim == 2 else image.shape[2]
        self.xobjects[name] = self._stream(
            _png_up(image.reshape(rows, cols * colours)), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
            Width=cols, Height=rows, BitsPerComponent=8,
            ColorSpace=pikepdf.Name.DeviceGray if colours == 1 else pikepdf.Name.DeviceRGB,
            DecodeParms=pikepdf.Dictionary(Predictor=15, Colors=colours, BitsPerComponent=8, Columns=cols))
        self.ops.append(b"q %.3f 0 0 %.3f %.3f %.3f cm %s Do Q" % (rect[2], rect[3], rect[0], rect[1], name.encode()))

    def stencil(self, name: str, mask: np.ndarray, rect: tuple[float, float, float, float],
                colour: tuple[float, float, float]) -> None:
        """Paint ``colour`` where ``mask`` is set (an image mask: 1 bit per pixel, rows padded to bytes)."""
        import pikepdf

        rows, cols = mask.shape
        self.xobjects[name] = self._stream(
            np.packbits(mask, axis=1).tobytes(), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
            Width=cols, Height=rows, ImageMask=True, BitsPerComponent=1, Decode=[1, 0])
        self.ops.append(b"q %.3f %.3f %.3f rg %.3f 0 0 %.3f %.3f %.3f cm %s Do Q" % (
            *colour, rect[2], rect[3], rect[0], rect[1], name.encode()))

    def _stream(self, data: bytes, **keys: Any) -> pikepdf.Object:
        import pikepdf

        stream = pikepdf.Stream(self.pdf, b"", **keys)
        deflate = zlib.compress if len(data) < SMALL_STREAM else isal_zlib.compress
        stream.write(deflate(data, COMPRESSION), filter=pikepdf.Name.FlateDecode, decode_parms=keys.get("DecodeParms"))
        return self.pdf.make_indirect(stream)


def _png_up(rows: np.ndarray) -> bytes:
    """Image rows (uint8, one row per line) with the PNG "up" filter: each byte less the one above it, each
    row led by the filter's number (2)."""
    out = np.empty((rows.shape[0], rows.shape[1] + 1), np.uint8)
    out[:, 0] = 2
    out[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=out[1:, 1:])
    return out.tobytes()


def _text_width(text: str, size: float) -> float:
    return len(text) * size * _COURIER_WIDTH


def _pdf_string(text: str) -> bytes:
    """A PDF literal string of ``text`` in WinAnsi encoding (callers check :func:`in_standard_fonts`)."""
    data = text.encode("cp1252", "replace")
    return b"(" + data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"
