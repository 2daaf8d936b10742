"""Compare one pair: decide from decoded pixel values whether a de-identified image differs from its source,
and by how much.

Values are compared exactly (int64 for integer data, float64 for float data), frame by frame, so memory is
bounded by a frame. A de-identified image smaller than its source is located inside it (a crop); the pixels it
lost count as changed. All coordinates are source coordinates; boxes are half-open."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from pydicom.pixels.common import PhotometricInterpretation

from dicomimgcmp.compare.crop import locate_crop
from dicomimgcmp.compare.diff import box_from, cropped_view, frame_diff
from dicomimgcmp.compare.fastpath import same_stored_bytes
from dicomimgcmp.compare.groups import FrameChange, frame_change, group_fields, group_id, shape_text
from dicomimgcmp.compare.kinds import display_changes, frame_kind, frames_kind
from dicomimgcmp.compare.metrics import ssim
from dicomimgcmp.enums import ChangeKind
from dicomimgcmp.errors import DecodeError
from dicomimgcmp.model import DEFAULT_MAX_PIXELS, Crop, FileRecord, PairResult, Status, slice_text
from dicomimgcmp.pixels.decode import dynamic_range, iter_frames
from dicomimgcmp.pixels.layers import LayerFindings, layer_findings


def compare_pair(deid: FileRecord, source: FileRecord, tolerance: float = 0.0,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> PairResult:
    """Compare the pixel values of one pair; never raises for bad data (the status says what went wrong).

    An image whose header declares more than ``max_pixels`` values (rows x columns x frames x samples) is not
    decoded (``unreadable``): a damaged or hostile header must not exhaust memory. Stored values are compared;
    a difference in how they are to be shown (MONOCHROME1 against MONOCHROME2, another rescale) is not a
    change of values, and the reason says so.
    """
    result = _compare(deid, source, tolerance, max_pixels).with_note("; ".join(interpretation_notes(deid, source)))
    if result.status.compared:
        result = _with_layers(result.replace(display_changes=display_changes(deid, source)),
                              layer_findings(deid, source))
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
                          change=change, change_group=group_id(result.files[1], f"{result.change_group}|{overlays}"),
                          change_kind=result.change_kind or ChangeKind.OTHER)


def _compare(deid: FileRecord, source: FileRecord, tolerance: float, max_pixels: int) -> PairResult:
    base = PairResult(Status.UNREADABLE, deid=deid, source=source)
    sides = (("de-identified", deid), ("source", source))
    cut = [side for side, rec in sides if not rec.has_pixel_data and rec.pixels.rows is not None]
    if cut:  # an image header (Rows) must be followed by pixel data
        return base.replace(reason=f"{' and '.join(cut)} file declares an image (Rows, Columns) but holds no "
                                   "pixel data: cut short?")
    missing = [side for side, rec in sides if not rec.has_pixel_data]
    if missing:
        return base.replace(status=Status.NO_PIXEL_DATA, reason=f"no pixel data in {' and '.join(missing)} file")
    try:
        if same_stored_bytes(deid, source):
            return _identical(base)
        too_large = [f"{side} file declares {rec.pixels.declared_values:,} pixel values, over max_pixels "
                     f"{max_pixels:,}" for side, rec in sides if rec.pixels.declared_values > max_pixels]
        if too_large:
            return base.replace(reason="; ".join(too_large))
        return _compare_frames(base, tolerance)
    except DecodeError as exc:
        return base.replace(reason=str(exc))
    except MemoryError:
        return base.replace(reason="image too large to decode in memory")
    except OSError as exc:
        return base.replace(reason=f"cannot read file: {exc.strerror or exc}")


_GREY_SCALES = {PhotometricInterpretation.MONOCHROME1, PhotometricInterpretation.MONOCHROME2}


def interpretation_notes(deid: FileRecord, source: FileRecord) -> list[str]:
    """What differs in how the two files' stored values are to be shown, though the values are compared as
    stored: the grey scale's direction (MONOCHROME1/2) and the rescale (slope, intercept)."""
    notes = []
    d_pi, s_pi = deid.pixels.photometric_interpretation, source.pixels.photometric_interpretation
    if d_pi != s_pi and {d_pi, s_pi} <= _GREY_SCALES:
        notes.append(f"PhotometricInterpretation differs: source {s_pi}, de-identified {d_pi} "
                     "(stored values compared)")
    if deid.rescale != source.rescale:
        notes.append("rescale differs: source slope {:g} intercept {:g}, de-identified slope {:g} intercept {:g} "
                     "(stored values compared)".format(*source.rescale, *deid.rescale))
    return notes


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
    #: The kind of change of the frame with most changed pixels so far, and that count.
    kind: tuple[ChangeKind, str] | None = None
    kind_pixels: int = 0
    #: A digest of each frame of a multi-frame pair, de-identified and source (frames reordered, added, removed).
    digests: tuple[list[bytes], list[bytes]] = field(default_factory=lambda: ([], []))

    def add(self, deid: np.ndarray, source: np.ndarray, crop: Crop | None, tolerance: float) -> None:
        """Account one frame pair."""
        found = frame_diff(deid, source, crop, tolerance)
        self.values += deid.size
        self._add_mask(found.mask)
        self._note_kind(deid, source, crop, found.changed)
        changed, abs_diff, per_pixel = found.changed, found.abs_diff, found.per_pixel
        if found.box is None or changed is None or abs_diff is None or per_pixel is None:  # all set, or none
            self.changes.append(None)
            self.ssim_sum += 1.0
            self.ssim_frames += 1
            return
        self.changes.append(frame_change(deid, changed, crop) if changed.any() else None)
        self.sse += float(np.square(abs_diff, dtype=np.float64).sum())
        self.max_abs = max(self.max_abs, float(per_pixel.max()))
        score = ssim(deid, cropped_view(source, crop), self.data_range, found.box)
        if not math.isnan(score):
            self.ssim_sum += score
            self.ssim_frames += 1

    def _note_kind(self, deid: np.ndarray, source: np.ndarray, crop: Crop | None, changed: np.ndarray | None) -> None:
        """The frame's kind of change, when it has more changed pixels than any frame before (the shown one)."""
        pixels = self.changed_per_frame[-1]
        if pixels > self.kind_pixels:
            self.kind_pixels = pixels
            mask = changed if changed is not None else np.zeros(deid.shape[:2], dtype=bool)
            self.kind = frame_kind(deid, cropped_view(source, crop), mask, crop is not None, self.data_range)

    def add_digests(self, deid: np.ndarray | None, source: np.ndarray | None) -> None:
        for digests, frame in zip(self.digests, (deid, source)):
            if frame is not None:
                digests.append(hashlib.blake2b(frame.tobytes(), digest_size=16).digest())

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
        return box_from(self.rows_any, self.cols_any)


def _compare_frames(base: PairResult, tolerance: float) -> PairResult:
    deid, source = base.files
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
                       f"kept source {slice_text(crop.box)}")

    rows, cols = first_s.shape[:2]
    tally = _Tally(np.zeros(rows, bool), np.zeros(cols, bool), dynamic_range(first_s, source.pixels.bits_stored))
    counts = {"deid": 0, "source": 0}
    multi = max(deid.pixels.frames or 1, source.pixels.frames or 1) > 1
    for d, s in _zip_frames(first_d, deid_frames, first_s, source_frames):
        counts["deid"] += d is not None
        counts["source"] += s is not None
        if multi:
            tally.add_digests(d, s)
        if d is None or s is None:
            tally.add_unmatched()
        elif d.shape != first_d.shape or s.shape != first_s.shape:
            raise DecodeError("frames of one file differ in shape")
        else:
            tally.add(d, s, crop, tolerance)
    result = _result(base, tally, crop, rows * cols * len(tally.changed_per_frame))
    reasons.append(result.reason)
    if counts["deid"] != counts["source"]:
        common = min(counts.values())
        reasons.append(f"frame count differs: source {counts['source']}, de-identified {counts['deid']}; the "
                       f"frames only one file has count as changed; pixel metrics left empty")
        in_common = tally.changed_per_frame[:common]
        result = result.replace(max_abs_diff=None, mse=None, psnr=None, ssim=None,
                                shown_frame=int(np.argmax(in_common)) if any(in_common) else 0)
    return result.replace(reason="; ".join(r for r in reasons if r))


def _result(base: PairResult, tally: _Tally, crop: Crop | None, pixels: int) -> PairResult:
    changed = sum(tally.changed_per_frame)
    mse = tally.sse / tally.values if tally.values else 0.0
    shown = int(np.argmax(tally.changed_per_frame)) if changed else 0
    kind = _pair_kind(tally) if changed else None
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
        change_kind=kind[0] if kind else None,
        reason=f"kind: {kind[0]}{f' ({kind[1]})' if kind[1] else ''}" if kind else "",
        **(group_fields(base.files[1], crop, tally.changes, shown, kind[0] if kind else None) if changed else {}),
    )


def _pair_kind(tally: _Tally) -> tuple[ChangeKind, str]:
    """The shown frame's kind, unless the frames say more: counts that differ; frames reordered, or only some
    changed, where the shown frame's change is of no other kind."""
    frames = frames_kind(*tally.digests, tuple(i for i, n in enumerate(tally.changed_per_frame) if n)) \
        if tally.digests[0] else None
    kind = tally.kind or (ChangeKind.OTHER, "")
    counts_differ = len(tally.digests[0]) != len(tally.digests[1])
    if frames is not None and (counts_differ or kind[0] is ChangeKind.OTHER):
        return frames
    return kind


def _identical(base: PairResult) -> PairResult:
    """The result for equal stored pixel bytes: what the decoding path gives for equal values."""
    return base.replace(status=Status.IDENTICAL, changed_pixels=0, changed_fraction=0.0, max_abs_diff=0.0,
                        mse=0.0, psnr=math.inf, ssim=1.0, reason="")


def _not_comparable(base: PairResult, deid_shape: tuple, source_shape: tuple) -> PairResult:
    """A shape change that is not a crop: everything changed, no pixel metrics."""
    rows, cols = source_shape[:2]
    source = base.files[1]
    frames = source.pixels.frames or 1
    change = f"shape changed: source {shape_text(source_shape)} -> de-identified {shape_text(deid_shape)}"
    return base.replace(
        status=Status.CHANGED, reason=change,
        changed_pixels=rows * cols * frames, changed_fraction=1.0, changed_frames=tuple(range(frames)),
        bbox=(0, rows, 0, cols), change=change, change_group=group_id(source, change),
        change_kind=ChangeKind.OTHER,
    )


def _zip_frames(first_d: np.ndarray, rest_d: Iterator[np.ndarray], first_s: np.ndarray, rest_s: Iterator[np.ndarray]
                ) -> Iterator[tuple[np.ndarray | None, np.ndarray | None]]:
    yield first_d, first_s
    while True:
        d, s = next(rest_d, None), next(rest_s, None)
        if d is None and s is None:
            return
        yield d, s
