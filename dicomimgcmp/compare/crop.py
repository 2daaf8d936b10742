"""Where a smaller de-identified image sits in its source (a crop)."""

from __future__ import annotations

import numpy as np

from dicomimgcmp.compare.diff import cropped_view, pixel_abs_diff
from dicomimgcmp.model import Crop

_CROP_SAMPLES = 16  # a 16 x 16 grid of probe pixels to locate a crop


_CROP_FINALISTS = 8


def locate_crop(source: np.ndarray, deid: np.ndarray) -> Crop | None:
    """Where ``deid`` (smaller or equal in rows and columns) best matches inside ``source``, or None.

    Probe pixels on a grid shortlist the offsets with the fewest mismatches; the finalists are then scored on
    every pixel and the best (first in row-major order on ties) wins, unless over half its pixels differ.
    """
    (h, w), (sh, sw) = deid.shape[:2], source.shape[:2]
    if h > sh or w > sw or deid.shape[2:] != source.shape[2:]:
        return None
    span_r, span_c = sh - h + 1, sw - w + 1
    misses = np.zeros((span_r, span_c), dtype=np.int32)
    for i in np.unique(np.linspace(0, h - 1, _CROP_SAMPLES).astype(int)):
        for j in np.unique(np.linspace(0, w - 1, _CROP_SAMPLES).astype(int)):
            differs = source[i:i + span_r, j:j + span_c] != deid[i, j]
            misses += differs.any(axis=-1) if differs.ndim == 3 else differs
    finalists = np.argsort(misses, axis=None, kind="stable")[:_CROP_FINALISTS]
    best, best_misses = None, None
    for flat in finalists:
        r, c = divmod(int(flat), span_c)
        crop = Crop(r, c, h, w)
        n = int(np.count_nonzero(pixel_abs_diff(deid, cropped_view(source, crop))))
        if best_misses is None or n < best_misses:
            best, best_misses = crop, n
    return best if best_misses is not None and best_misses <= h * w / 2 else None
