"""The de-identification recipe a run is judged against (config key ``recipe``): where the pixels of each image
should have been blanked, from its source header.

- ``deid:default``, ``deid:ultrasound``, ``deid:xray.chest`` ... the recipes shipped in the ``deid`` package, or
  the path of a deid recipe file (:mod:`.deid`);
- the path of a CTP ``DicomPixelAnonymizer.script`` (:mod:`.ctp`);
- the path of a CSV table of boxes (:mod:`.table`).

A recipe names the header attributes it reads (the index reads them from every file) and answers for their values;
answers are kept per distinct combination of values (a collection has a handful of scanner signatures).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from dicomimgcmp.checks.recipe.regions import Expectation
from dicomimgcmp.errors import ConfigError
from dicomimgcmp.optional import require


class Recipe(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def attributes(self) -> tuple[str, ...]: ...

    def expect(self, values: Mapping[str, str]) -> Expectation: ...


def load_recipe(value: str, base: Path) -> Recipe:
    """The recipe a config value names; ConfigError saying why not."""
    if value.startswith("deid:"):
        from dicomimgcmp.checks.recipe.deid import read_deid_recipe

        tag = value.removeprefix("deid:").replace("default", "dicom", 1) if value != "deid:" else "dicom"
        tag = tag if tag.startswith("dicom") else f"dicom.{tag}"
        data = Path(str(require("deid.data", f"config key 'recipe' is {value!r}").__file__)).parent
        return read_deid_recipe(value, data / f"deid.{tag}")
    path = Path(value) if Path(value).is_absolute() else base / value
    if not path.is_file():
        raise ConfigError(f"config key 'recipe': no such file {path} (or a deid recipe: deid:default, "
                          "deid:ultrasound, ...)")
    head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    if path.suffix.lower() == ".csv":
        from dicomimgcmp.checks.recipe.table import read_box_table

        return read_box_table(path)
    if "%filter" in head or head.lstrip().startswith("FORMAT"):
        from dicomimgcmp.checks.recipe.deid import read_deid_recipe

        return read_deid_recipe(path.name, path)
    from dicomimgcmp.checks.recipe.ctp import read_ctp_script

    return read_ctp_script(path)


_answers: dict[tuple[str, tuple[str, ...]], Expectation] = {}
ANSWERS_KEPT = 4096  # distinct combinations kept per process: a recipe keyed on a per-file value must not grow it


def expectation(recipe: Recipe, values: tuple[str, ...]) -> Expectation:
    """The recipe's answer for a header's attribute values (in the order of ``recipe.attributes``), computed once
    per process for each distinct combination (the first :data:`ANSWERS_KEPT` of them)."""
    key = (recipe.name, values)
    if key not in _answers:
        if len(_answers) >= ANSWERS_KEPT:
            _answers.clear()
        _answers[key] = recipe.expect(dict(zip(recipe.attributes, values)))
    return _answers[key]
