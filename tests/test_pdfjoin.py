"""The streaming PDF join: pages in order, with what they inherited, their streams' bytes as stored, and
references between a chunk's objects kept."""

from __future__ import annotations

import zlib

import pikepdf

from dicomimgcmp.output.pdf.join import Link, OutlineItem, join_pdfs


def _chunk(path, texts: list[str], *, link: bool = False) -> None:
    """A PDF with a page per text (with ``link``, its first page links to its last)."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    image = pikepdf.Stream(pdf, zlib.compress(bytes(range(256)) * 4), Type=pikepdf.Name.XObject,
                           Subtype=pikepdf.Name.Image, Width=32, Height=32, ColorSpace=pikepdf.Name.DeviceGray,
                           BitsPerComponent=8, Filter=pikepdf.Name.FlateDecode)
    resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font), XObject=pikepdf.Dictionary(I0=image))
    for text in texts:
        pdf.pages.append(pikepdf.Page(pikepdf.Dictionary(
            Type=pikepdf.Name.Page, MediaBox=[0, 0, 612, 792], Resources=resources, Contents=pdf.make_stream(
                b"q 32 0 0 32 10 10 cm /I0 Do Q BT /F1 12 Tf 72 720 Td (%s) Tj ET" % text.encode()))))
    if link:
        pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10],
            Dest=[pdf.pages[-1].obj, pikepdf.Name.Fit]))]))
    pdf.save(path)


def _inheriting_chunk(path, text: str) -> None:
    """A PDF written by hand whose page takes its MediaBox and Resources from its page tree (pikepdf would put
    them on the page when saving)."""
    image = zlib.compress(bytes(range(256)) * 4)
    content = b"q 32 0 0 32 10 10 cm /I0 Do Q BT /F1 12 Tf 72 720 Td (%s) Tj ET" % text.encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595 842] "
               b"/Resources << /Font << /F1 4 0 R >> /XObject << /I0 6 0 R >> >> >>",
               b"<< /Type /Page /Parent 2 0 R /Contents 5 0 R >>",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
               b"<< /Type /XObject /Subtype /Image /Width 32 /Height 32 /ColorSpace /DeviceGray /BitsPerComponent 8 "
               b"/Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream" % (len(image), image)]
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))


def test_joined_pages_are_the_chunks_pages_in_order(tmp_path):
    parts = [tmp_path / "a.pdf", tmp_path / "b.pdf", tmp_path / "c.pdf"]
    _chunk(parts[0], ["one", "two"])
    _inheriting_chunk(parts[1], "three")
    _chunk(parts[2], ["four", "five", "six"], link=True)
    join_pdfs(parts, tmp_path / "joined.pdf")
    with pikepdf.open(tmp_path / "joined.pdf") as joined:
        assert not joined.check_pdf_syntax()  # qpdf finds nothing wrong with the file
        pages = joined.pages
        assert [bytes(p.obj.Contents.read_bytes()).split(b"(")[1].split(b")")[0] for p in pages] == [
            b"one", b"two", b"three", b"four", b"five", b"six"]
        for page in pages:  # what the page tree gave, on the page itself
            assert page.obj.Resources.Font.F1.BaseFont == "/Helvetica"
            assert page.obj.Resources.XObject.I0.read_raw_bytes() == zlib.compress(bytes(range(256)) * 4)
        assert [list(p.mediabox) for p in pages] == [[0, 0, 612, 792]] * 2 + [[0, 0, 595, 842]] + [[0, 0, 612, 792]] * 3
        # a chunk's objects are copied once: its pages share their font and image
        assert pages[0].obj.Resources.Font.F1.objgen == pages[1].obj.Resources.Font.F1.objgen
        assert pages[3].obj.Resources.XObject.I0.objgen == pages[5].obj.Resources.XObject.I0.objgen
        # a link to a page of its chunk leads to that page in the joined file
        assert pages[3].obj.Annots[0].Dest[0].objgen == pages[5].obj.objgen


def test_the_joined_file_has_its_outline_links_and_title(tmp_path):
    parts = [tmp_path / "a.pdf", tmp_path / "b.pdf"]
    _chunk(parts[0], ["summary"])
    _chunk(parts[1], ["p2", "p3", "p4"])
    outline = [OutlineItem("Summary", 0, []),
               OutlineItem("Patient A", 1, [OutlineItem("p.2", 1, []), OutlineItem("p.3 ł", 2, [])]),
               OutlineItem("Patient B", 3, [OutlineItem("p.4", 3, [])])]
    links = {0: [Link((10, 20, 110, 30), 3), Link((10, 40, 110, 50), 1)]}
    join_pdfs(parts, tmp_path / "joined.pdf", title="DICOMImgCmp run (1)", outline=outline, links=links)
    with pikepdf.open(tmp_path / "joined.pdf") as pdf:
        assert not pdf.check_pdf_syntax()
        assert str(pdf.docinfo.Title) == "DICOMImgCmp run (1)"
        objgens = [page.obj.objgen for page in pdf.pages]
        found = []

        def walk(items, depth):
            for item in items:
                found.append((depth, item.title, objgens.index(item.destination[0].objgen)))
                walk(item.children, depth + 1)

        with pdf.open_outline() as read:
            walk(read.root, 0)
        assert found == [(0, "Summary", 0), (0, "Patient A", 1), (1, "p.2", 1), (1, "p.3 ł", 2),
                         (0, "Patient B", 3), (1, "p.4", 3)]
        assert pdf.Root.Outlines.Count == 6
        annots = pdf.pages[0].obj.Annots
        assert [(list(a.Rect), objgens.index(a.Dest[0].objgen)) for a in annots] == [
            ([10, 20, 110, 30], 3), ([10, 40, 110, 50], 1)]
        assert all(a.is_indirect for a in annots) and "/Annots" not in pdf.pages[1].obj
