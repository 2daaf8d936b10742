"""What "changed" means for one frame pair: the values that differ by more than the tolerance, their mask and box
(source coordinates, half-open)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dicomimgcmp.model import Crop


def changed_mask(deid: np.ndarray, source: np.ndarray, crop: Crop | None, tolerance: float) -> np.ndarray:
    """Boolean (rows, columns) mask, in source coordinates, of the changed pixels (see :func:`frame_diff`)."""
    mask = frame_diff(deid, source, crop, tolerance).mask
    return np.zeros(source.shape[:2], dtype=bool) if mask is None else mask


@dataclass(frozen=True)
class FrameDiff:
    """How a de-identified frame differs from its source frame.

    ``mask``: (rows, columns) bool in source coordinates, the changed pixel positions (None: none changed).
    ``changed``: the same over the compared part, in de-identified coordinates (None: none changed).
    ``box``: (row0, row1, col0, col1), de-identified coordinates, around every position whose values differ
    at all (None: all equal); ``abs_diff`` is |de-identified - source| inside it, (rows, columns[, samples]),
    and ``per_pixel`` its largest value over channels at each position; outside the box both are 0.
    """

    mask: np.ndarray | None
    changed: np.ndarray | None = None
    box: tuple[int, int, int, int] | None = None
    abs_diff: np.ndarray | None = None
    per_pixel: np.ndarray | None = None


def frame_diff(deid: np.ndarray, source: np.ndarray, crop: Crop | None, tolerance: float) -> FrameDiff:
    """The one definition of *changed*: a pixel position whose |de-identified - source| exceeds ``tolerance``
    in any channel (exact arithmetic; NaN against a number is a change, NaN against NaN is not), and, with a
    ``crop``, every source pixel outside the part the de-identified image kept. Without a crop the shapes must
    be equal. The differences are computed only inside the box of unequal values (a blanked band is a small
    part of an image)."""
    window = cropped_view(source, crop)
    box = box_of(_largest_over_channels(_unequal(deid, window)))
    if box is None:
        return FrameDiff(_mask_from(None, source.shape[:2], crop))
    r0, r1, c0, c1 = box
    abs_diff = _abs_diff(deid[r0:r1, c0:c1], window[r0:r1, c0:c1])
    per_pixel = _largest_over_channels(abs_diff)
    changed = np.zeros(deid.shape[:2], dtype=bool)
    changed[r0:r1, c0:c1] = ~(per_pixel <= tolerance)
    return FrameDiff(_mask_from(changed, source.shape[:2], crop), changed, box, abs_diff, per_pixel)


def _unequal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where the values differ (NaN against NaN does not), without converting integers."""
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            return ~((a == b) | (np.isnan(a) & np.isnan(b)))
    return a != b


def pixel_abs_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| per pixel position (the largest over channels), exact: (rows, columns) int64 or float64."""
    return _largest_over_channels(_abs_diff(a, b))


def _abs_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| element by element, exact; for float data equal values (infinities, NaN with NaN) give 0."""
    x, y = _exact(a), _exact(b)
    diff = np.abs(x - y)
    if diff.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            diff[(x == y) | (np.isnan(x) & np.isnan(y))] = 0
    return diff


def _largest_over_channels(values: np.ndarray) -> np.ndarray:
    return values.max(axis=-1) if values.ndim == 3 else values


def _mask_from(inner: np.ndarray | None, shape: tuple[int, int], crop: Crop | None) -> np.ndarray | None:
    """The source-shaped changed mask from the mask of the compared part (None: nothing changed at all)."""
    if crop is None:
        return inner
    mask = np.ones(shape, dtype=bool)
    cropped_view(mask, crop)[...] = False if inner is None else inner
    return mask


def box_of(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    return box_from(np.asarray(mask.any(axis=1)), np.asarray(mask.any(axis=0)))


def box_from(rows_any: np.ndarray, cols_any: np.ndarray) -> tuple[int, int, int, int] | None:
    """Half-open (row0, row1, col0, col1) around the True entries, or None."""
    rows, cols = np.flatnonzero(rows_any), np.flatnonzero(cols_any)
    if not rows.size:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def cropped_view(image: np.ndarray, crop: Crop | None) -> np.ndarray:
    """The part of a source-shaped ``image`` that the de-identified image covers (a view)."""
    if crop is None:
        return image
    return image[crop.row0:crop.row0 + crop.rows, crop.col0:crop.col0 + crop.columns]


def _exact(a: np.ndarray) -> np.ndarray:
    """The values in a type where subtraction neither wraps nor rounds."""
    return a.astype(np.int64 if a.dtype.kind in "iub" else np.float64, copy=False)
