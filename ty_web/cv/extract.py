"""Recognise an uploaded CV by its content (never its name or declared type) and extract its text.

Accepted: PDF (``%PDF-`` at offset 0), DOCX (a ZIP whose package relationships, ``_rels/.rels``, name a main
document part that ``[Content_Types].xml`` declares a Word document, without macros or encrypted members)
and plain text (UTF-8, UTF-16 with a byte-order mark, or cp1252; no NUL characters; almost all characters
printable). Everything else is :class:`CvUnsupported`.

Hostile files are bounded before a parser sees them. The size of the upload itself is the caller's limit
(``TY_CV_MAX_BYTES``, 5 MiB by default), checked again here; then:

DOCX (python-docx reads every part the relationships reach and parses the XML ones into lxml trees, which
take about ten times the XML's size in memory: 42 MiB of XML took 0.6 GB and 16 s):

- :data:`DOCX_MAX_MEMBERS` members at most;
- :data:`DOCX_MAX_UNCOMPRESSED` (16 MiB): all members together, unpacked: what reading each member once
  (which checks its CRC, so a header that lies about a size fails) inflates, and what python-docx holds;
- :data:`DOCX_MAX_XML_PART` (4 MiB): any one XML part unpacked, the main document part included: the
  largest tree lxml builds at once (a long real CV's ``document.xml`` is a few hundred KB, well under 2 MB);
- :data:`DOCX_MAX_XML` (8 MiB): all XML parts together (the main part, its headers and footers, styles,
  numbering, settings, comments, the relationships and content types): all the trees of one document;
- :data:`DOCX_MAX_RATIO`: a member over 1 MiB unpacked may be at most this many times its packed size
  (Word's XML packs about 10:1; a zip bomb packs 1000:1);
- the main document part is the one the package relationships name, and its content type is checked
  (macro-enabled main parts, any ``vbaProject.bin``: refused); every XML part python-docx may parse (by
  content type or name, the relationships included) is screened: no DOCTYPE or ENTITY (no entity
  expansion), UTF-8 (or another ASCII-compatible encoding) so the screen sees what the parser sees.

PDF:

- :data:`MAX_PDF_PAGES` pages at most;
- :data:`MAX_PDF_PAGE_CONTENT` (512 KiB): the decoded content streams one page's text extraction parses
  (its ``/Contents`` and the form XObjects it draws, each as often as it is drawn), measured before
  ``extract_text``. pypdf parses a content stream in Python at about 1-2 s per MiB and slower beyond
  (4 MiB of text operators: 13 s, 16 MiB: 10 minutes, in one call that no deadline can interrupt); a
  real CV page has 5-150 KB;
- :data:`MAX_PDF_CONTENT` (4 MiB): the same summed over all pages;
- pypdf's own decoders stop at :data:`PDF_MAX_DECODED_STREAM` per stream (fonts included), and its
  byte-by-byte retry of a damaged zlib stream after :data:`MAX_PDF_PAGE_CONTENT` input bytes (4 MiB of
  garbage took 15 s), where the installed pypdf has its ``Configuration`` (pypdf 7).

All kinds: extraction stops after :data:`MAX_TEXT_CHARS` characters or :data:`TIME_LIMIT_S` seconds
(checked between pages, paragraphs and members).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import posixpath
import re
import time
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger("ty.web.cv")

Kind = Literal["pdf", "docx", "text"]

MAX_PDF_PAGES = 30
MAX_PDF_PAGE_CONTENT = 512 * 1024  # decoded content (streams and forms drawn) of one page
MAX_PDF_CONTENT = 4 * 1024 * 1024  # ... of all pages together
PDF_MAX_DECODED_STREAM = 16 * 1024 * 1024  # pypdf's decoders give up beyond this (any stream, fonts included)
PDF_MAX_FORM_DEPTH = 8  # form XObjects drawn by form XObjects ...
MAX_TEXT_CHARS = 200_000
TIME_LIMIT_S = 10.0
DOCX_MAX_MEMBERS = 1_000
DOCX_MAX_UNCOMPRESSED = 16 * 1024 * 1024  # all members, unpacked
DOCX_MAX_XML_PART = 4 * 1024 * 1024  # one XML part (the main document part too), unpacked
DOCX_MAX_XML = 8 * 1024 * 1024  # all XML parts together, unpacked
DOCX_MAX_RATIO = 100  # a member larger than DOCX_RATIO_FROM unpacked and compressed more than this is a bomb
DOCX_RATIO_FROM = 1024 * 1024
MIN_PRINTABLE_SHARE = 0.97

WORD_MAIN_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
}
MACRO_MAIN_TYPES = {
    "application/vnd.ms-word.document.macroEnabled.main+xml",
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
}
OFFICE_DOCUMENT_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
CONTENT_TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
# XML encodings in which "<!DOCTYPE" is the same bytes as in ASCII (Word writes UTF-8)
XML_ENCODINGS = {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin1", "latin-1", "windows-1252", "cp1252"}
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
    from pypdf import errors as pypdf_errors
    from pypdf.errors import PyPdfError

    # pypdf's decoders stop at their limits with this (where the installed pypdf has it)
    limit_reached = tuple(e for e in [getattr(pypdf_errors, "LimitReachedError", None)] if e is not None)
    try:
        with _pypdf_limits():
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
            content = 0
            for number, page in enumerate(reader.pages, 1):  # all measured before any text is extracted
                if time.monotonic() > deadline:
                    raise CvUnreadable("reading the PDF took too long")
                content += pdf_page_content_size(page, min(MAX_PDF_PAGE_CONTENT, MAX_PDF_CONTENT - content),
                                                 number=number)
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
    except limit_reached as exc:
        log.info("PDF over pypdf's limits: %s", exc)
        raise CvTooLarge("the PDF has a stream that unpacks to more than allowed, or is too damaged") from None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError,
            AssertionError, ZeroDivisionError) as exc:
        log.info("unreadable PDF: %s: %s", type(exc).__name__, exc)
        raise CvUnreadable("the PDF is damaged and cannot be read") from None
    return "\n".join(parts)


def _pypdf_limits() -> contextlib.AbstractContextManager[Any]:
    """pypdf's decoders bounded tighter than its defaults (75 MB a stream), where pypdf has a Configuration
    (pypdf 7; only the fields the installed version knows)."""
    import pypdf

    apply = getattr(pypdf, "apply_configuration", None)
    configuration = getattr(pypdf, "Configuration", None)
    if apply is None or configuration is None or not dataclasses.is_dataclass(configuration):
        return contextlib.nullcontext()
    known = {f.name for f in dataclasses.fields(configuration)}
    limits = {
        "zlib_maximum_output_length": PDF_MAX_DECODED_STREAM,
        "zlib_maximum_recovery_input_length": MAX_PDF_PAGE_CONTENT,  # a broken stream is retried byte by byte
        "lzw_maximum_output_length": PDF_MAX_DECODED_STREAM,
        "run_length_maximum_output_length": PDF_MAX_DECODED_STREAM,
        "brotli_maximum_output_length": PDF_MAX_DECODED_STREAM,
        "array_based_stream_maximum_output_length": PDF_MAX_DECODED_STREAM,
    }
    return apply(**{k: v for k, v in limits.items() if k in known})


# a form XObject drawn: "/Fm1 Do" (the name may escape characters as #xx)
_PDF_DO = re.compile(rb"/([^\s/\[\]<>(){}%]{1,127})\s{0,32}Do(?![^\s/\[\]<>(){}%])")


def pdf_page_content_size(page: Any, limit: int, *, number: int = 1) -> int:
    """The decoded bytes one page's text extraction parses: its content streams, plus each form XObject's (and
    the forms those draw) as often as it is drawn. :class:`CvTooLarge` as soon as that exceeds ``limit``."""
    from pypdf.generic import ArrayObject, StreamObject

    def too_large() -> CvTooLarge:
        if limit < MAX_PDF_PAGE_CONTENT:
            return CvTooLarge(f"the PDF's pages have more than {MAX_PDF_CONTENT} bytes of content together")
        return CvTooLarge(f"page {number} of the PDF has more than {MAX_PDF_PAGE_CONTENT} bytes of content")

    forms: dict[int, int] = {}  # id of a form XObject -> its work

    def work(streams: list[Any], resources: Any, depth: int, drawing: frozenset[int]) -> int:
        total = 0
        drawn: Counter[bytes] = Counter()
        for stream in streams:
            content = stream.get_data()
            total += len(content)
            if total > limit:
                raise too_large()
            drawn.update(_PDF_DO.findall(content))
        xobjects = _resolved(resources.get("/XObject")) if isinstance(resources, dict) else None
        if not drawn or not isinstance(xobjects, dict):
            return total
        for raw_name, times in drawn.items():
            name = "/" + re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw_name).decode(
                "latin-1")
            form = _resolved(xobjects.get(name))
            if not isinstance(form, StreamObject) or form.get("/Subtype") != "/Form" or id(form) in drawing:
                continue  # an image, or a form drawing itself (pypdf skips that)
            if depth >= PDF_MAX_FORM_DEPTH:
                raise too_large()
            if id(form) not in forms:
                forms[id(form)] = work([form], _resolved(form.get("/Resources")), depth + 1, drawing | {id(form)})
            total += times * forms[id(form)]
            if total > limit:
                raise too_large()
        return total

    contents = _resolved(page.get("/Contents"))
    if isinstance(contents, ArrayObject):
        streams = [_resolved(item) for item in contents]
    else:
        streams = [contents]
    return work([s for s in streams if isinstance(s, StreamObject)], _resolved(page.get("/Resources")), 0,
                frozenset())


def _resolved(obj: Any) -> Any:
    return obj.get_object() if obj is not None and hasattr(obj, "get_object") else obj


# ------------------------------------------------------------------ DOCX

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _check_package(data: bytes, deadline: float, *, read_members: bool = True) -> None:
    """Refuse anything but a plain Word package of bounded size. The directory, ``[Content_Types].xml`` and
    ``_rels/.rels`` are always checked; with ``read_members`` every member is read once too: that checks each
    CRC (a size in a header that lies fails) and screens every XML part python-docx may parse."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise CvUnreadable("the ZIP container is damaged") from None
    with archive:
        members = archive.infolist()
        if len(members) > DOCX_MAX_MEMBERS:
            raise CvTooLarge(f"the DOCX has more than {DOCX_MAX_MEMBERS} parts")
        names = {m.filename for m in members}
        if "[Content_Types].xml" not in names or "_rels/.rels" not in names:
            raise CvUnsupported("a ZIP archive that is not a Word document: upload a PDF, DOCX or text file")
        if any(m.flag_bits & 0x1 for m in members):
            raise CvUnsupported("the DOCX has encrypted parts")
        total = sum(m.file_size for m in members)
        if total > DOCX_MAX_UNCOMPRESSED:
            raise CvTooLarge(f"the DOCX unpacks to {total} bytes; at most {DOCX_MAX_UNCOMPRESSED} are accepted")
        for m in members:
            if m.file_size > DOCX_RATIO_FROM and m.file_size > DOCX_MAX_RATIO * max(m.compress_size, 1):
                raise CvTooLarge(f"the DOCX part {m.filename!r} is compressed suspiciously well (a zip bomb?)")
        try:
            types = _ContentTypes(_read_small_xml(archive, "[Content_Types].xml"))
            main = _main_part(_read_small_xml(archive, "_rels/.rels"))
            if main not in names:
                raise CvUnsupported("a ZIP archive that is not a Word document: upload a PDF, DOCX or text file")
            main_type = types.of(main)
            if main_type in MACRO_MAIN_TYPES or any(n.lower().endswith("vbaproject.bin") for n in names):
                raise CvUnsupported("documents with macros are not accepted: save it as .docx without macros")
            if main_type not in WORD_MAIN_TYPES:
                raise CvUnsupported("a ZIP archive that is not a Word document: upload a PDF, DOCX or text file")
            xml_parts = {m.filename for m in members if not m.is_dir() and _is_xml_part(m.filename, types)}
            xml_total = 0
            for m in members:
                if m.filename in xml_parts:
                    if m.file_size > DOCX_MAX_XML_PART:
                        what = "main document part" if m.filename == main else f"part {m.filename!r}"
                        raise CvTooLarge(f"the DOCX's {what} unpacks to {m.file_size} bytes; at most "
                                         f"{DOCX_MAX_XML_PART} are accepted")
                    xml_total += m.file_size
            if xml_total > DOCX_MAX_XML:
                raise CvTooLarge(f"the DOCX's XML unpacks to {xml_total} bytes; at most {DOCX_MAX_XML} are accepted")
            if not read_members:
                return
            read = 0
            for m in members:
                if m.is_dir():
                    continue
                xml = m.filename in xml_parts
                with archive.open(m) as part:
                    tail = b""
                    first = True
                    while chunk := part.read(1 << 16):
                        if time.monotonic() > deadline:
                            raise CvUnreadable("reading the DOCX took too long")
                        read += len(chunk)
                        if read > DOCX_MAX_UNCOMPRESSED:
                            raise CvTooLarge("the DOCX unpacks to more than allowed")
                        if xml:
                            if first:
                                _screen_xml_start(chunk)
                            _screen_dtd(tail + chunk)
                            tail = chunk[-16:]
                        first = False
        except CvError:
            raise
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError,
                KeyError) as exc:
            log.info("unreadable DOCX package: %s: %s", type(exc).__name__, exc)
            raise CvUnreadable("the DOCX is damaged and cannot be read") from None


def _read_small_xml(archive: zipfile.ZipFile, name: str) -> bytes:
    """One of the package's own XML parts, read whole (bounded by DOCX_MAX_XML_PART) and screened."""
    if archive.getinfo(name).file_size > DOCX_MAX_XML_PART:
        raise CvTooLarge(f"the DOCX's {name} is larger than {DOCX_MAX_XML_PART} bytes")
    xml = archive.read(name)
    _screen_xml_start(xml)
    _screen_dtd(xml)
    return xml


def _screen_dtd(xml: bytes) -> None:
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise CvUnsupported("the DOCX contains XML with a DOCTYPE, which Word never writes")


_XML_ENCODING = re.compile(rb"""encoding[ \t\r\n]{0,16}=[ \t\r\n]{0,16}["']([A-Za-z0-9._-]{1,40})["']""")


def _screen_xml_start(head: bytes) -> None:
    """The start of an XML part: an ASCII-compatible encoding, so that the DOCTYPE screen sees what lxml sees
    (libxml2 also reads UTF-16 without a byte-order mark, UTF-7 or EBCDIC when told or when it guesses so)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")) or b"\x00" in head[:4]:
        raise CvUnsupported("the DOCX contains UTF-16 XML, which Word never writes")
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    if not head:
        return
    if not head.startswith(b"<"):
        raise CvUnsupported("the DOCX contains XML in an encoding Word never writes")
    if head.startswith(b"<?xml"):
        end = head.find(b"?>", 0, 512)
        if end == -1:
            raise CvUnsupported("the DOCX contains XML in an encoding Word never writes")
        declared = _XML_ENCODING.search(head, 0, end)
        if declared is not None and declared.group(1).decode("ascii").lower() not in XML_ENCODINGS:
            raise CvUnsupported("the DOCX contains XML in an encoding Word never writes")


def _parse_package_xml(xml: bytes) -> Any:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        return etree.fromstring(xml, parser)
    except etree.XMLSyntaxError:
        raise CvUnreadable("the DOCX is damaged and cannot be read") from None


class _ContentTypes:
    """``[Content_Types].xml``: a part's content type by its name (an Override) or its extension (a Default),
    both case-insensitive, as python-docx reads them."""

    def __init__(self, xml: bytes):
        self.overrides: dict[str, str] = {}
        self.defaults: dict[str, str] = {}
        for child in _parse_package_xml(xml):
            if child.tag == f"{CONTENT_TYPES}Override":
                self.overrides[(child.get("PartName") or "").lower()] = child.get("ContentType") or ""
            elif child.tag == f"{CONTENT_TYPES}Default":
                self.defaults[(child.get("Extension") or "").lower()] = child.get("ContentType") or ""

    def of(self, member: str) -> str | None:
        partname = "/" + member
        if partname.lower() in self.overrides:
            return self.overrides[partname.lower()]
        ext = posixpath.splitext(partname)[1][1:].lower()
        return self.defaults.get(ext)


def _is_xml_part(member: str, types: _ContentTypes) -> bool:
    """A part python-docx may parse as XML: by its content type, or by its name (the relationships parts)."""
    if member.lower().endswith((".xml", ".rels")):
        return True
    content_type = (types.of(member) or "").lower()
    return content_type.endswith(("+xml", "/xml"))


def _main_part(rels: bytes) -> str:
    """The ZIP member of the main document part: the target of the package's officeDocument relationship,
    resolved as python-docx resolves it (relative to the package root)."""
    targets = [rel for rel in _parse_package_xml(rels)
               if rel.tag == PACKAGE_RELS and rel.get("Type") == OFFICE_DOCUMENT_REL]
    if not targets:
        raise CvUnsupported("a ZIP archive that is not a Word document: upload a PDF, DOCX or text file")
    if len(targets) > 1 or targets[0].get("TargetMode") == "External" or not targets[0].get("Target"):
        raise CvUnreadable("the DOCX is damaged and cannot be read")
    partname = posixpath.normpath(posixpath.join("/", targets[0].get("Target")))
    return partname[1:]


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
