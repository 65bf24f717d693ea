"""Posting summaries: short German notes per posting, by the LLM or, offline, extracted from the description.

The shape (the ``summary`` jsonb of ``posting_summaries``; every field optional, never invented)::

    {"tasks": [...], "requirements": [...], "working_time": "Vollzeit, Teilzeit" | None,
     "contract": "unbefristet" | None, "salary": "3.200 € brutto im Monat" | None, "remote": "..." | None}

**Where each field comes from.** Working time and contract come from the BA's own fields of the posting (its
``facts``: ``arbeitszeitmodelle``, ``befristung``) in German words whenever they are there, the salary from
``facts['verguetung']`` when the BA has one, and remote work from the ``HEIM_TELEARBEIT`` working-time model; only
what the facts do not give is asked of the LLM (:func:`summary_schema` is built per posting), so its answer (the
tokens that cost GPU time) holds just what needs reading: the tasks, the requirements and, where the facts are
silent, salary, remote work, working time and contract.

**Never invented** (:func:`check_answer`, after the JSON schema): a salary whose numbers do not all occur in the
description or facts (a salary without numbers: none of its words do) makes the posting ``error`` ("invented
salary"); so does a remote statement where neither the text nor the facts mention remote work (Homeoffice, mobiles
Arbeiten, remote, Telearbeit, hybrid, ``HEIM_TELEARBEIT``), a working time whose words (Vollzeit, Teilzeit, ...) the
text does not contain, and a contract the text does not state (``unbefristet`` needs "unbefristet", ``befristet`` a
"befristet" that is not "unbefristet"). A salary's numbers count only where they stand in a sentence about pay (a
salary or currency word: "40 Stunden" or "10115 Berlin" do not support "40 € pro Stunde"). Remote work or a working
time that the text states only the other way round (a sentence with nicht/kein.../leider/ohne: "Homeoffice ist
leider nicht möglich"), and a contract where the text says both "befristet" and "unbefristet", are dropped (None,
not an error): the text does not settle them, the BA's facts still win. Tasks and requirements are
paraphrases, so their rule is looser and cheap: an item is supported when at least half of its content words (4+
letters, not a stop word) share their first five letters with a word of the description or title (German
inflection: "Bewirtschaftung" ~ "bewirtschaften");
unsupported items are dropped, and when more than half of all items are unsupported the posting is ``error``
("invented tasks/requirements"): a model that makes things up is not trusted for the rest either.

**The LLM's input**: the description is data in a fenced block (the system prompt says so; the fence strings are
removed from the text), at most ``description_chars`` characters taken so that each section (Aufgaben, Profil, Wir
bieten, ...) keeps its start: lines are taken round-robin over the sections (:func:`description_excerpt`).

**Offline** (:func:`extractive_summary`): the first list items or sentences of the tasks and requirements sections
(German headings as the BA's descriptions write them after ``ba.html_to_text``: a line of its own such as
"Ihre Aufgaben:", list items as "- ..."), working time and contract from the facts, the salary only from
``facts['verguetung']`` or a line that plainly states an amount (a number, a currency and a word like Gehalt,
Vergütung, brutto), remote only where a line states it. String methods and one linear regex; bounded work on any
input (the first :data:`MAX_INPUT_CHARS` characters and :data:`MAX_LINES` lines are read; a 50 KB hostile
description takes a few milliseconds, tests/ty_resources/test_summaries.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from ty_resources.ollama import InvalidAnswer, OllamaClient, OllamaError
from ty_resources.prompts import load_prompt

EXTRACTIVE = "extractive"
EXTRACTIVE_VERSION = "extractive@1"
PROMPT_NAME = "posting_summary"

MAX_ITEMS = 5
MAX_ITEM_CHARS = 120  # an item (the prompt asks for 3 items of 6 words; the schema allows 5); extractive ones are cut
MAX_VALUE_CHARS = 120  # salary, remote, working time, contract
MAX_INPUT_CHARS = 100_000  # what any function here reads of a description
MAX_LINES = 600  # the lines read of a description, empty ones included (real ones have well under 200)
MAX_FACT_CHARS = 200  # a fact's string value (verguetung) is used up to this length

WORKING_TIME_WORDS = {
    "VOLLZEIT": "Vollzeit",
    "TEILZEIT": "Teilzeit",
    "SCHICHT_NACHTARBEIT_WOCHENENDE": "Schicht-, Nacht- oder Wochenendarbeit",
    "MINIJOB": "Minijob",
    "NACHTARBEIT": "Nachtarbeit",
    "WOCHENENDE": "Wochenendarbeit",
}
REMOTE_MODEL = "HEIM_TELEARBEIT"
CONTRACT_WORDS = {"BEFRISTET": "befristet", "UNBEFRISTET": "unbefristet"}
REMOTE_WORDS = ("homeoffice", "home-office", "home office", "mobiles arbeiten", "mobile arbeit", "mobil arbeiten",
                "remote", "telearbeit", "heimarbeit", "hybrid", "von zu hause", "von zuhause")
TIME_WORDS = ("vollzeit", "teilzeit", "minijob", "schicht", "nacht", "wochenend", "gleitzeit", "geringfügig",
              "stunden", "std", "midijob", "aushilfe")
SALARY_WORDS = ("gehalt", "vergütung", "verguetung", "brutto", "lohn", "entgelt", "verdienst", "tarif", "tvöd",
                "tv-l", "bezahlung", "jahresgehalt", "monatsgehalt")
CURRENCY_WORDS = ("€", "eur", "euro")
STOP_WORDS = frozenset(
    "und oder sowie mit ohne für von vom zum zur den dem der die das des ein eine einer eines einem einen auf aus "
    "bei nach über unter durch gegen sind sein ihre ihren ihrem ihrer ihr sie wir uns unser unsere unseren dich "
    "dein deine sich auch sehr gute guter gutes gern gerne erste ersten wünschenswert von vorteil bzw".split()
)

# (kind, words a heading line contains): the first kind whose word occurs wins
HEADING_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("offers", ("wir bieten", "bieten wir", "bieten ihnen", "bieten dir", "benefits", "ihre vorteile",
                "deine vorteile", "unser angebot", "was dich erwartet bei uns")),
    ("requirements", ("profil", "anforderung", "qualifikation", "bringen sie mit", "bringst du mit", "mitbringen",
                      "voraussetzung", "wir erwarten", "was wir erwarten", "wen wir suchen",
                      "das zeichnet sie aus", "das zeichnet dich aus")),
    ("tasks", ("aufgaben", "tätigkeit", "taetigkeit", "erwartet sie", "erwartet dich", "ihr job", "dein job",
               "ihre rolle", "deine rolle", "verantwortung", "was sie tun", "was du tust", "stellenbeschreibung")),
    ("other", ("kontakt", "bewerbung", "über uns", "wer wir sind", "arbeitgeber", "standort")),
)
HEADING_OPENERS = frozenset(
    "ihr ihre dein deine das was wir unser unsere aufgaben aufgabe anforderungen profil qualifikation "
    "qualifikationen benefits tätigkeiten tätigkeit voraussetzungen stellenbeschreibung vorteile wen "
    "arbeitgeberleistungen kontakt".split()
)
LIST_MARKERS = ("- ", "• ", "* ", "– ", "· ", "▪ ", "o ")
FENCE_STRINGS = ("<<<", ">>>")

# A number as Germans write amounts: 3.200 / 3 200 / 54.000,00 / 14,50 (each step consumes a fixed class, so no
# backtracking: linear on any input).
_NUMBER = re.compile(r"\d+(?:[. \u00a0\u202f]\d{3})*(?:,\d+)?")
_SENTENCE_END = re.compile(r"[.!?;]\s")  # one character class and one \s: linear
NEGATION_WORDS = frozenset(("nicht", "leider", "ohne"))  # and every word starting with "kein"


# ------------------------------------------------------------------------------------------------ the data


@dataclass(frozen=True)
class SummaryInput:
    refnr: str
    title: str
    description: str | None
    facts: Mapping[str, Any] | None


@dataclass(frozen=True)
class SummaryOutcome:
    refnr: str
    status: Literal["ok", "error", "skipped"]
    summary: dict[str, Any] | None
    error: str | None = None


FACT_KEYS = ("arbeitszeitmodelle", "befristung", "verguetung")  # the facts a summary reads


def _read_facts(facts: Mapping[str, Any] | None) -> dict[str, Any]:
    """The facts a summary reads, in bounded, checked shapes (anything else is ignored)."""
    out: dict[str, Any] = {}
    if not isinstance(facts, Mapping):
        return out
    models = facts.get("arbeitszeitmodelle")
    if isinstance(models, list):
        out["arbeitszeitmodelle"] = [m for m in models[:20] if isinstance(m, str) and len(m) <= 60]
    if isinstance(facts.get("befristung"), str) and len(facts["befristung"]) <= 60:
        out["befristung"] = facts["befristung"]
    pay = facts.get("verguetung")
    if isinstance(pay, str) and pay.strip():
        out["verguetung"] = " ".join(pay.split())[:MAX_FACT_CHARS]
    return out


def source_hash(item: SummaryInput) -> str:
    """SHA-256 (hex) of what a summary reads: title, description and the facts of :data:`FACT_KEYS`."""
    payload = {"title": item.title, "description": item.description or "", "facts": _read_facts(item.facts)}
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def _has_description(item: SummaryInput) -> bool:
    return bool(item.description and item.description.strip())


# ------------------------------------------------------------------------------------------- the facts


def facts_fields(facts: Mapping[str, Any] | None) -> dict[str, str]:
    """What the BA's facts say, in German words: working_time, contract, salary, remote (only those stated)."""
    known = _read_facts(facts)
    out: dict[str, str] = {}
    models = known.get("arbeitszeitmodelle") or []
    words = [WORKING_TIME_WORDS.get(m, m.replace("_", " ").capitalize()) for m in models if m != REMOTE_MODEL]
    if words:
        out["working_time"] = ", ".join(dict.fromkeys(words))[:MAX_VALUE_CHARS]
    if REMOTE_MODEL in models:
        out["remote"] = "Heim- oder Telearbeit möglich"
    contract = CONTRACT_WORDS.get(known.get("befristung") or "")
    if contract:
        out["contract"] = contract
    if "verguetung" in known:
        out["salary"] = known["verguetung"][:MAX_VALUE_CHARS]
    return out


# -------------------------------------------------------------------------------------- the description


def _clean_line(line: str) -> str:
    return " ".join(line.split())


def _list_item(line: str) -> str | None:
    """The item text of a list line ("- Text", "• Text"), else None."""
    for marker in LIST_MARKERS:
        if line.startswith(marker):
            return line[len(marker):].strip()
    return None


def heading_kind(line: str) -> str | None:
    """The section a heading line opens (tasks, requirements, offers, other), or None for a line that is not a
    heading. A heading is short and not a list item: a line ending with a colon (its kind from the words it
    contains, else "other"), or a line of at most five words that starts like a heading ("Ihre Aufgaben",
    "Das bieten wir") and names a known section."""
    if len(line) > 80 or _list_item(line) is not None:
        return None
    lower = line.lower()
    words = lower.split()
    colon = lower.endswith(":")
    if not (colon and len(words) <= 8) and not (len(words) <= 5 and words[0].strip("*#") in HEADING_OPENERS):
        return None
    for kind, phrases in HEADING_KINDS:
        if any(phrase in lower for phrase in phrases):
            return kind
    return "other" if colon else None


@dataclass
class Section:
    kind: str  # intro, tasks, requirements, offers, other
    heading: str | None
    lines: list[str]


def split_sections(description: str) -> list[Section]:
    """The description's sections: the lines before the first heading (kind "intro"), then one per heading."""
    text = description[:MAX_INPUT_CHARS]
    sections = [Section("intro", None, [])]
    for raw in text.splitlines()[:MAX_LINES]:
        line = _clean_line(raw)
        if not line:
            continue
        kind = heading_kind(line)
        if kind is not None:
            sections.append(Section(kind, line, []))
        else:
            sections[-1].lines.append(line)
    return [s for s in sections if s.heading is not None or s.lines]


def _cut(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters ("…" marks a cut)."""
    if len(text) <= limit:
        return text
    head = text[: max(0, limit - 1)]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:-") + "…"


def _strip_fences(text: str) -> str:
    for fence in FENCE_STRINGS:
        text = text.replace(fence, " ")
    return text


def description_excerpt(description: str, limit: int) -> str:
    """At most ``limit`` characters of the description so that every section keeps its start: the lines are
    taken round-robin over the sections (heading first), a line that no longer fits is cut at a word, and a
    section stops at the first line that does not fit."""
    sections = split_sections(_strip_fences(description))
    taken: list[list[str]] = [[] for _ in sections]
    queue = [[i, 0] for i in range(len(sections))]  # section index, next line (-1 = its heading first)
    for entry in queue:
        if sections[entry[0]].heading is not None:
            entry[1] = -1
    budget = limit
    while queue and budget > 0:
        still: list[list[int]] = []
        for entry in queue:
            index, position = entry
            section = sections[index]
            line = section.heading if position == -1 else section.lines[position] if position < len(
                section.lines) else None
            if line is None or budget <= 0:
                continue
            cost = len(line) + 1
            if cost <= budget:
                taken[index].append(line)
                budget -= cost
                entry[1] += 1
                still.append(entry)
            elif budget > 40:
                taken[index].append(_cut(line, budget - 1))
                budget = 0
        queue = still
    return "\n".join(line for lines in taken for line in lines)


def _sentences(text: str, limit: int) -> list[str]:
    """The first ``limit`` sentences of a text (split after ". ", "! ", "? "; bounded)."""
    out: list[str] = []
    rest = text[:5000]
    while rest and len(out) < limit:
        ends = [i for i in (rest.find(". "), rest.find("! "), rest.find("? ")) if i >= 0]
        end = min(ends) + 1 if ends else len(rest)
        sentence = rest[:end].strip()
        if len(sentence) > 2:
            out.append(sentence)
        rest = rest[end:].strip()
    return out


def _section_items(section: Section, limit: int = MAX_ITEMS) -> list[str]:
    """A section's first list items, or its first sentences when it has no list."""
    items = [item for line in section.lines if (item := _list_item(line))]
    if not items:
        items = _sentences(" ".join(section.lines[:20]), 3)
    return [_cut(item, MAX_ITEM_CHARS) for item in items[:limit] if item]


def _words(text: str) -> list[str]:
    """Lowercased words (letters only, split at anything else)."""
    out: list[str] = []
    word: list[str] = []
    for char in text.lower():
        if char.isalpha():
            word.append(char)
        elif word:
            out.append("".join(word))
            word = []
    if word:
        out.append("".join(word))
    return out


def _stated_line(description: str, test: Any) -> str | None:
    """The first short line (list marker removed) for which ``test(lowercased line)`` holds."""
    for raw in description[:MAX_INPUT_CHARS].splitlines()[:400]:
        line = _clean_line(raw)
        if not line or len(line) > 200:
            continue
        if test(line.lower()):
            return _cut(_list_item(line) or line, MAX_VALUE_CHARS)
    return None


def _states_salary(lower: str) -> bool:
    return (any(c.isdigit() for c in lower) and any(w in lower for w in CURRENCY_WORDS)
            and any(w in lower for w in SALARY_WORDS))


def _states_remote(lower: str) -> bool:
    return any(word in lower for word in REMOTE_WORDS)


def extractive_summary(item: SummaryInput) -> SummaryOutcome:
    """The offline summary (no LLM): 'skipped' without a description, else 'ok' with what the text states."""
    if not _has_description(item):
        return SummaryOutcome(item.refnr, "skipped", None)
    description = (item.description or "")[:MAX_INPUT_CHARS]
    sections = split_sections(description)
    summary: dict[str, Any] = {"tasks": [], "requirements": [], "working_time": None, "contract": None,
                               "salary": None, "remote": None}
    for kind in ("tasks", "requirements"):
        section = next((s for s in sections if s.kind == kind and s.lines), None)
        if section is not None:
            summary[kind] = _section_items(section)
    summary.update(facts_fields(item.facts))
    if summary["salary"] is None:
        summary["salary"] = _stated_line(description, _states_salary)
    if summary["remote"] is None:
        summary["remote"] = _stated_line(description, _states_remote)
    return SummaryOutcome(item.refnr, "ok", summary)


# -------------------------------------------------------------------------------------------- the LLM


def _nullable_text() -> dict[str, Any]:
    return {"type": ["string", "null"], "maxLength": MAX_VALUE_CHARS}


@cache
def _schema(fields: tuple[str, ...]) -> dict[str, Any]:
    items = {"type": "array", "maxItems": MAX_ITEMS,
             "items": {"type": "string", "minLength": 2, "maxLength": MAX_ITEM_CHARS}}
    properties: dict[str, Any] = {name: (items if name in ("tasks", "requirements") else _nullable_text())
                                  for name in fields}
    return {"type": "object", "properties": properties, "required": list(fields), "additionalProperties": False}


def asked_fields(facts: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The fields the LLM is asked for: tasks and requirements always, the rest where the facts are silent."""
    known = facts_fields(facts)
    return ("tasks", "requirements") + tuple(
        name for name in ("salary", "remote", "working_time", "contract") if name not in known)


def summary_schema(facts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON schema of the LLM's answer for a posting with these facts (strict: no other keys, bounded)."""
    return _schema(asked_fields(facts))


def _numbers(text: str) -> set[str]:
    """The amounts in ``text``, normalised: thousands separators dropped, ",00" dropped, trailing zeros of the
    decimals dropped (3.200 -> 3200, 54.000,00 -> 54000, 14,50 -> 14,5)."""
    out: set[str] = set()
    for match in _NUMBER.finditer(text[:MAX_INPUT_CHARS]):
        whole, _, decimals = match.group().partition(",")
        digits = "".join(c for c in whole if c.isdigit()).lstrip("0") or "0"
        decimals = decimals.rstrip("0")
        out.add(f"{digits},{decimals}" if decimals else digits)
    return out


def _prefixes(text: str) -> set[str]:
    return {word[:5] for word in _words(text) if len(word) >= 3}


def _supported(item: str, prefixes: set[str], lower_text: str) -> bool:
    content = [w for w in _words(item) if len(w) >= 4 and w not in STOP_WORDS]
    if not content:
        return item.strip().lower() in lower_text
    hits = sum(1 for w in content if w[:5] in prefixes)
    return hits * 2 >= len(content)


class InventedAnswer(ValueError):
    """The answer states something the posting does not."""


def _statements(text: str) -> list[str]:
    """The lowercased sentences of ``text``: its lines (the first :data:`MAX_LINES`), each split after ". ", "! ",
    "? " and "; " (one linear regex)."""
    out: list[str] = []
    for raw in text[:MAX_INPUT_CHARS].splitlines()[:MAX_LINES]:
        out.extend(part for part in _SENTENCE_END.split(raw.lower()) if part.strip())
    return out


def _negated(statement: str) -> bool:
    """Whether a sentence says no (nicht, kein..., leider, ohne)."""
    return any(word in NEGATION_WORDS or word.startswith("kein") for word in _words(statement))


def _polarity_supported(value: str, word: str, statements: Sequence[str]) -> bool:
    """Whether a sentence with ``word`` says what ``value`` says: yes for a value without a negation, no for a
    negated value ("kein Homeoffice")."""
    negated = _negated(value.lower())
    return any(word in s and _negated(s) == negated for s in statements)


def check_answer(item: SummaryInput, answer: Mapping[str, Any]) -> dict[str, Any]:
    """The summary from a schema-valid answer, or :class:`InventedAnswer` naming what the text does not say.

    A salary's numbers must stand in a sentence about pay (a salary or currency word) or in the BA's
    ``verguetung``. Remote work, a working time or a contract that the text mentions only the other way round (in
    a negated sentence: "Homeoffice ist leider nicht möglich", "Teilzeit ist nicht möglich"), or a contract where
    the text says both "befristet" and "unbefristet", is dropped (None): the text does not settle it."""
    description = (item.description or "")[:MAX_INPUT_CHARS]
    known = facts_fields(item.facts)
    pay_fact = _read_facts(item.facts).get("verguetung") or ""
    source = "\n".join([item.title, description, pay_fact])
    lower = source.lower()
    statements = _statements(source)
    dropped_fields: set[str] = set()
    salary = answer.get("salary")
    if isinstance(salary, str) and salary.strip():
        numbers = _numbers(salary)
        if numbers:
            pay = [s for s in statements if any(w in s for w in SALARY_WORDS + CURRENCY_WORDS)]
            missing = numbers - _numbers("\n".join([*pay, pay_fact]))
            if missing:
                raise InventedAnswer(f"invented salary {salary!r}: {', '.join(sorted(missing))} not stated as pay "
                                     "in the posting")
        elif not _supported(salary, _prefixes(source), lower):
            raise InventedAnswer(f"invented salary {salary!r}: the posting states no such pay")
    remote = answer.get("remote")
    if isinstance(remote, str) and remote.strip() and "remote" not in known:
        if not _states_remote(lower):
            raise InventedAnswer(f"invented remote work {remote!r}: the posting does not mention it")
        if not any(_polarity_supported(remote, word, statements) for word in REMOTE_WORDS):
            dropped_fields.add("remote")
    working_time = answer.get("working_time")
    if isinstance(working_time, str) and working_time.strip():
        value = working_time.lower()
        named = [w for w in TIME_WORDS if w in value]
        if not named and not _supported(working_time, _prefixes(source), lower):
            raise InventedAnswer(f"invented working time {working_time!r}")
        if any(w not in lower for w in named):
            raise InventedAnswer(f"invented working time {working_time!r}: the posting does not say so")
        if not all(_polarity_supported(working_time, w, statements) for w in named):
            dropped_fields.add("working_time")
    contract = answer.get("contract")
    if isinstance(contract, str) and contract.strip():
        value = contract.lower()
        fixed_term = lower.replace("unbefristet", "").find("befristet") >= 0
        if "unbefristet" in value:
            stated = "unbefristet" in lower
        elif "befristet" in value:
            stated = fixed_term
        else:
            stated = _supported(contract, _prefixes(source), lower)
        if not stated:
            raise InventedAnswer(f"invented contract {contract!r}: the posting does not say so")
        if fixed_term and "unbefristet" in lower:
            dropped_fields.add("contract")
    prefixes = _prefixes(source)
    summary: dict[str, Any] = {}
    total = dropped = 0
    for kind in ("tasks", "requirements"):
        kept: list[str] = []
        for raw in answer.get(kind) or []:
            text = " ".join(str(raw).split())
            if not text:
                continue
            total += 1
            if _supported(text, prefixes, lower):
                if text not in kept:
                    kept.append(text)
            else:
                dropped += 1
        summary[kind] = kept[:MAX_ITEMS]
    if total and dropped * 2 > total:
        raise InventedAnswer(f"invented tasks/requirements: {dropped} of {total} items share no words with the posting")
    for name in ("working_time", "contract", "salary", "remote"):
        given = answer.get(name)
        summary[name] = (" ".join(given.split()) if isinstance(given, str) and given.strip()
                         and name not in dropped_fields else None)
    summary.update(known)  # the BA's own fields win where it has them
    return summary


class LlmSummarizer:
    """Summaries through the LLM (structured output), ``workers`` requests in flight, one posting per request.

    One posting per request on purpose: every answer token is decoded either way, so packing postings saves only
    the fixed part of a request and the repeated system prompt, while one bad answer would fail the whole pack
    (docs/benchmarks.md, "Posting summaries").
    """

    def __init__(self, client: OllamaClient, *, workers: int, description_chars: int):
        if workers < 1 or description_chars < 1:
            raise ValueError("workers and description_chars must be positive")
        self.client = client
        self.workers = workers
        self.description_chars = description_chars
        self.prompt = load_prompt(PROMPT_NAME)
        self.model: str = client.llm_model
        self.prompt_version: str = self.prompt.version

    def messages(self, item: SummaryInput) -> list[dict[str, str]]:
        fields = asked_fields(item.facts)
        title = _strip_fences(" ".join(item.title.split()))[:300]
        return self.prompt.messages(title=title, fields=", ".join(fields),
                                    description=description_excerpt(item.description or "", self.description_chars))

    def _one(self, item: SummaryInput) -> SummaryOutcome:
        if not _has_description(item):
            return SummaryOutcome(item.refnr, "skipped", None)
        try:
            answer = self.client.chat_json(self.messages(item), summary_schema(item.facts))
            return SummaryOutcome(item.refnr, "ok", check_answer(item, answer))
        except InventedAnswer as exc:
            return SummaryOutcome(item.refnr, "error", None, str(exc)[:1000])
        except InvalidAnswer as exc:
            return SummaryOutcome(item.refnr, "error", None, f"invalid answer: {exc}"[:1000])
        except OllamaError as exc:
            return SummaryOutcome(item.refnr, "error", None, f"LLM call failed: {exc}"[:1000])
        except Exception as exc:  # noqa: BLE001 (one posting's failure must not fail the others)
            return SummaryOutcome(item.refnr, "error", None, f"{type(exc).__name__}: {exc}"[:1000])

    def summarize(self, items: Sequence[SummaryInput]) -> list[SummaryOutcome]:
        """One outcome per item, in order; never raises for one posting's failure."""
        items = list(items)
        if len(items) <= 1 or self.workers == 1:
            return [self._one(item) for item in items]
        with ThreadPoolExecutor(min(self.workers, len(items)), thread_name_prefix="ty-summary") as pool:
            return list(pool.map(self._one, items))


def summarize_offline(items: Iterable[SummaryInput]) -> list[SummaryOutcome]:
    """:func:`extractive_summary` for each item."""
    return [extractive_summary(item) for item in items]
