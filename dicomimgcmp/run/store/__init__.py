"""The run's state on disk: every file, record, pair outcome and row lives here, not in memory, and what a stopped
run finished is kept for the next.

An SQLite file under the run folder (``<run_dir>/.dicomimgcmp/state.sqlite``), in parts by concern:

- :mod:`.base`: the file, its schema and settings (a change in anything that affects results starts it afresh);
- :mod:`.records`: every header record read, with the file's stamp (size, mtime), and the files this run found;
- :mod:`.lookups`: the UID mapping and pairing's questions, answered for a batch of records at once;
- :mod:`.results`: the last comparison made of each de-identified file, and this run's rows (one per file);
- :mod:`.pages`: the report's questions: counts, change groups, and which rows get a PDF page, in what order;
- :mod:`.findings`: the checks' questions: recipe verdicts, identity found in headers, date shifts;
- :mod:`.set_check`: the run judged as one set (UIDs, references, pseudonyms, date shifts);
- :mod:`.rows`: records, comparisons and rows encoded as the store saves them (where they are made: a worker).

Records and results are committed as they are made (every 2,000, or every half second), so a run killed at any
moment keeps what it finished; the next run of the same command reuses a record when its file is unchanged, and
a result when both files are. The outputs are always written anew from the rows, so a resumed run writes exactly
what an uninterrupted one would.
"""

from __future__ import annotations

from dicomimgcmp.run.store.base import DEID, SOURCE, STATE_DIR
from dicomimgcmp.run.store.findings import FindingQueries
from dicomimgcmp.run.store.lookups import PairingBatch, PairingLookups
from dicomimgcmp.run.store.pages import ReportQueries
from dicomimgcmp.run.store.results import Results
from dicomimgcmp.run.store.set_check import SetQueries

__all__ = ["DEID", "SOURCE", "STATE_DIR", "PairingBatch", "RunState"]


class RunState(PairingLookups, Results, ReportQueries, FindingQueries, SetQueries):
    """The state of one run_name; open it as a context manager."""
