"""Image similarity: SSIM as scikit-image computes it (its default 7x7 window), without scikit-image."""

from __future__ import annotations

import math

import numpy as np

SSIM_WINDOW = 7  # scikit-image's default win_size


def ssim(a: np.ndarray, b: np.ndarray, data_range: float,
         region: tuple[int, int, int, int] | None = None) -> float:
    """Mean structural similarity as scikit-image computes it by default.

    7x7 uniform window, K1=0.01, K2=0.03, sample covariance, border of 3 pixels left out; for
    (rows, columns, samples) arrays, the mean over channels. NaN when the image is smaller than the window.
    ``region`` (row0, row1, col0, col1), when given, bounds every pixel where ``a`` and ``b`` differ: windows
    that miss it compare equal content and score exactly 1, so only the windows around it are computed.
    """
    if a.ndim == 3:
        return float(np.mean([ssim(a[..., c], b[..., c], data_range, region) for c in range(a.shape[-1])]))
    rows, cols = a.shape
    if min(rows, cols) < SSIM_WINDOW:
        return math.nan
    r0, r1, c0, c1 = region or (0, rows, 0, cols)
    reach = SSIM_WINDOW - 1
    r0, c0, r1, c1 = max(r0 - reach, 0), max(c0 - reach, 0), min(r1 + reach, rows), min(c1 + reach, cols)
    if min(r1 - r0, c1 - c0) < SSIM_WINDOW:  # widen a sliver at the border to one full window
        r0, c0 = min(r0, rows - SSIM_WINDOW), min(c0, cols - SSIM_WINDOW)
        r1, c1 = max(r1, r0 + SSIM_WINDOW), max(c1, c0 + SSIM_WINDOW)
    local = _ssim_map(a[r0:r1, c0:c1], b[r0:r1, c0:c1], data_range)
    windows = (rows - reach) * (cols - reach)
    return float(1.0 - (local.size - local.sum()) / windows)


def _ssim_map(a: np.ndarray, b: np.ndarray, data_range: float) -> np.ndarray:
    """SSIM of every full 7x7 window of two equal-shape 2-D arrays."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    n = SSIM_WINDOW ** 2
    mx, my = _box_mean(x), _box_mean(y)
    cov_norm = n / (n - 1)
    vx = cov_norm * (_box_mean(x * x) - mx * mx)
    vy = cov_norm * (_box_mean(y * y) - my * my)
    vxy = cov_norm * (_box_mean(x * y) - mx * my)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def _box_mean(x: np.ndarray) -> np.ndarray:
    """Mean over every full 7x7 window (shape (rows-6, columns-6)), by separable running sums."""
    w = SSIM_WINDOW
    c = np.cumsum(x, axis=0)
    c = np.concatenate([c[w - 1:w], c[w:] - c[:-w]], axis=0)
    c = np.cumsum(c, axis=1)
    c = np.concatenate([c[:, w - 1:w], c[:, w:] - c[:, :-w]], axis=1)
    return c / (w * w)
