"""A table of boxes, for sites that keep their regions in a spreadsheet: a CSV with the columns ``Manufacturer``,
``ManufacturerModelName``, ``Rows``, ``Columns`` (an empty cell matches any value; a value matches the header's
ignoring case and surrounding spaces) and ``box`` (``x0,y0,x1,y1``, end exclusive; several separated by ``;``).
Every matching row's boxes apply, in the table's order."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dicomimgcmp.checks.recipe.regions import NO_RULE, Expectation, Region
from dicomimgcmp.errors import ConfigError

KEYS = ("Manufacturer", "ManufacturerModelName", "Rows", "Columns")


@dataclass(frozen=True)
class BoxRow:
    line: int
    wanted: tuple[str, ...]  # per KEYS, lower case; "" matches any
    regions: tuple[Region, ...]

    @property
    def name(self) -> str:
        said = ", ".join(f"{key}={value}" for key, value in zip(KEYS, self.wanted) if value)
        return f"line {self.line}: {said or 'any image'}"


@dataclass(frozen=True)
class BoxTable:
    name: str
    rows: tuple[BoxRow, ...]
    attributes: tuple[str, ...] = KEYS

    def expect(self, values: Mapping[str, str]) -> Expectation:
        have = tuple(values.get(key, "").strip().lower() for key in KEYS)
        found = [row for row in self.rows if all(not w or w == h for w, h in zip(row.wanted, have))]
        if not found:
            return NO_RULE
        return Expectation(tuple(row.name for row in found), tuple(r for row in found for r in row.regions))


def read_box_table(path: Path) -> BoxTable:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = [c for c in (*KEYS, "box") if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(f"recipe {path}: a table of boxes needs the columns {', '.join(KEYS)}, box; "
                                  f"missing: {', '.join(missing)}")
            rows = tuple(_row(path, k + 2, row) for k, row in enumerate(reader))
    except OSError as exc:
        raise ConfigError(f"recipe {path}: cannot read it ({exc.strerror or exc})") from None
    if not rows:
        raise ConfigError(f"recipe {path}: the table has no row")
    return BoxTable(path.name, rows)


def _row(path: Path, line: int, row: dict) -> BoxRow:
    regions = []
    for text in (row.get("box") or "").split(";"):
        if not text.strip():
            continue
        try:
            x0, y0, x1, y1 = (int(v) for v in text.split(","))
        except ValueError:
            raise ConfigError(f"recipe {path}, line {line}: box {text.strip()!r} is not x0,y0,x1,y1") from None
        regions.append(Region(x0, y0, x1, y1))
    return BoxRow(line, tuple((row.get(key) or "").strip().lower() for key in KEYS), tuple(regions))
