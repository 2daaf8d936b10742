"""The run judged as one set, in the store: SQL over the values the header walk saved for every pair (its UIDs,
:mod:`.checks.header_set`; its PatientIDs and date shift, in its row), never a pass over the pairs in memory, so
that 200,000 pairs cost what 20,000 do in memory. On a resumed run the rows are made again from the saved
comparisons, and the judgement again from them: no file is read.

Findings (:class:`~.enums.SetFinding`), each ``finding:Keyword@path`` on the pairs it is flagged on:

- ``uid_split``: one source value of one UID attribute (at any depth) became more than one new value of that
  attribute: the pairs whose new value is not the one most pairs got (a tie: a new value before the source's
  value kept, then the smallest);
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

#: The values judged (of the pairs judged, saved apart from their rows: :meth:`.Results.save_rows`): every saved
#: UID, and each pair's PatientIDs (source, de-identified) when it has both.
_VALUES = ("""
CREATE TEMP TABLE set_values AS
  SELECT set_rows.rel_path AS rel_path, 'uid' AS kind, j.value->>0 AS attribute, j.value->>1 AS path,
         j.value->>2 AS old, j.value->>3 AS new
  FROM set_rows, json_each(set_rows.set_uids) AS j
  UNION ALL
  SELECT rel_path, 'patient', 'PatientID', '(0010,0020)', source_patient, patient_id FROM set_rows
  WHERE COALESCE(source_patient, '') != '' AND COALESCE(patient_id, '') != ''
""", "CREATE INDEX temp.set_values_old ON set_values (kind, attribute, old, new)",
           "CREATE INDEX temp.set_values_new ON set_values (kind, attribute, new, old)",
           "CREATE TEMP TABLE set_found (rel_path TEXT, item TEXT, finding TEXT, grp TEXT, total INTEGER, detail TEXT)")

#: Split: the pairs whose new value is not the usual one of their (kind, attribute, source value). The values
#: with more than one new value are found first, on the index alone; only their pairs are then counted.
_SPLIT = ("""
CREATE TEMP TABLE set_split AS
WITH keys AS (SELECT kind, attribute, old FROM set_values GROUP BY kind, attribute, old HAVING MIN(new) != MAX(new)),
     counts AS (SELECT v.kind, v.attribute, v.old, v.new, COUNT(DISTINCT v.rel_path) AS n
                FROM keys AS k JOIN set_values AS v ON v.kind = k.kind AND v.attribute = k.attribute AND v.old = k.old
                GROUP BY v.kind, v.attribute, v.old, v.new),
     totals AS (SELECT v.kind, v.attribute, v.old, COUNT(DISTINCT v.rel_path) AS total
                FROM keys AS k JOIN set_values AS v ON v.kind = k.kind AND v.attribute = k.attribute AND v.old = k.old
                GROUP BY v.kind, v.attribute, v.old)
SELECT r.kind, r.attribute, r.old, r.new AS usual, r.kinds, t.total FROM (
    SELECT kind, attribute, old, new, ROW_NUMBER() OVER (PARTITION BY kind, attribute, old
                                                         ORDER BY n DESC, new = old, new) AS k,
           COUNT(*) OVER (PARTITION BY kind, attribute, old) AS kinds FROM counts) AS r
JOIN totals AS t ON t.kind = r.kind AND t.attribute = r.attribute AND t.old = r.old WHERE r.k = 1
""", """
INSERT INTO set_found
SELECT DISTINCT v.rel_path, v.kind || '_split:' || v.attribute || '@' || v.path, v.kind || '_split',
       CASE v.kind WHEN 'uid' THEN v.attribute || ' ' || v.old ELSE v.old END, s.total, s.kinds
FROM set_split AS s JOIN set_values AS v ON v.kind = s.kind AND v.attribute = s.attribute AND v.old = s.old
WHERE v.new != s.usual
""")

#: Merged: every pair whose new value more than one source value of its (kind, attribute) became (found first on
#: the index alone, as splits are).
_MERGED = ("""
CREATE TEMP TABLE set_merged AS
WITH keys AS (SELECT kind, attribute, new FROM set_values GROUP BY kind, attribute, new HAVING MIN(old) != MAX(old))
SELECT v.kind, v.attribute, v.new, COUNT(DISTINCT v.old) AS olds, COUNT(DISTINCT v.rel_path) AS total
FROM keys AS k JOIN set_values AS v ON v.kind = k.kind AND v.attribute = k.attribute AND v.new = k.new
GROUP BY v.kind, v.attribute, v.new
""", """
INSERT INTO set_found
SELECT DISTINCT v.rel_path, v.kind || '_merged:' || v.attribute || '@' || v.path, v.kind || '_merged',
       CASE v.kind WHEN 'uid' THEN v.attribute || ' ' || v.new ELSE v.new END, m.total, m.olds
FROM set_merged AS m JOIN set_values AS v ON v.kind = m.kind AND v.attribute = m.attribute AND v.new = m.new
""")

#: Dangling: references to the source file of a pair not remapped to that pair's new SOPInstanceUID (each
#: reference looks its file up on the index).
_DANGLING = """
INSERT INTO set_found
SELECT DISTINCT v.rel_path, 'uid_dangling:' || v.attribute || '@' || v.path, 'uid_dangling',
       v.attribute || ' @ ' || any_item(v.path), 0, ''
FROM set_values AS v JOIN set_values AS i ON i.kind = 'uid' AND i.attribute = 'SOPInstanceUID' AND i.old = v.old
WHERE v.kind = 'uid' AND v.attribute = 'ReferencedSOPInstanceUID' AND i.path = '(0008,0018)' AND v.new != i.new
  AND NOT EXISTS (SELECT 1 FROM set_values AS same WHERE same.kind = 'uid' AND same.attribute = 'SOPInstanceUID'
                  AND same.old = v.old AND same.new = v.new AND same.path = '(0008,0018)')
"""

#: Shifts: the pairs of a source patient whose date shift differs from the one most of its pairs have.
_SHIFTS = ("""
CREATE TEMP TABLE set_usual (patient TEXT PRIMARY KEY, date_shift TEXT, total INTEGER)
""", """
INSERT INTO set_usual
SELECT patient, date_shift, total FROM (
    SELECT patient, date_shift, SUM(n) OVER (PARTITION BY patient) AS total,
           ROW_NUMBER() OVER (PARTITION BY patient ORDER BY n DESC, CAST(date_shift AS REAL)) AS k
    FROM (SELECT source_patient AS patient, date_shift, COUNT(*) AS n FROM set_rows
          WHERE date_shift IS NOT NULL AND COALESCE(source_patient, '') != '' GROUP BY patient, date_shift))
WHERE k = 1
""", """
INSERT INTO set_found
SELECT j.rel_path, 'shift_differs:' || j.shift_on || '@' || place_of(j.shift_on), 'shift_differs', j.source_patient,
       u.total, u.date_shift
FROM set_rows AS j JOIN set_usual AS u ON u.patient = j.source_patient
WHERE j.date_shift IS NOT NULL AND shifts_differ(CAST(j.date_shift AS REAL), CAST(u.date_shift AS REAL))
""")

_SAVE = ("CREATE INDEX temp.set_found_by_file ON set_found (rel_path)", """
UPDATE rows SET set_items = (SELECT group_concat(item, ';') FROM (
    SELECT DISTINCT item FROM set_found WHERE set_found.rel_path = rows.rel_path ORDER BY item))
WHERE side = 0 AND rel_path IN (SELECT rel_path FROM set_found)
""")


_DROP = tuple(f"DROP TABLE IF EXISTS temp.{table}"
              for table in ("set_values", "set_found", "set_split", "set_merged", "set_usual"))


class SetQueries(StoreBase):
    def judge_set(self) -> SetTally:
        """Judge the run's pairs as one set: each pair's findings into its row (CSV column ``set_findings``), and
        the tally. One transaction: a run stopped in it leaves no half judgement."""
        db = self._db
        db.create_function("any_item", 1, any_item, deterministic=True)
        db.create_function("place_of", 1, _place_of, deterministic=True)
        db.create_function("shifts_differ", 2, shifts_differ, deterministic=True)
        with self._transaction():
            for statement in (*_DROP, *_VALUES, *_SPLIT, *_MERGED, _DANGLING, *_SHIFTS, *_SAVE):  # rows: this run's
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
            "SELECT finding, grp, MIN(substr(item, 1, instr(item, '@'))), COUNT(DISTINCT rel_path) AS n, MAX(total), "
            "MAX(detail) FROM set_found "
            "GROUP BY finding, grp ORDER BY n DESC, finding, grp LIMIT ?", (GROUPS,)))
        count = self._one("SELECT COUNT(*) FROM (SELECT DISTINCT finding, grp FROM set_found)")
        judged = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(COALESCE(source_patient, '') != '' AND COALESCE(patient_id, '') != ''), 0),"
            " COUNT(date_shift) FROM set_rows").fetchone()
        return SetTally(files, tuple((str(f), per_finding[f]) for f in SetFinding if f in per_finding), groups, count,
                        *judged)


@functools.lru_cache(maxsize=64)
def _place_of(keyword: str) -> str:
    tag = tag_for_keyword(keyword)
    return tag_text(tag) if tag is not None else ""
