"""Hidden layers: what a file carries beside its pixel values that can hold identity.

- Overlay planes (60xx): in their own Overlay Data element, or in the pixel data's bits above BitsStored (retired
  but still written), which pydicom's ``overlay_array`` does not extract: both are read here and compared between
  the two files like the image (a removed, added or changed overlay is a change).
- Bits set above BitsStored in native pixel data (other than a sign extension or an overlay declared there):
  invisible on screen, readable by anyone.
- An Icon Image Sequence (a thumbnail of the image, burned-in text included) and BurnedInAnnotation "YES".

The index notes which of these a header declares (:func:`.read.layers.header_layers`, cheap); the pixel data and
overlay planes are read only for the files that have them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import UID, ImplicitVRLittleEndian

from dicomimgcmp.model import FileRecord
from dicomimgcmp.read.dicomfile import element_header_length, quiet_pydicom, read_dataset
from dicomimgcmp.read.layers import OVERLAY_GROUPS, OVERLAY_GROUPS_BY_NAME, has_overlays, overlay_name


class Overlay(NamedTuple):
    """One overlay plane as a (rows, columns) bool array of its first frame, placed at its origin (1-based);
    ``bit`` is the pixel data bit that holds it (None: in its own Overlay Data element)."""

    group: int
    origin: tuple[int, int]
    plane: np.ndarray
    bit: int | None = None

    def differs_from(self, other: Overlay) -> int:
        """Overlay pixels that differ from ``other``'s (every pixel of both when placed or sized otherwise)."""
        if self.origin != other.origin or self.plane.shape != other.plane.shape:
            return int(self.plane.sum() + other.plane.sum()) or 1
        return int(np.count_nonzero(self.plane != other.plane))

    def placed(self, shape: tuple[int, int]) -> np.ndarray:
        """The plane on an image of ``shape`` (rows, columns): where it sits, cut at the image's edges."""
        out = np.zeros(shape, dtype=bool)
        r0, c0 = self.origin[0] - 1, self.origin[1] - 1
        src = self.plane[max(0, -r0):max(0, shape[0] - r0), max(0, -c0):max(0, shape[1] - c0)]
        out[max(0, r0):max(0, r0) + src.shape[0], max(0, c0):max(0, c0) + src.shape[1]] = src
        return out


def read_overlays(record: FileRecord) -> dict[int, Overlay | None]:
    """Every overlay plane of the file, by group: Overlay Data through pydicom, planes in the pixel data's high
    bits from the stored words of the first frame (None when they cannot be read: compressed data keeps no high
    bits). An overlay whose Overlay Data is gone and that does not declare itself in the pixel data's bits
    (OverlayBitsAllocated 1, the value Overlay Data needs) is absent, whatever attributes of it remain."""
    if not has_overlays(record.layers):
        return {}
    ds = read_dataset(record.path)
    words: np.ndarray | None = None  # the first frame's stored words, read once for the overlays kept there
    found: dict[int, Overlay | None] = {}
    for group in OVERLAY_GROUPS:
        if Tag(group, 0x0010) not in ds:
            continue
        values = [int(v) for v in (ds[Tag(group, 0x0050)].value if Tag(group, 0x0050) in ds else (1, 1))]
        origin = (values[0], values[1])
        if Tag(group, 0x3000) in ds:
            with quiet_pydicom():
                plane = ds.overlay_array(group)
            found[group] = Overlay(group, origin, (plane[0] if plane.ndim == 3 else plane).astype(bool))
            continue
        position = ds.get(Tag(group, 0x0102))  # an overlay in bit OverlayBitPosition (retired, still written)
        if position is None or position.value is None or not _in_pixel_data(ds, group, int(position.value)):
            continue
        words = stored_words(record, 0) if words is None else words
        bit = int(position.value)
        found[group] = (Overlay(group, origin, ((words >> bit) & 1).astype(bool), bit)
                        if words is not None and words.ndim == 2 else None)
    return found


def _in_pixel_data(ds: Dataset, group: int, bit: int) -> bool:
    """Whether an overlay without Overlay Data is kept in the pixel data's bits: OverlayBitsAllocated equal to the
    image's BitsAllocated, at a bit above BitsStored (PS3.3 C.9.2, retired usage)."""
    allocated = ds.get(Tag(group, 0x0100))
    image_bits = int(ds.get("BitsAllocated", 0) or 0)
    stored = int(ds.get("BitsStored", image_bits) or image_bits)
    return allocated is not None and int(allocated.value or 0) == image_bits > 1 and stored <= bit < image_bits


def stored_words(record: FileRecord, frame: int) -> np.ndarray | None:
    """The stored words of one frame of native pixel data, bits above BitsStored included (pydicom's decoders
    drop them): (rows, columns[, samples]) unsigned; None for compressed, deflated or odd data."""
    fmt = record.format
    if record.pixel_offset is None or fmt is None or fmt.bits_allocated not in (8, 16, 32) or fmt.encoding_mismatch:
        return None
    if UID(fmt.transfer_syntax_uid or ImplicitVRLittleEndian).is_encapsulated or fmt.planar_configuration == 1:
        return None
    samples = fmt.samples_per_pixel or 1
    count = (fmt.rows or 0) * (fmt.columns or 0) * samples
    dtype = np.dtype(f"u{fmt.bits_allocated // 8}").newbyteorder("<" if fmt.little_endian else ">")
    start = record.pixel_offset + element_header_length(fmt.implicit_vr) + frame * count * dtype.itemsize
    words = np.fromfile(record.path, dtype=dtype, count=count, offset=start)
    if words.size != count:
        return None
    return words.reshape((fmt.rows, fmt.columns, samples) if samples > 1 else (fmt.rows, fmt.columns))


def stray_high_bits(record: FileRecord, overlay_bits: set[int]) -> int:
    """Pixels (over every frame) whose stored words have bits set above BitsStored, other than a sign extension
    of signed data and the bits of overlays declared there."""
    fmt = record.format
    if not fmt or not fmt.bits_stored or not fmt.bits_allocated or fmt.bits_stored >= fmt.bits_allocated:
        return 0
    high_mask = ((1 << fmt.bits_allocated) - 1) & ~((1 << fmt.bits_stored) - 1)
    for bit in overlay_bits:
        high_mask &= ~(1 << bit)
    stray = 0
    for frame in range(max(fmt.frames or 1, 1)):
        words = stored_words(record, frame)
        if words is None:
            return 0
        if not overlay_bits and _within_bits_stored(words, fmt.bits_stored, fmt.pixel_representation == 1):
            continue  # the common case, in one pass
        high = words & words.dtype.type(high_mask)
        unexpected = high != 0
        if fmt.pixel_representation == 1:  # a negative value's sign extension sets them all
            negative = (words >> (fmt.bits_stored - 1)) & 1 == 1
            unexpected &= ~(negative & (high == high_mask))
        stray += int(np.count_nonzero(unexpected))
    return stray


def _within_bits_stored(words: np.ndarray, bits_stored: int, signed: bool) -> bool:
    """Whether every stored word holds a BitsStored value: no bit above it set (unsigned), or only a sign
    extension there (signed)."""
    if not signed:
        return int(words.max()) >> bits_stored == 0
    values = words.view(words.dtype.str.replace("u", "i"))
    return -(1 << (bits_stored - 1)) <= int(values.min()) and int(values.max()) < 1 << (bits_stored - 1)


class LayerFindings(NamedTuple):
    """What the hidden layers of a pair say: what the de-identified file carries beside its pixel values, and
    the overlay planes removed, added or changed (a change of the pair, like a pixel's)."""

    hidden: tuple[str, ...]
    changes: tuple[str, ...]


def layer_findings(deid: FileRecord, source: FileRecord) -> LayerFindings:
    """Compare the overlay planes of a pair and list the de-identified file's hidden content."""
    try:
        d_planes, s_planes = read_overlays(deid), read_overlays(source)
    except Exception as exc:  # a damaged overlay must not lose the pair's row  # noqa: BLE001
        return LayerFindings((*deid.layers, f"overlay planes unreadable: {type(exc).__name__}: {exc}"), ())
    absent = {overlay_name(group) for group in _declared_overlays(deid) - set(d_planes)}
    hidden = [layer for layer in deid.layers if layer not in absent]
    changes = []
    for group in sorted(set(d_planes) | set(s_planes)):
        name = overlay_name(group)
        d_plane, s_plane = d_planes.get(group), s_planes.get(group)
        if group not in d_planes:
            changes.append(f"{name} removed")
        elif group not in s_planes:
            changes.append(f"{name} added")
        elif d_plane is not None and s_plane is not None and (n := d_plane.differs_from(s_plane)):
            changes.append(f"{name} changed ({n} pixels)")
    stray = stray_high_bits(deid, {plane.bit for plane in d_planes.values() if plane and plane.bit is not None})
    if stray:
        hidden.append(f"bits above BitsStored ({deid.pixels.bits_stored}) set in {stray} pixels")
    return LayerFindings(tuple(hidden), tuple(changes))


def _declared_overlays(record: FileRecord) -> set[int]:
    return {OVERLAY_GROUPS_BY_NAME[layer] for layer in record.layers if layer in OVERLAY_GROUPS_BY_NAME}
