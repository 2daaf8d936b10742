"""What a header declares lies beside its image (overlay planes, an icon, BurnedInAnnotation YES): read by the
index from the tags present, cheaply; :mod:`dicomimgcmp.pixels.layers` reads the layers themselves."""

from __future__ import annotations

OVERLAY_GROUPS = tuple(range(0x6000, 0x6020, 2))
_ICON_TAG = 0x00880200
#: Header elements that say a layer is there (as ints): each overlay's OverlayRows and the icon.
LAYER_TAGS = tuple(group << 16 | 0x0010 for group in OVERLAY_GROUPS) + (_ICON_TAG,)
ICON = "IconImageSequence"
BURNED_IN = "BurnedInAnnotation YES"


def overlay_name(group: int) -> str:
    """The layer's name of an overlay plane: "overlay 6000"."""
    return f"overlay {group:04X}"


def has_overlays(layers: tuple[str, ...]) -> bool:
    """Whether any of a record's layers is an overlay plane."""
    return any(layer in OVERLAY_GROUPS_BY_NAME for layer in layers)


OVERLAY_GROUPS_BY_NAME = {overlay_name(group): group for group in OVERLAY_GROUPS}


def header_layers(present: set[int], burned_in: str) -> tuple[str, ...]:
    """The layers a header declares, from the tags of :data:`LAYER_TAGS` it holds and its BurnedInAnnotation
    value, in a fixed order (the index and the fast scan give the same tuple)."""
    found = [overlay_name(group) for group in OVERLAY_GROUPS if group << 16 | 0x0010 in present]
    if _ICON_TAG in present:
        found.append(ICON)
    if burned_in.strip().upper() == "YES":
        found.append(BURNED_IN)
    return tuple(found)
