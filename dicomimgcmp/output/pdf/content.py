"""What a pair page shows: its header text, the panels of the frame with most changes (de-identified | source |
changed area, downsampled for display; the changed-pixel mask max-pooled so that a one-pixel change stays
visible), the changed box, the crop's kept region, and identity text read in the image."""

from __future__ import annotations

import math
import textwrap

import numpy as np

from dicomimgcmp.checks.recipe.regions import clamped_boxes, regions_from_text
from dicomimgcmp.compare.diff import changed_mask
from dicomimgcmp.compare.groups import unpack_mask
from dicomimgcmp.model import FileRecord, PairResult, slice_text
from dicomimgcmp.output.pdf.layout import Box, PairDrawing, Panels
from dicomimgcmp.output.pdf.plan import Page
from dicomimgcmp.pixels.decode import read_frame
from dicomimgcmp.pixels.display import display_pair8
from dicomimgcmp.pixels.layers import read_overlays
from dicomimgcmp.read.dicomfile import read_dataset
from dicomimgcmp.read.layers import has_overlays

MAX_DISPLAY = 768  # longest side of a displayed image, pixels


DIMMED = 0.35  # the changed-area panel shows the source at this brightness under the red changed pixels


def pair_drawing(page: Page, tolerance: float, footer: str) -> PairDrawing:
    """What a pair page shows: its header, the panels of the shown frame, the changed box, the crop's kept
    region, and the text read in the image that matches the source's identity."""
    item = page.shown
    try:
        panels = _panels(item, tolerance)
    except Exception as exc:  # noqa: BLE001 - the page must exist to keep numbering; say why it has no images
        return PairDrawing(_header(page), footer, None, f"Cannot display this pair: {exc}")
    step = _display_step(item)
    crop = item.crop
    kept = None if crop is None else crop.box
    identity = tuple((_box(line.box, step), ", ".join(line.matches)) for line in item.text_lines
                     if line.matches and (line.layer or line.frame == item.shown_frame))
    return PairDrawing(_header(page), footer, panels, changed_box=_maybe_box(item.bbox, step),
                       kept_box=_maybe_box(kept, step),
                       identity=identity, expected=_expected(item, step))


def _expected(item: PairResult, step: int) -> tuple[tuple[Box | None, Box, bool], ...]:
    """The recipe's regions on the source panel and, moved by a crop, on the de-identified one."""
    if not item.recipe_boxes:
        return ()
    source = item.files[1].pixels
    crop = item.crop
    drawn = []
    for (r0, r1, c0, c1), keep in clamped_boxes(regions_from_text(item.recipe_boxes), source.rows or 0,
                                                  source.columns or 0):
        on_deid: Box | None = _box((r0, r1, c0, c1), step)
        if crop is not None:
            inside = (max(r0, crop.row0), min(r1, crop.row0 + crop.rows), max(c0, crop.col0),
                      min(c1, crop.col0 + crop.columns))
            on_deid = (_box((inside[0] - crop.row0, inside[1] - crop.row0, inside[2] - crop.col0,
                             inside[3] - crop.col0), step) if inside[1] > inside[0] and inside[3] > inside[2] else None)
        drawn.append((on_deid, _box((r0, r1, c0, c1), step), keep))
    return tuple(drawn)


def _maybe_box(box: tuple[int, int, int, int] | None, step: int) -> Box | None:
    return None if box is None else _box(box, step)


def _box(box: tuple[int, int, int, int], step: int) -> Box:
    """A half-open box of image pixels (row0, row1, col0, col1) on an image downsampled by ``step``."""
    r0, r1, c0, c1 = box
    return Box(c0 / step, r0 / step, (c1 - c0) / step, (r1 - r0) / step)


def _header(page: Page) -> str:
    item = page.shown
    d, s = item.files
    d_frames, s_frames = d.pixels.frames or 1, s.pixels.frames or 1
    frames = []
    if d_frames != s_frames:
        frames.append(f"Frames: source {s_frames}, de-identified {d_frames}; shown frame {item.shown_frame} "
                      "(0-based), one both files have")
    elif item.changed_frames and d_frames > 1:
        others = [f for f in item.changed_frames if f != item.shown_frame]
        frames.append(f"Shown frame {item.shown_frame} (0-based) of {d_frames}; other changed frames: " + (
            _short_list(others) if others else "none"))
    box = "none" if item.bbox is None else slice_text(item.bbox)
    fraction = "-" if item.changed_fraction is None else f"{100 * item.changed_fraction:.3g}%"
    metrics = (f"changed pixels {item.changed_pixels} ({fraction})   "
               f"max |diff| {_fmt(item.max_abs_diff)}   MSE {_fmt(item.mse)}   PSNR {_fmt(item.psnr)} dB   "
               f"SSIM {_fmt(item.ssim)}")
    lines = [f"Page {item.pdf_page}   De-identified: {d.rel_path}", f"Source: {s.rel_path}",
             f"PatientID {d.patient_id or '-'}   Modality {d.modality or '-'}   "
             f"Series {d.series_description or '-'}", metrics, f"Changed box (source coordinates, half-open): {box}"]
    if item.change_group:
        lines.append(_group_line(page))
    if item.recipe_verdict:
        lines.append(f"Recipe: {item.recipe_verdict.upper()}   rule: {item.recipe_rule or 'none matched'}   "
                     f"regions x0,y0,x1,y1 (dashed: blanked orange, kept blue): {item.recipe_boxes or 'none'}")
    if item.reason:
        lines.append(f"Note: {item.reason}")
    if item.hidden_content:
        lines.append(f"Hidden content in the de-identified file: {item.hidden_content}")
    if item.phi_match:
        found = [f"{line.text} ({', '.join(line.matches)})" for line in item.text_lines if line.matches]
        lines.append(f"IDENTITY IN PIXELS (boxed in magenta): {'; '.join(found)}")
    if item.text_lines:
        lines.append("Text read: " + _short_text("; ".join(line.text for line in item.text_lines)))
    if has_overlays(d.layers + s.layers):
        lines.append("Overlay planes are drawn in green on their images.")
    return "\n".join(textwrap.fill(line, _HEADER_WIDTH, break_on_hyphens=False) for line in lines + frames)


_HEADER_WIDTH = 140  # characters of the 9-pt monospace header that fit across the page


def _group_line(page: Page) -> str:
    """What the page says of its change group: how many images share the change and, on a page that stands
    for them all, how many of them changed other pixels than the one shown."""
    item = page.shown
    kind = f" ({item.change_kind})" if item.change_kind else ""
    line = f"Change: {item.change}{kind}   group {item.change_group}"
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
    counted = abs((member.changed_pixels or 0) - (shown.changed_pixels or 0))
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
    source = item.files[1].pixels
    rows, cols = source.rows or 1, source.columns or 1
    return max(1, math.ceil(max(rows, cols) / MAX_DISPLAY))


def _panels(item: PairResult, tolerance: float) -> Panels:
    """The panels of a pair page, downsampled for display, for the frame with most changes."""
    d_frame, s_frame = (read_frame(rec, item.shown_frame) for rec in item.files)
    d_ds, s_ds = (read_dataset(rec.path) for rec in item.files)
    step = _display_step(item)
    d8, s8 = (image[::step, ::step] for image in display_pair8(d_frame, d_ds, s_frame, s_ds))
    dimmed = _DIMMED[s8] if s8.ndim == 2 else np.rint(DIMMED * s8.mean(axis=-1)).astype(np.uint8)
    if d_frame.shape[:2] == s_frame.shape[:2] or item.crop is not None:
        mask = changed_mask(d_frame, s_frame, item.crop, tolerance)
    else:  # not comparable: everything changed
        mask = np.ones(s_frame.shape[:2], dtype=bool)
    d_planes, s_planes = (_overlay_mask(rec, frame.shape[:2]) for rec, frame in
                          ((item.files[0], d_frame), (item.files[1], s_frame)))
    if d_planes.shape == s_planes.shape == mask.shape:  # a removed or changed overlay is changed area too
        mask = mask | (d_planes ^ s_planes)
    return Panels((d8, s8, dimmed), (_max_pool(d_planes, step), _max_pool(s_planes, step)), _max_pool(mask, step))


_DIMMED = np.rint(DIMMED * np.arange(256)).astype(np.uint8)


#: The page of a pair that cannot be displayed (its thumbnail, and matplotlib's page) shows black panels.
UNDISPLAYABLE = Panels((np.zeros((1, 1), np.uint8),) * 3, (None, None), np.zeros((1, 1), bool))


def _overlay_mask(record: FileRecord, shape: tuple[int, int]) -> np.ndarray:
    """Where any of the file's overlay planes is set, on an image of ``shape``."""
    mask = np.zeros(shape, dtype=bool)
    for plane in read_overlays(record).values():
        if plane is not None:
            mask |= plane.placed(shape)
    return mask


def _max_pool(mask: np.ndarray, step: int) -> np.ndarray:
    """Downsample a boolean mask by ``step`` so that any True pixel in a block keeps the block True."""
    if step == 1:
        return mask
    rows, cols = mask.shape
    padded = np.zeros((math.ceil(rows / step) * step, math.ceil(cols / step) * step), dtype=bool)
    padded[:rows, :cols] = mask
    return np.asarray(padded.reshape(padded.shape[0] // step, step, -1, step).any(axis=(1, 3)))
