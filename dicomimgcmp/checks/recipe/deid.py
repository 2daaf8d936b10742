"""pydicom/deid recipes (``%filter`` sections, ``coordinates``/``ctpcoordinates``/``keepcoordinates``), evaluated
by deid itself (``has_burned_pixels``), not re-implemented: the recipe's filters mean what deid makes them mean.

deid evaluates a pydicom data set; it gets one made of the attribute values the index read (the fields the
recipe's filters and ``from:`` coordinates name). deid writes the coordinates it reads from a header field back
into the recipe, so each evaluation gets a copy of it. Every matching rule counts, as deid's cleaner applies
every one: its regions in order (a later one over an earlier one), ``all`` the whole image.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dicomimgcmp.checks.recipe.regions import NO_RULE, WHOLE_IMAGE, Expectation, Region
from dicomimgcmp.errors import ConfigError
from dicomimgcmp.optional import require
from dicomimgcmp.read.attributes import attribute_tags, is_attribute
from dicomimgcmp.read.dicomfile import quiet_pydicom

if TYPE_CHECKING:  # deid and pydicom are imported when a recipe is evaluated
    from deid.config import DeidRecipe
    from pydicom.dataset import Dataset, FileDataset

_FLAGGING_GROUPS = ("graylist", "blacklist")  # a whitelist rule names an image clean, not to look at
_loaded: dict[str, Any] = {}  # recipe file -> deid's DeidRecipe, once per process


@dataclass(frozen=True)
class DeidRecipeFile:
    name: str  # as the config names it: "deid:default", or the file's name
    path: str
    attributes: tuple[str, ...]

    def expect(self, values: Mapping[str, str]) -> Expectation:
        recipe = copy.deepcopy(_recipe(self.path))  # deid writes coordinates read from the header into it
        labels = _labels(recipe)
        with quiet_pydicom():  # pydicom's opinions of a header value ("Invalid value for VR CS") and of the modules
            from deid.dicom.pixels.detect import has_burned_pixels  # deid imports are not the run's to print

            found = has_burned_pixels(_dataset(values), force=True, deid=recipe)
        if not found["flagged"]:
            return NO_RULE
        rules, regions, flags_only = [], [], False
        for result in found["results"]:
            coordinates = result.get("coordinates")
            if coordinates is None:
                coordinates = []
            rules.append(f"{result['group']}: {labels.get(id(coordinates), result['reason'].strip())}")
            regions += [region for value, coords in coordinates for region in _regions(value, coords)]
            flags_only |= not coordinates and result["group"] in _FLAGGING_GROUPS
        return Expectation(tuple(rules), tuple(regions), flags_only)


def read_deid_recipe(name: str, path: Path) -> DeidRecipeFile:
    if not path.is_file():
        raise ConfigError(f"recipe {name}: no such deid recipe ({path})")
    recipe = _recipe(str(path))
    attributes: dict[str, None] = {}
    for items in (recipe.get_filters() or {}).values():
        for item in items:
            for group in item.get("filters", []):
                attributes.update(dict.fromkeys(group["field"]))
            for _, coords in item.get("coordinates", []):
                if isinstance(coords, str) and coords.startswith("from:"):
                    attributes[coords.removeprefix("from:")] = None
    if not recipe.get_filters():
        raise ConfigError(f"recipe {name}: no %filter section in {path}, so it names no region")
    return DeidRecipeFile(name, str(path), tuple(a for a in attributes if is_attribute(a)))


def _recipe(path: str) -> DeidRecipe:
    """deid's recipe object for a file, loaded once per process; a recipe deid cannot parse is a ConfigError
    (deid itself would exit the process)."""
    if path not in _loaded:
        config = require("deid.config", "config key 'recipe' names a deid recipe")
        from deid.logger import bot

        bot.level = -3  # deid's ERROR: its debug lines and warnings would flood the console of every worker
        try:
            _loaded[path] = config.DeidRecipe(path)
        except (SystemExit, Exception) as exc:  # noqa: BLE001 - deid exits or raises on a recipe it cannot read
            raise ConfigError(f"recipe {path}: deid cannot read it ({exc})") from None
    return _loaded[path]


def _labels(recipe: DeidRecipe) -> dict[int, str]:
    """Each filter item's LABEL, by its coordinates list (the object deid returns in a result)."""
    return {id(item["coordinates"]): item.get("name", "").strip().removeprefix("LABEL ").strip()
            for items in recipe.get_filters().values() for item in items}


def _regions(value: int, coords: str | list[str]) -> list[Region]:
    keep = bool(int(value))
    found = []
    for text in coords if isinstance(coords, list) else [coords]:
        if str(text).strip().lower() == "all":
            found.append(WHOLE_IMAGE._replace(keep=keep))
            continue
        try:
            x0, y0, x1, y1 = (int(float(v)) for v in str(text).split(","))
        except ValueError:
            continue  # deid's cleaner would fail on it; nothing to expect
        found.append(Region(x0, y0, x1, y1, keep))
    return found


def _dataset(values: Mapping[str, str]) -> FileDataset:
    """A pydicom data set holding the attribute values (absent ones left out), as deid reads one."""
    from pydicom.datadict import dictionary_VR
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.sequence import Sequence

    ds = FileDataset("recipe", Dataset(), file_meta=FileMetaDataset(), preamble=b"\0" * 128)
    for spec, text in values.items():
        tags = attribute_tags(spec)
        if not text or len(tags) != 1:
            continue
        vr = _vr(tags[0], dictionary_VR)
        if vr == "SQ":
            items = []
            for data in json.loads(text):
                item = Dataset()
                for keyword, value in data.items():
                    _add(item, attribute_tags(keyword)[0], value, dictionary_VR)
                items.append(item)
            ds.add_new(tags[0], "SQ", Sequence(items))
        else:
            _add(ds, tags[0], text, dictionary_VR)
    return ds


def _vr(tag: int, dictionary_vr: Callable[[int], str]) -> str:
    try:
        return dictionary_vr(tag).split(" or ")[0]
    except KeyError:
        return "LO"  # a private or unknown attribute: text


def _add(ds: Dataset, tag: int, text: str, dictionary_vr: Callable[[int], str]) -> None:
    vr = _vr(tag, dictionary_vr)
    parts = text.split("\\")
    if vr in ("US", "SS", "UL", "SL"):
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            return
        ds.add_new(tag, vr, numbers if len(numbers) > 1 else numbers[0])
    elif vr in ("FL", "FD"):
        try:
            floats = [float(p) for p in parts]
        except ValueError:
            return
        ds.add_new(tag, vr, floats if len(floats) > 1 else floats[0])
    else:
        ds.add_new(tag, vr, parts if len(parts) > 1 else text)
