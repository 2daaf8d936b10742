"""Decide from decoded pixel values whether a de-identified image differs from its source, and by how much.

Values are compared exactly (int64 for integer data, float64 for float data), frame by frame, so memory is
bounded by a frame. A de-identified image smaller than its source is located inside it (a crop); the pixels it
lost count as changed. All coordinates are source coordinates; boxes are half-open.

Each changed pair also gets a *change group*: within a series, pairs that received the same change (the same
crop or shape change, the same region of changed values and the same de-identified values in it) share one id,
so a band blanked on 500 slices is one change for the reviewer (:func:`frame_change`).
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .layers import LayerFindings, layer_findings
from .model import DEFAULT_MAX_PIXELS, Crop, FileRecord, PairResult, PixelFormat, Status, box_text
from .pixels import DecodeError, dynamic_range, iter_frames

SSIM_WINDOW = 7  # scikit-image's default win_size
_CROP_SAMPLES = 16  # a 16 x 16 grid of probe pixels to locate a crop
_CROP_FINALISTS = 8


def compare_pair(deid: FileRecord, source: FileRecord, tolerance: float = 0.0,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> PairResult:
    """Compare the pixel values of one pair; never raises for bad data (the status says what went wrong).

    An image whose header declares more than ``max_pixels`` values (rows x columns x frames x samples) is not
    decoded (``unreadable``): a damaged or hostile header must not exhaust memory. Stored values are compared;
    a difference in how they are to be shown (MONOCHROME1 against MONOCHROME2, another rescale) is not a
    change of values, and the reason says so.
    """
    result = _compare(deid, source, tolerance, max_pixels).with_note("; ".join(interpretation_notes(deid, source)))
    if result.status in (Status.IDENTICAL, Status.CHANGED):
        result = _with_layers(result, layer_findings(deid, source))
    return result


def _with_layers(result: PairResult, found: LayerFindings) -> PairResult:
    """The result with the de-identified file's hidden content and, when an overlay plane was removed, added or
    changed, changed (a pair whose pixels are identical too), the overlay change part of its change group."""
    hidden = "; ".join(found.hidden)
    if hidden != result.hidden_content:
        result = result.replace(hidden_content=hidden)
    if not found.changes:
        return result
    overlays = "; ".join(found.changes)
    change = "; ".join(text for text in (result.change, overlays) if text)
    return result.replace(status=Status.CHANGED, reason="; ".join(t for t in (result.reason, overlays) if t),
                          change=change, change_group=_group_id(result.source, f"{result.change_group}|{overlays}"))


def _compare(deid: FileRecord, source: FileRecord, tolerance: float, max_pixels: int) -> PairResult:
    base = PairResult(Status.UNREADABLE, deid=deid, source=source)
    sides = (("de-identified", deid), ("source", source))
    cut = [side for side, rec in sides if not rec.has_pixel_data and rec.format.rows is not None]
    if cut:  # an image header (Rows) must be followed by pixel data
        return base.replace(reason=f"{' and '.join(cut)} file declares an image (Rows, Columns) but holds no "
                                   "pixel data: cut short?")
    missing = [side for side, rec in sides if not rec.has_pixel_data]
    if missing:
        return base.replace(status=Status.NO_PIXEL_DATA, reason=f"no pixel data in {' and '.join(missing)} file")
    try:
        if same_stored_bytes(deid, source):
            return _identical(base)
        too_large = [f"{side} file declares {rec.format.declared_values:,} pixel values, over max_pixels "
                     f"{max_pixels:,}" for side, rec in sides if rec.format.declared_values > max_pixels]
        if too_large:
            return base.replace(reason="; ".join(too_large))
        return _compare_frames(base, tolerance)
    except DecodeError as exc:
        return base.replace(reason=str(exc))
    except MemoryError:
        return base.replace(reason="image too large to decode in memory")
    except OSError as exc:
        return base.replace(reason=f"cannot read file: {exc.strerror or exc}")


def interpretation_notes(deid: FileRecord, source: FileRecord) -> list[str]:
    """What differs in how the two files' stored values are to be shown, though the values are compared as
    stored: the grey scale's direction (MONOCHROME1/2) and the rescale (slope, intercept)."""
    notes = []
    d_pi, s_pi = deid.format.photometric_interpretation, source.format.photometric_interpretation
    if d_pi != s_pi and {d_pi, s_pi} <= {"MONOCHROME1", "MONOCHROME2"}:
        notes.append(f"PhotometricInterpretation differs: source {s_pi}, de-identified {d_pi} "
                     "(stored values compared)")
    if deid.rescale != source.rescale:
        notes.append("rescale differs: source slope {:g} intercept {:g}, de-identified slope {:g} intercept {:g} "
                     "(stored values compared)".format(*source.rescale, *deid.rescale))
    return notes


def same_stored_bytes(deid: FileRecord, source: FileRecord, chunk: int = 1 << 20) -> bool:
    """True when both files store their pixel data the same way and its bytes are equal (no decoding needed).

    The bytes compared run from the pixel data element to the end of the file; anything after the pixel data
    that differs (trailing padding) only sends the pair to the decoding path.
    """
    fmt = deid.format
    if (deid.pixel_offset is None or source.pixel_offset is None or not fmt.transfer_syntax_uid
            or fmt != source.format):
        return False
    with open(deid.path, "rb", buffering=0) as a, open(source.path, "rb", buffering=0) as b:
        size = os.fstat(a.fileno()).st_size - deid.pixel_offset
        if size != os.fstat(b.fileno()).st_size - source.pixel_offset:
            return False
        ours = _blocks(a.fileno(), deid.pixel_offset, size, chunk)
        theirs = _blocks(b.fileno(), source.pixel_offset, size, chunk)
        first = next(ours, b"")  # it starts with the element's header
        if first != next(theirs, b"") or not _pixel_length_fits(first[:12], fmt, size):
            return False
        return all(map(bytes.__eq__, ours, theirs))


def _blocks(fd: int, offset: int, size: int, chunk: int) -> Iterator[bytes]:
    """The ``size`` bytes from ``offset``, ``chunk`` at a time (read without a buffer: each byte is read once)."""
    return (os.pread(fd, chunk, offset + at) for at in range(0, size, chunk))


def _pixel_length_fits(head: bytes, fmt: PixelFormat, size: int) -> bool:
    """Whether native pixel data really holds what its header declares (a lying header must be decoded, and
    fail there, rather than pass as identical). Encapsulated data (undefined length) is taken as it is."""
    endian = "<" if fmt.little_endian else ">"
    header, (length,) = (8, struct.unpack(endian + "L", head[4:8])) if fmt.implicit_vr else \
        (12, struct.unpack(endian + "L", head[8:12]))
    if length == 0xFFFFFFFF:
        return True
    needed = fmt.expected_bytes()
    return needed is not None and header + length <= size and length >= needed


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
    window = _window(source, crop)
    box = _box_of(_largest_over_channels(_unequal(deid, window)))
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
        n = int(np.count_nonzero(pixel_abs_diff(deid, _window(source, crop))))
        if best_misses is None or n < best_misses:
            best, best_misses = crop, n
    return best if best_misses is not None and best_misses <= h * w / 2 else None


@dataclass
class _Tally:
    """Running totals over the frames of one pair (masks and boxes in source coordinates)."""

    rows_any: np.ndarray
    cols_any: np.ndarray
    data_range: float
    changed_per_frame: list[int] = field(default_factory=list)
    sse: float = 0.0
    values: int = 0
    max_abs: float = 0.0
    ssim_sum: float = 0.0
    ssim_frames: int = 0
    #: The change of each frame (None for an unchanged one, or one whose only change is the crop).
    changes: list[FrameChange | None] = field(default_factory=list)

    def add(self, deid: np.ndarray, source: np.ndarray, crop: Crop | None, tolerance: float) -> None:
        """Account one frame pair."""
        found = frame_diff(deid, source, crop, tolerance)
        self.values += deid.size
        self._add_mask(found.mask)
        if found.box is None:
            self.changes.append(None)
            self.ssim_sum += 1.0
            self.ssim_frames += 1
            return
        self.changes.append(frame_change(deid, found.changed, crop) if found.changed.any() else None)
        self.sse += float(np.square(found.abs_diff, dtype=np.float64).sum())
        self.max_abs = max(self.max_abs, float(found.per_pixel.max()))
        score = ssim(deid, _window(source, crop), self.data_range, found.box)
        if not math.isnan(score):
            self.ssim_sum += score
            self.ssim_frames += 1

    def add_unmatched(self) -> None:
        """A frame only one file has: every pixel of it counts as changed."""
        self.changes.append(FrameChange("frame only in one file"))
        self._add_mask(np.ones((self.rows_any.size, self.cols_any.size), dtype=bool))

    def _add_mask(self, mask: np.ndarray | None) -> None:
        if mask is None:
            self.changed_per_frame.append(0)
            return
        self.changed_per_frame.append(int(mask.sum()))
        self.rows_any |= mask.any(axis=1)
        self.cols_any |= mask.any(axis=0)

    def bbox(self) -> tuple[int, int, int, int] | None:
        return _box_from(self.rows_any, self.cols_any)


def _compare_frames(base: PairResult, tolerance: float) -> PairResult:
    deid, source = base.deid, base.source
    deid_frames, source_frames = iter_frames(deid), iter_frames(source)
    first_d, first_s = next(deid_frames, None), next(source_frames, None)
    if first_d is None or first_s is None:
        raise DecodeError("pixel data holds no frame")

    crop, reasons = None, []
    if first_d.shape != first_s.shape:
        crop = locate_crop(first_s, first_d)
        if crop is None:
            return _not_comparable(base, first_d.shape, first_s.shape)
        reasons.append(f"cropped: {first_s.shape[0]}x{first_s.shape[1]} -> {first_d.shape[0]}x{first_d.shape[1]}, "
                       f"kept source rows {crop.row0}:{crop.row0 + crop.rows}, "
                       f"cols {crop.col0}:{crop.col0 + crop.columns}")

    rows, cols = first_s.shape[:2]
    tally = _Tally(np.zeros(rows, bool), np.zeros(cols, bool), dynamic_range(first_s, source.format.bits_stored))
    counts = {"deid": 0, "source": 0}
    for d, s in _zip_frames(first_d, deid_frames, first_s, source_frames):
        counts["deid"] += d is not None
        counts["source"] += s is not None
        if d is None or s is None:
            tally.add_unmatched()
        elif d.shape != first_d.shape or s.shape != first_s.shape:
            raise DecodeError("frames of one file differ in shape")
        else:
            tally.add(d, s, crop, tolerance)
    result = _result(base, tally, crop, rows * cols * len(tally.changed_per_frame))
    if counts["deid"] != counts["source"]:
        common = min(counts.values())
        reasons.append(f"frame count differs: source {counts['source']}, de-identified {counts['deid']}; the "
                       f"frames only one file has count as changed; pixel metrics left empty")
        in_common = tally.changed_per_frame[:common]
        result = result.replace(max_abs_diff=None, mse=None, psnr=None, ssim=None,
                                shown_frame=int(np.argmax(in_common)) if any(in_common) else 0)
    return result.replace(reason="; ".join(reasons))


def _result(base: PairResult, tally: _Tally, crop: Crop | None, pixels: int) -> PairResult:
    changed = sum(tally.changed_per_frame)
    mse = tally.sse / tally.values if tally.values else 0.0
    shown = int(np.argmax(tally.changed_per_frame)) if changed else 0
    return base.replace(
        status=Status.CHANGED if changed else Status.IDENTICAL,
        changed_pixels=changed,
        changed_fraction=changed / pixels,
        changed_frames=tuple(i for i, n in enumerate(tally.changed_per_frame) if n),
        bbox=tally.bbox(),
        max_abs_diff=tally.max_abs,
        mse=mse,
        psnr=math.inf if mse == 0 else 10 * math.log10(tally.data_range ** 2 / mse),
        ssim=tally.ssim_sum / tally.ssim_frames if tally.ssim_frames else None,
        crop=crop,
        shown_frame=shown,
        **(_group(base.source, crop, tally.changes, shown) if changed else {}),
    )


def _identical(base: PairResult) -> PairResult:
    """The result for equal stored pixel bytes: what the decoding path gives for equal values."""
    return base.replace(status=Status.IDENTICAL, changed_pixels=0, changed_fraction=0.0, max_abs_diff=0.0,
                        mse=0.0, psnr=math.inf, ssim=1.0, reason="")


def _not_comparable(base: PairResult, deid_shape: tuple, source_shape: tuple) -> PairResult:
    """A shape change that is not a crop: everything changed, no pixel metrics."""
    rows, cols = source_shape[:2]
    frames = base.source.format.frames or 1
    change = f"shape changed: source {_shape_text(source_shape)} -> de-identified {_shape_text(deid_shape)}"
    return base.replace(
        status=Status.CHANGED, reason=change,
        changed_pixels=rows * cols * frames, changed_fraction=1.0, changed_frames=tuple(range(frames)),
        bbox=(0, rows, 0, cols), change=change, change_group=_group_id(base.source, change),
    )


@dataclass(frozen=True)
class FrameChange:
    """What one frame's change is, for grouping: ``box`` (half-open, source coordinates) around the changed
    values, grown over the pixels next to it that hold the same fill (so that a band blanked to 0 has one box
    even where a slice's source already held 0 along its edge); ``fill`` the one value the box holds, when it
    holds one; ``values`` a digest of the de-identified values in the box; ``mask`` which of its pixels
    changed (:func:`pack_mask`; members of one group may differ there: holes where the source already held the
    fill)."""

    what: str
    box: tuple[int, int, int, int] | None = None
    fill: str | None = None
    values: str = ""
    mask: str = ""

    @property
    def key(self) -> tuple:
        """What two frames must share to count as the same change (the mask is not part of it)."""
        return self.what, self.box, self.values

    def describe(self) -> str:
        if self.box is None:
            return self.what
        action = f"set to {self.fill}" if self.fill is not None else "changed"
        return f"{box_text(self.box)} {action}"


def frame_change(deid: np.ndarray, changed: np.ndarray, crop: Crop | None) -> FrameChange:
    """The change of one frame from the de-identified frame and its (rows, columns) mask of changed values,
    both in de-identified coordinates; the box is given in source coordinates."""
    r0, r1, c0, c1 = _box_of(changed)
    inside = deid[r0:r1, c0:c1]
    first = inside.reshape(-1, *deid.shape[2:])[0]
    fill = None
    if (inside == first).all():
        fill = first
        r0, r1, c0, c1 = _grow_over_fill(deid, (r0, r1, c0, c1), first)
        inside = deid[r0:r1, c0:c1]
    dr, dc = (crop.row0, crop.col0) if crop else (0, 0)
    return FrameChange("changed", (r0 + dr, r1 + dr, c0 + dc, c1 + dc),
                       None if fill is None else _fill_text(fill),
                       _digest(inside.dtype.str.encode(), str(inside.shape).encode(), inside.tobytes()),
                       pack_mask(changed[r0:r1, c0:c1]))


def pack_mask(mask: np.ndarray) -> str:
    """A (rows, columns) bool mask as text: "rows,columns:" then its bits, deflated, in base 64."""
    bits = zlib.compress(np.packbits(mask).tobytes(), 6)
    return f"{mask.shape[0]},{mask.shape[1]}:" + base64.b64encode(bits).decode("ascii")


def unpack_mask(text: str) -> np.ndarray:
    shape, _, bits = text.partition(":")
    rows, cols = (int(n) for n in shape.split(","))
    return np.unpackbits(np.frombuffer(zlib.decompress(base64.b64decode(bits)), np.uint8),
                         count=rows * cols).reshape(rows, cols).astype(bool)


def _grow_over_fill(image: np.ndarray, box: tuple[int, int, int, int], fill) -> tuple[int, int, int, int]:
    """Widen ``box`` side by side while the line of pixels just outside it holds only ``fill``."""
    r0, r1, c0, c1 = box
    rows, cols = image.shape[:2]
    grew = True
    while grew:
        grew = False
        for side in range(4):
            if side == 0 and r0 > 0 and (image[r0 - 1, c0:c1] == fill).all():
                r0, grew = r0 - 1, True
            elif side == 1 and r1 < rows and (image[r1, c0:c1] == fill).all():
                r1, grew = r1 + 1, True
            elif side == 2 and c0 > 0 and (image[r0:r1, c0 - 1] == fill).all():
                c0, grew = c0 - 1, True
            elif side == 3 and c1 < cols and (image[r0:r1, c1] == fill).all():
                c1, grew = c1 + 1, True
    return r0, r1, c0, c1


def _fill_text(value: np.ndarray) -> str:
    """A fill value as the summary writes it: 0, -1000.5, or (0, 128, 128) for colour."""
    values = [f"{v:g}" if isinstance(v, float) else str(v) for v in np.atleast_1d(value).tolist()]
    return values[0] if len(values) == 1 else f"({', '.join(values)})"


def _group(source: FileRecord, crop: Crop | None, changes: list[FrameChange | None], shown: int) -> dict:
    """The change group of a changed pair and what its page and the summary say of it: the crop and the
    distinct frame changes (a cine with the same band on every frame has one), not which frames or how many."""
    distinct = sorted({c.key: c for c in changes if c is not None}.values(), key=lambda c: c.key)
    parts = [f"cropped to rows {crop.row0}-{crop.row0 + crop.rows} x cols {crop.col0}-{crop.col0 + crop.columns}"
             ] if crop else []
    shown_change = changes[shown] if shown < len(changes) else None
    if shown_change is not None:
        parts.append(shown_change.describe())
    others = len(distinct) - (shown_change is not None)
    if others > 0:
        parts.append(f"{others} other change{'s' * (others > 1)} in other frames")
    change = "; ".join(parts)
    key = "|".join([str(crop)] + [repr(c.key) for c in distinct])
    return {"change": change, "change_group": _group_id(source, key),
            "mask_digest": _digest(*(c.mask.encode() for c in changes if c is not None)),
            "shown_mask": shown_change.mask if shown_change is not None else ""}


def _group_id(source: FileRecord, key: str) -> str:
    """A short id, stable from run to run, for one change within the source's series."""
    return _digest(source.series_instance_uid.encode(), b"\0", key.encode())[:12]


def _digest(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part)
    return h.hexdigest()


def _shape_text(shape: tuple) -> str:
    return "x".join(str(n) for n in shape)


def _zip_frames(first_d, rest_d: Iterator, first_s, rest_s: Iterator):
    yield first_d, first_s
    while True:
        d, s = next(rest_d, None), next(rest_s, None)
        if d is None and s is None:
            return
        yield d, s


def _mask_from(inner: np.ndarray | None, shape: tuple[int, int], crop: Crop | None) -> np.ndarray | None:
    """The source-shaped changed mask from the mask of the compared part (None: nothing changed at all)."""
    if crop is None:
        return inner
    mask = np.ones(shape, dtype=bool)
    _window(mask, crop)[...] = False if inner is None else inner
    return mask


def _box_of(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    return _box_from(mask.any(axis=1), mask.any(axis=0))


def _box_from(rows_any: np.ndarray, cols_any: np.ndarray) -> tuple[int, int, int, int] | None:
    """Half-open (row0, row1, col0, col1) around the True entries, or None."""
    rows, cols = np.flatnonzero(rows_any), np.flatnonzero(cols_any)
    if not rows.size:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _window(image: np.ndarray, crop: Crop | None) -> np.ndarray:
    """The part of a source-shaped ``image`` that the de-identified image covers (a view)."""
    if crop is None:
        return image
    return image[crop.row0:crop.row0 + crop.rows, crop.col0:crop.col0 + crop.columns]


def _exact(a: np.ndarray) -> np.ndarray:
    """The values in a type where subtraction neither wraps nor rounds."""
    return a.astype(np.int64 if a.dtype.kind in "iub" else np.float64, copy=False)


def _box_mean(x: np.ndarray) -> np.ndarray:
    """Mean over every full 7x7 window (shape (rows-6, columns-6)), by separable running sums."""
    w = SSIM_WINDOW
    c = np.cumsum(x, axis=0)
    c = np.concatenate([c[w - 1:w], c[w:] - c[:-w]], axis=0)
    c = np.cumsum(c, axis=1)
    c = np.concatenate([c[:, w - 1:w], c[:, w:] - c[:, :-w]], axis=1)
    return c / (w * w)
