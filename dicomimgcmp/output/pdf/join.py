"""Joining chunk PDFs into one, streaming: each chunk's pages and what they use are written out as the chunk is
read, with their streams' bytes as stored, so memory holds one chunk at a time.

qpdf's own page merge (``qpdf --empty --pages ...``) holds about 35 KB for every page it joins (its objects, not
their streams: measured 72 -> 148 MB for 2,000 pages of 64x64 panels), so a PDF of many changed pages grew the
worker writing it; building the outline and the links with pikepdf cost about 15 KB an item more. Here the
outline, the links and the document's title are written as bytes too, after the pages, so the file is
complete when the last chunk is copied.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

if TYPE_CHECKING:  # imported when PDFs are joined
    import pikepdf

_PAGES_ROOT = 1  # the joined file's page tree root, written last


class OutlineItem(NamedTuple):
    """A bookmark: its title, the page it opens (0-based) and the bookmarks under it."""

    title: str
    page: int
    children: list[OutlineItem]


class Link(NamedTuple):
    """A link on a page: its rectangle (points) and the page it opens (0-based)."""

    rect: tuple[float, float, float, float]
    page: int


def join_pdfs(parts: list[Path], out: Path, *, title: str = "", links: Mapping[int, list[Link]] | None = None,
              outline: Sequence[OutlineItem] = ()) -> None:
    """Write to ``out`` a PDF whose pages are those of ``parts``, in order, with ``links`` on pages (by 0-based
    page), the bookmarks of ``outline`` (all open) and ``title`` as its document title."""
    import pikepdf

    with open(out, "wb") as fh:
        writer = _Writer(fh, links or {})
        for part in parts:
            with pikepdf.open(part) as pdf:
                writer.copy_pages(pdf)
        writer.finish(title, outline)


class _Writer:
    """A PDF written object by object: what is kept is each object's file offset, the pages' numbers and the
    links still to write."""

    def __init__(self, fh: BinaryIO, links: Mapping[int, list[Link]]) -> None:
        self.fh = fh
        self.offsets: list[int] = [0, 0]  # by object number; object 1 is the page tree root
        self.kids: list[int] = []
        self.links = links
        self.annots: list[tuple[int, list[Link]]] = []  # (number of a page's Annots array, its links)
        fh.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def number(self) -> int:
        self.offsets.append(0)
        return len(self.offsets) - 1

    def write(self, number: int, body: bytes) -> None:
        self.offsets[number] = self.fh.tell()
        self.fh.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def copy_pages(self, pdf: pikepdf.Pdf) -> None:
        """Copy a PDF's pages and every object they use, renumbered."""
        numbers: dict[tuple[int, int], int] = {}  # this PDF's objects: (number, generation) -> ours
        pending: deque = deque()

        def ref(obj: pikepdf.Object) -> int:
            if obj.objgen not in numbers:
                numbers[obj.objgen] = self.number()
                pending.append(obj)
            return numbers[obj.objgen]

        pages = [page.obj for page in pdf.pages]
        for page in pages:  # numbered first: a reference to a page (a link) finds the page itself
            numbers[page.objgen] = self.number()
            self.kids.append(numbers[page.objgen])
        for index, page in enumerate(pages, len(self.kids) - len(pages)):
            annots = None
            if self.links.get(index):  # its links point to pages not written yet: the array is written last
                annots = self.number()
                self.annots.append((annots, self.links[index]))
            self.write(numbers[page.objgen], _page(page, ref, annots))
        while pending:
            obj = pending.popleft()
            self.write(numbers[obj.objgen], _indirect(obj, ref))

    def finish(self, title: str, outline: Sequence[OutlineItem]) -> None:
        """The links, the outline, the page tree root, the catalog, the cross-reference table and the trailer."""
        for array, links in self.annots:
            numbers = [self.number() for _ in links]
            for number, link in zip(numbers, links):
                self.write(number, b"<< /Type /Annot /Subtype /Link /Border [0 0 0] /Rect [%.3f %.3f %.3f %.3f] "
                                   b"/Dest [%d 0 R /Fit] >>" % (*link.rect, self.kids[link.page]))
            self.write(array, b"[%s]" % b" ".join(b"%d 0 R" % number for number in numbers))
        self.write(_PAGES_ROOT, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (
            len(self.kids), b" ".join(b"%d 0 R" % kid for kid in self.kids)))
        outlines = self.number()
        count, ends = self._outline_items(outline, outlines)
        self.write(outlines, b"<< /Type /Outlines%s /Count %d >>" % (_ends(ends), count))
        catalog, info = self.number(), self.number()
        self.write(catalog, b"<< /Type /Catalog /Pages %d 0 R /Outlines %d 0 R >>" % (_PAGES_ROOT, outlines))
        self.write(info, b"<< /Title %s >>" % _text(title))
        xref = self.fh.tell()
        self.fh.write(b"xref\n0 %d\n0000000000 65535 f \n" % len(self.offsets))
        self.fh.writelines(b"%010d 00000 n \n" % offset for offset in self.offsets[1:])
        self.fh.write(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
            len(self.offsets), catalog, info, xref))

    def _outline_items(self, items: Sequence[OutlineItem], parent: int) -> tuple[int, tuple[int, int] | None]:
        """Write ``items`` (siblings under ``parent``) and all under them, open; returns how many were written
        and the first and last siblings' numbers."""
        numbers = [self.number() for _ in items]
        total = 0
        for k, (item, number) in enumerate(zip(items, numbers)):
            below, ends = self._outline_items(item.children, number)
            total += 1 + below
            self.write(number, b"<< /Title %s /Parent %d 0 R%s%s%s /Count %d /Dest [%d 0 R /Fit] >>" % (
                _text(item.title), parent, b" /Prev %d 0 R" % numbers[k - 1] if k else b"",
                b" /Next %d 0 R" % numbers[k + 1] if k + 1 < len(numbers) else b"", _ends(ends), below,
                self.kids[item.page]))
        return total, (numbers[0], numbers[-1]) if numbers else None


def _ends(ends: tuple[int, int] | None) -> bytes:
    return b" /First %d 0 R /Last %d 0 R" % ends if ends else b""


def _text(text: str) -> bytes:
    import pikepdf

    return pikepdf.String(text).unparse()


def _page(page: pikepdf.Object, ref: Callable, annots: int | None) -> bytes:
    """A page's dictionary under the joined page tree (with ``annots``, the number of its Annots array). What it
    inherited from its own page tree (Resources, MediaBox) is on it already: pikepdf puts it there when it opens
    a file (tested)."""
    entries: dict[str, object]  # the page's values, and PDF syntax made here (bytes)
    entries = {key: page[key] for key in sorted(page.keys()) if key != "/Parent"}  # keys come as a set
    entries["/Parent"] = b"%d 0 R" % _PAGES_ROOT
    if annots is not None:
        entries["/Annots"] = b"%d 0 R" % annots
    return _dictionary(entries, ref)


def _indirect(obj: pikepdf.Object, ref: Callable) -> bytes:
    """An indirect object's body: a stream with its bytes as stored, or any other object."""
    import pikepdf

    if isinstance(obj, pikepdf.Stream):
        raw = obj.read_raw_bytes()
        entries: dict[str, object] = {key: obj.stream_dict[key] for key in sorted(obj.stream_dict.keys())}
        entries["/Length"] = len(raw)
        return b"%s\nstream\n%s\nendstream" % (_dictionary(entries, ref), raw)
    return _direct(obj, ref, top=True)


def _direct(value: pikepdf.Object | bytes | int | Decimal | None, ref: Callable, top: bool = False) -> bytes:
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
        return _dictionary({key: value[key] for key in sorted(value.keys())}, ref)
    if isinstance(value, pikepdf.Array):
        return b"[" + b" ".join(_direct(item, ref) for item in value) + b"]"
    return value.unparse()  # a name, a string, a real the library keeps as its own type


def _dictionary(entries: dict, ref: Callable) -> bytes:
    import pikepdf

    return b"<<" + b"".join(pikepdf.Name(key).unparse() + b" " + _direct(value, ref)
                            for key, value in entries.items()) + b">>"
