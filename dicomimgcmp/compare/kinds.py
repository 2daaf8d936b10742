"""What kind of change a changed pair received, decided from the two decoded frames, first match wins:

1. ``blanked``: the changed pixels, more than one, hold one value (one colour) in the de-identified image (a
   single changed pixel holds one value whatever was done to it);
2. ``cropped``: the de-identified image is a part of the source (blanked inside or not);
3. ``lossy``: small differences spread over most of the image (over half of the pixels, none over 5% of the
   range of values the source image uses): a lossy re-encoding;
4. ``colour_space``: the de-identified colour image is the source converted between RGB and YBR_FULL (within 2
   levels, :func:`pydicom.pixels.convert_color_space`);
5. ``inverted``: de-identified = c - source (a grey scale turned over);
6. ``rescaled``: de-identified = a * source + b exactly with a > 0, or a bit shift;
7. ``geometric``: a flip, a transpose, or whole rows or columns shifted;
8. ``frames``: frames added or removed, reordered, or only some frames changed in a way none of the above says;
9. ``other``.

Blanked comes first because it is what a recipe does; a blanked band on a lossy re-encoded image is ``lossy`` (the
band is still in the changed box and the figures). The exact transforms (4-7) are tried before ``lossy``: none of
them can be a lossy re-encoding, and a flipped or shifted smooth image differs a little almost everywhere, as a
lossy one does. The frame shown on the page (the one with most changed pixels) decides; the frame checks come
last because they look at the whole series of frames.
"""

from __future__ import annotations

import math

import numpy as np

from dicomimgcmp.enums import ChangeKind
from dicomimgcmp.model import DISPLAY_TABLES, DISPLAY_VALUES, FileRecord

LOSSY_SHARE = 0.5  # lossy: changed on over half of the pixels ...
LOSSY_RANGE = 0.05  # ... by at most this share of the value range
COLOUR_LEVELS = 2  # colour_space: within this many levels


def frame_kind(deid: np.ndarray, source: np.ndarray, changed: np.ndarray, cropped: bool,
               data_range: float) -> tuple[ChangeKind, str]:
    """The kind of one frame's change: ``deid`` the de-identified frame, ``source`` the source's part that it is
    compared with (the kept part of a crop), ``changed`` where they differ (de-identified coordinates)."""
    values = deid[changed]
    if not cropped and len(values) > 1 and (values == values[:1]).all():
        return ChangeKind.BLANKED, f"to {_value_text(values[0])}"
    if cropped:
        return ChangeKind.CROPPED, "blanked inside too" if changed.any() else ""
    if deid.shape != source.shape:
        return ChangeKind.OTHER, ""
    for check in (_colour_space, _inverted, _rescaled, _geometric):  # exact transforms: before lossy, which a
        found = check(deid, source)                                   # flipped smooth image resembles
        if found is not None:
            return found
    diff = np.abs(deid.astype(np.float64) - source.astype(np.float64))
    per_pixel = diff.max(axis=-1) if diff.ndim == 3 else diff
    spread = float(np.ptp(source)) or 1.0  # the values the image uses, not the bits it may use
    small = (per_pixel > 0) & (per_pixel <= LOSSY_RANGE * spread)
    if small.mean() > LOSSY_SHARE:  # a blanked band on top of it stays in the box and the figures
        mse = float(np.square(diff).mean())
        psnr = math.inf if mse == 0 else 10 * math.log10(data_range ** 2 / mse)
        return ChangeKind.LOSSY, f"max diff {per_pixel[small].max():g} where small, PSNR {psnr:.1f} dB"
    return ChangeKind.OTHER, ""


def frames_kind(deid_digests: list[bytes], source_digests: list[bytes], changed_frames: tuple[int, ...]
                ) -> tuple[ChangeKind, str] | None:
    """The frames' kind, when the frames say it: counts that differ, the same frames in another order, or only
    some frames changed (None otherwise)."""
    if len(deid_digests) != len(source_digests):
        return ChangeKind.FRAMES, f"source {len(source_digests)} frames, de-identified {len(deid_digests)}"
    if deid_digests != source_digests and sorted(deid_digests) == sorted(source_digests):
        return ChangeKind.FRAMES, "the same frames in another order"
    if 1 < len(deid_digests) and len(changed_frames) < len(deid_digests):
        return ChangeKind.FRAMES, f"only frames {', '.join(map(str, changed_frames[:10]))} changed"
    return None


def _value_text(value: np.ndarray | np.generic) -> str:
    return str(tuple(value.tolist())) if np.ndim(value) else f"{value.item():g}"


def _colour_space(deid: np.ndarray, source: np.ndarray) -> tuple[ChangeKind, str] | None:
    if source.ndim != 3 or source.shape[-1] != 3 or source.dtype != np.uint8:
        return None
    from pydicom.pixels import convert_color_space

    for current, desired in (("RGB", "YBR_FULL"), ("YBR_FULL", "RGB")):
        converted = convert_color_space(source.copy(), current, desired)
        if np.abs(converted.astype(np.int16) - deid.astype(np.int16)).max() <= COLOUR_LEVELS:
            return ChangeKind.COLOUR_SPACE, f"{current} -> {desired}"
    return None


def _inverted(deid: np.ndarray, source: np.ndarray) -> tuple[ChangeKind, str] | None:
    total = deid.astype(np.float64) + source.astype(np.float64)
    if (total == total.flat[0]).all():
        return ChangeKind.INVERTED, f"{total.flat[0]:g} - source"
    return None


def _rescaled(deid: np.ndarray, source: np.ndarray) -> tuple[ChangeKind, str] | None:
    s, d = source.astype(np.float64).ravel(), deid.astype(np.float64).ravel()
    low, high = int(np.argmin(s)), int(np.argmax(s))
    if s[high] == s[low]:
        return None
    a = (d[high] - d[low]) / (s[high] - s[low])
    b = d[low] - a * s[low]
    if a > 0 and np.array_equal(a * s + b, d):
        if source.dtype.kind in "iu" and a != 1 and b == 0 and math.log2(a).is_integer():
            return ChangeKind.RESCALED, f"{abs(int(math.log2(a)))}-bit shift {'left' if a > 1 else 'right'}"
        return ChangeKind.RESCALED, f"{a:g} x source + {b:g}"
    if source.dtype.kind in "iu":
        for bits in range(1, 9):
            if np.array_equal(source >> bits, deid):
                return ChangeKind.RESCALED, f"{bits}-bit shift right"
    return None


def _geometric(deid: np.ndarray, source: np.ndarray) -> tuple[ChangeKind, str] | None:
    candidates = [("flipped left-right", source[:, ::-1]), ("flipped top-bottom", source[::-1]),
                  ("turned half round", source[::-1, ::-1])]
    if source.shape[0] == source.shape[1]:
        candidates.append(("transposed", np.swapaxes(source, 0, 1)))
    for name, moved in candidates:
        if np.array_equal(moved, deid):
            return ChangeKind.GEOMETRIC, name
    for axis, unit in ((0, "rows"), (1, "columns")):
        first = np.take(deid, 0, axis=axis)  # the source's line that became the first: the shift's candidates
        lines = np.moveaxis(source, axis, 0)
        same = (lines == first).reshape(len(lines), -1).all(axis=1)
        size = source.shape[axis]
        for at in np.flatnonzero(same)[:8]:
            if at and np.array_equal(np.roll(source, -int(at), axis=axis), deid):
                shift = -int(at) % size
                return ChangeKind.GEOMETRIC, f"shifted by {shift - size if shift > size // 2 else shift} {unit}"
    return None


#: Transfer syntaxes that may be lossy (JPEG baseline and extended, JPEG-LS near-lossless, JPEG 2000, HTJ2K,
#: MPEG and HEVC video).
LOSSY_SYNTAXES = frozenset({"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81",
                            "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.203",
                            *(f"1.2.840.10008.1.2.4.{n}" for n in range(100, 109))})
_DISPLAY_FIELDS = ("photometric_interpretation", "bits_stored", "high_bit", "pixel_representation",
                   "planar_configuration")


def display_changes(deid: FileRecord, source: FileRecord) -> str:
    """The attributes that decide how stored values become a picture, where the two files differ (whatever
    the pixels): the Image Pixel attributes, the rescale, a lossy transfer syntax, the window, the VOI function,
    LossyImageCompression and its ratio, and the palette, modality and VOI tables. Identical values that render
    differently are a fault too. "; "-separated, "" when none."""
    found = [f"{name} {getattr(source.pixels, name)} -> {getattr(deid.pixels, name)}" for name in _DISPLAY_FIELDS
             if getattr(source.pixels, name) != getattr(deid.pixels, name)]
    if source.rescale != deid.rescale:
        found.append("rescale (slope, intercept) {} -> {}".format(source.rescale, deid.rescale))
    lossy = [s.pixels.transfer_syntax_uid in LOSSY_SYNTAXES for s in (source, deid)]
    if lossy[0] != lossy[1]:
        found.append(f"transfer syntax {'lossy' if lossy[0] else 'lossless'} -> {'lossy' if lossy[1] else 'lossless'}")
    for name, was, now in zip(DISPLAY_VALUES + DISPLAY_TABLES, source.display, deid.display):
        if was != now:
            found.append(f"{name} {'removed' if not now else 'added' if not was else f'{was} -> {now}'}"
                         if name in DISPLAY_TABLES else f"{name} {was or 'absent'} -> {now or 'absent'}")
    return "; ".join(found)
