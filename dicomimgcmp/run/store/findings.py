"""The checks' questions over the whole run: the recipe verdicts and the header check's findings."""

from __future__ import annotations

import re

from dicomimgcmp.enums import RecipeVerdict
from dicomimgcmp.run.store.base import StoreBase
from dicomimgcmp.summary import HeaderTally, RecipeTally, RuleTally

#: Pages of pairs that fail the recipe come before those that conform (after those showing identity).
FAILS_RECIPE = "(COALESCE(recipe_verdict, '') IN ({}))".format(
    ", ".join(f"'{v.value}'" for v in RecipeVerdict if v.fails))

LISTED = 200  # files with header findings the summary lists (the CSV has them all)


class FindingQueries(StoreBase):
    def recipe_tally(self) -> RecipeTally | None:
        """The recipe verdicts of the run: per verdict, and per rule (None when no pair has one)."""
        verdicts = dict(self._db.execute("SELECT recipe_verdict, COUNT(*) FROM rows WHERE recipe_verdict IS NOT NULL "
                                         "GROUP BY recipe_verdict").fetchall())
        if not verdicts:
            return None
        rules = tuple(RuleTally(*row) for row in self._db.execute(
            f"SELECT recipe_rule, COUNT(*), SUM(recipe_verdict = '{RecipeVerdict.AS_RECIPE.value}'), "
            f"SUM({FAILS_RECIPE}) FROM rows WHERE recipe_verdict IS NOT NULL AND recipe_rule != '' "
            "GROUP BY recipe_rule ORDER BY COUNT(*) DESC, recipe_rule"))
        return RecipeTally({v: verdicts.get(v, 0) for v in RecipeVerdict}, rules)

    def header_tally(self) -> HeaderTally:
        """The header check over the run: files with findings, (source attribute, where, files) largest first
        (item numbers of sequences as [*]), the first :data:`LISTED` files with their findings and page, and the
        patients (source PatientID) whose date shifts differ."""
        files = self._one("SELECT COUNT(*) FROM rows WHERE header_items IS NOT NULL")
        self._db.create_function("any_item", 1, _any_item, deterministic=True)
        table = tuple(self._db.execute(  # the same place in every item of a sequence is one place: files counted once
            "SELECT attribute, any_item(place) AS at, COUNT(DISTINCT rel_path) AS n FROM (SELECT rel_path, "
            "substr(value, 1, instr(value, '@') - 1) AS attribute, substr(value, instr(value, '@') + 1) AS place "
            "FROM rows, json_each(rows.header_items) WHERE header_items IS NOT NULL) "
            "GROUP BY attribute, at ORDER BY n DESC, attribute, at").fetchall())
        listed = tuple(self._db.execute(
            "SELECT rel_path, header_items, pdf_page FROM rows WHERE header_items IS NOT NULL "
            "ORDER BY patient_id, study, series_number, instance_number, rel_path LIMIT ?", (LISTED,)).fetchall())
        shifts = tuple(self._db.execute(
            "SELECT source_patient, GROUP_CONCAT(DISTINCT date_shift) FROM rows WHERE date_shift IS NOT NULL "
            "AND COALESCE(source_patient, '') != '' "  # files without a PatientID are not one patient
            "GROUP BY source_patient HAVING COUNT(DISTINCT date_shift) > 1 ORDER BY source_patient").fetchall())
        return HeaderTally(files, table, listed, shifts)


def _any_item(place: str) -> str:
    return re.sub(r"\[\d+\]", "[*]", place)
