"""Stricter bounds on DOCX and PDF uploads: the DOCX's main part is the one its package relationships name (and
is screened as such), XML parts are capped below what a real CV reaches, and a PDF page's content streams are
measured before pypdf parses them (pypdf needs 1-2 s per MiB of content in one uninterruptible call, and far
more beyond: 4 MiB took 13 s, 16 MiB ten minutes).
"""

from __future__ import annotations

import io
import random
import time
import zipfile
import zlib

import pytest
from test_cv import _docx_bytes, _rezip

from ty_testing.cvs import SAMPLE_CVS
from ty_web.cv import CvTooLarge, CvUnreadable, CvUnsupported, process_cv, sniff
from ty_web.cv.extract import (
    DOCX_MAX_RATIO,
    DOCX_MAX_UNCOMPRESSED,
    DOCX_MAX_XML,
    DOCX_MAX_XML_PART,
    MAX_PDF_CONTENT,
    MAX_PDF_PAGE_CONTENT,
    extract,
    pdf_page_content_size,
)

MAX = 5 * 1024 * 1024
MAIN_TYPE = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
MACRO_TYPE = b"application/vnd.ms-word.document.macroEnabled.main+xml"
DOCTYPE = b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]>"
FAST_S = 3.0  # refused from the headers or a measurement, not after parsing (0.02-0.1 s here)


# ------------------------------------------------------------------ building hostile files


def _moved_main_part(new_name: str, *, content_type: bytes = MAIN_TYPE, keep_original: bool = False,
                     main_xml=lambda xml: xml) -> bytes:
    """A DOCX whose package relationships name ``new_name`` as the main part (with its own relationships and
    content-type override); the original word/document.xml stays where ``keep_original``."""

    def change(name, content):
        if name == "_rels/.rels":
            content = content.replace(b'Target="word/document.xml"', f'Target="{new_name}"'.encode())
        elif name == "[Content_Types].xml":
            content = content.replace(
                b"</Types>", b'<Override PartName="/' + new_name.encode() + b'" ContentType="' + content_type
                + b'"/></Types>')
        elif name == "word/document.xml":
            if keep_original:
                yield name, content
            yield new_name, main_xml(content)
            return
        elif name == "word/_rels/document.xml.rels":
            yield name, content
            yield f"word/_rels/{new_name.rsplit('/', 1)[1]}.rels", content
            return
        yield name, content

    return _rezip(_docx_bytes(), change)


def _paragraphs_xml(size: int, seed: int = 2) -> bytes:
    """About ``size`` bytes of ordinary Word paragraphs (they pack about 10:1, like Word's own XML)."""
    rnd = random.Random(seed)
    words = ["Pflege", "Berufserfahrung", "Klinikum", "Station", "Patienten", "Dokumentation", "Team", "Schicht"]
    fixed = [f"<w:p><w:r><w:t>{' '.join(rnd.choice(words) for _ in range(12))} {rnd.randrange(10**6)}</w:t></w:r>"
             f"</w:p>" for _ in range(400)]
    parts, n = [], 0
    while n < size:
        part = fixed[rnd.randrange(len(fixed))]
        parts.append(part)
        n += len(part)
    return "".join(parts).encode()


def raw_pdf(contents: list[bytes], *, form: bytes | None = None, form_draws_itself: bool = False,
            compress: bool = True) -> bytes:
    """A one-page PDF written by hand: the page's content streams (an array when several) and, optionally, one
    form XObject /Fm1 in its resources (which may list itself as /Fm1 too)."""
    first_stream = 5
    form_number = first_stream + len(contents)
    refs = " ".join(f"{first_stream + i} 0 R" for i in range(len(contents))).encode()
    xobject = f"/XObject << /Fm1 {form_number} 0 R >>".encode() if form is not None else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> " + xobject
        + b" >> /Contents " + (b"[" + refs + b"]" if len(contents) > 1 else refs) + b" >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    streams = [(b"", c) for c in contents]
    if form is not None:
        own = xobject if form_draws_itself else b""
        streams.append((b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> "
                        + own + b" >> ", form))
    for extra, content in streams:
        data = zlib.compress(content) if compress else content
        flate = b" /Filter /FlateDecode" if compress else b""
        objects.append(b"<< " + extra + b"/Length %d" % len(data) + flate + b" >>\nstream\n" + data + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def text_operators(size: int, seed: int = 1) -> bytes:
    """About ``size`` bytes of a content stream that shows text line by line."""
    rnd = random.Random(seed)
    words = ["Pflege", "Berufserfahrung", "Klinikum", "Station", "Patienten", "Dokumentation", "Team", "Schicht"]
    lines = [f"({' '.join(rnd.choice(words) for _ in range(6))}) Tj T*\n".encode() for _ in range(500)]
    block = b"".join(lines)
    return b"BT /F1 10 Tf 50 800 Td 12 TL\n" + block * (size // len(block)) + block[: size % len(block)] + b"ET\n"


def path_operators(size: int, seed: int = 4) -> bytes:
    """About ``size`` bytes of line drawing (a vector graphic)."""
    rnd = random.Random(seed)
    parts, n = [], 0
    while n < size:
        line = f"{rnd.randrange(600)} {rnd.randrange(800)} m {rnd.randrange(600)} {rnd.randrange(800)} l S\n".encode()
        parts.append(line)
        n += len(line)
    return b"".join(parts)


def _refused(data: bytes, error: type[Exception]) -> Exception:
    started = time.perf_counter()
    with pytest.raises(error) as caught:
        process_cv(data, MAX)
    assert time.perf_counter() - started < FAST_S
    return caught.value


# ------------------------------------------------------------------ DOCX: the main part


@pytest.mark.parametrize("name", ["word/main.xml", "word/main", "word/main.bin", "Word/Document.XML"])
def test_a_doctype_in_the_main_part_the_relationships_name_is_refused(name):
    data = _moved_main_part(name, keep_original=True, main_xml=lambda xml: xml.replace(b"?>", b"?>" + DOCTYPE, 1))
    with pytest.raises(CvUnsupported, match="DOCTYPE"):
        process_cv(data, MAX)


def test_the_main_part_is_read_from_where_the_relationships_point():
    def other_text(xml: bytes) -> bytes:
        return xml.replace(b"Pflegefachkraft, Klinikum Nord", b"Altenpfleger, Seniorenresidenz Sonnenhof")

    data = _moved_main_part("word/lebenslauf.xml", keep_original=True, main_xml=other_text)
    text = extract(data, MAX).text
    assert "Seniorenresidenz Sonnenhof" in text and "Klinikum Nord" not in text
    assert sniff(data) == "docx"


def test_a_main_part_under_another_name_without_word_document_xml_is_read():
    data = _moved_main_part("word/document2.xml")  # what Word Online sometimes writes
    assert "Klinikum Nord" in extract(data, MAX).text


def test_a_macro_main_part_behind_a_harmless_word_document_xml_is_refused():
    data = _moved_main_part("word/code.bin", content_type=MACRO_TYPE, keep_original=True)
    with pytest.raises(CvUnsupported, match="macros"):
        process_cv(data, MAX)


@pytest.mark.parametrize(("rels", "error"), [
    (b'Target="word/missing.xml"', CvUnsupported),
    (b'Target="https://example.org/document.xml" TargetMode="External"', CvUnreadable),
    (b'Target="word/document.xml"/><Relationship Id="rId9" Type="http://schemas.openxmlformats.org/'
     b'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"', CvUnreadable),
])
def test_a_main_part_that_is_missing_external_or_twice_is_refused(rels, error):
    def change(name, content):
        if name == "_rels/.rels":
            content = content.replace(b'Target="word/document.xml"', rels)
        yield name, content

    with pytest.raises(error):
        process_cv(_rezip(_docx_bytes(), change), MAX)


def test_a_package_without_relationships_is_not_a_docx():
    def drop_rels(name, content):
        if name != "_rels/.rels":
            yield name, content

    with pytest.raises(CvUnsupported, match="not a Word document"):
        sniff(_rezip(_docx_bytes(), drop_rels))


@pytest.mark.parametrize("part", ["word/styles.xml", "word/_rels/document.xml.rels", "word/numbering.xml",
                                  "[Content_Types].xml", "_rels/.rels"])
def test_a_doctype_in_any_part_python_docx_parses_is_refused(part):
    def add_doctype(name, content):
        if name == part:
            content = content.replace(b"?>", b"?>" + DOCTYPE, 1)
        yield name, content

    with pytest.raises(CvUnsupported, match="DOCTYPE"):
        process_cv(_rezip(_docx_bytes(), add_doctype), MAX)


def test_a_doctype_in_an_xml_part_named_like_media_is_refused():
    """An XML content type makes a part XML, whatever its name."""

    def add(name, content):
        if name == "[Content_Types].xml":
            content = content.replace(b"</Types>", b'<Override PartName="/word/media/x.png" '
                                                   b'ContentType="application/xml"/></Types>')
        yield name, content
        if name == "word/document.xml":
            yield "word/media/x.png", b"<?xml version='1.0'?>" + DOCTYPE + b"<x>&a;</x>"

    with pytest.raises(CvUnsupported, match="DOCTYPE"):
        process_cv(_rezip(_docx_bytes(), add), MAX)


@pytest.mark.parametrize("encode", [
    lambda xml: xml.decode("utf-8").encode("utf-16-le"),  # UTF-16 without a byte-order mark
    lambda xml: xml.replace(b"encoding='UTF-8'", b"encoding='UTF-7'").replace(b'encoding="UTF-8"',
                                                                               b'encoding="UTF-7"'),
    lambda xml: xml.decode("utf-8").encode("cp500", errors="replace"),  # EBCDIC
])
def test_xml_in_an_encoding_that_would_hide_a_doctype_is_refused(encode):
    def change(name, content):
        if name == "word/document.xml":
            content = encode(content)
        yield name, content

    with pytest.raises(CvUnsupported, match="UTF-16|encoding"):
        process_cv(_rezip(_docx_bytes(), change), MAX)


# ------------------------------------------------------------------ DOCX: sizes


def test_an_oversize_main_part_is_refused_from_the_headers():
    big = _paragraphs_xml(DOCX_MAX_XML_PART + 1024)

    def change(name, content):
        if name == "word/document.xml":
            content = content.replace(b"<w:body>", b"<w:body>" + big, 1)
        yield name, content

    data = _rezip(_docx_bytes(), change)
    assert len(data) < MAX // 4  # small on the wire, packed about 10:1 like Word's XML
    error = _refused(data, CvTooLarge)
    assert error.status == 413 and "main document part" in error.message
    with pytest.raises(CvTooLarge):
        sniff(data)


def test_an_oversize_main_part_under_another_name_is_refused():
    big = _paragraphs_xml(DOCX_MAX_XML_PART + 1024)
    data = _moved_main_part("word/main", main_xml=lambda xml: xml.replace(b"<w:body>", b"<w:body>" + big, 1))
    assert "main document part" in _refused(data, CvTooLarge).message


def test_xml_parts_over_their_total_are_refused():
    per_part = DOCX_MAX_XML // 3 + 1024
    assert per_part < DOCX_MAX_XML_PART

    def add(name, content):
        yield name, content
        if name == "word/document.xml":
            for n in range(3):
                yield f"word/header{n + 10}.xml", _paragraphs_xml(per_part, seed=n)

    error = _refused(_rezip(_docx_bytes(), add), CvTooLarge)
    assert "XML" in error.message


def test_media_over_the_total_are_refused():
    rnd = random.Random(5)
    media = b"".join(rnd.randbytes(128) + bytes(4096) for _ in range(DOCX_MAX_UNCOMPRESSED // 4096 + 1))

    def add(name, content):
        yield name, content
        if name == "word/document.xml":
            yield "word/media/image1.png", media

    data = _rezip(_docx_bytes(), add)
    assert len(data) < MAX  # passes the upload limit, and packs less than DOCX_MAX_RATIO
    assert len(media) / len(data) < DOCX_MAX_RATIO
    assert "unpacks to" in _refused(data, CvTooLarge).message


def test_a_real_cvs_parts_are_far_below_the_caps():
    for cv in SAMPLE_CVS:
        archive = zipfile.ZipFile(io.BytesIO(cv.render("docx")))
        sizes = {m.filename: m.file_size for m in archive.infolist()}
        assert sizes["word/document.xml"] < DOCX_MAX_XML_PART // 20
        assert sum(sizes.values()) < DOCX_MAX_UNCOMPRESSED // 8


# ------------------------------------------------------------------ PDF: content per page and per document


def test_a_page_with_an_oversize_content_stream_is_refused_before_parsing():
    data = raw_pdf([text_operators(4 * 1024 * 1024)])  # took 13 s in one extract_text()
    assert len(data) < 512 * 1024
    error = _refused(data, CvTooLarge)
    assert error.status == 413 and "page 1" in error.message


def test_a_stream_that_unpacks_to_a_bomb_is_refused_fast():
    data = raw_pdf([b"BT /F1 10 Tf (x) Tj ET\n" + b" " * (24 * 1024 * 1024)])
    assert len(data) < 200 * 1024
    _refused(data, CvTooLarge)


def test_a_damaged_stream_is_not_retried_for_long():
    garbage = random.Random(1).randbytes(4 * 1024 * 1024)  # no zlib data: pypdf retries it byte by byte
    data = raw_pdf([garbage], compress=False).replace(b"/Length %d >>" % len(garbage),
                                                      b"/Length %d /Filter /FlateDecode >>" % len(garbage))
    started = time.perf_counter()
    with pytest.raises((CvTooLarge, CvUnreadable)):  # 15 s before, 1-2 s now
        process_cv(data, MAX)
    assert time.perf_counter() - started < 10


def test_content_split_over_many_streams_counts_together():
    part = text_operators(MAX_PDF_PAGE_CONTENT // 4)
    _refused(raw_pdf([part] * 5), CvTooLarge)


def test_a_form_drawn_many_times_counts_each_time():
    form = text_operators(16 * 1024)
    draws = MAX_PDF_PAGE_CONTENT // len(form) + 1
    data = raw_pdf([b"q /Fm1 Do Q\n" * draws], form=form)  # 19 s before, from a 4 KB file
    assert "page 1" in _refused(data, CvTooLarge).message
    escaped = raw_pdf([b"q /F#6d1 Do Q\n" * draws], form=form)  # the same name, written with an escape
    _refused(escaped, CvTooLarge)


def test_a_form_drawn_once_and_a_form_drawing_itself_are_fine():
    form = b"BT /F1 12 Tf 50 700 Td (Berufserfahrung als Pflegefachkraft im Klinikum Nord) Tj ET\n"
    for data in (raw_pdf([b"q /Fm1 Do Q\n"], form=form),
                 raw_pdf([b"q /Fm1 Do Q\n"], form=form + b"/Fm1 Do\n", form_draws_itself=True)):
        assert "Pflegefachkraft" in extract(data, MAX).text


def test_a_page_below_the_cap_is_read():
    content = b"BT /F1 12 Tf 50 800 Td (Berufserfahrung als Pflegefachkraft im Klinikum Nord) Tj ET\n"
    content += path_operators(MAX_PDF_PAGE_CONTENT - len(content) - 1024)
    assert "Klinikum Nord" in extract(raw_pdf([content]), MAX).text  # pypdf parses it all: about 1 s here


def test_the_documents_content_is_capped_across_pages():
    from pypdf import PdfReader, PdfWriter

    page = raw_pdf([b"BT /F1 12 Tf 50 800 Td (Berufserfahrung) Tj ET\n"
                    + path_operators(MAX_PDF_PAGE_CONTENT - 4096)])
    pages_needed = MAX_PDF_CONTENT // MAX_PDF_PAGE_CONTENT + 1
    writer = PdfWriter()
    for _ in range(pages_needed):
        writer.append(PdfReader(io.BytesIO(page)))
    out = io.BytesIO()
    writer.write(out)
    error = _refused(out.getvalue(), CvTooLarge)
    assert "together" in error.message


def test_real_cv_pages_are_far_below_the_cap():
    from pypdf import PdfReader

    for cv in SAMPLE_CVS[:3]:
        for page in PdfReader(io.BytesIO(cv.render("pdf"))).pages:
            assert pdf_page_content_size(page, MAX_PDF_PAGE_CONTENT) < MAX_PDF_PAGE_CONTENT // 8
