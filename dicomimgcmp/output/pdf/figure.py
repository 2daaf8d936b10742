"""The matplotlib pages: a summary page or a pair page whose text the PDF's standard fonts cannot show (imported
only then, so the command line starts fast)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from dicomimgcmp.output.pdf.content import UNDISPLAYABLE
from dicomimgcmp.output.pdf.layout import (
    CYAN,
    FOOTER_SIZE,
    GRID,
    LABEL_SIZE,
    MAGENTA,
    ORANGE,
    PAGE_SIZE,
    RED,
    SKY,
    STYLES,
    TEXT_LEFT,
    TITLES,
    YELLOW,
    Box,
    PairDrawing,
    TextDrawing,
)

if TYPE_CHECKING:  # matplotlib is imported when a page is drawn
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle


class PageFigure:
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

    def text_page(self, drawing: TextDrawing) -> Figure:
        """Draw a summary page (one whose text needs glyphs outside the standard fonts)."""
        fig = self.text_fig
        fig.clear()
        fig.text(0.98, 0.015, drawing.footer, ha="right", size=FOOTER_SIZE)
        for y, line in drawing.placed():
            style = STYLES[line.style]
            fig.text(TEXT_LEFT, y, line.text, va="top", parse_math=False, size=style.size, color=style.colour,
                     weight="bold" if style.bold else "normal", family="monospace" if style.mono else "sans-serif")
        return fig

    def pair_page(self, drawing: PairDrawing) -> Figure:
        """Draw a pair page (one whose text needs glyphs outside the standard fonts)."""
        from matplotlib.patches import Rectangle

        self.header.set_text(drawing.header)
        self.footer.set_text(drawing.footer)
        self.error.set_text(drawing.error)
        panels = drawing.panels.composited() if drawing.panels else UNDISPLAYABLE.composited()
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
        for on_deid, on_source, keep in drawing.expected:
            for ax, box in ((self.axes[0], on_deid), (self.axes[1], on_source)):
                if box is not None:
                    self.marks.append(ax.add_patch(Rectangle(
                        (box.x - 0.5, box.y - 0.5), box.width, box.height, fill=False, lw=1.0, linestyle="--",
                        edgecolor=SKY if keep else ORANGE)))
        for box, label in drawing.identity:
            self.marks.append(self.axes[0].add_patch(Rectangle(
                (box.x - 0.5, box.y - 0.5), box.width, box.height, fill=False, lw=1.5, edgecolor=MAGENTA)))
            self.marks.append(self.axes[0].text(box.x, box.y - 2, label, color=MAGENTA, size=LABEL_SIZE,
                                                va="bottom", clip_on=True))
        return self.fig


def _place(rect: Rectangle, box: Box | None) -> None:
    """Move a rectangle onto a box in display pixels (matplotlib's pixel centres are whole numbers)."""
    rect.set_visible(box is not None)
    if box is not None:
        rect.set_bounds(box.x - 0.5, box.y - 0.5, box.width, box.height)
