"""What a recipe expects of one image: the rule that matched its source header and the regions to blank.

Regions are in the image's columns (x) and rows (y), half-open: ``x0 <= x < x1``, ``y0 <= y < y1``. A region may
instead be kept (deid's ``keepcoordinates``: a recipe that blanks everything but the ultrasound regions). Regions
apply in order, a later one over an earlier one, as deid's cleaner applies them; a negative x or y counts from the
right or the bottom, as CTP's does."""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np


class Region(NamedTuple):
    x0: int
    y0: int
    x1: int
    y1: int
    #: A region kept as it is inside a blanked one (deid's ``keepcoordinates``).
    keep: bool = False

    def text(self) -> str:
        """As the CSV and the report write it: "x0,y0,x1,y1", "keep x0,y0,x1,y1" for a kept region."""
        where = "all" if self[:4] == WHOLE_IMAGE[:4] else f"{self.x0},{self.y0},{self.x1},{self.y1}"
        return f"{'keep ' if self.keep else ''}{where}"


_REGION_TEXT = re.compile(r"(keep )?(all|-?\d+,-?\d+,-?\d+,-?\d+)")

#: The whole image, whatever its size (deid's ``coordinates all``).
WHOLE_IMAGE = Region(0, 0, 1 << 30, 1 << 30)


class Expectation(NamedTuple):
    """The recipe's answer for one source header: the rules that matched (empty: none did), the regions they name,
    and whether a matched rule only flags the image for a person (it names no region)."""

    rules: tuple[str, ...] = ()
    regions: tuple[Region, ...] = ()
    flags_only: bool = False

    @property
    def rule(self) -> str:
        return "; ".join(self.rules)

    def boxes_text(self) -> str:
        return " ".join(region.text() for region in self.regions)


NO_RULE = Expectation()


def regions_from_text(text: str) -> tuple[Region, ...]:
    """The regions :meth:`Expectation.boxes_text` wrote (the CSV's ``recipe_boxes``)."""
    regions = []
    for match in _REGION_TEXT.finditer(text):
        keep, where = bool(match[1]), match[2]
        if where == "all":
            regions.append(WHOLE_IMAGE._replace(keep=keep))
            continue
        x0, y0, x1, y1 = (int(v) for v in where.split(","))
        regions.append(Region(x0, y0, x1, y1, keep))
    return tuple(regions)


def clamped_boxes(regions: tuple[Region, ...], rows: int, columns: int) -> list[tuple[tuple[int, int, int, int], bool]]:
    """Each region as a half-open (row0, row1, col0, col1) box inside the image, with whether it is kept."""
    boxes = []
    for region in regions:
        (x0, x1), (y0, y1) = _span(region.x0, region.x1, columns), _span(region.y0, region.y1, rows)
        if x1 > x0 and y1 > y0:
            boxes.append(((y0, y1, x0, x1), region.keep))
    return boxes


def blank_mask(regions: tuple[Region, ...], rows: int, columns: int) -> np.ndarray:
    """The pixels the regions blank (True), for an image of ``rows`` x ``columns``."""
    mask = np.zeros((rows, columns), dtype=bool)
    for region in regions:
        x0, x1 = _span(region.x0, region.x1, columns)
        y0, y1 = _span(region.y0, region.y1, rows)
        mask[y0:y1, x0:x1] = not region.keep
    return mask


def _span(start: int, end: int, size: int) -> tuple[int, int]:
    """A region's [start, end) along an axis of ``size``, a negative start counted from the end (CTP)."""
    if start < 0:
        start, end = start + size, end + size
    return min(max(start, 0), size), min(max(end, 0), size)
