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
from urllib.parse import urlsplit

import psycopg
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import ValidationError

from ty_resources.ollama import OllamaError
from ty_web import cover_letter
from ty_web.deps import (
    AppSettings,
    ClassifierDep,
    Conn,
    CurrentUser,
    Db,
    User,
    bearer_scheme,
    cookie_scheme,
    current_user,
)
from ty_web.errors import ApiError, error_responses, not_found
from ty_web.matching import NothingToMatch, refresh_matches
from ty_web.schemas import (
    CoverLetterOut,
    MatchComponents,
    MatchDetail,
    MatchOut,
    MatchPage,
    MatchPosting,
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
URL_MAX = 2000

MATCH_COLUMNS = """
    m.id, m.score, m.components, m.kldb_code, (s.kldb_code IS NOT NULL) AS suppressed, m.computed_at, m.rating,
    m.feedback, m.decision, m.rated_at,
    p.refnr, p.title, p.employer, p.city, p.plz, p.state, p.published_on, p.external_url,
    (p.invalidated_at IS NULL) AS active, p.berufenet_id, pr.name, pr.kldb_code, pr.level
"""
MATCH_FROM = """
FROM matches m
JOIN postings p ON p.refnr = m.refnr
LEFT JOIN professions pr ON pr.berufenet_id = p.berufenet_id
LEFT JOIN suppressions s ON s.user_id = m.user_id AND s.kldb_code = m.kldb_code
"""
ORDER = " ORDER BY m.score DESC, m.id"

SUPPRESSION_SQL = """
SELECT s.kldb_code, k.title, s.created_at, s.source_match_id
FROM suppressions s LEFT JOIN kldb_codes k ON k.code = s.kldb_code
WHERE s.user_id = %s {and_code}
ORDER BY s.created_at DESC, s.kldb_code
"""


def safe_url(url: str | None) -> str | None:
    """An absolute http(s) URL without spaces or control characters, else None: a client may put it in a
    link as it is (no ``javascript:``, ``data:`` or protocol-relative URLs)."""
    if not url or len(url) > URL_MAX or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    return url


def _match_out(row: tuple, model: type[MatchOut] = MatchOut, **extra: object) -> MatchOut:
    try:
        components = MatchComponents.model_validate(row[2] or {})
    except ValidationError:  # written by an older version: show the score, not a 500
        components = MatchComponents()
    posting = MatchPosting(
        refnr=row[10], title=row[11], employer=row[12], city=row[13], plz=row[14], state=row[15],
        published_on=row[16], external_url=safe_url(row[17]), active=row[18], berufenet_id=row[19],
        profession_name=row[20], kldb_code=row[21], level=row[22],
    )
    return model(id=row[0], score=row[1], components=components, kldb_code=row[3], suppressed=row[4],
                 computed_at=row[5], rating=row[6], feedback=row[7], decision=row[8], rated_at=row[9],
                 posting=posting, **extra)


def load_match(conn: psycopg.Connection, user_id: int, match_id: int) -> MatchOut | None:
    row = conn.execute(f"SELECT {MATCH_COLUMNS} {MATCH_FROM} WHERE m.id = %s AND m.user_id = %s",
                       (match_id, user_id)).fetchone()
    return _match_out(row) if row else None


def _suppression(row: tuple) -> SuppressionOut:
    return SuppressionOut(kldb_code=row[0], title=row[1], created_at=row[2], source_match_id=row[3])


def load_suppression(conn: psycopg.Connection, user_id: int, kldb_code: str) -> SuppressionOut | None:
    row = conn.execute(SUPPRESSION_SQL.format(and_code="AND s.kldb_code = %s"), (user_id, kldb_code)).fetchone()
    return _suppression(row) if row else None


# ------------------------------------------------------------------ matches


@router.post("/matches/refresh", response_model=RefreshOut, responses=error_responses(401, 403, 409, 502))
def refresh(user: CurrentUser, conn: Conn, settings: AppSettings, classifier: ClassifierDep) -> RefreshOut:
    """Recompute your matches from the current postings: your profile embedded (desired professions, work
    history, skills, summary) and searched among the active postings in your states and levels, without your
    suppressed professions, scored by similarity and profession fit. Your unrated matches are replaced; rated
    ones are kept. 409 when the profile has nothing to match on."""
    try:
        result = refresh_matches(conn, user.id, classifier.embedder, limit=settings.match_limit,
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
    where = "WHERE m.user_id = %s"
    params: list[object] = [user.id]
    if rated is not None:
        where += " AND m.rating IS NOT NULL" if rated else " AND m.rating IS NULL"
    total = conn.execute(f"SELECT count(*) FROM matches m {where}", params).fetchone()[0]
    rows = conn.execute(f"SELECT {MATCH_COLUMNS} {MATCH_FROM} {where} {ORDER} LIMIT %s OFFSET %s",
                        [*params, limit, offset]).fetchall()
    return MatchPage(items=[_match_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/matches/next", response_model=MatchOut, responses=error_responses(401, 404))
def next_match(user: CurrentUser, conn: Conn) -> MatchOut:
    """The queue: your best unrated match of a posting still active, whose profession you did not suppress.
    404 with code `queue_empty` when none is left (refresh, or rate fewer postings down)."""
    row = conn.execute(
        f"SELECT {MATCH_COLUMNS} {MATCH_FROM}"
        " WHERE m.user_id = %s AND m.rating IS NULL AND p.invalidated_at IS NULL AND s.kldb_code IS NULL"
        f" {ORDER} LIMIT 1", (user.id,),
    ).fetchone()
    if row is None:
        raise ApiError(404, "no unrated match left: POST /matches/refresh for new ones", code="queue_empty")
    return _match_out(row)


@router.get("/matches/{match_id}", response_model=MatchDetail, responses=error_responses(401, 404, 422))
def get_match(match_id: MatchId, user: CurrentUser, conn: Conn) -> MatchDetail:
    """One of your matches, with the posting's description."""
    row = conn.execute(
        f"SELECT {MATCH_COLUMNS}, d.description {MATCH_FROM}"
        " LEFT JOIN posting_descriptions d ON d.refnr = m.refnr AND d.status = 'ok'"
        " WHERE m.id = %s AND m.user_id = %s", (match_id, user.id),
    ).fetchone()
    if row is None:
        raise not_found("match")
    return _match_out(row, MatchDetail, description=row[23])


@router.put("/matches/{match_id}/rate", response_model=RatingOut, responses=error_responses(401, 403, 404, 413, 422))
def rate_match(match_id: MatchId, body: RateIn, user: CurrentUser, conn: Conn) -> RatingOut:
    """Rate one of your matches (1-5), with optional feedback and decision (`apply`, `save`, `skip`); a second
    rating replaces the first. A rating of 2 or less suppresses the posting's profession (KldB 5-digit) for
    you: its postings leave the queue and the next refresh. Rating the same match above 2 later lifts the
    suppression that match's rating set."""
    row = conn.execute(
        "UPDATE matches SET rating = %s, feedback = %s, decision = %s, rated_at = now()"
        " WHERE id = %s AND user_id = %s RETURNING kldb_code",
        (body.rating, body.feedback, body.decision, match_id, user.id),
    ).fetchone()
    if row is None:
        raise not_found("match")
    kldb_code = row[0]
    if body.rating <= 2 and kldb_code:
        conn.execute("INSERT INTO suppressions (user_id, kldb_code, source_match_id) VALUES (%s, %s, %s)"
                     " ON CONFLICT (user_id, kldb_code) DO NOTHING", (user.id, kldb_code, match_id))
    elif body.rating > 2:
        conn.execute("DELETE FROM suppressions WHERE user_id = %s AND source_match_id = %s", (user.id, match_id))
    match = load_match(conn, user.id, match_id)
    assert match is not None
    suppression = load_suppression(conn, user.id, kldb_code) if kldb_code else None
    return RatingOut(match=match, suppression=suppression)


# ------------------------------------------------------------------ cover letter


def user_briefly(
    request: Request, db: Db,
    cookie: Annotated[str | None, Depends(cookie_scheme)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User:
    """:data:`CurrentUser`, on a connection given back at once: for a route that then waits on something slow
    (the LLM) and must not hold one of the pool's few connections meanwhile."""
    with db.connection() as conn:
        return current_user(request, conn, cookie, bearer)


BriefUser = Annotated[User, Depends(user_briefly)]


def letter_facts(conn: psycopg.Connection, user_id: int, match_id: int) -> cover_letter.LetterFacts | None:
    posting = conn.execute(
        "SELECT p.refnr, p.title, p.employer, p.city, d.description FROM matches m"
        " JOIN postings p ON p.refnr = m.refnr"
        " LEFT JOIN posting_descriptions d ON d.refnr = p.refnr AND d.status = 'ok'"
        " WHERE m.id = %s AND m.user_id = %s", (match_id, user_id),
    ).fetchone()
    if posting is None:
        return None
    profile = conn.execute(
        "SELECT pf.display_name, pf.skills, pf.summary,"
        " ARRAY(SELECT pr.name FROM unnest(pf.desired_berufenet_ids) WITH ORDINALITY AS d (id, n)"
        "       JOIN professions pr ON pr.berufenet_id = d.id ORDER BY d.n)"
        " FROM profiles pf WHERE pf.user_id = %s", (user_id,),
    ).fetchone() or (None, [], None, [])
    positions = [
        cover_letter.Position(title=r[0], employer=r[1], start_date=r[2], end_date=r[3])
        for r in conn.execute(
            "SELECT title, employer, start_date, end_date FROM work_history WHERE user_id = %s"
            " ORDER BY coalesce(end_date, 'infinity'::date) DESC, start_date DESC, id DESC LIMIT 5", (user_id,))
    ]
    today = conn.execute("SELECT (now() AT TIME ZONE 'Europe/Berlin')::date").fetchone()[0]
    return cover_letter.LetterFacts(
        refnr=posting[0], posting_title=posting[1], employer=posting[2], city=posting[3], description=posting[4],
        sender_name=profile[0], skills=profile[1], summary=profile[2], desired_professions=profile[3],
        positions=positions, today=today,
    )


@router.get(
    "/matches/{match_id}/cover-letter",
    response_model=CoverLetterOut,
    responses={
        200: {"description": "The letter: JSON (`format=json`), Markdown (`format=md`) or Word (`format=docx`).",
              "content": {"text/markdown": {"schema": {"type": "string"}},
                          cover_letter.DOCX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(401, 404, 422),
    },
)
def get_cover_letter(
    match_id: MatchId, user: BriefUser, db: Db, settings: AppSettings,
    format: Annotated[Literal["md", "docx", "json"], Query(description="md: Markdown; docx: a Word download; "
                                                                       "json: the letter's parts.")] = "md",
) -> Response:
    """A German cover letter for one of your matches, from your profile and the posting: written by the LLM when
    one is configured, else from a template. Headers: `X-Cover-Letter-Source` (`llm` or `template`) and, when
    the LLM failed and the template stood in, `X-Cover-Letter-Fallback` (`llm_unavailable`,
    `llm_invalid_answer`)."""
    with db.connection() as conn:  # given back before the LLM is asked
        facts = letter_facts(conn, user.id, match_id)
    if facts is None:
        raise not_found("match")
    if settings.ollama_hosts:
        with closing(cover_letter.llm_client(settings)) as client:
            letter = cover_letter.compose_letter(facts, client.chat_json)
        if letter.fallback_reason:
            log.warning("cover letter from the template: the LLM failed",
                        extra={"reason": letter.fallback_reason, "match_id": match_id})
    else:
        letter = cover_letter.compose_letter(facts)
    headers = {"X-Cover-Letter-Source": letter.source}
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
    body = CoverLetterOut(source=letter.source, fallback_reason=letter.fallback_reason, subject=letter.subject,
                          salutation=letter.salutation, paragraphs=letter.paragraphs, closing=letter.closing,
                          sender_name=letter.sender_name, recipient=letter.recipient, date=letter.date,
                          markdown=markdown)
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)


# ------------------------------------------------------------------ the negative filter


@router.get("/profiles/me/suppressions", response_model=list[SuppressionOut], responses=error_responses(401))
def list_suppressions(user: CurrentUser, conn: Conn) -> list[SuppressionOut]:
    """Your negative filter: professions (KldB 5-digit) you rated down, newest first."""
    return [_suppression(r) for r in conn.execute(SUPPRESSION_SQL.format(and_code=""), (user.id,))]


@router.delete("/profiles/me/suppressions/{kldb}", status_code=204, response_class=Response,
               responses=error_responses(401, 403, 404, 422))
def delete_suppression(kldb: KldbPath, user: CurrentUser, conn: Conn) -> Response:
    """Take a profession off your negative filter: its postings come back to the queue and the next refresh."""
    if conn.execute("DELETE FROM suppressions WHERE user_id = %s AND kldb_code = %s",
                    (user.id, kldb)).rowcount == 0:
        raise not_found("suppression")
    return Response(status_code=204)
