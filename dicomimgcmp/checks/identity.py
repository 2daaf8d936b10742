"""How identity values are compared wherever they are looked for (the text check in the pixels, the header
check in the de-identified file): letters and digits only, upper case, accents dropped; dates in the forms they
are written."""

from __future__ import annotations

import re
import unicodedata

MIN_VALUE = 3  # characters: a shorter value never matches on its own
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DA = re.compile(r"\s*(\d{4})(\d{2})(\d{2})\s*")


def normalise(text: str) -> str:
    """Upper case letters and digits only (accents dropped): what OCR and headers agree on."""
    return re.sub(r"[^A-Z0-9]", "", _plain(text))


def fold(text: str) -> str:
    """Letters and digits only, of any script, case folded: exact matching in headers (a name in kanji or with
    accents is compared as written)."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def folded_words(text: str) -> list[str]:
    """The runs of letters and digits of a text, folded (:func:`fold`)."""
    return [word for word in _NOT_WORD.split(unicodedata.normalize("NFKC", text).casefold()) if word]


_NOT_WORD = re.compile(r"[\W_]+")


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()


def written_dates(value: str) -> list[tuple[str, bool]]:
    """A DA value (YYYYMMDD) in the forms it is written, normalised, each with whether it must match exactly:
    20190304, 04032019, 03042019, 04MAR2019, MAR042019, and with the month's name a two-digit year too (04MAR19,
    MAR0419: an ultrasound scanner writes 24-MAY-02), those exactly (one error would let 14-MAR-1975 read as
    04-MAR-19). A value that is not a date is itself."""
    match = _DA.fullmatch(value)
    if not match:
        return [(normalise(value), False)]
    year, month, day = match.groups()
    forms = [(year + month + day, False), (day + month + year, False), (month + day + year, False)]
    if 1 <= int(month) <= 12:
        name = _MONTHS[int(month) - 1]
        forms += [(day + name + year, False), (name + day + year, False), (day + name + year[2:], True),
                  (name + day + year[2:], True)]
    return forms
