"""The rules of the matches area, called by the API routes (:mod:`ty_web.routers.matches`) and the pages
(:mod:`ty_web.pages.matches`) alike: one copy of each.

- :func:`refresh`: recompute a user's matches; a profile with nothing to match on is **409**
  ``profile_incomplete``, an embedding service that fails is **502**.
- :func:`rate`: store a rating; 2 or less puts the posting's KldB 5-digit profession on the negative filter,
  rating the same match above 2 later takes off the entry that match's rating set.
- :func:`cover_letter`: the letter for a match: the LLM's kept letter when its facts are unchanged, else a new
  one from the LLM (counted against the ``cover_letter`` rate limit; the template stands in when the LLM
  fails), else the template's; :func:`letter_response` answers it as Markdown, Word or JSON with the
  ``X-Cover-Letter-*`` headers.
- :func:`reasons`: why a match was chosen, as facts a page puts into words (profession fit and where it came
  from, similarity, region, level).
- :func:`explanation`: a few German sentences on why a match fits and what is missing
  (:mod:`ty_web.explanations`): the LLM's kept explanation when its facts, model and prompt are unchanged, else
  a new one from the LLM (counted against the ``explanation`` rate limit; the template stands in when the LLM
  fails), else the template's.

Every function raises :class:`~ty_web.errors.ApiError`; a missing match, or another user's, is 404.

**LLM calls in flight** (:func:`llm_turn`): a web request calls the LLM for up to minutes while it holds a worker
thread, so the process lets at most :data:`WEB_LLM_CALLS` explanations and cover letters call it at once, and one
(user, match) only once at a time (per kind). A request that finds no free slot, or its match's explanation or
letter already being written, does not wait: it answers the template at once with ``fallback_reason`` ``llm_busy``
(not counted against the rate limit, not kept), and a repeat after the first is done gets the kept one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

import psycopg
from fastapi import Response

from ty_resources.database import Database
from ty_resources.embedders import Embedder
from ty_resources.ollama import ChatJson, OllamaError
from ty_resources.settings import Settings
from ty_web import cover_letter as letters
from ty_web import explanations
from ty_web.deps import count_for_user
from ty_web.errors import ApiError, not_found
from ty_web.matching import NothingToMatch, refresh_matches
from ty_web.queries import fetch_one
from ty_web.queries.matches import MatchQueries
from ty_web.queries.profiles import ProfileQueries
from ty_web.queries.summaries import summary_model
from ty_web.ratelimit import RateLimiter
from ty_web.schemas import CoverLetterOut, MatchExplanationOut, MatchOut, RateIn, RatingOut, RefreshOut

log = logging.getLogger("ty.web.matches")

LetterFormat = Literal["md", "docx", "json"]
# A rating at or below this puts the posting's profession on the negative filter.
SUPPRESS_AT_OR_BELOW = 2


# ------------------------------------------------------------------ refresh and rating


def refresh(db: Database, user_id: int, embedder: Embedder, settings: Settings) -> RefreshOut:
    """Recompute the user's matches (:func:`ty_web.matching.refresh_matches`): 409 ``profile_incomplete`` when
    the profile has nothing to match on, 502 when the embedding service fails."""
    try:
        result = refresh_matches(db, user_id, embedder, limit=settings.match_limit,
                                 candidates=settings.match_candidates, ef_search=settings.match_ef_search)
    except NothingToMatch as exc:
        raise ApiError(409, f"{exc}: fill in your profile first", code="profile_incomplete") from exc
    except OllamaError as exc:
        log.warning("embedding the profile failed", extra={"error": str(exc)[:300]})
        raise ApiError(502, "the embedding service is unavailable: try again later") from exc
    return RefreshOut(stored=result.stored, rated_kept=result.rated_kept, candidates=result.candidates,
                      search=result.search, model=result.model, took_ms=round(result.took_ms, 1),
                      computed_at=result.computed_at)


def rate(conn: psycopg.Connection, user_id: int, match_id: int, body: RateIn, settings: Settings) -> RatingOut:
    """Rate one of the user's matches (a second rating replaces the first); 404 when it is not theirs.
    A rating of 2 or less suppresses the posting's profession (unlabelled postings have none); a rating above 2
    lifts the suppression this match's own rating set."""
    matches = MatchQueries(conn, user_id, summary_model(settings))
    rated = matches.rate(match_id, body.rating, body.feedback, body.decision)
    if rated is None:
        raise not_found("match")
    kldb_code = rated["kldb_code"]
    if body.rating <= SUPPRESS_AT_OR_BELOW and kldb_code:
        matches.suppress(kldb_code, match_id)
    elif body.rating > SUPPRESS_AT_OR_BELOW:
        matches.lift_suppression_of(match_id)
    match = matches.match(match_id)
    assert match is not None
    return RatingOut(match=match, suppression=matches.suppression(kldb_code) if kldb_code else None)


def delete_suppression(conn: psycopg.Connection, user_id: int, kldb_code: str) -> None:
    """Take a profession off the user's negative filter; 404 when it is not on it."""
    if not MatchQueries(conn, user_id).delete_suppression(kldb_code):
        raise not_found("suppression")


# ------------------------------------------------------------------ why a match was chosen


@dataclass(frozen=True)
class MatchReasons:
    """Why a match was chosen, as facts: a page puts them into words.

    ``fit``: how the posting's profession fits one of the user's (``same_profession``, ``same_kldb5``,
    ``same_kldb3``, ``similar_profession``, None: not at all or unlabelled), ``fit_source`` where that
    profession came from (``desired``, ``work_history``), ``fit_name``/``fit_code`` which one it is.
    ``similarity``: 0-1. ``state``/``in_states``: the posting's Land and whether it is one of the profile's.
    ``level``/``level_wanted``: the posting's Anforderungsniveau and whether the profile asks for it (None:
    the profile names no level)."""

    fit: str | None
    fit_source: str | None
    fit_name: str | None
    fit_code: str | None
    similarity: float | None
    state: str
    in_states: bool
    level: int | None
    level_wanted: bool | None


def _fit_profession(conn: psycopg.Connection, via: str | None) -> tuple[str | None, str | None]:
    """The name and KldB code of the user's profession a fit names (a BERUFENET id or a KldB code)."""
    if not via:
        return None, None
    if "-" in via:
        row = fetch_one(conn, "SELECT name, kldb_code FROM professions WHERE berufenet_id = %(id)s", {"id": via})
        return (row["name"], row["kldb_code"]) if row else (None, None)
    row = fetch_one(conn, "SELECT title FROM kldb_codes WHERE code = %(code)s", {"code": via})
    return (row["title"] if row else None), via


def reasons(conn: psycopg.Connection, user_id: int, match: MatchOut) -> MatchReasons:
    """Why ``match`` (one of the user's) was chosen, from its stored components and the profile."""
    profile = ProfileQueries(conn, user_id).profile()
    components = match.components
    name, code = _fit_profession(conn, components.fit_via) if components.fit_reason else (None, None)
    similarity = components.similarity
    level = match.posting.level
    return MatchReasons(
        fit=components.fit_reason, fit_source=components.fit_source, fit_name=name, fit_code=code,
        similarity=None if similarity is None else min(max(similarity, 0.0), 1.0),
        state=match.posting.state, in_states=match.posting.state in profile.states,
        level=level, level_wanted=(level in profile.levels) if profile.levels and level is not None else None,
    )


# ------------------------------------------------------------------ explanations


def explanation_facts(conn: psycopg.Connection, user_id: int, match: MatchOut) -> explanations.ExplanationFacts:
    """What the explanation of ``match`` (one of the user's) is written from: the profile's professional facts
    (no name, no contact data), the posting's title, label and summary, the match's score facts."""
    profile = ProfileQueries(conn, user_id).profile()
    why = reasons(conn, user_id, match)
    summary = match.summary
    return explanations.ExplanationFacts(
        posting_title=match.posting.title, state=match.posting.state, city=match.posting.city,
        profession=match.posting.profession_name, level=match.posting.level,
        tasks=summary.tasks if summary else (), requirements=summary.requirements if summary else (),
        working_time=summary.working_time if summary else None, contract=summary.contract if summary else None,
        salary=summary.salary if summary else None, remote=summary.remote if summary else None,
        desired_professions=[p.name for p in profile.desired_professions],
        positions=MatchQueries(conn, user_id).positions(), skills=profile.skills, summary=profile.summary,
        states=profile.states, levels=profile.levels, fit=why.fit, fit_source=why.fit_source, fit_name=why.fit_name,
        similarity=why.similarity, in_states=why.in_states, level_wanted=why.level_wanted,
    )


# The web's LLM calls (explanations and cover letters together) in flight in this process: well under the
# threads a sync route runs on (AnyIO's default 40), so LLM work can never take them all.
WEB_LLM_CALLS = 8
_llm_slots = threading.BoundedSemaphore(WEB_LLM_CALLS)
_in_flight: set[tuple[str, int, int]] = set()  # (kind, user, match) whose LLM call runs now
_in_flight_lock = threading.Lock()


@contextmanager
def llm_turn(kind: str, user_id: int, match_id: int) -> Iterator[bool]:
    """Whether this request may call the LLM for ``kind`` (explanation, cover_letter) of the user's match: a slot
    of :data:`WEB_LLM_CALLS` is free and no other request of this (kind, user, match) is calling it. Never waits;
    the slot and the mark are given back on exit."""
    key = (kind, user_id, match_id)
    with _in_flight_lock:
        mine = key not in _in_flight
        if mine:
            _in_flight.add(key)
    slots = _llm_slots
    slot = mine and slots.acquire(blocking=False)
    try:
        yield slot
    finally:
        if slot:
            slots.release()
        if mine:
            with _in_flight_lock:
                _in_flight.discard(key)


class _LlmOutput(Protocol):
    @property
    def fallback_reason(self) -> str | None: ...


Made = TypeVar("Made", bound=_LlmOutput)
# What each kind of kept LLM output is called in a 429's message.
_COUNTED_AS = {"explanation": "new explanations", "cover_letter": "new cover letters"}


def write_with_llm(kind: Literal["explanation", "cover_letter"], user_id: int, match_id: int, settings: Settings,
                   limiter: RateLimiter, write: Callable[[ChatJson], Made],
                   busy: Callable[[], Made]) -> Made:
    """One LLM output of ``kind`` for the user's match: ``write`` with the LLM when :func:`llm_turn` gives this
    request the turn (counted against the ``kind`` rate limit first: 429), else ``busy()`` at once (the template,
    ``llm_busy``: not counted). Logs when the template stood in; the caller keeps the output unless it did."""
    with llm_turn(kind, user_id, match_id) as turn:
        if turn:
            count_for_user(limiter, kind, user_id, _COUNTED_AS[kind])
            with closing(letters.llm_client(settings)) as client:
                made = write(client.chat_json)
        else:
            made = busy()
    name = kind.replace("_", " ")
    if made.fallback_reason == "llm_busy":
        log.info(f"{name} from the template: the LLM is busy", extra={"match_id": match_id})
    elif made.fallback_reason:
        log.warning(f"{name} from the template: the LLM failed",
                    extra={"reason": made.fallback_reason, "match_id": match_id})
    return made


def explanation(db: Database, user_id: int, match_id: int, settings: Settings,
                limiter: RateLimiter) -> MatchExplanationOut:
    """Why one of the user's matches fits and what is missing; 404 when it is not theirs. With an LLM configured:
    its kept explanation when the facts, model and prompt are unchanged (free), else a new one, which counts
    against the ``explanation`` rate limit (429) and is kept unless the template stood in. Without an LLM: the
    template's (free, not kept). When the LLM is busy (:func:`llm_turn`), the template at once with
    ``fallback_reason`` ``llm_busy`` (not counted, not kept). No pooled connection is held while the LLM writes."""
    llm = bool(settings.ollama_hosts)
    with db.connection() as conn:  # given back before the LLM is asked
        matches = MatchQueries(conn, user_id, summary_model(settings))
        match = matches.match(match_id)
        if match is None:
            raise not_found("match")
        facts = explanation_facts(conn, user_id, match)
        key = explanations.explanation_key(facts, settings.llm_model)
        cached = matches.cached_explanation(match_id, key) if llm else None
    if cached is not None:
        return MatchExplanationOut(**cached.model_dump(), match_id=match_id, cached=True)
    if not llm:
        return MatchExplanationOut(**explanations.compose_explanation(facts).model_dump(), match_id=match_id,
                                   cached=False)
    made = write_with_llm("explanation", user_id, match_id, settings, limiter,
                          lambda chat: explanations.compose_explanation(facts, chat, settings.llm_model),
                          lambda: explanations.compose_explanation(facts, busy=True))
    if not made.fallback_reason:
        with db.connection() as conn:
            MatchQueries(conn, user_id).store_explanation(match_id, key, made)
    return MatchExplanationOut(**made.model_dump(), match_id=match_id, cached=False)


# ------------------------------------------------------------------ cover letters


def cover_letter(db: Database, user_id: int, match_id: int, settings: Settings,
                 limiter: RateLimiter) -> tuple[letters.CoverLetter, letters.LetterFacts]:
    """The letter for one of the user's matches and the facts it was written from; 404 when it is not theirs.
    With an LLM configured: its kept letter when the facts are unchanged (today's date set), else a new one,
    which counts against the ``cover_letter`` rate limit (429) and is kept unless the template stood in. When the
    LLM is busy (:func:`llm_turn`), the template at once with ``fallback_reason`` ``llm_busy`` (not counted, not
    kept). No pooled connection is held while the LLM writes."""
    with db.connection() as conn:  # given back before the LLM is asked
        matches = MatchQueries(conn, user_id)
        facts = matches.letter_facts(match_id)
        digest = letters.letter_key(facts, settings.llm_model) if facts is not None else ""
        cached = matches.cached_letter(match_id, digest) if facts is not None and settings.ollama_hosts else None
    if facts is None:
        raise not_found("match")
    if cached is not None:
        return letters.dated(cached, facts.today), facts
    if not settings.ollama_hosts:
        return letters.compose_letter(facts), facts
    letter = write_with_llm("cover_letter", user_id, match_id, settings, limiter,
                            lambda chat: letters.compose_letter(facts, chat, settings.llm_model),
                            lambda: letters.compose_letter(facts, busy=True))
    if not letter.fallback_reason:
        with db.connection() as conn:
            MatchQueries(conn, user_id).store_letter(match_id, digest, letter)
    return letter, facts


def letter_response(letter: letters.CoverLetter, facts: letters.LetterFacts, format: LetterFormat, *,
                    attachment: bool = False) -> Response:
    """The letter as a download (``docx``: attachment; ``md``: inline, or an attachment with ``attachment``) or
    as JSON with its Markdown; headers ``X-Cover-Letter-Source`` and, when the template stood in for the LLM,
    ``X-Cover-Letter-Fallback``."""
    headers: dict[str, str] = {"X-Cover-Letter-Source": letter.source}
    if letter.fallback_reason:
        headers["X-Cover-Letter-Fallback"] = letter.fallback_reason
    markdown = letters.to_markdown(letter)
    if format == "docx":
        name = letters.download_name(facts.posting_title, "docx")
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return Response(letters.to_docx(letter), media_type=letters.DOCX_MEDIA_TYPE, headers=headers)
    if format == "md":
        name = letters.download_name(facts.posting_title, "md")
        headers["Content-Disposition"] = f'{"attachment" if attachment else "inline"}; filename="{name}"'
        return Response(markdown, media_type=letters.MARKDOWN_MEDIA_TYPE, headers=headers)
    body = CoverLetterOut(**letter.model_dump(), markdown=markdown)
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)
