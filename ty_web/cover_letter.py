"""German cover letters from a profile and a posting: through the LLM when one is configured, else a template.

:func:`compose_letter` builds a :class:`CoverLetter`: subject, salutation, body paragraphs, closing. The body
comes from the LLM (``chat_json`` of :class:`~ty_resources.ollama.OllamaClient`: a German prompt, temperature 0,
a JSON schema) when ``OLLAMA_HOST`` is set, else from :func:`template_paragraphs`. A failed or unusable LLM
answer falls back to the template, and the letter says why (``fallback_reason``): the user always gets a letter.
The LLM sees the posting and the profile's professional facts (professions, positions, skills, summary), never
the user's name or e-mail; the name is only set into the signature here. The prompt is a file
(``ty_resources/prompts/cover_letter.toml``); a letter records its model and the prompt's version, and a kept
letter's key (:func:`letter_key`) holds both: a changed prompt writes letters anew, and nothing else.

Everything that comes from outside (posting title, employer and description, the profile's texts, the LLM's
answer) is treated as plain text: HTML tags are dropped, control characters removed, and the Markdown
rendering escapes what Markdown would read as markup (links, images, emphasis, raw HTML, block markers), so
nothing the posting or the user wrote becomes markup in a renderer. The ``.docx`` is built with python-docx,
which escapes text into its XML.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from docx import Document
from docx.shared import Pt
from pydantic import BaseModel, ConfigDict, Field

from ty_resources.ollama import ChatJson, InvalidAnswer, OllamaClient, OllamaError
from ty_resources.prompts import load_prompt
from ty_resources.settings import Settings

DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MARKDOWN_MEDIA_TYPE = "text/markdown; charset=utf-8"

LLM_READ_TIMEOUT_S = 60.0  # a letter is a few hundred tokens; a request must not hang for the batch timeout
LLM_MAX_RETRIES = 1
DESCRIPTION_CHARS = 1500
SUMMARY_CHARS = 1200
MAX_SKILLS = 8
MAX_POSITIONS = 3
MAX_PARAGRAPH_CHARS = 2000
MIN_BODY_CHARS = 80

SALUTATION = "Sehr geehrte Damen und Herren,"
CLOSING = "Mit freundlichen Grüßen"
MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
          "November", "Dezember")

# What the LLM must answer.
LETTER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "paragraphs": {
            "type": "array", "minItems": 1, "maxItems": 6,
            "items": {"type": "string", "minLength": 1, "maxLength": MAX_PARAGRAPH_CHARS},
        },
    },
    "required": ["paragraphs"],
}

# The prompt (ty_resources/prompts/cover_letter.toml): its version is part of a kept letter's key.
LETTER_PROMPT = load_prompt("cover_letter")


class LetterRejected(ValueError):
    """The LLM answered in the schema, but not a usable letter body."""


@dataclass(frozen=True)
class Position:
    title: str
    employer: str | None = None
    start_date: date | None = None
    end_date: date | None = None  # None: current


@dataclass(frozen=True)
class LetterFacts:
    """What a letter is written from (raw: cleaned by :func:`compose_letter`)."""

    refnr: str
    posting_title: str
    employer: str | None = None
    city: str | None = None
    description: str | None = None
    sender_name: str | None = None
    desired_professions: Sequence[str] = ()
    positions: Sequence[Position] = ()  # most recent first
    skills: Sequence[str] = ()
    summary: str | None = None
    today: date = field(default_factory=date.today)


class CoverLetter(BaseModel):
    """A letter in its parts; ``source`` says who wrote the body (``llm`` or ``template``), ``fallback_reason``
    why the template stood in for a configured LLM. The API answers it with its Markdown as
    :class:`~ty_web.schemas.CoverLetterOut`."""

    # fallback_reason defaults to None, yet every answer carries it: required in the response's schema.
    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)

    source: Literal["llm", "template"]
    fallback_reason: Literal["llm_unavailable", "llm_invalid_answer", "llm_busy"] | None = Field(
        default=None, description="Why the LLM's letter was not used although an LLM is configured.")
    model: str | None = Field(default=None, description="The LLM that wrote the body (null: the template).")
    prompt_version: str | None = Field(default=None, description="The version of the prompt it was written with "
                                                                 "(null: the template).")
    subject: str
    salutation: str
    paragraphs: list[str]
    closing: str
    sender_name: str | None
    recipient: list[str]
    date: str


def letter_key(facts: LetterFacts, model: str) -> str:
    """What identifies a kept letter: the sha256 of its facts without the day (the date is set anew), the model
    and the prompt's version. A changed profile, posting, model or prompt writes a new letter."""
    data: dict[str, Any] = dataclasses.asdict(facts)
    data.pop("today")
    data["_model"], data["_prompt_version"] = model, LETTER_PROMPT.version
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def dated(letter: CoverLetter, day: date) -> CoverLetter:
    """A stored letter with today's date."""
    return letter.model_copy(update={"date": german_date(day)})


# ------------------------------------------------------------------ cleaning text from outside

_TAG = re.compile(r"<[^<>]{0,1000}>")
_SPACES = re.compile(r"[ \t\u00a0]+")


def _xml_char(c: str) -> bool:
    """Whether XML 1.0 (and so a .docx) can hold ``c``; also drops other control and format characters."""
    code = ord(c)
    if c in "\n\t":
        return True
    if code < 0x20 or 0x7F <= code < 0xA0 or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
        return False
    return unicodedata.category(c) not in ("Cc", "Cs", "Co") and c not in "\u2028\u2029\u202e\u202d\u2066\u2067\u2068"


def clean_text(value: str | None, max_chars: int | None = None, *, one_line: bool = False) -> str:
    """Plain text: HTML tags dropped and entities decoded, only characters XML can hold, spaces collapsed."""
    if not value:
        return ""
    text = html.unescape(_TAG.sub(" ", value))
    text = _TAG.sub(" ", text)  # tags that were entity-encoded
    text = "".join(c for c in unicodedata.normalize("NFC", text) if _xml_char(c))
    if one_line:
        text = " ".join(text.split())
    else:
        lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\t", " ").split("\n")]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if max_chars is not None and len(text) > max_chars:
        cut = text[:max_chars]
        if not text[max_chars].isspace() and " " in cut[max_chars // 2:]:
            cut = cut.rsplit(" ", 1)[0]  # at a word's end
        text = cut.rstrip(" ,;:-\n") + " …"
    return text


def german_date(day: date) -> str:
    return f"{day.day}. {MONTHS[day.month - 1]} {day.year}"


def german_list(items: Sequence[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " und " + items[-1]


# ------------------------------------------------------------------ the body: template or LLM


def _clean_facts(facts: LetterFacts) -> LetterFacts:
    return LetterFacts(
        refnr=clean_text(facts.refnr, 64, one_line=True),
        posting_title=clean_text(facts.posting_title, 200, one_line=True) or "die ausgeschriebene Stelle",
        employer=clean_text(facts.employer, 200, one_line=True) or None,
        city=clean_text(facts.city, 100, one_line=True) or None,
        description=clean_text(facts.description, DESCRIPTION_CHARS) or None,
        sender_name=clean_text(facts.sender_name, 100, one_line=True) or None,
        desired_professions=[p for p in (clean_text(x, 200, one_line=True) for x in facts.desired_professions) if p],
        positions=[Position(clean_text(p.title, 200, one_line=True), clean_text(p.employer, 200, one_line=True)
                            or None, p.start_date, p.end_date) for p in facts.positions if clean_text(p.title)],
        skills=[s for s in (clean_text(x, 100, one_line=True) for x in facts.skills) if s],
        summary=clean_text(facts.summary, SUMMARY_CHARS, one_line=True) or None,
        today=facts.today,
    )


def template_paragraphs(facts: LetterFacts) -> list[str]:
    """The letter's body without the LLM: the posting, the latest positions, skills and the summary."""
    where = f" in {facts.city}" if facts.city else ""
    at = f" bei {facts.employer}" if facts.employer else ""
    paragraphs = [f"mit großem Interesse habe ich Ihre Stellenanzeige „{facts.posting_title}“{where} gelesen. "
                  f"Hiermit bewerbe ich mich um diese Position{at}."]
    experience = []
    positions = list(facts.positions)[:MAX_POSITIONS]
    if positions:
        latest = positions[0]
        employer = f" bei {latest.employer}" if latest.employer else ""
        if latest.end_date is None:
            experience.append(f"Derzeit arbeite ich als {latest.title}{employer}.")
        else:
            experience.append(f"Zuletzt war ich als {latest.title}{employer} tätig.")
        earlier = [p.title + (f" bei {p.employer}" if p.employer else "") for p in positions[1:]]
        if earlier:
            experience.append(f"Zuvor habe ich Erfahrung als {german_list(earlier)} gesammelt.")
    if facts.desired_professions:
        experience.append(f"Beruflich sehe ich mich im Bereich {german_list(list(facts.desired_professions)[:3])}.")
    if experience:
        paragraphs.append(" ".join(experience))
    if facts.skills:
        paragraphs.append(f"Zu meinen Stärken zählen insbesondere {german_list(list(facts.skills)[:MAX_SKILLS])}.")
    if facts.summary:
        paragraphs.append(facts.summary)
    paragraphs.append("Über die Einladung zu einem persönlichen Gespräch, in dem ich Sie von meiner Motivation und "
                      "meinen Fähigkeiten überzeuge, freue ich mich sehr.")
    return paragraphs


def _period(position: Position) -> str:
    start = position.start_date.strftime("%m/%Y") if position.start_date else "?"
    end = position.end_date.strftime("%m/%Y") if position.end_date else "heute"
    return f"{start} – {end}"


def llm_messages(facts: LetterFacts) -> list[dict[str, str]]:
    """The German prompt (:data:`LETTER_PROMPT`): the posting and the profile's professional facts (no name, no
    contact data)."""
    posting = [f"Titel: {facts.posting_title}"]
    if facts.employer:
        posting.append(f"Arbeitgeber: {facts.employer}")
    if facts.city:
        posting.append(f"Ort: {facts.city}")
    if facts.description:
        posting += ["Auszug aus der Beschreibung:", '"""', facts.description, '"""']
    profile = []
    if facts.desired_professions:
        profile.append(f"Gesuchte Berufe: {', '.join(facts.desired_professions)}")
    if facts.positions:
        profile.append("Berufserfahrung:")
        profile += [f"- {p.title}" + (f" bei {p.employer}" if p.employer else "") + f" ({_period(p)})"
                    for p in list(facts.positions)[:5]]
    if facts.skills:
        profile.append(f"Kenntnisse: {', '.join(facts.skills)}")
    if facts.summary:
        profile += ["Kurzprofil:", '"""', facts.summary, '"""']
    return LETTER_PROMPT.messages(posting="\n".join(posting), profile="\n".join(profile) or "(keine Angaben)")


_NOT_BODY = re.compile(r"^(sehr geehrte|liebe[rs]? |hallo|mit freundlichen|viele grüße|beste grüße|\[)", re.I)


def llm_paragraphs(chat_json: ChatJson,
                   facts: LetterFacts) -> list[str]:
    """The body as the LLM writes it; :class:`LetterRejected` when the answer is no usable body."""
    answer = chat_json(llm_messages(facts), LETTER_SCHEMA)
    raw = answer.get("paragraphs") if isinstance(answer, dict) else None
    if not isinstance(raw, list):
        raise LetterRejected("no paragraphs in the answer")
    paragraphs = []
    for item in raw:
        text = clean_text(item if isinstance(item, str) else "", MAX_PARAGRAPH_CHARS, one_line=True)
        if text and not _NOT_BODY.match(text):
            paragraphs.append(text)
    if not paragraphs or sum(len(p) for p in paragraphs) < MIN_BODY_CHARS:
        raise LetterRejected("the answer holds no letter body")
    return paragraphs


def llm_client(settings: Settings) -> OllamaClient:
    """A chat client for one web request (a letter, a match's explanation): the configured hosts and model, a web
    request's timeout and retries."""
    return OllamaClient(
        settings.ollama_hosts, embed_model=settings.embed_model, llm_model=settings.llm_model,
        embed_workers=1, llm_workers=1, connect_timeout_s=settings.ollama_connect_timeout_s,
        read_timeout_s=min(settings.ollama_read_timeout_s, LLM_READ_TIMEOUT_S), max_retries=LLM_MAX_RETRIES,
        backoff_s=settings.ollama_backoff_s, keep_alive=settings.ollama_keep_alive, num_ctx=settings.ollama_num_ctx,
        seed=settings.llm_seed,
    )


def compose_letter(facts: LetterFacts,
                   chat_json: ChatJson | None = None,
                   model: str | None = None, *, busy: bool = False) -> CoverLetter:
    """The letter: the LLM's body when ``chat_json`` (of ``model``) is given and answers usably, else the
    template's (``busy``: the LLM was not asked because it is busy; ``fallback_reason`` ``llm_busy``)."""
    facts = _clean_facts(facts)
    source, reason, body, version = "template", "llm_busy" if busy else None, None, None
    if chat_json is not None:
        try:
            body = llm_paragraphs(chat_json, facts)
            source, version = "llm", LETTER_PROMPT.version
        except (InvalidAnswer, LetterRejected):
            reason = "llm_invalid_answer"
        except OllamaError:
            reason = "llm_unavailable"
    if body is None:
        body = template_paragraphs(facts)
    subject = f"Bewerbung als {facts.posting_title}"
    if facts.refnr:
        subject += f" (Referenznummer {facts.refnr})"
    recipient = [x for x in (facts.employer, facts.city) if x]
    return CoverLetter(subject=subject, salutation=SALUTATION, paragraphs=body, closing=CLOSING,
                       sender_name=facts.sender_name, recipient=recipient, date=german_date(facts.today),
                       source=source, fallback_reason=reason, model=model if version else None,
                       prompt_version=version)


# ------------------------------------------------------------------ rendering

_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~])")
_MD_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
_MD_BLOCK_START = re.compile(r"^([#+\-=>])")
_MD_ORDERED = re.compile(r"^(\d{1,9})([.)])")


def md_escape(text: str) -> str:
    """Plain text as Markdown that renders as that text: no links, images, emphasis, code, raw HTML, entities
    or block markers can come out of it."""
    lines = []
    for line in text.split("\n"):
        line = _MD_INLINE.sub(r"\\\1", line.strip())
        line = _MD_ENTITY.sub(r"\\&", line)
        line = _MD_BLOCK_START.sub(r"\\\1", line)
        line = _MD_ORDERED.sub(r"\1\\\2", line)
        lines.append(line)
    return "\n".join(lines)


def to_markdown(letter: CoverLetter) -> str:
    blocks = []
    if letter.sender_name:
        blocks.append(md_escape(letter.sender_name))
    if letter.recipient:
        blocks.append("\\\n".join(md_escape(line) for line in letter.recipient))
    blocks.append(md_escape(letter.date))
    blocks.append(f"**{md_escape(letter.subject)}**")
    blocks.append(md_escape(letter.salutation))
    blocks += [md_escape(p) for p in letter.paragraphs]
    blocks.append(md_escape(letter.closing) + ("\\\n" + md_escape(letter.sender_name) if letter.sender_name else ""))
    return "\n\n".join(blocks) + "\n"


def to_docx(letter: CoverLetter) -> bytes:
    """A Word document (.docx) of the letter."""
    document = Document()
    style = document.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(11)
    props = document.core_properties
    props.author = letter.sender_name or ""
    props.last_modified_by = ""
    props.title = letter.subject
    props.comments = ""
    props.keywords = ""
    props.subject = ""
    if letter.sender_name:
        document.add_paragraph(letter.sender_name)
    if letter.recipient:
        recipient = document.add_paragraph()
        for i, line in enumerate(letter.recipient):
            run = recipient.add_run(line)
            if i < len(letter.recipient) - 1:
                run.add_break()
    document.add_paragraph(letter.date)
    document.add_paragraph().add_run(letter.subject).bold = True
    document.add_paragraph(letter.salutation)
    for paragraph in letter.paragraphs:
        document.add_paragraph(paragraph)
    closing = document.add_paragraph(letter.closing)
    if letter.sender_name:
        closing.add_run().add_break()
        closing.add_run(letter.sender_name)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})


def download_name(title: str, extension: str) -> str:
    """``Anschreiben_<title>.<ext>``: ASCII letters, digits, ``-`` and ``_`` only (safe in any header)."""
    folded = unicodedata.normalize("NFKD", clean_text(title, one_line=True).translate(_FOLD))
    ascii_only = folded.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_only).strip("-")[:60].strip("-")
    return f"Anschreiben_{slug or 'Stelle'}.{extension}"
