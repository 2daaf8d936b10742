"""Header attributes named by a recipe (``Manufacturer``, ``[0008,1090]``, ``0x00181030``, ``Seq::Keyword``), read
as the text a recipe compares: the value as stored, several values joined by a backslash, "" when absent. A
sequence reads as its items (JSON: a list of ``{keyword: text}`` of each item's elements), so that a recipe that
takes coordinates from a sequence (deid's ``from:SequenceOfUltrasoundRegions``) finds them.

Read once per file by the index (both readers), so that a recipe is evaluated without opening a file again."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from typing import Any

from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from dicomimgcmp.errors import ConfigError
from dicomimgcmp.read.dicomfile import TEXT_VRS, text_values

_HEX = re.compile(r"(?:0x)?([0-9A-Fa-f]{8})|[\[(]?\s*([0-9A-Fa-f]{4})\s*,\s*([0-9A-Fa-f]{4})\s*[\])]?")


@functools.lru_cache(maxsize=1024)  # read for every file of a run: a recipe names a few dozen
def attribute_tags(spec: str) -> tuple[int, ...]:
    """The tags of an attribute path: a keyword or a tag (``[gggg,eeee]``, ``(gggg,eeee)``, ``ggggeeee``,
    ``0xggggeeee``), items of sequences separated by ``::`` (the first item is read, as CTP does)."""
    tags = []
    for part in spec.split("::"):
        part = part.strip()
        match = _HEX.fullmatch(part)
        if match:
            tags.append(int(match[1], 16) if match[1] else int(match[2] + match[3], 16))
            continue
        tag = tag_for_keyword(part)
        if tag is None:
            raise ConfigError(f"recipe names the attribute {part!r}, which is neither a DICOM keyword nor a tag")
        tags.append(tag)
    return tuple(tags)


def is_attribute(spec: str) -> bool:
    """Whether ``spec`` names an attribute (a recipe's name that does not finds no value, as in deid and CTP)."""
    try:
        attribute_tags(spec)
    except ConfigError:
        return False
    return True


def attribute_texts(ds: Dataset, specs: Sequence[str]) -> tuple[str, ...]:
    """The text of each attribute of ``specs`` in a pydicom data set."""
    return tuple(_text_at(ds, attribute_tags(spec)) for spec in specs)


def _text_at(ds: Dataset, tags: tuple[int, ...]) -> str:
    for depth, tag in enumerate(tags):
        elem = (getattr(ds, "file_meta", None) or Dataset()).get(tag) if tag >> 16 == 2 else ds.get(tag)
        if elem is None:
            return ""
        if depth == len(tags) - 1:
            return element_text(elem)
        if elem.VR != "SQ" or not elem.value:
            return ""
        ds = elem.value[0]
    return ""


def element_text(elem: DataElement) -> str:
    """An element's value as text: a sequence as JSON, several values joined by a backslash, bytes as ""."""
    if elem.VR == "SQ":
        return json.dumps([{keyword_for_tag(e.tag) or f"{e.tag:08X}": element_text(e) for e in item
                            if e.VR != "SQ"} for item in elem.value], sort_keys=True)
    value = elem.value
    if value is None or isinstance(value, (bytes, bytearray)):
        return ""
    if isinstance(value, (MultiValue, list, tuple)):
        return "\\".join(str(v).strip() for v in value)
    return str(value).strip()


def scanned_texts(dataset: Any, specs: Sequence[str]) -> tuple[str, ...] | None:
    """The text of each attribute in a data set parsed by dicomsdl, or None when not sure (a path into a
    sequence, a sequence, a value that is not printable text or a number): pydicom then reads the file.

    One ``getValues`` call for all (dicomsdl's fast path); a decimal string is read from its bytes, so that its
    text is the file's ("400.0", not a float's)."""
    tags = [attribute_tags(spec) for spec in specs]
    try:
        values = dataset.getValues([path[0] for path in tags])
    except Exception:  # noqa: BLE001 - dicomsdl raises its own exception type
        return None
    texts = []
    for path, value in zip(tags, values):
        if value is None:
            texts.append("")  # absent at the top level: absent whatever the path
            continue
        if len(path) > 1:
            return None
        if isinstance(value, float) or (isinstance(value, list) and any(isinstance(v, float) for v in value)):
            text = _raw_text(dataset, path[0])
        elif isinstance(value, (str, int)):
            text = str(value).strip()
        elif isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
            text = "\\".join(str(v).strip() for v in value)
        else:
            return None
        if text is None or not text.isprintable():
            return None
        texts.append(text)
    return tuple(texts)


def _raw_text(dataset: Any, tag: int) -> str | None:
    elem = dataset.getDataElement(tag)
    if str(elem.vr()).removeprefix("type.") not in TEXT_VRS:
        return None
    raw = elem.toBytes()
    return "\\".join(text_values(raw, "ascii")) if raw.isascii() else None
