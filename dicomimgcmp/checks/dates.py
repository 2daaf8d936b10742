"""Dates as the header check reads them: which are placeholders, and how far a de-identifier shifted a pair's
dates (on the study's date and time together, so that a shift of hours is one number for every file)."""

from __future__ import annotations

import functools
import re
from datetime import datetime

from dicomimgcmp.model import DATE_KEYWORDS

#: Dates that scanners and de-identifiers write when there is none (deid-data's Philips cine has the birth date
#: 19000101, deid's default recipe writes it too, dicom-anonymizer writes 00010101): not identity, no shift.
PLACEHOLDER_DATES = frozenset({"19000101", "00000000", "00010101", "18991230", "19700101"})
_FIRST_REAL_YEAR = 1800  # a year before it is a placeholder whatever its month and day
_DA = re.compile(r"\s*(\d{4})\.?(\d{2})\.?(\d{2})")  # YYYYMMDD, or yyyy.mm.dd as before DICOM 3.0
_TM = re.compile(r"\s*(\d{2}):?(\d{2})?:?(\d{2})?(?:\.(\d{1,6}))?\s*$")  # HH:MM:SS as before DICOM 3.0 too


def real_date(value: str) -> str | None:
    """The date of a DA value (or a DT's date part) as YYYYMMDD, or None when it is no date or a placeholder
    rather than a date of anyone's life."""
    match = _DA.match(value or "")
    if match is None:
        return None
    day = "".join(match.groups())
    return None if day in PLACEHOLDER_DATES or int(day[:4]) < _FIRST_REAL_YEAR else day


@functools.lru_cache(maxsize=4096)  # a study's date and time, once per process
def moment(day: str, time: str = "") -> datetime | None:
    """A DA value and an optional TM value as one moment; None when the date is missing, not a date or a
    placeholder (a time that cannot be read is left out)."""
    found = real_date(day)
    if found is None:
        return None
    try:
        when = datetime(int(found[:4]), int(found[4:6]), int(found[6:]))
    except ValueError:
        return None
    clock = _TM.match(time or "")
    if clock is None:
        return when
    hours, minutes, seconds, fraction = clock.groups()
    try:
        return when.replace(hour=int(hours), minute=int(minutes or 0), second=int(seconds or 0),
                            microsecond=int((fraction or "0").ljust(6, "0")))
    except ValueError:
        return when


def date_shift(source: tuple[str, ...], deid: tuple[str, ...]) -> float | None:
    """The de-identified moment minus the source's, in days (4 decimals: a shift of hours is a fraction), on the
    first of the records' (date, time) pairs (:data:`~.model.DATE_KEYWORDS`) that both have; the times count
    only when both files have them (a time removed on one side must not move the shift by a day)."""
    k = _measured_on(source, deid)
    if k is None:
        return None
    before, after = moment(source[k]), moment(deid[k])
    timed_before, timed_after = moment(source[k], source[k + 1]), moment(deid[k], deid[k + 1])
    if source[k + 1].strip() and deid[k + 1].strip() and timed_before and timed_after:
        before, after = timed_before, timed_after
    return round((after - before).total_seconds() / 86400, 4) if before and after else None


def shift_attribute(source: tuple[str, ...], deid: tuple[str, ...]) -> str:
    """The date attribute :func:`date_shift` measures the shift on (StudyDate, ...), "" when none."""
    k = _measured_on(source, deid)
    return "" if k is None else DATE_KEYWORDS[k]


def _measured_on(source: tuple[str, ...], deid: tuple[str, ...]) -> int | None:
    """The place in the records' dates of the first date both files have (a real date, not a placeholder)."""
    for k in range(0, min(len(source), len(deid)) - 1, 2):
        if moment(source[k]) is not None and moment(deid[k]) is not None:
            return k
    return None


def shifts_differ(a: float, b: float) -> bool:
    """Whether two date shifts (days) differ: a day or more apart, or both measured on date and time (not whole
    days) and not the same. A shift measured on a date alone is whole days, and one offset of hours moves a date
    without its time by up to a day more or less than the date with it (-658.5 days is -659 on a date alone)."""
    return abs(a - b) >= 1 or (a != b and a != round(a) and b != round(b))
