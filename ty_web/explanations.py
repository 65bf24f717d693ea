"""Why a match fits the job seeker and what is missing: a few German sentences, through the LLM when one is
configured, else from a template.

:func:`compose_explanation` builds a :class:`MatchExplanation` from :class:`ExplanationFacts`: the profile's
professional facts (desired professions, work history titles, skills, summary, Länder, levels), the posting's
title, label and summary (tasks, requirements, working time, contract, salary, remote work), and the facts of the
match's score (:class:`~ty_web.services.matches.MatchReasons`: profession fit, similarity, region, level). The
LLM (``chat_json`` of :class:`~ty_resources.ollama.OllamaClient`: the prompt
``ty_resources/prompts/match_explanation.toml``, temperature 0, :data:`EXPLANATION_SCHEMA`) writes the sentences
when ``OLLAMA_HOST`` is set; a failed or unusable answer falls back to :func:`template_sentences`, and the
explanation says why (``fallback_reason``). The LLM never sees the user's name, e-mail or contact data: the
facts hold none.

Everything from outside (posting texts, summaries, profile texts, the LLM's answer) is plain text, cleaned by
:func:`ty_web.cover_letter.clean_text` (tags dropped, control characters removed, sizes bounded); the pages
escape it. :func:`explanation_key` identifies a kept LLM explanation: its facts, the model and the prompt's
version, so a changed profile, posting, model or prompt makes a new one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ty_resources.ollama import ChatJson, InvalidAnswer, OllamaError
from ty_resources.prompts import load_prompt
from ty_web.cover_letter import clean_text, german_list

EXPLANATION_PROMPT = load_prompt("match_explanation")
TEMPLATE_VERSION = "match_explanation_template@1"  # bump when the template's wording changes

MAX_SENTENCE_CHARS = 400
MIN_ANSWER_CHARS = 30
MAX_ITEMS = 5  # tasks, requirements
MAX_SKILLS = 30
MAX_POSITIONS = 5
SUMMARY_CHARS = 1200
LEVEL_NAMES = {1: "Helfer", 2: "Fachkraft", 3: "Spezialist", 4: "Experte"}

_SENTENCES: dict[str, Any] = {
    "type": "array", "items": {"type": "string", "minLength": 1, "maxLength": MAX_SENTENCE_CHARS},
}
# What the LLM must answer.
EXPLANATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "fits": {**_SENTENCES, "minItems": 1, "maxItems": 3},
        "missing": {**_SENTENCES, "minItems": 0, "maxItems": 3},
    },
    "required": ["fits", "missing"],
    "additionalProperties": False,
}

# Why the template stood in for a configured LLM: it failed, answered nothing usable, or was busy (too many LLM
# calls in flight, or this match's explanation already being written: ty_web.services.matches.llm_turn).
FallbackReason = Literal["llm_unavailable", "llm_invalid_answer", "llm_busy"]



class ExplanationRejected(ValueError):
    """The LLM answered in the schema, but no usable explanation."""


@dataclass(frozen=True)
class ExplanationFacts:
    """What an explanation is written from (raw: cleaned by :func:`compose_explanation`). Nothing that names or
    reaches the user."""

    posting_title: str
    state: str
    city: str | None = None
    profession: str | None = None  # the posting's label
    level: int | None = None
    tasks: Sequence[str] = ()
    requirements: Sequence[str] = ()
    working_time: str | None = None
    contract: str | None = None
    salary: str | None = None
    remote: str | None = None
    desired_professions: Sequence[str] = ()
    positions: Sequence[str] = ()  # work history titles, most recent first
    skills: Sequence[str] = ()
    summary: str | None = None
    states: Sequence[str] = ()
    levels: Sequence[int] = ()
    # the match's score (ty_web.services.matches.MatchReasons)
    fit: str | None = None
    fit_source: str | None = None
    fit_name: str | None = None
    similarity: float | None = None
    in_states: bool = False
    level_wanted: bool | None = None


class MatchExplanation(BaseModel):
    """Why a match fits and what is missing, in German sentences; ``kind`` says who wrote them (``llm`` or
    ``template``), ``fallback_reason`` why the template stood in for a configured LLM."""

    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)

    kind: Literal["llm", "template"]
    model: str | None = Field(description="The LLM that wrote it (null: the template).")
    prompt_version: str = Field(description="The prompt's version (`match_explanation@1:<sha8>`), or the "
                                            "template's.")
    fallback_reason: FallbackReason | None = Field(
        default=None, description="Why the LLM's explanation was not used although an LLM is configured.")
    fits: list[str] = Field(description="Why the posting fits you: one to three sentences.")
    missing: list[str] = Field(description="What the posting asks for that your profile lacks (may be empty).")
    text: str = Field(description="All the sentences as one paragraph (plain text).")
    made_at: datetime


def explanation_key(facts: ExplanationFacts, model: str) -> str:
    """What identifies a kept LLM explanation: the sha256 of its facts, the model and the prompt's version."""
    data: dict[str, Any] = dataclasses.asdict(facts)
    data["_model"], data["_prompt_version"] = model, EXPLANATION_PROMPT.version
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


# ------------------------------------------------------------------ cleaning


def _line(value: str | None, max_chars: int = 200) -> str | None:
    return clean_text(value, max_chars, one_line=True) or None


def _lines(values: Sequence[str], limit: int, max_chars: int = 200) -> list[str]:
    cleaned = (clean_text(v, max_chars, one_line=True) for v in list(values)[:limit])
    return list(dict.fromkeys(v for v in cleaned if v))


def _clean_facts(facts: ExplanationFacts) -> ExplanationFacts:
    return dataclasses.replace(
        facts,
        posting_title=_line(facts.posting_title) or "die Stelle", state=_line(facts.state, 100) or "",
        city=_line(facts.city, 100), profession=_line(facts.profession),
        tasks=_lines(facts.tasks, MAX_ITEMS, 300), requirements=_lines(facts.requirements, MAX_ITEMS, 300),
        working_time=_line(facts.working_time), contract=_line(facts.contract), salary=_line(facts.salary),
        remote=_line(facts.remote), desired_professions=_lines(facts.desired_professions, 20),
        positions=_lines(facts.positions, MAX_POSITIONS), skills=_lines(facts.skills, MAX_SKILLS, 100),
        summary=clean_text(facts.summary, SUMMARY_CHARS, one_line=True) or None,
        states=_lines(facts.states, 20, 100), fit_name=_line(facts.fit_name),
    )


# ------------------------------------------------------------------ the template


def _percent(value: float) -> str:
    return f"{round(value * 100)} %"


def _found_skills(facts: ExplanationFacts) -> list[str]:
    """The profile's skills the posting names (in its title, tasks or requirements): plain substring tests."""
    haystack = " ".join([facts.posting_title, *facts.tasks, *facts.requirements]).casefold()
    return [s for s in facts.skills if len(s) >= 3 and s.casefold() in haystack]


def _open_requirements(facts: ExplanationFacts) -> list[str]:
    """The posting's requirements none of the profile's skills, professions or positions appear in (or the
    other way round)."""
    known = [k.casefold() for k in (*facts.skills, *facts.desired_professions, *facts.positions) if len(k) >= 3]
    open_ = []
    for requirement in facts.requirements:
        folded = requirement.casefold()
        if not any(k in folded or folded in k for k in known):
            open_.append(requirement)
    return open_


def template_sentences(facts: ExplanationFacts) -> tuple[list[str], list[str]]:
    """Why it fits and what is missing, without the LLM: from the match's score facts, the posting's summary
    and the profile."""
    fits: list[str] = []
    missing: list[str] = []
    source = "den Sie suchen" if facts.fit_source != "work_history" else "den Sie schon ausgeübt haben"
    name = facts.fit_name or "einem Ihrer Berufe"
    if facts.fit == "same_profession":
        fits.append(f"Die Stelle gehört zum Beruf {name}, {source}.")
    elif facts.fit == "same_kldb5":
        fits.append(f"Die Stelle gehört zur selben Berufsgattung wie {name}, {source}.")
    elif facts.fit == "same_kldb3":
        fits.append(f"Die Stelle gehört zur selben Berufsgruppe wie {name}, {source}.")
    elif facts.fit == "similar_profession":
        what = f"Der Beruf der Stelle ({facts.profession})" if facts.profession else "Der Beruf der Stelle"
        fits.append(f"{what} ist mit {name} verwandt, {source}.")
    elif facts.profession:
        missing.append(f"Die Stelle gehört zum Beruf {facts.profession}, der keinem Ihrer Berufe entspricht.")
    else:
        missing.append("Die Stelle ist noch keinem Beruf zugeordnet.")
    found = _found_skills(facts)
    if found:
        fits.append(f"Die Anzeige nennt Kenntnisse, die Sie mitbringen: {german_list(found[:4])}.")
    open_ = _open_requirements(facts)
    if open_:
        quoted = [f"„{r}“" for r in open_[:2]]
        missing.append(f"Die Anzeige verlangt außerdem {german_list(quoted)}; Ihr Profil nennt das nicht.")
    if facts.state and facts.states:
        if facts.in_states:
            fits.append(f"Sie liegt in {facts.state}, einem der Bundesländer Ihres Profils.")
        else:
            missing.append(f"Sie liegt in {facts.state}, außerhalb der Bundesländer Ihres Profils.")
    if facts.level and facts.level_wanted is not None:
        level = LEVEL_NAMES.get(facts.level, str(facts.level))
        if facts.level_wanted:
            fits.append(f"Das Anforderungsniveau {level} entspricht Ihrer Wahl.")
        else:
            missing.append(f"Das Anforderungsniveau {level} gehört nicht zu den Niveaus Ihres Profils.")
    if not fits:
        similar = f" (zu {_percent(facts.similarity)})" if facts.similarity is not None else ""
        fits.append(f"Die Anzeige ähnelt Ihrem Profil{similar}: Ihre Berufe, Erfahrungen und Kenntnisse "
                    "kommen ihr am nächsten.")
    return fits[:3], missing[:3]


# ------------------------------------------------------------------ the LLM


def llm_messages(facts: ExplanationFacts) -> list[dict[str, str]]:
    """The German prompt (:data:`EXPLANATION_PROMPT`): the profile's professional facts (no name, no contact
    data), the posting's title, label and summary, the match's score facts."""
    profile = []
    if facts.desired_professions:
        profile.append(f"Gesuchte Berufe: {', '.join(facts.desired_professions)}")
    if facts.positions:
        profile.append(f"Berufserfahrung (neueste zuerst): {'; '.join(facts.positions)}")
    if facts.skills:
        profile.append(f"Kenntnisse: {', '.join(facts.skills)}")
    if facts.summary:
        profile += ["Kurzprofil:", '"""', facts.summary, '"""']
    if facts.states:
        profile.append(f"Gewünschte Bundesländer: {', '.join(facts.states)}")
    if facts.levels:
        profile.append("Gewünschte Anforderungsniveaus: "
                       + ", ".join(LEVEL_NAMES.get(level, str(level)) for level in facts.levels))
    posting = [f"Titel: {facts.posting_title}", "Ort: " + ", ".join(x for x in (facts.city, facts.state) if x)]
    if facts.profession:
        posting.append(f"Beruf: {facts.profession}")
    if facts.level:
        posting.append(f"Anforderungsniveau: {LEVEL_NAMES.get(facts.level, facts.level)}")
    if facts.tasks:
        posting += ["Aufgaben:", *(f"- {t}" for t in facts.tasks)]
    if facts.requirements:
        posting += ["Anforderungen:", *(f"- {r}" for r in facts.requirements)]
    for label, value in (("Arbeitszeit", facts.working_time), ("Vertrag", facts.contract),
                         ("Gehalt", facts.salary), ("Homeoffice", facts.remote)):
        if value:
            posting.append(f"{label}: {value}")
    fit = {"same_profession": "derselbe Beruf wie", "same_kldb5": "dieselbe Berufsgattung wie",
           "same_kldb3": "dieselbe Berufsgruppe wie", "similar_profession": "ein verwandter Beruf zu"}
    source = {"desired": "gesuchter Beruf", "work_history": "aus der Berufserfahrung"}
    match = []
    if facts.fit in fit:
        match.append(f"Berufliche Passung: {fit[facts.fit]} {facts.fit_name or 'einem Beruf des Profils'}"
                     f" ({source.get(facts.fit_source or '', 'Profil')})")
    else:
        match.append("Berufliche Passung: keine; gewählt wegen der Ähnlichkeit der Texte")
    if facts.similarity is not None:
        match.append(f"Ähnlichkeit von Profil und Anzeige: {_percent(facts.similarity)}")
    if facts.states:
        match.append("Bundesland: " + ("im Profil gewünscht" if facts.in_states else "nicht im Profil gewünscht"))
    if facts.level_wanted is not None:
        match.append("Anforderungsniveau: " + ("im Profil gewünscht" if facts.level_wanted
                                                else "nicht im Profil gewünscht"))
    return EXPLANATION_PROMPT.messages(profile="\n".join(profile) or "(keine Angaben)", posting="\n".join(posting),
                                       match="\n".join(match))


def _sentences(raw: object) -> list[str]:
    if not isinstance(raw, list):
        raise ExplanationRejected("no list of sentences in the answer")
    cleaned = (clean_text(item if isinstance(item, str) else "", MAX_SENTENCE_CHARS, one_line=True)
               for item in raw[:3])
    return [s for s in cleaned if s]


def llm_sentences(chat_json: ChatJson, facts: ExplanationFacts) -> tuple[list[str], list[str]]:
    """The sentences as the LLM writes them; :class:`ExplanationRejected` when the answer is no usable one."""
    answer = chat_json(llm_messages(facts), EXPLANATION_SCHEMA)
    if not isinstance(answer, dict):
        raise ExplanationRejected("the answer is no object")
    fits, missing = _sentences(answer.get("fits")), _sentences(answer.get("missing", []))
    if not fits or sum(len(s) for s in fits) < MIN_ANSWER_CHARS:
        raise ExplanationRejected("the answer says nothing about why the posting fits")
    return fits, missing


def compose_explanation(facts: ExplanationFacts, chat_json: ChatJson | None = None,
                        model: str | None = None, *, busy: bool = False) -> MatchExplanation:
    """The explanation: the LLM's (of ``model``) when ``chat_json`` is given and answers usably, else the
    template's (``busy``: the LLM was not asked because it is busy; ``fallback_reason`` ``llm_busy``)."""
    facts = _clean_facts(facts)
    reason: FallbackReason | None = "llm_busy" if busy else None
    if chat_json is not None:
        try:
            fits, missing = llm_sentences(chat_json, facts)
            return MatchExplanation(kind="llm", model=model, prompt_version=EXPLANATION_PROMPT.version, fits=fits,
                                    missing=missing, text=" ".join(fits + missing), made_at=datetime.now(UTC))
        except (InvalidAnswer, ExplanationRejected):
            reason = "llm_invalid_answer"
        except OllamaError:
            reason = "llm_unavailable"
    fits, missing = template_sentences(facts)
    return MatchExplanation(kind="template", model=None, prompt_version=TEMPLATE_VERSION, fallback_reason=reason,
                            fits=fits, missing=missing, text=" ".join(fits + missing), made_at=datetime.now(UTC))
