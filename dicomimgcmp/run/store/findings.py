"""The checks' questions over the whole run: the recipe verdicts and the header check's findings."""

from __future__ import annotations

import re
from collections import Counter

from dicomimgcmp.checks.dates import shifts_differ
from dicomimgcmp.checks.header_profile import NOT_A_PAIR, unpack
from dicomimgcmp.checks.roles import names_the_patient
from dicomimgcmp.enums import RecipeVerdict
from dicomimgcmp.run.store.base import DEID, SOURCE, StoreBase
from dicomimgcmp.run.store.rows import RECORD_ERROR
from dicomimgcmp.summary import HeaderTally, ProfileTally, RecipeTally, RuleTally

#: Pages of pairs that fail the recipe come before those that conform (after those showing identity).
FAILS_RECIPE = "(COALESCE(recipe_verdict, '') IN ({}))".format(
    ", ".join(f"'{v.value}'" for v in RecipeVerdict if v.fails))

COMBINATIONS = 3  # sets of header findings the summary lists, with their files (the CSV has every file's)


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

    def header_tally(self, unjudged: int) -> HeaderTally:
        """The header check over the run: files with findings, (source attribute, where, files), the patient's own
        identifiers first, then largest first (item numbers of sequences as [*]), the :data:`COMBINATIONS` sets of
        findings most files share, the patients (source PatientID) whose date shifts differ, (source attribute,
        files) in the same order, and ``unjudged`` (:meth:`unjudged_files`)."""
        files = self._one("SELECT COUNT(*) FROM rows WHERE header_items IS NOT NULL")
        self._db.create_function("any_item", 1, any_item, deterministic=True)
        self._db.create_function("names_the_patient", 1, names_the_patient, deterministic=True)
        found = ("(SELECT rel_path, substr(value, 1, instr(value, '@') - 1) AS attribute, substr(value, instr(value, "
                 "'@') + 1) AS place FROM rows, json_each(rows.header_items) WHERE header_items IS NOT NULL)")
        table = tuple(self._db.execute(  # the same place in every item of a sequence is one place: files counted once
            f"SELECT attribute, any_item(place) AS at, COUNT(DISTINCT rel_path) AS n FROM {found} "
            "GROUP BY attribute, at ORDER BY names_the_patient(attribute) DESC, n DESC, attribute, at").fetchall())
        attributes = tuple(self._db.execute(
            f"SELECT attribute, COUNT(DISTINCT rel_path) AS n FROM {found} GROUP BY attribute "
            "ORDER BY names_the_patient(attribute) DESC, n DESC, attribute").fetchall())
        combinations = tuple(self._db.execute(
            "SELECT header_items, COUNT(*) AS n FROM rows WHERE header_items IS NOT NULL GROUP BY header_items "
            "ORDER BY n DESC, header_items LIMIT ?", (COMBINATIONS,)).fetchall())
        combination_count = self._one("SELECT COUNT(DISTINCT header_items) FROM rows")
        self._db.create_function("shifts_differ", 2, shifts_differ, deterministic=True)
        shifts = tuple(self._db.execute(
            "WITH shifts AS (SELECT DISTINCT source_patient AS patient, date_shift FROM rows WHERE date_shift IS NOT "
            "NULL AND COALESCE(source_patient, '') != '') "  # files without a PatientID are not one patient
            "SELECT patient, GROUP_CONCAT(date_shift) FROM shifts WHERE patient IN (SELECT a.patient FROM shifts AS a "
            "JOIN shifts AS b ON a.patient = b.patient AND shifts_differ(CAST(a.date_shift AS REAL), "
            "CAST(b.date_shift AS REAL))) GROUP BY patient ORDER BY patient").fetchall())
        return HeaderTally(files, table, combinations, combination_count, shifts, attributes, unjudged)

    def unjudged_files(self) -> int:
        """The de-identified files whose headers were not judged (:func:`.checks.header_profile.headers_judged`):
        not paired, or a file of the pair not read. A count of findings says nothing of them."""
        statuses = ", ".join(f"'{status.value}'" for status in NOT_A_PAIR)
        error = f"->> '$[{RECORD_ERROR}]', '') != ''"
        return self._one(
            f"SELECT COUNT(*) FROM rows LEFT JOIN records AS d ON d.tree = {int(DEID)} AND d.path = rows.deid_path "
            f"LEFT JOIN records AS s ON s.tree = {int(SOURCE)} AND s.path = rows.source_path "
            f"WHERE rows.side = {int(DEID)} AND (rows.status IN ({statuses}) OR d.record IS NULL OR s.record IS NULL "
            f"OR COALESCE(d.record {error} OR COALESCE(s.record {error})")

    def profile_tally(self, unjudged: int) -> ProfileTally:
        """The profile judgement over the run: files with findings, and the rows of :meth:`header_actions` that
        make a finding, the patient's own identifiers first, then most files first (from the sets of actions files
        share: no pass over every finding)."""
        files = self._one("SELECT COUNT(*) FROM rows WHERE profile_found IS NOT NULL")
        table = sorted(((finding, attribute, expected, observed, n)
                        for attribute, expected, observed, n, finding in self.header_actions() if finding),
                       key=lambda row: (not names_the_patient(row[1]), -row[4], row[:4]))
        return ProfileTally(files, tuple(table), unjudged)

    def header_actions(self) -> list[tuple[str, str, str, int, str]]:
        """What was done to each attribute over the run: (attribute, expected, observed, files, finding), by
        attribute; the files alike (one set of actions) counted once in SQL and their set read once."""
        counts: Counter[tuple[str, str, str, str]] = Counter()
        for packed, files in self._db.execute("SELECT profile_actions, COUNT(*) FROM rows WHERE profile_actions "
                                              "IS NOT NULL GROUP BY profile_actions"):
            for line in unpack(packed):
                attribute, expected, observed, finding = line.split("\t")
                counts[attribute, expected, observed, finding] += files
        return [(attribute, expected, observed, files, finding)
                for (attribute, expected, observed, finding), files in sorted(counts.items())]


def any_item(place: str) -> str:
    """A place with its items' numbers as [*]: the same place in every item of a sequence is one place."""
    return re.sub(r"\[\d+\]", "[*]", place)
