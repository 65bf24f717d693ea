"""Matches, ratings and the queue, the negative filter (suppressions), cover letters.

- ``POST /matches/refresh`` recomputes your matches (:mod:`ty_web.matching`); ``GET /matches`` lists them best
  first; ``GET /matches/next`` is the queue: the best unrated match of an active posting whose profession you
  did not suppress. An empty queue answers **404** with code ``queue_empty`` (the error shape, so a client
  needs no special case for an empty body).
- ``PUT /matches/{id}/rate``: a rating of 2 or less puts the posting's KldB 5-digit profession on your negative
  filter (``/profiles/me/suppressions``); rating the same match above 2 later takes off the entry that match's
  rating set. Unlabelled postings have no profession to suppress.
- ``GET /matches/{id}/cover-letter?format=md|docx|json`` (:mod:`ty_web.cover_letter`): with ``OLLAMA_HOST`` set
  the LLM writes the body; when it fails or answers unusably the template's letter comes back instead, marked
  by the headers ``X-Cover-Letter-Source: template`` and ``X-Cover-Letter-Fallback: <reason>``.

Every match id is scoped to its owner: another user's id answers 404, as one that does not exist.
"""

from __future__ import annotations

import logging
from contextlib import closing
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from ty_resources.ollama import OllamaError
from ty_web import cover_letter
from ty_web.deps import AppSettings, ClassifierDep, Conn, CurrentUser, Db, Limiter, user_limit
from ty_web.errors import ApiError, error_responses, not_found
from ty_web.matching import NothingToMatch, refresh_matches
from ty_web.queries.matches import MatchQueries
from ty_web.schemas import (
    CoverLetterOut,
    MatchDetail,
    MatchOut,
    MatchPage,
    RateIn,
    RatingOut,
    RefreshOut,
    SuppressionOut,
)

log = logging.getLogger("ty.web.matches")

router = APIRouter(tags=["matches"], responses=error_responses(503))

BIGINT_MAX = 2**63 - 1
MatchId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="A match of yours.")]
KldbPath = Annotated[str, Path(pattern=r"^[0-9]{5}$", description="A KldB 5-digit code on your negative filter.")]
MAX_PAGE = 100
MAX_OFFSET = 100_000


# ------------------------------------------------------------------ matches


@router.post("/matches/refresh", response_model=RefreshOut, responses=error_responses(401, 403, 409, 429, 502),
             dependencies=[user_limit("refresh", "refreshes")])
def refresh(user: CurrentUser, db: Db, settings: AppSettings, classifier: ClassifierDep) -> RefreshOut:
    """Recompute your matches from the current postings: your profile embedded (desired professions, work
    history, skills, summary) and searched among the active postings in your states and levels, without your
    suppressed professions, scored by similarity and profession fit. Your unrated matches are replaced; rated
    ones are kept. 409 when the profile has nothing to match on."""
    try:
        result = refresh_matches(db, user.id, classifier.embedder, limit=settings.match_limit,
                                 candidates=settings.match_candidates, ef_search=settings.match_ef_search)
    except NothingToMatch as exc:
        raise ApiError(409, f"{exc}: fill in your profile first", code="profile_incomplete") from exc
    except OllamaError as exc:
        log.warning("embedding the profile failed", extra={"error": str(exc)[:300]})
        raise ApiError(502, "the embedding service is unavailable: try again later") from exc
    return RefreshOut(stored=result.stored, rated_kept=result.rated_kept, candidates=result.candidates,
                      search=result.search, model=result.model, took_ms=round(result.took_ms, 1),
                      computed_at=result.computed_at)


@router.get("/matches", response_model=MatchPage, responses=error_responses(401, 422))
def list_matches(
    user: CurrentUser, conn: Conn,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size.")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Matches skipped.")] = 0,
    rated: Annotated[bool | None, Query(description="true: only rated; false: only unrated; unset: all.")] = None,
) -> MatchPage:
    """Your matches, best first (score, then id), a page at a time."""
    matches = MatchQueries(conn, user.id)
    return MatchPage(items=matches.page(limit, offset, rated), total=matches.count(rated), limit=limit,
                     offset=offset)


@router.get("/matches/next", response_model=MatchOut, responses=error_responses(401, 404))
def next_match(user: CurrentUser, conn: Conn) -> MatchOut:
    """The queue: your best unrated match of a posting still active, whose profession you did not suppress.
    404 with code `queue_empty` when none is left (refresh, or rate fewer postings down)."""
    match = MatchQueries(conn, user.id).next_in_queue()
    if match is None:
        raise ApiError(404, "no unrated match left: POST /matches/refresh for new ones", code="queue_empty")
    return match


@router.get("/matches/{match_id}", response_model=MatchDetail, responses=error_responses(401, 404, 422))
def get_match(match_id: MatchId, user: CurrentUser, conn: Conn) -> MatchDetail:
    """One of your matches, with the posting's description."""
    match = MatchQueries(conn, user.id).detail(match_id)
    if match is None:
        raise not_found("match")
    return match


@router.put("/matches/{match_id}/rate", response_model=RatingOut, responses=error_responses(401, 403, 404, 413, 422))
def rate_match(match_id: MatchId, body: RateIn, user: CurrentUser, conn: Conn) -> RatingOut:
    """Rate one of your matches (1-5), with optional feedback and decision (`apply`, `save`, `skip`); a second
    rating replaces the first. A rating of 2 or less suppresses the posting's profession (KldB 5-digit) for
    you: its postings leave the queue and the next refresh. Rating the same match above 2 later lifts the
    suppression that match's rating set."""
    matches = MatchQueries(conn, user.id)
    rated = matches.rate(match_id, body.rating, body.feedback, body.decision)
    if rated is None:
        raise not_found("match")
    kldb_code = rated["kldb_code"]
    if body.rating <= 2 and kldb_code:
        matches.suppress(kldb_code, match_id)
    elif body.rating > 2:
        matches.lift_suppression_of(match_id)
    match = matches.match(match_id)
    assert match is not None
    return RatingOut(match=match, suppression=matches.suppression(kldb_code) if kldb_code else None)


# ------------------------------------------------------------------ cover letter


@router.get(
    "/matches/{match_id}/cover-letter",
    response_model=CoverLetterOut,
    responses={
        200: {"description": "The letter: JSON (`format=json`), Markdown (`format=md`) or Word (`format=docx`).",
              "content": {"text/markdown": {"schema": {"type": "string"}},
                          cover_letter.DOCX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(401, 404, 422, 429),
    },
)
def get_cover_letter(
    match_id: MatchId, user: CurrentUser, db: Db, settings: AppSettings, limiter: Limiter,
    format: Annotated[Literal["md", "docx", "json"], Query(description="md: Markdown; docx: a Word download; "
                                                                       "json: the letter's parts.")] = "md",
) -> Response:
    """A German cover letter for one of your matches, from your profile and the posting: written by the LLM when
    one is configured, else from a template. The LLM's letter is kept: asking again gives it back (with today's
    date) until your profile or the posting changes; writing a new one counts against the `cover_letter` rate
    limit (429). Headers: `X-Cover-Letter-Source` (`llm` or `template`) and, when the LLM failed and the template
    stood in, `X-Cover-Letter-Fallback` (`llm_unavailable`, `llm_invalid_answer`)."""
    with db.connection() as conn:  # given back before the LLM is asked
        matches = MatchQueries(conn, user.id)
        facts = matches.letter_facts(match_id)
        digest = cover_letter.facts_hash(facts) if facts is not None else ""
        cached = matches.cached_letter(match_id, digest) if facts is not None and settings.ollama_hosts else None
    if facts is None:
        raise not_found("match")
    if cached is not None:
        letter = cover_letter.dated(cached, facts.today)
    elif settings.ollama_hosts:
        limiter.check("cover_letter", f"user:{user.id}", "new cover letters")
        with closing(cover_letter.llm_client(settings)) as client:
            letter = cover_letter.compose_letter(facts, client.chat_json)
        if letter.fallback_reason:
            log.warning("cover letter from the template: the LLM failed",
                        extra={"reason": letter.fallback_reason, "match_id": match_id})
        else:
            with db.connection() as conn:
                MatchQueries(conn, user.id).store_letter(match_id, digest, letter)
    else:
        letter = cover_letter.compose_letter(facts)
    headers: dict[str, str] = {"X-Cover-Letter-Source": letter.source}
    if letter.fallback_reason:
        headers["X-Cover-Letter-Fallback"] = letter.fallback_reason
    markdown = cover_letter.to_markdown(letter)
    if format == "docx":
        name = cover_letter.download_name(facts.posting_title, "docx")
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return Response(cover_letter.to_docx(letter), media_type=cover_letter.DOCX_MEDIA_TYPE, headers=headers)
    if format == "md":
        name = cover_letter.download_name(facts.posting_title, "md")
        headers["Content-Disposition"] = f'inline; filename="{name}"'
        return Response(markdown, media_type=cover_letter.MARKDOWN_MEDIA_TYPE, headers=headers)
    body = CoverLetterOut(**letter.model_dump(), markdown=markdown)
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)


# ------------------------------------------------------------------ the negative filter


@router.get("/profiles/me/suppressions", response_model=list[SuppressionOut], responses=error_responses(401))
def list_suppressions(user: CurrentUser, conn: Conn) -> list[SuppressionOut]:
    """Your negative filter: professions (KldB 5-digit) you rated down, newest first."""
    return MatchQueries(conn, user.id).suppressions()


@router.delete("/profiles/me/suppressions/{kldb}", status_code=204, response_class=Response,
               responses=error_responses(401, 403, 404, 422))
def delete_suppression(kldb: KldbPath, user: CurrentUser, conn: Conn) -> Response:
    """Take a profession off your negative filter: its postings come back to the queue and the next refresh."""
    if not MatchQueries(conn, user.id).delete_suppression(kldb):
        raise not_found("suppression")
    return Response(status_code=204)
