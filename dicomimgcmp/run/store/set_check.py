"""The run judged as one set, in the store: SQL over the values the header walk saved for every pair (its UIDs,
:mod:`.checks.header_set`; its PatientIDs and date shift, in its row), never a pass over the pairs in memory, so
that 200,000 pairs cost what 20,000 do in memory. On a resumed run the rows are made again from the saved
comparisons, and the judgement again from them: no file is read.

Findings (:class:`~.enums.SetFinding`), each ``finding:Keyword@path`` on the pairs it is flagged on:

- ``uid_split``: one source value of one UID attribute (at any depth) became more than one new value of that
  attribute: the pairs whose new value is not the one most pairs got (ties: the smallest value is the usual one);
- ``uid_merged``: two or more source values of one attribute became one new value: every pair involved;
- ``uid_dangling``: a ReferencedSOPInstanceUID (at any depth) whose source value is the SOPInstanceUID of a
  source file of a pair, but whose new value is not that pair's new SOPInstanceUID;
- ``patient_split``, ``patient_merged``: the same for PatientID, over the pairs with a source and a de-identified
  PatientID;
- ``shift_differs``: a pair whose date shift differs from the one most pairs of its source patient have (a day or
  more apart, or both measured on date and time and not the same), named by the date it was measured on.
"""

from __future__ import annotations

import functools

from pydicom.datadict import tag_for_keyword

from dicomimgcmp.checks.dates import shifts_differ
from dicomimgcmp.enums import SetFinding
from dicomimgcmp.read.elements import tag_text
from dicomimgcmp.run.store.base import StoreBase
from dicomimgcmp.run.store.findings import any_item
from dicomimgcmp.summary import SetGroup, SetTally

GROUPS = 40  # groups of findings the tally keeps (most files first; the CSV has every pair's findings)

#: The values judged: every saved UID, and each pair's PatientIDs (source, de-identified) when it has both.
_VALUES = ("""
CREATE TEMP TABLE set_values AS
  SELECT rows.rel_path AS rel_path, 'uid' AS kind, j.value->>0 AS attribute, j.value->>1 AS path,
         j.value->>2 AS old, j.value->>3 AS new
  FROM rows, json_each(rows.set_uids) AS j WHERE rows.side = 0 AND rows.set_uids IS NOT NULL
  UNION ALL
  SELECT rel_path, 'patient', 'PatientID', '(0010,0020)', source_patient, patient_id FROM rows
  WHERE side = 0 AND set_uids IS NOT NULL AND COALESCE(source_patient, '') != '' AND COALESCE(patient_id, '') != ''
""", "CREATE INDEX temp.set_values_old ON set_values (kind, attribute, old)",
           "CREATE INDEX temp.set_values_new ON set_values (kind, attribute, new)",
           "CREATE TEMP TABLE set_found (rel_path TEXT, item TEXT, finding TEXT, grp TEXT, total INTEGER, detail TEXT)")

#: Split: the pairs whose new value is not the usual one of their (kind, attribute, source value).
_SPLIT = """
WITH counts AS (SELECT kind, attribute, old, new, COUNT(DISTINCT rel_path) AS n FROM set_values
                GROUP BY kind, attribute, old, new),
     ranked AS (SELECT kind, attribute, old, new, ROW_NUMBER() OVER same AS k, COUNT(*) OVER every AS kinds
                FROM counts WINDOW same AS (PARTITION BY kind, attribute, old ORDER BY n DESC, new),
                                   every AS (PARTITION BY kind, attribute, old)),
     totals AS (SELECT kind, attribute, old, COUNT(DISTINCT rel_path) AS total FROM set_values
                GROUP BY kind, attribute, old)
INSERT INTO set_found
SELECT DISTINCT v.rel_path, v.kind || '_split:' || v.attribute || '@' || v.path, v.kind || '_split',
       CASE v.kind WHEN 'uid' THEN v.attribute || ' ' || v.old ELSE v.old END, t.total, r.kinds
FROM set_values AS v
JOIN ranked AS r ON r.kind = v.kind AND r.attribute = v.attribute AND r.old = v.old AND r.k = 1 AND r.kinds > 1
JOIN totals AS t ON t.kind = v.kind AND t.attribute = v.attribute AND t.old = v.old
WHERE v.new != r.new
"""

#: Merged: every pair whose new value more than one source value of its (kind, attribute) became.
_MERGED = """
WITH merged AS (SELECT kind, attribute, new, COUNT(DISTINCT old) AS olds, COUNT(DISTINCT rel_path) AS total
                FROM set_values GROUP BY kind, attribute, new HAVING COUNT(DISTINCT old) > 1)
INSERT INTO set_found
SELECT DISTINCT v.rel_path, v.kind || '_merged:' || v.attribute || '@' || v.path, v.kind || '_merged',
       CASE v.kind WHEN 'uid' THEN v.attribute || ' ' || v.new ELSE v.new END, m.total, m.olds
FROM set_values AS v JOIN merged AS m ON m.kind = v.kind AND m.attribute = v.attribute AND m.new = v.new
"""

#: Dangling: references to the source file of a pair not remapped to that pair's new SOPInstanceUID.
_DANGLING = """
WITH instances AS (SELECT DISTINCT old, new FROM set_values WHERE kind = 'uid' AND path = '(0008,0018)')
INSERT INTO set_found
SELECT DISTINCT v.rel_path, 'uid_dangling:' || v.attribute || '@' || v.path, 'uid_dangling',
       v.attribute || ' @ ' || any_item(v.path), 0, ''
FROM set_values AS v JOIN instances AS i ON i.old = v.old
WHERE v.kind = 'uid' AND v.attribute = 'ReferencedSOPInstanceUID' AND v.new != i.new
  AND NOT EXISTS (SELECT 1 FROM instances AS same WHERE same.old = v.old AND same.new = v.new)
"""

#: Shifts: the pairs of a source patient whose date shift differs from the one most of its pairs have.
_SHIFTS = """
WITH judged AS (SELECT rel_path, source_patient AS patient, date_shift, shift_on FROM rows
                WHERE side = 0 AND set_uids IS NOT NULL AND date_shift IS NOT NULL
                  AND COALESCE(source_patient, '') != ''),
     counts AS (SELECT patient, date_shift, COUNT(*) AS n FROM judged GROUP BY patient, date_shift),
     usual AS (SELECT patient, date_shift, total FROM (
                 SELECT patient, date_shift, SUM(n) OVER every AS total,
                        ROW_NUMBER() OVER (PARTITION BY patient ORDER BY n DESC, CAST(date_shift AS REAL)) AS k
                 FROM counts WINDOW every AS (PARTITION BY patient)) WHERE k = 1)
INSERT INTO set_found
SELECT j.rel_path, 'shift_differs:' || j.shift_on || '@' || place_of(j.shift_on), 'shift_differs', j.patient,
       u.total, u.date_shift
FROM judged AS j JOIN usual AS u ON u.patient = j.patient
WHERE shifts_differ(CAST(j.date_shift AS REAL), CAST(u.date_shift AS REAL))
"""

_SAVE = ("CREATE INDEX temp.set_found_by_file ON set_found (rel_path)", """
UPDATE rows SET set_items = (SELECT group_concat(item, ';') FROM (
    SELECT DISTINCT item FROM set_found WHERE set_found.rel_path = rows.rel_path ORDER BY item))
WHERE side = 0 AND rel_path IN (SELECT rel_path FROM set_found)
""")


_DROP = ("DROP TABLE IF EXISTS temp.set_values", "DROP TABLE IF EXISTS temp.set_found")


class SetQueries(StoreBase):
    def judge_set(self) -> SetTally:
        """Judge the run's pairs as one set: each pair's findings into its row (CSV column ``set_findings``), and
        the tally. One transaction: a run stopped in it leaves no half judgement."""
        db = self._db
        db.create_function("any_item", 1, any_item, deterministic=True)
        db.create_function("place_of", 1, _place_of, deterministic=True)
        db.create_function("shifts_differ", 2, shifts_differ, deterministic=True)
        with self._transaction():
            for statement in ("UPDATE rows SET set_items = NULL WHERE set_items IS NOT NULL", *_DROP, *_VALUES,
                              _SPLIT, _MERGED, _DANGLING, _SHIFTS, *_SAVE):
                db.execute(statement)
            tally = self._set_tally()
            for statement in _DROP:
                db.execute(statement)
        return tally

    def _set_tally(self) -> SetTally:
        files = self._one("SELECT COUNT(DISTINCT rel_path) FROM set_found")
        per_finding = dict(self._db.execute(
            "SELECT finding, COUNT(DISTINCT rel_path) FROM set_found GROUP BY finding").fetchall())
        groups = tuple(SetGroup(*row) for row in self._db.execute(
            "SELECT finding, grp, COUNT(DISTINCT rel_path) AS n, MAX(total), MAX(detail) FROM set_found "
            "GROUP BY finding, grp ORDER BY n DESC, finding, grp LIMIT ?", (GROUPS,)))
        count = self._one("SELECT COUNT(*) FROM (SELECT DISTINCT finding, grp FROM set_found)")
        return SetTally(files, tuple((str(f), per_finding[f]) for f in SetFinding if f in per_finding), groups, count)


@functools.lru_cache(maxsize=64)
def _place_of(keyword: str) -> str:
    tag = tag_for_keyword(keyword)
    return tag_text(tag) if tag is not None else ""
