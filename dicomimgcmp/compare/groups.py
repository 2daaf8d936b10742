"""Change groups: within a series, pairs that received the same change (the same crop or shape change, the same
region of changed values and the same de-identified values in it) share one id, so a band blanked on 500 slices
is one change for the reviewer (:func:`frame_change`)."""

from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import dataclass

import numpy as np

from dicomimgcmp.compare.diff import box_of
from dicomimgcmp.enums import ChangeKind
from dicomimgcmp.model import Crop, FileRecord, box_text


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
    box = box_of(changed)
    if box is None:
        raise ValueError("a frame's change needs a changed value")
    r0, r1, c0, c1 = box
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


def _grow_over_fill(image: np.ndarray, box: tuple[int, int, int, int], fill: np.ndarray | np.generic
                    ) -> tuple[int, int, int, int]:
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


def group_fields(source: FileRecord, crop: Crop | None, changes: list[FrameChange | None], shown: int,
                 kind: ChangeKind | None = None) -> dict:
    """The change group of a changed pair and what its page and the summary say of it: the crop and the
    distinct frame changes (a cine with the same band on every frame has one) and the kind of change, not which
    frames or how many."""
    distinct = sorted({c.key: c for c in changes if c is not None}.values(), key=lambda c: c.key)
    parts = [f"cropped to {box_text(crop.box)}"] if crop else []
    shown_change = changes[shown] if shown < len(changes) else None
    if shown_change is not None:
        parts.append(shown_change.describe())
    others = len(distinct) - (shown_change is not None)
    if others > 0:
        parts.append(f"{others} other change{'s' * (others > 1)} in other frames")
    change = "; ".join(parts)
    key = "|".join([str(crop)] + [repr(c.key) for c in distinct] + ([kind] if kind else []))
    return {"change": change, "change_group": group_id(source, key),
            "mask_digest": _digest(*(c.mask.encode() for c in changes if c is not None)),
            "shown_mask": shown_change.mask if shown_change is not None else ""}


def group_id(source: FileRecord, key: str) -> str:
    """A short id, stable from run to run, for one change within the source's series: a patient's (two patients
    that share a SeriesInstanceUID, a collision, are not one series: the PDFs, which follow patients, would split
    the group)."""
    return _digest(source.patient_id.encode(), b"\0", source.series_instance_uid.encode(), b"\0", key.encode())[:12]


def _digest(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part)
    return h.hexdigest()


def shape_text(shape: tuple) -> str:
    return "x".join(str(n) for n in shape)
