"""The UID mapping file (``id_old``, ``id_new``): read, validated and described before any DICOM file is read."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from dicomimgcmp.errors import MappingError


class MappingFile:
    """The ``id_old``,``id_new`` CSV, read line by line (iterate it for (id_old, id_new) rows; it can be read
    again). Raises :class:`MappingError` naming the line or column.

    Accepted as real exports write it: a UTF-8 or UTF-16 byte order mark, CRLF, spaces around names and values,
    other columns (ignored), blank lines, and empty fields after the last column. The standard library's csv
    reader is used rather than pandas: it reads line by line and knows each line's number, which pandas' CSV
    reader does not report consistently for rows of the wrong length.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.encoding, self._encoding_notes = _encoding(path)
        self.columns: list[str] = []
        self.padded = 0  # lines with an empty field after the last column

    def __iter__(self) -> Iterator[tuple[str, str]]:
        path, self.padded = self.path, 0
        try:
            with open(path, newline="", encoding=self.encoding) as fh:
                reader = csv.reader(fh, skipinitialspace=True)
                self.columns = columns = [name.strip() for name in next(reader, [])]
                _check_columns(path, columns)
                i_old, i_new = columns.index("id_old"), columns.index("id_new")
                for fields in reader:
                    if len(fields) > len(columns):
                        if any(f.strip() for f in fields[len(columns):]):
                            raise MappingError(f"uid_mapping_file {path}: line {reader.line_num} has {len(fields)} "
                                               f"fields, the header {len(columns)} ({', '.join(columns)})")
                        self.padded += 1
                    if not any(f.strip() for f in fields):
                        continue  # a blank line
                    if len(fields) <= max(i_old, i_new):
                        raise MappingError(f"uid_mapping_file {path}: line {reader.line_num} has {len(fields)} "
                                           f"field(s), too few to hold id_old and id_new")
                    old, new = fields[i_old].strip(), fields[i_new].strip()
                    if old and new:
                        yield old, new
        except (UnicodeError, csv.Error) as exc:
            raise MappingError(f"uid_mapping_file {path} is not a readable CSV text file: {exc}") from None
        except OSError as exc:
            raise MappingError(f"uid_mapping_file {path} cannot be read: {exc.strerror or exc}") from None

    def notes(self, uids: int) -> tuple[str, ...]:
        """How the file was read (after reading it), for the console and the log."""
        notes = [f"{uids} UIDs mapped, columns found: {', '.join(c for c in self.columns if c)}",
                 *self._encoding_notes]
        if self.padded:
            notes.append(f"an empty field after the last column was ignored on {self.padded} line(s)")
        return tuple(notes)


def _encoding(path: Path) -> tuple[str, list[str]]:
    """The file's text encoding from its byte order mark (UTF-8 without one), and a note when not UTF-8."""
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16", ["read as UTF-16 (byte order mark found)"]
    return "utf-8-sig", []


def _check_columns(path: Path, columns: list[str]) -> None:
    missing = {"id_old", "id_new"} - set(columns)
    if missing:
        raise MappingError(f"uid_mapping_file {path} lacks column(s) {', '.join(sorted(missing))}; it needs "
                           f"id_old and id_new; found: {', '.join(repr(c) for c in columns) or 'nothing'}")
