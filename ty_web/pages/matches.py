"""Pages of the matches area: the queue as a card with the rating form, the rated matches, one match, its cover
letter (preview and downloads), the suppressed professions with undo, and the public page of a posting.

- ``GET /matches``: refresh form, the next match of the queue (:meth:`MatchQueries.next_in_queue`) with the
  reasons it was chosen, the rated matches (``?page=``). ``POST /matches/refresh`` (rate limit ``refresh``).
- ``POST /matches/{id}/rate``: the API's rule (:func:`ty_web.services.matches.rate`), the form validated with
  the API's :class:`~ty_web.schemas.RateIn`. The **Skip** button stores decision ``skip`` with the rating
  chosen, or 3 (neutral: neither suppresses nor lifts anything) when none was: the API's rating is required
  and a skipped match must leave the queue. htmx (the queue's card: ``hx-post``, ``hx-target``) gets the next
  card as a fragment; without JavaScript the answer is 303 to ``/matches?done=rated`` (or the match's page).
- ``GET /matches/{id}``, ``GET /matches/{id}/cover-letter`` (+ ``.md`` / ``.docx`` downloads through the
  API's service: the ``cover_letter`` limit counts new LLM letters only).
- ``GET /matches/{id}/explanation``: why the match fits and what is missing (the API's service: the
  ``explanation`` limit counts new LLM explanations only); the card and the match's page load it with htmx into
  their "Warum passt das?" block (the fragment alone), without JavaScript the link opens it as a page.
- The card, the match's page and the posting's page show the posting's summary (tasks, requirements, working
  time, contract, salary, remote work) first; the match's and the posting's pages keep the full description
  below it, folded.
- ``GET /matches/suppressions``, ``POST /matches/suppressions/{kldb}/delete``.
- ``GET /postings/{refnr}``: public, rate limit ``public`` per address, as the API's.

Rate limits are counted on the page's own user (:func:`ty_web.pages.session.page_limit`): the API's ``user_limit``
authenticates as the API does, which wants the CSRF *header* that a form without JavaScript does not send.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Form, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from ty_resources.settings import Settings
from ty_web.deps import AppSettings, ClassifierDep, Conn, Db, Limiter, address_limit
from ty_web.errors import ApiError, not_found
from ty_web.pages.render import render
from ty_web.pages.session import MaybeUser, PageUser, SignedIn, page_limit, page_router
from ty_web.queries import market
from ty_web.queries.matches import MatchQueries
from ty_web.queries.summaries import summary_model
from ty_web.routers.market import REFNR_PATTERN
from ty_web.routers.matches import BIGINT_MAX
from ty_web.schemas import RateIn
from ty_web.services import matches as service
from ty_web.services.accounts import NotCrossSite

router = page_router()

PAGE_SIZE = 20
MAX_PAGE = 5000
NEUTRAL_RATING = 3  # what a skip without a rating stores
BA_JOB_URL = "https://www.arbeitsagentur.de/jobsuche/jobdetail/"
CARD_ID = "match-card"

MatchId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
KldbPath = Annotated[str, Path(pattern=r"^[0-9]{5}$")]
RefnrPath = Annotated[str, Path(pattern=REFNR_PATTERN)]
# ?done=<key>: the notice after a form (fixed keys; nothing from the URL is shown).
NOTICES = {"refreshed", "rated", "skipped", "undone"}




def ba_url(refnr: str) -> str:
    """The posting's page on the BA's job board."""
    return BA_JOB_URL + quote(refnr, safe="")


def web_link(url: str | None) -> str | None:
    """``url`` when it may become a link (http or https; the schemas already drop anything else)."""
    return url if url and url.lower().startswith(("https://", "http://")) else None


def _done(done: str | None) -> str | None:
    return done if done in NOTICES else None


def _is_card_request(request: Request) -> bool:
    """An htmx request of the queue's card (not a boosted page load): answered with the card alone."""
    return (request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"
            and request.headers.get("hx-target") == CARD_ID)


# ------------------------------------------------------------------ the queue and the rated matches


def _card(conn: Any, user: SignedIn, settings: Settings) -> dict[str, Any]:
    match = MatchQueries(conn, user.id, summary_model(settings)).next_in_queue()
    return {"match": match, "why": service.reasons(conn, user.id, match) if match else None}


def _index(request: Request, conn: Any, user: SignedIn, settings: Settings, *, page: int = 1, notice: str | None = None,
           problem: str | None = None, card: dict[str, Any] | None = None, status: int = 200) -> Response:
    """The matches page; ``card``: the card's context instead of the queue's next match (a form with errors)."""
    matches = MatchQueries(conn, user.id, summary_model(settings))
    total = matches.count(True)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(page, pages)
    rated = matches.page(PAGE_SIZE, (page - 1) * PAGE_SIZE, True)
    return render(request, "matches/index.html", {
        "form": {}, "errors": {}, **(card or _card(conn, user, settings)), "rated": rated, "total": total, "page": page,
        "pages": pages, "notice": notice, "problem": problem, "suppressed": len(matches.suppressions()),
    }, status=status)


@router.get("/matches")
def matches_page(request: Request, user: PageUser, conn: Conn, settings: AppSettings,
                 page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1, done: str | None = None) -> Response:
    """The next match as a card, the refresh form, and the rated matches a page at a time."""
    return _index(request, conn, user, settings, page=page, notice=_done(done))


@router.post("/matches/refresh", dependencies=[page_limit("refresh", "refreshes")])
def refresh(request: Request, user: PageUser, db: Db, settings: AppSettings, classifier: ClassifierDep) -> Response:
    """Recompute the matches (the API's service); a profile with nothing to match on or an embedding service
    that fails is told on the page."""
    try:
        service.refresh(db, user.id, classifier.embedder, settings)
    except ApiError as exc:
        if exc.code == "profile_incomplete":
            problem, status = "profile_incomplete", 409
        elif exc.status_code == 502:
            problem, status = "embedding_unavailable", 502
        else:
            raise
        with db.connection() as conn:
            return _index(request, conn, user, settings, problem=problem, status=status)
    return RedirectResponse("/matches?done=refreshed", status_code=303)


def _rating_form(rating: str, feedback: str, decision: str, action: str) -> tuple[dict[str, Any], RateIn | None,
                                                                                 dict[str, bool]]:
    """The form's values, the API's model of them (None when invalid) and the invalid fields."""
    form = {"rating": rating, "feedback": feedback, "decision": decision}
    skip = action == "skip"
    data: dict[str, Any] = {"rating": rating or (NEUTRAL_RATING if skip else None),
                            "feedback": feedback, "decision": "skip" if skip else (decision or None)}
    try:
        return form, RateIn.model_validate(data), {}
    except ValidationError as exc:
        return form, None, {str(err["loc"][0]): True for err in exc.errors() if err.get("loc")}


@router.post("/matches/{match_id}/rate")
def rate(request: Request, match_id: MatchId, user: PageUser, conn: Conn, settings: AppSettings,
         rating: Annotated[str, Form(max_length=10)] = "",
         feedback: Annotated[str, Form(max_length=20_000)] = "",
         decision: Annotated[str, Form(max_length=20)] = "",
         action: Annotated[str, Form(max_length=20)] = "rate",
         origin: Annotated[Literal["queue", "detail"], Form(alias="from")] = "queue") -> Response:
    """Rate a match as the API does (2 or less suppresses its profession); Skip: decision ``skip``."""
    form, body, errors = _rating_form(rating, feedback, decision, action)
    card_only = _is_card_request(request)
    if body is None:
        match = MatchQueries(conn, user.id, summary_model(settings)).match(match_id)
        if match is None:
            raise not_found("match")
        if origin == "detail":
            return _detail(request, conn, user, settings, match_id, form=form, errors=errors, status=422)
        card = {"match": match, "why": service.reasons(conn, user.id, match), "form": form, "errors": errors}
        if card_only:  # htmx swaps only a 2xx answer: the card with its messages
            return render(request, "matches/_card.html", {**card, "notice": None})
        return _index(request, conn, user, settings, card=card, status=422)
    done = "skipped" if body.decision == "skip" else "rated"
    service.rate(conn, user.id, match_id, body, settings)
    if card_only:
        return render(request, "matches/_card.html", {**_card(conn, user, settings), "notice": done, "form": {},
                                                         "errors": {}})
    if origin == "detail":
        return RedirectResponse(f"/matches/{match_id}?done={done}", status_code=303)
    return RedirectResponse(f"/matches?done={done}", status_code=303)


# ------------------------------------------------------------------ the negative filter


@router.get("/matches/suppressions")
def suppressions_page(request: Request, user: PageUser, conn: Conn, done: str | None = None) -> Response:
    """The professions rated down (their postings leave the queue), each with undo."""
    return render(request, "matches/suppressions.html",
                  {"suppressions": MatchQueries(conn, user.id).suppressions(), "notice": _done(done)})


@router.post("/matches/suppressions/{kldb}/delete")
def delete_suppression(kldb: KldbPath, user: PageUser, conn: Conn) -> Response:
    """Take a profession off the negative filter (the API's service); 404 when it is not on it."""
    service.delete_suppression(conn, user.id, kldb)
    return RedirectResponse("/matches/suppressions?done=undone", status_code=303)


# ------------------------------------------------------------------ one match, its cover letter


def _detail(request: Request, conn: Any, user: SignedIn, settings: Settings, match_id: int, *,
            notice: str | None = None, form: dict[str, Any] | None = None, errors: dict[str, bool] | None = None,
            status: int = 200) -> Response:
    match = MatchQueries(conn, user.id, summary_model(settings)).detail(match_id)
    if match is None:
        raise not_found("match")
    return render(request, "matches/detail.html", {
        "match": match, "why": service.reasons(conn, user.id, match), "ba_url": ba_url(match.posting.refnr),
        "external_url": web_link(match.posting.external_url), "notice": notice, "form": form or {},
        "errors": errors or {},
    }, status=status)


@router.get("/matches/{match_id}")
def match_page(request: Request, match_id: MatchId, user: PageUser, conn: Conn, settings: AppSettings,
               done: str | None = None) -> Response:
    """One match: the posting's facts, summary and description, the links to it, the rating form."""
    return _detail(request, conn, user, settings, match_id, notice=_done(done))


def _is_explanation_request(request: Request, match_id: int) -> bool:
    """An htmx request of a match's "Warum passt das?" block: answered with the explanation alone."""
    return (request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"
            and request.headers.get("hx-target") == f"explanation-{match_id}")


# An explanation may be written by the LLM (and counts against the user's `explanation` limit): as with cover
# letters, another site must not make a signed-in browser ask for them.
@router.get("/matches/{match_id}/explanation", dependencies=[NotCrossSite])
def explanation_page(request: Request, match_id: MatchId, user: PageUser, db: Db, settings: AppSettings,
                     limiter: Limiter) -> Response:
    """Why the match fits and what is missing (the API's service): the fragment for htmx, else a page. Past the
    ``explanation`` limit the fragment says so in the block (htmx swaps only a 2xx answer); the page is a 429."""
    fragment = _is_explanation_request(request, match_id)
    try:
        explanation = service.explanation(db, user.id, match_id, settings, limiter)
    except ApiError as exc:
        if fragment and exc.status_code == 429:
            return render(request, "matches/_explanation.html", {"explanation": None, "match_id": match_id})
        raise
    if fragment:
        return render(request, "matches/_explanation.html", {"explanation": explanation})
    with db.connection() as conn:
        match = MatchQueries(conn, user.id).match(match_id)
    if match is None:  # deleted meanwhile
        raise not_found("match")
    return render(request, "matches/explanation.html", {"explanation": explanation, "match": match})


# A cover letter may be written by the LLM (and counts against the user's `cover_letter` limit): another site must
# not make the browser of a signed-in user ask for letters (a cross-site link or an iframe sends the Lax cookie).
@router.get("/matches/{match_id}/cover-letter", dependencies=[NotCrossSite])
def cover_letter_page(request: Request, match_id: MatchId, user: PageUser, db: Db, settings: AppSettings,
                      limiter: Limiter) -> Response:
    """The cover letter as text, who wrote it (LLM or template) and the downloads."""
    letter, facts = service.cover_letter(db, user.id, match_id, settings, limiter)
    return render(request, "matches/cover_letter.html", {"letter": letter, "match_id": match_id,
                                                         "posting_title": facts.posting_title})


def _download(match_id: int, user: SignedIn, db: Any, settings: Any, limiter: Any,
              format: Literal["md", "docx"]) -> Response:
    letter, facts = service.cover_letter(db, user.id, match_id, settings, limiter)
    return service.letter_response(letter, facts, format, attachment=True)


@router.get("/matches/{match_id}/cover-letter.md", dependencies=[NotCrossSite])
def cover_letter_markdown(match_id: MatchId, user: PageUser, db: Db, settings: AppSettings,
                          limiter: Limiter) -> Response:
    """The letter as a Markdown download."""
    return _download(match_id, user, db, settings, limiter, "md")


@router.get("/matches/{match_id}/cover-letter.docx", dependencies=[NotCrossSite])
def cover_letter_docx(match_id: MatchId, user: PageUser, db: Db, settings: AppSettings,
                      limiter: Limiter) -> Response:
    """The letter as a Word download."""
    return _download(match_id, user, db, settings, limiter, "docx")


# ------------------------------------------------------------------ a posting (public)


@router.get("/postings/{refnr}", dependencies=[address_limit("public")])
def posting_page(request: Request, refnr: RefnrPath, user: MaybeUser, conn: Conn,
                 settings: AppSettings) -> Response:
    """A posting's public page with the link to the BA (404 page for an unknown one)."""
    posting = market.posting(conn, refnr, summary_model(settings))
    if posting is None:
        raise not_found("posting")
    return render(request, "matches/posting.html", {"posting": posting, "ba_url": ba_url(posting.refnr),
                                                    "external_url": web_link(posting.external_url)})

