"""Images as every stage shows them: grey or RGB, as RGB."""

from __future__ import annotations

import numpy as np


def rgb(image: np.ndarray) -> np.ndarray:
    """A uint8 grey (rows, columns) or RGB image as (rows, columns, 3)."""
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image
