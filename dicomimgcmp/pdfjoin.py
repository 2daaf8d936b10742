"""Joining chunk PDFs into one, streaming: each chunk's pages and what they use are written out as the chunk is
read, with their streams' bytes as stored, so memory holds one chunk at a time.

qpdf's own page merge (``qpdf --empty --pages ...``) holds about 35 KB for every page it joins (its objects, not
their streams: measured 72 -> 148 MB for 2,000 pages of 64x64 panels), so a PDF of many changed pages grew the
worker writing it. The file written here is only the pages in order; pikepdf opens it lazily and adds the
outline and links (:func:`.render.write_pdf`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

_PAGES_ROOT = 1  # the joined file's page tree root, written last


def join_pdfs(parts: list[Path], out: Path) -> None:
    """Write to ``out`` a PDF whose pages are those of ``parts``, in order."""
    import pikepdf

    with open(out, "wb") as fh:
        writer = _Writer(fh)
        for part in parts:
            with pikepdf.open(part) as pdf:
                writer.copy_pages(pdf)
        writer.finish()


class _Writer:
    """A PDF written object by object: what is kept is each object's file offset and the pages' numbers."""

    def __init__(self, fh) -> None:
        self.fh = fh
        self.offsets: list[int] = [0, 0]  # by object number; object 1 is the page tree root
        self.kids: list[int] = []
        fh.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def number(self) -> int:
        self.offsets.append(0)
        return len(self.offsets) - 1

    def write(self, number: int, body: bytes) -> None:
        self.offsets[number] = self.fh.tell()
        self.fh.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def copy_pages(self, pdf) -> None:
        """Copy a PDF's pages and every object they use, renumbered."""
        numbers: dict[tuple[int, int], int] = {}  # this PDF's objects: (number, generation) -> ours
        pending: deque = deque()

        def ref(obj) -> int:
            if obj.objgen not in numbers:
                numbers[obj.objgen] = self.number()
                pending.append(obj)
            return numbers[obj.objgen]

        pages = [page.obj for page in pdf.pages]
        for page in pages:  # numbered first: a reference to a page (a link) finds the page itself
            numbers[page.objgen] = self.number()
            self.kids.append(numbers[page.objgen])
        for page in pages:
            self.write(numbers[page.objgen], _page(page, ref))
        while pending:
            obj = pending.popleft()
            self.write(numbers[obj.objgen], _indirect(obj, ref))

    def finish(self) -> None:
        """The page tree root, the catalog, the cross-reference table and the trailer."""
        self.write(_PAGES_ROOT, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (
            len(self.kids), b" ".join(b"%d 0 R" % kid for kid in self.kids)))
        catalog = self.number()
        self.write(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % _PAGES_ROOT)
        xref = self.fh.tell()
        self.fh.write(b"xref\n0 %d\n0000000000 65535 f \n" % len(self.offsets))
        self.fh.writelines(b"%010d 00000 n \n" % offset for offset in self.offsets[1:])
        self.fh.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
            len(self.offsets), catalog, xref))


def _page(page, ref: Callable) -> bytes:
    """A page's dictionary under the joined page tree. What it inherited from its own page tree (Resources,
    MediaBox) is on it already: pikepdf puts it there when it opens a file (tested)."""
    entries = {key: page[key] for key in page.keys() if key != "/Parent"}
    entries["/Parent"] = b"%d 0 R" % _PAGES_ROOT
    return _dictionary(entries, ref)


def _indirect(obj, ref: Callable) -> bytes:
    """An indirect object's body: a stream with its bytes as stored, or any other object."""
    import pikepdf

    if isinstance(obj, pikepdf.Stream):
        raw = obj.read_raw_bytes()
        entries = {key: obj.stream_dict[key] for key in obj.stream_dict.keys()}
        entries["/Length"] = len(raw)
        return b"%s\nstream\n%s\nendstream" % (_dictionary(entries, ref), raw)
    return _direct(obj, ref, top=True)


def _direct(value, ref: Callable, top: bool = False) -> bytes:
    """PDF syntax of a value; an indirect object inside it becomes a reference (numbered by ``ref``)."""
    import pikepdf

    if isinstance(value, bytes):  # PDF syntax made here (the library gives no bytes for a PDF value)
        return value
    if isinstance(value, pikepdf.Object) and value.is_indirect and not top:
        return b"%d 0 R" % ref(value)
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, Decimal):
        return format(value, "f").encode()
    if value is None:
        return b"null"
    if isinstance(value, pikepdf.Dictionary):
        return _dictionary({key: value[key] for key in value.keys()}, ref)
    if isinstance(value, pikepdf.Array):
        return b"[" + b" ".join(_direct(item, ref) for item in value) + b"]"
    return value.unparse()  # a name, a string, a real the library keeps as its own type


def _dictionary(entries: dict, ref: Callable) -> bytes:
    import pikepdf

    return b"<<" + b"".join(pikepdf.Name(key).unparse() + b" " + _direct(value, ref)
                            for key, value in entries.items()) + b">>"
