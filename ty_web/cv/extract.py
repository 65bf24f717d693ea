"""Recognise an uploaded CV by its content (never its name or declared type) and extract its text.

Accepted: PDF (``%PDF-`` at offset 0), DOCX (a ZIP holding ``[Content_Types].xml`` and ``word/document.xml``
whose main part is a Word document, without macros or encrypted members) and plain text (UTF-8, UTF-16
with a byte-order mark, or cp1252; no NUL characters; almost all characters printable). Everything else
is :class:`CvUnsupported`.

Hostile files are bounded before a parser sees them: a DOCX's members are counted, their declared sizes
summed and every member read once (which checks each CRC, so a header that lies about a size fails),
XML with a DOCTYPE is refused (no entity expansion), a PDF may have at most :data:`MAX_PDF_PAGES` pages,
and extraction stops after :data:`MAX_TEXT_CHARS` characters or :data:`TIME_LIMIT_S` seconds. The size of
the upload itself is the caller's limit (``TY_CV_MAX_BYTES``), checked again here.
"""

from __future__ import annotations

import io
import logging
import re
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger("ty.web.cv")

Kind = Literal["pdf", "docx", "text"]

MAX_PDF_PAGES = 30
MAX_TEXT_CHARS = 200_000
TIME_LIMIT_S = 10.0
DOCX_MAX_MEMBERS = 1_000
DOCX_MAX_UNCOMPRESSED = 50 * 1024 * 1024
DOCX_MAX_RATIO = 200  # a member larger than 1 MiB compressed more than this is a bomb
MIN_PRINTABLE_SHARE = 0.97

WORD_MAIN_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
}
MACRO_MAIN_TYPES = {
    "application/vnd.ms-word.document.macroEnabled.main+xml",
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
}
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc, and password-protected .docx (an encrypted OLE package)
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# Printable-looking formats that are not plain text: refused rather than stored as markup soup.
TEXT_IMPOSTORS = (b"{\\rtf", b"%!PS", b"%FDF", b"#!")

_WHITESPACE = {"\n", "\r", "\t", "\f", "\v"}


class CvError(Exception):
    """A CV upload that cannot be used; ``status`` is the HTTP status the API answers with."""

    status = 422

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class CvTooLarge(CvError):
    """Larger than allowed: the upload, its uncompressed content, its pages or its text (413)."""

    status = 413


class CvUnsupported(CvError):
    """Not a PDF, DOCX or plain-text file, or one of those with macros or encryption (415)."""

    status = 415


class CvUnreadable(CvError):
    """The right kind of file, but broken, password-protected or without extractable text (422)."""

    status = 422


@dataclass(frozen=True)
class Extracted:
    kind: Kind
    text: str


def sniff(data: bytes) -> Kind:
    """The kind of file by its content; :class:`CvUnsupported` for anything that is none of the three.

    A ZIP is a DOCX when its directory says so (checked here); its content is checked on extraction."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(ZIP_MAGICS):
        _check_package(data, time.monotonic() + TIME_LIMIT_S, read_members=False)  # the directory only
        return "docx"
    if data.startswith(OLE_MAGIC):
        raise CvUnsupported("an OLE file (a .doc, or a password-protected .docx): upload a PDF, DOCX or text file")
    if data.lstrip()[:8].lower().startswith(TEXT_IMPOSTORS):
        raise CvUnsupported("RTF, PostScript and scripts are not accepted: upload a PDF, DOCX or text file")
    _decode_text(data)  # raises CvUnsupported
    return "text"


def extract(data: bytes, max_bytes: int, *, time_limit_s: float = TIME_LIMIT_S) -> Extracted:
    """The kind and the normalised text of an upload."""
    if len(data) > max_bytes:
        raise CvTooLarge(f"the file has {len(data)} bytes; at most {max_bytes} are accepted")
    if not data.strip():
        raise CvUnreadable("the file is empty")
    kind = sniff(data)
    deadline = time.monotonic() + time_limit_s
    if kind == "pdf":
        raw = _pdf_text(data, deadline)
    elif kind == "docx":
        raw = _docx_text(data, deadline)
    else:
        raw = _decode_text(data)
    text = normalise(raw)
    if len(text) > MAX_TEXT_CHARS:
        raise CvTooLarge(f"the CV's text has more than {MAX_TEXT_CHARS} characters")
    if sum(c.isalpha() for c in text) < 20:
        raise CvUnreadable("no text found in the file (a scanned PDF without a text layer cannot be read)")
    return Extracted(kind, text)


def normalise(text: str) -> str:
    """NFKC (ligatures, full-width forms), one newline style, no invisible characters, trimmed lines, a gap
    of three or more spaces as a tab (a column boundary), at most one blank line in a row."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\v", "\n")
    text = "".join(c for c in text if c in _WHITESPACE or unicodedata.category(c) not in {"Cc", "Cf", "Co", "Cs"})
    text = text.replace("\u00a0", " ").replace("\u2007", " ").replace("\u202f", " ")
    lines: list[str] = []
    for line in text.split("\n"):
        line = line.rstrip().replace("\u2028", " ")
        # a wide gap is a column boundary; a double space is justified text
        line = re.sub(r"(?<=\S) {3,}(?=\S)", "\t", line)
        line = re.sub(r"(?<=\S) {2}(?=\S)", " ", line)
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip("\n")


# ------------------------------------------------------------------ plain text


def _decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise CvUnsupported("not a PDF, DOCX or text file (invalid UTF-16)") from None
    else:
        if b"\x00" in data:
            raise CvUnsupported("not a PDF, DOCX or text file (binary content)")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                raise CvUnsupported("not a PDF, DOCX or text file (neither UTF-8 nor Windows-1252)") from None
    if "\x00" in text:
        raise CvUnsupported("not a PDF, DOCX or text file (NUL characters)")
    if not text.strip():
        raise CvUnreadable("the file is empty")
    printable = sum(1 for c in text if c in _WHITESPACE or c.isprintable())
    if printable / len(text) < MIN_PRINTABLE_SHARE:
        raise CvUnsupported("not a PDF, DOCX or text file (mostly unprintable characters)")
    return text


# ------------------------------------------------------------------ PDF


def _pdf_text(data: bytes, deadline: float) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                unlocked = bool(reader.decrypt(""))
            except Exception:  # noqa: BLE001 - pypdf raises several types (DependencyError, NotImplementedError)
                unlocked = False
            if not unlocked:
                raise CvUnreadable("the PDF is password-protected")
        pages = len(reader.pages)
        if pages > MAX_PDF_PAGES:
            raise CvTooLarge(f"the PDF has {pages} pages; at most {MAX_PDF_PAGES} are accepted")
        parts: list[str] = []
        size = 0
        for page in reader.pages:
            if time.monotonic() > deadline:
                raise CvUnreadable("reading the PDF took too long")
            part = page.extract_text() or ""
            size += len(part)
            if size > MAX_TEXT_CHARS:
                raise CvTooLarge(f"the CV's text has more than {MAX_TEXT_CHARS} characters")
            parts.append(part)
    except CvError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError,
            AssertionError, ZeroDivisionError) as exc:
        log.info("unreadable PDF: %s: %s", type(exc).__name__, exc)
        raise CvUnreadable("the PDF is damaged and cannot be read") from None
    return "\n".join(parts)


# ------------------------------------------------------------------ DOCX

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _check_package(data: bytes, deadline: float, *, read_members: bool = True) -> None:
    """Refuse anything but a plain Word package of bounded size. With ``read_members`` every member is read
    once: that checks each CRC (a size in a header that lies fails) and scans the XML for DTDs."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise CvUnreadable("the ZIP container is damaged") from None
    with archive:
        members = archive.infolist()
        if len(members) > DOCX_MAX_MEMBERS:
            raise CvTooLarge(f"the DOCX has more than {DOCX_MAX_MEMBERS} parts")
        names = {m.filename for m in members}
        if "[Content_Types].xml" not in names or "word/document.xml" not in names:
            raise CvUnsupported("a ZIP archive that is not a Word document: upload a PDF, DOCX or text file")
        if any(m.flag_bits & 0x1 for m in members):
            raise CvUnsupported("the DOCX has encrypted parts")
        total = sum(m.file_size for m in members)
        if total > DOCX_MAX_UNCOMPRESSED:
            raise CvTooLarge(f"the DOCX unpacks to {total} bytes; at most {DOCX_MAX_UNCOMPRESSED} are accepted")
        for m in members:
            if m.file_size > 1024 * 1024 and m.file_size > DOCX_MAX_RATIO * max(m.compress_size, 1):
                raise CvTooLarge(f"the DOCX part {m.filename!r} is compressed suspiciously well (a zip bomb?)")
        try:
            content_types = archive.read("[Content_Types].xml")
            main_type = _main_content_type(content_types)
            if main_type in MACRO_MAIN_TYPES or any(n.lower().endswith("vbaproject.bin") for n in names):
                raise CvUnsupported("documents with macros are not accepted: save it as .docx without macros")
            if main_type not in WORD_MAIN_TYPES:
                raise CvUnsupported("a ZIP archive that is not a Word document: upload a PDF, DOCX or text file")
            if not read_members:
                return
            read = 0
            for m in members:
                if m.is_dir():
                    continue
                xml = m.filename.lower().endswith((".xml", ".rels"))
                with archive.open(m) as part:
                    tail = b""
                    while chunk := part.read(1 << 16):
                        if time.monotonic() > deadline:
                            raise CvUnreadable("reading the DOCX took too long")
                        read += len(chunk)
                        if read > DOCX_MAX_UNCOMPRESSED:
                            raise CvTooLarge("the DOCX unpacks to more than allowed")
                        if xml:
                            if not tail and chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
                                raise CvUnsupported("the DOCX contains UTF-16 XML, which Word never writes")
                            window = tail + chunk
                            if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
                                raise CvUnsupported("the DOCX contains XML with a DOCTYPE, which Word never writes")
                            tail = chunk[-16:]
        except CvError:
            raise
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
            log.info("unreadable DOCX package: %s: %s", type(exc).__name__, exc)
            raise CvUnreadable("the DOCX is damaged and cannot be read") from None


def _main_content_type(content_types: bytes) -> str | None:
    from lxml import etree

    if b"<!DOCTYPE" in content_types or b"<!ENTITY" in content_types:
        raise CvUnsupported("the DOCX contains XML with a DOCTYPE, which Word never writes")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(content_types, parser)
    except etree.XMLSyntaxError:
        raise CvUnreadable("the DOCX is damaged and cannot be read") from None
    for child in root:
        if child.tag.endswith("Override") and child.get("PartName") == "/word/document.xml":
            return child.get("ContentType")
    return None


def _docx_text(data: bytes, deadline: float) -> str:
    _check_package(data, deadline)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        seen_headers: set[str] = set()
        for section in document.sections:  # the name often sits in the page header
            for header in (section.first_page_header, section.header):
                if header.is_linked_to_previous:
                    continue
                element = header._element
                block = "\n".join(_container_lines(element, deadline) + _text_boxes(element))
                if block.strip() and block not in seen_headers:
                    seen_headers.add(block)
                    lines.append(block)
        body = document.element.body
        lines.extend(_container_lines(body, deadline))
        lines.extend(_text_boxes(body))
    except CvError:
        raise
    except (PackageNotFoundError, KeyError, ValueError, TypeError, AttributeError, zipfile.BadZipFile,
            RecursionError) as exc:
        log.info("unreadable DOCX: %s: %s", type(exc).__name__, exc)
        raise CvUnreadable("the DOCX is damaged and cannot be read") from None
    return "\n".join(lines)


def _children(element, tag: str):
    """Direct children with this tag, looking through content controls (w:sdt) and custom XML."""
    for child in element:
        if child.tag == tag:
            yield child
        elif child.tag == f"{W}sdt":
            content = child.find(f"{W}sdtContent")
            if content is not None:
                yield from _children(content, tag)
        elif child.tag == f"{W}customXml":
            yield from _children(child, tag)


def _container_lines(element, deadline: float) -> list[str]:
    """Paragraphs and tables of a body, header or table cell in document order (content controls included).

    A table row whose cells hold one line each becomes one tab-separated line (``Name<TAB>Anna``);
    otherwise each cell's lines follow each other. A bulleted or numbered paragraph starts with ``• ``."""
    lines: list[str] = []
    for child in _blocks(element):
        if time.monotonic() > deadline:
            raise CvUnreadable("reading the DOCX took too long")
        if child.tag == f"{W}tbl":
            for row in _children(child, f"{W}tr"):
                cells = [c for c in ([x for x in _container_lines(tc, deadline) if x.strip()]
                                     for tc in _children(row, f"{W}tc")) if c]
                if cells and all(len(c) == 1 for c in cells):
                    lines.append("\t".join(c[0].strip() for c in cells))
                else:
                    for cell_lines in cells:
                        lines.extend(cell_lines)
        else:
            text = _paragraph_text(child)
            lines.append(f"• {text}" if text.strip() and _is_list_item(child) else text)
    return lines


def _blocks(element):
    for child in element:
        if child.tag in {f"{W}p", f"{W}tbl"}:
            yield child
        elif child.tag == f"{W}sdt":
            content = child.find(f"{W}sdtContent")
            if content is not None:
                yield from _blocks(content)
        elif child.tag == f"{W}customXml":
            yield from _blocks(child)


_RUN_TEXT = {f"{W}t": None, f"{W}tab": "\t", f"{W}br": "\n", f"{W}cr": "\n", f"{W}noBreakHyphen": "-"}


def _paragraph_text(p) -> str:
    """The visible text of a paragraph: runs in hyperlinks, fields and inline content controls included;
    deleted text, field codes and text boxes (read separately) left out."""
    parts: list[str] = []
    for el in p.iter(*_RUN_TEXT):
        run = el.getparent()
        if run is None or run.tag != f"{W}r":
            continue  # tab stops in the paragraph properties are w:tab too
        ancestor, inside_box = run.getparent(), False
        while ancestor is not None and ancestor is not p:
            if ancestor.tag in {f"{W}txbxContent", MC_FALLBACK}:
                inside_box = True
                break
            ancestor = ancestor.getparent()
        if not inside_box:
            fixed = _RUN_TEXT[el.tag]
            parts.append(el.text or "" if fixed is None else fixed)
    return "".join(parts)


def _is_list_item(p) -> bool:
    """A numbered or bulleted paragraph: Word draws its bullet, so the text lacks one."""
    ppr = p.find(f"{W}pPr")
    if ppr is None:
        return False
    if ppr.find(f"{W}numPr") is not None:
        return True
    style = ppr.find(f"{W}pStyle")
    value = (style.get(f"{W}val") or "").lower() if style is not None else ""
    return value.startswith(("listbullet", "listnumber", "listparagraph", "listenabsatz", "aufz"))


def _text_boxes(element) -> list[str]:
    """Paragraphs in text boxes (often used for the contact column); the Fallback copy of each is skipped."""
    lines: list[str] = []
    for box in element.iter(f"{W}txbxContent"):
        if any(a.tag == MC_FALLBACK for a in box.iterancestors()):
            continue
        for p in box.iter(f"{W}p"):
            if _owner_box(p) is box:  # a box nested in this one is read on its own
                lines.append(_paragraph_text_in_box(p, box))
    return lines


def _owner_box(element):
    owner = element.getparent()
    while owner is not None and owner.tag != f"{W}txbxContent":
        owner = owner.getparent()
    return owner


def _paragraph_text_in_box(p, box) -> str:
    parts: list[str] = []
    for el in p.iter(*_RUN_TEXT):
        run = el.getparent()
        if run is None or run.tag != f"{W}r":
            continue
        if _owner_box(run) is box:  # not in a box nested inside this one
            fixed = _RUN_TEXT[el.tag]
            parts.append(el.text or "" if fixed is None else fixed)
    return "".join(parts)
