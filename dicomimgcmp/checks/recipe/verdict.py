"""The recipe verdict of one compared pair: were the pixels changed exactly where the recipe says?

- ``as_recipe``: every changed pixel lies in an expected region and no expected region still holds the source's
  pixels (a region whose source pixels are one value has nothing to blank, and says so); an unchanged image that
  no rule names is ``as_recipe`` too;
- ``missed_region``: pixels of an expected region still hold the source's values (other than the value the region
  was blanked to): identity may be left; it wins over ``changed_outside``, and the reason names both;
- ``changed_outside``: pixels changed outside every expected region (a crop's lost pixels count);
- ``not_in_recipe``: changed, and no rule matched the source header;
- ``rule_flags_only``: a matched rule names no region (look at this image).

Regions are judged in source coordinates, every frame: a pixel counts as missed when it holds the source's value
in some frame; the blanked value is, per frame, the one the first changed pixel of the regions took.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dicomimgcmp.checks.recipe import Recipe, expectation
from dicomimgcmp.checks.recipe.regions import Expectation, blank_mask
from dicomimgcmp.compare.diff import box_from
from dicomimgcmp.compare.groups import group_id
from dicomimgcmp.enums import RecipeVerdict, Status
from dicomimgcmp.errors import DecodeError
from dicomimgcmp.model import Crop, PairResult, slice_text
from dicomimgcmp.pixels.decode import iter_frames


class _Found(NamedTuple):
    missed: np.ndarray  # expected-region pixels that hold the source's value (some frame)
    outside: np.ndarray  # pixels changed outside the expected regions (some frame)
    region_changed: bool  # any pixel of the expected regions changed
    region_uniform: bool  # the source's pixels in the expected regions are one value (every frame)


def check_recipe(result: PairResult, recipe: Recipe) -> PairResult:
    """The result judged against the recipe's answer for its source header; a failure to judge is said in the
    reason (the verdict left empty), never raised: the comparison's row must survive it."""
    if not result.status.compared:
        return result
    try:
        return judge(result, expectation(recipe, result.files[1].attributes))
    except Exception as exc:  # noqa: BLE001
        return result.with_note(f"recipe check failed: {type(exc).__name__}: {exc}")


def judge(result: PairResult, expected: Expectation) -> PairResult:
    """The result with its recipe verdict, rule and expected boxes (and, unless as the recipe says, why)."""
    if not result.status.compared:
        return result
    verdict, why = _verdict(result, expected)
    reason = "; ".join(t for t in (result.reason, why and f"recipe: {why}") if t)
    group = result.change_group and group_id(result.files[1], f"{result.change_group}|recipe {verdict}")
    return result.replace(recipe_verdict=verdict, recipe_rule=expected.rule,
                          recipe_boxes=expected.boxes_text(), reason=reason, change_group=group)


def _verdict(result: PairResult, expected: Expectation) -> tuple[RecipeVerdict, str]:
    changed = result.status is Status.CHANGED
    if not expected.rules:
        return (RecipeVerdict.NOT_IN_RECIPE, "changed, and no rule of the recipe names this image") if changed \
            else (RecipeVerdict.AS_RECIPE, "")
    source = result.files[1]
    rows, columns = source.pixels.rows or 0, source.pixels.columns or 0
    mask = blank_mask(expected.regions, rows, columns)
    if not mask.any():
        if expected.flags_only:
            return RecipeVerdict.RULE_FLAGS_ONLY, "the rule names no region: look at this image"
        return ((RecipeVerdict.CHANGED_OUTSIDE, f"changed, but the rule blanks nothing ({_box_of(result)})")
                if changed else (RecipeVerdict.AS_RECIPE, ""))
    try:
        found = _compare_regions(result, mask)
    except (DecodeError, ValueError) as exc:
        return RecipeVerdict.CHANGED_OUTSIDE, f"the expected regions could not be judged: {exc}"
    return _words(found, int(mask.sum()))


def _words(found: _Found, region_pixels: int) -> tuple[RecipeVerdict, str]:
    missed, outside = int(found.missed.sum()), int(found.outside.sum())
    said_outside = (f"changed outside the expected regions: {slice_text(_box(found.outside))} "
                    f"({outside:,} pixels)") if outside else ""
    if missed:
        said = (f"the expected regions still hold the source's pixels: {slice_text(_box(found.missed))} "
                f"({missed:,} of {region_pixels:,} pixels)")
        return RecipeVerdict.MISSED_REGION, "; ".join(t for t in (said, said_outside) if t)
    if outside:
        return RecipeVerdict.CHANGED_OUTSIDE, said_outside
    if not found.region_changed and found.region_uniform:
        return RecipeVerdict.AS_RECIPE, "nothing to blank: the source's pixels in the expected regions are one value"
    return RecipeVerdict.AS_RECIPE, ""


def _compare_regions(result: PairResult, mask: np.ndarray) -> _Found:
    deid, source = result.files
    rows, columns = mask.shape
    window = np.zeros_like(mask)
    crop = result.crop
    if crop is None:
        window[:] = True
    else:
        window[crop.row0:crop.row0 + crop.rows, crop.col0:crop.col0 + crop.columns] = True
    missed = np.zeros_like(mask)
    outside = ~window & ~mask  # what a crop lost outside the regions
    region_changed, uniform = False, True
    frames = (((s, s) for s in iter_frames(source)) if result.status is Status.IDENTICAL  # equal: decoded once
              else zip(iter_frames(deid), iter_frames(source)))
    for d, s in frames:
        if s.shape[:2] != (rows, columns):
            raise ValueError(f"the source's frames are {s.shape[0]}x{s.shape[1]}, the header says {rows}x{columns}")
        placed = _in_source(d, s, crop)
        if placed is None:
            raise ValueError("the de-identified image is neither the source's size nor a part of it")
        equal = _all_channels(placed == s) & window
        changed = window & ~equal
        outside |= changed & ~mask
        in_regions = mask & window
        hit = changed & in_regions
        region_changed |= bool(hit.any())
        source_values = s[mask]
        uniform &= bool((source_values == source_values[:1]).all())
        if hit.any():
            fill = placed[np.unravel_index(int(np.argmax(hit)), hit.shape)]
            missed |= equal & in_regions & ~_all_channels(placed == fill)
        else:
            missed |= equal & in_regions
    if not region_changed and uniform:
        missed[:] = False  # nothing to blank
    return _Found(missed, outside, region_changed, uniform)


def _in_source(d: np.ndarray, s: np.ndarray, crop: Crop | None) -> np.ndarray | None:
    """The de-identified frame in source coordinates (the pixels a crop lost hold the source's, masked out by the
    window)."""
    if crop is None:
        return d if d.shape == s.shape else None
    placed = s.copy()
    placed[crop.row0:crop.row0 + crop.rows, crop.col0:crop.col0 + crop.columns] = d
    return placed


def _all_channels(equal: np.ndarray) -> np.ndarray:
    return np.asarray(equal.all(axis=-1) if equal.ndim == 3 else equal)


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    box = box_from(np.asarray(mask.any(axis=1)), np.asarray(mask.any(axis=0)))
    if box is None:
        raise ValueError("an empty mask has no box")
    return box


def _box_of(result: PairResult) -> str:
    return slice_text(result.bbox) if result.bbox else "the whole image"
