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
- ``GET /matches/{id}/explanation`` (:mod:`ty_web.explanations`): why the match fits and what is missing, a few
  German sentences; the LLM's when configured (kept, rate limit ``explanation`` for new ones), else the
  template's; ``kind``, ``model``, ``prompt_version`` and ``fallback_reason`` say which.

Every match carries its posting's ``summary`` (:mod:`ty_web.queries.summaries`; null when none was made).

Every match id is scoped to its owner: another user's id answers 404, as one that does not exist. The rules
(rating and suppression, refresh errors, the cover letter's cache, LLM and fallback) live in
:mod:`ty_web.services.matches`, which the pages call too.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from ty_web import cover_letter
from ty_web.deps import AppSettings, ClassifierDep, Conn, CurrentUser, Db, Limiter, user_limit
from ty_web.errors import ApiError, error_responses, not_found
from ty_web.queries.matches import MatchQueries
from ty_web.queries.summaries import summary_model
from ty_web.schemas import (
    CoverLetterOut,
    MatchDetail,
    MatchExplanationOut,
    MatchOut,
    MatchPage,
    RateIn,
    RatingOut,
    RefreshOut,
    SuppressionOut,
)
from ty_web.services import matches as service
from ty_web.services.accounts import NotCrossSite

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
    return service.refresh(db, user.id, classifier.embedder, settings)


@router.get("/matches", response_model=MatchPage, responses=error_responses(401, 422))
def list_matches(
    user: CurrentUser, conn: Conn, settings: AppSettings,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size.")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Matches skipped.")] = 0,
    rated: Annotated[bool | None, Query(description="true: only rated; false: only unrated; unset: all.")] = None,
) -> MatchPage:
    """Your matches, best first (score, then id), a page at a time, each with its posting's summary."""
    matches = MatchQueries(conn, user.id, summary_model(settings))
    return MatchPage(items=matches.page(limit, offset, rated), total=matches.count(rated), limit=limit,
                     offset=offset)


@router.get("/matches/next", response_model=MatchOut, responses=error_responses(401, 404))
def next_match(user: CurrentUser, conn: Conn, settings: AppSettings) -> MatchOut:
    """The queue: your best unrated match of a posting still active, whose profession you did not suppress.
    404 with code `queue_empty` when none is left (refresh, or rate fewer postings down)."""
    match = MatchQueries(conn, user.id, summary_model(settings)).next_in_queue()
    if match is None:
        raise ApiError(404, "no unrated match left: POST /matches/refresh for new ones", code="queue_empty")
    return match


@router.get("/matches/{match_id}", response_model=MatchDetail, responses=error_responses(401, 404, 422))
def get_match(match_id: MatchId, user: CurrentUser, conn: Conn, settings: AppSettings) -> MatchDetail:
    """One of your matches, with the posting's description and summary."""
    match = MatchQueries(conn, user.id, summary_model(settings)).detail(match_id)
    if match is None:
        raise not_found("match")
    return match


@router.put("/matches/{match_id}/rate", response_model=RatingOut, responses=error_responses(401, 403, 404, 413, 422))
def rate_match(match_id: MatchId, body: RateIn, user: CurrentUser, conn: Conn, settings: AppSettings) -> RatingOut:
    """Rate one of your matches (1-5), with optional feedback and decision (`apply`, `save`, `skip`); a second
    rating replaces the first. A rating of 2 or less suppresses the posting's profession (KldB 5-digit) for
    you: its postings leave the queue and the next refresh. Rating the same match above 2 later lifts the
    suppression that match's rating set."""
    return service.rate(conn, user.id, match_id, body, settings)


# ------------------------------------------------------------------ cover letter


@router.get(
    "/matches/{match_id}/cover-letter",
    response_model=CoverLetterOut,
    responses={
        200: {"description": "The letter: JSON (`format=json`), Markdown (`format=md`) or Word (`format=docx`).",
              "content": {"text/markdown": {"schema": {"type": "string"}},
                          cover_letter.DOCX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(401, 403, 404, 422, 429),
    },
    dependencies=[NotCrossSite],
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
    stood in, `X-Cover-Letter-Fallback` (`llm_unavailable`, `llm_invalid_answer`, `llm_busy`)."""
    letter, facts = service.cover_letter(db, user.id, match_id, settings, limiter)
    return service.letter_response(letter, facts, format)


# ------------------------------------------------------------------ explanation


@router.get("/matches/{match_id}/explanation", response_model=MatchExplanationOut,
            responses=error_responses(401, 403, 404, 422, 429), dependencies=[NotCrossSite])
def get_explanation(match_id: MatchId, user: CurrentUser, db: Db, settings: AppSettings,
                    limiter: Limiter) -> MatchExplanationOut:
    """Why one of your matches fits you and what is missing, in a few German sentences, from your profile
    (desired professions, work history, skills, summary, Länder, levels), the posting's title, label and summary,
    and the match's score. Written by the LLM when one is configured (it never sees your name or e-mail), else
    from a template; `kind` (`llm`, `template`), `model`, `prompt_version` and, when the LLM failed and the
    template stood in, `fallback_reason` (`llm_unavailable`, `llm_invalid_answer`, `llm_busy`) say which. The LLM's
    explanation is kept (`cached` true) until your profile, the posting, the model or the prompt changes; writing
    a new one counts against the `explanation` rate limit (429)."""
    return service.explanation(db, user.id, match_id, settings, limiter)


# ------------------------------------------------------------------ the negative filter


@router.get("/profiles/me/suppressions", response_model=list[SuppressionOut], responses=error_responses(401))
def list_suppressions(user: CurrentUser, conn: Conn) -> list[SuppressionOut]:
    """Your negative filter: professions (KldB 5-digit) you rated down, newest first."""
    return MatchQueries(conn, user.id).suppressions()


@router.delete("/profiles/me/suppressions/{kldb}", status_code=204, response_class=Response,
               responses=error_responses(401, 403, 404, 422))
def delete_suppression(kldb: KldbPath, user: CurrentUser, conn: Conn) -> Response:
    """Take a profession off your negative filter: its postings come back to the queue and the next refresh."""
    service.delete_suppression(conn, user.id, kldb)
    return Response(status_code=204)
