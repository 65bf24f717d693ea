"""Who is signed in on a page, and the CSRF rule of the pages: the API's cookie session and CSRF token.

- :data:`MaybeUser`: the signed-in user or None (public pages show a sign-in link instead).
- :data:`PageUser`: a page that needs a sign-in; without one a GET is sent to ``/login?next=<this page>``
  (303; htmx: ``HX-Redirect``). For POST (every form), the session's CSRF token must come as the form field
  ``csrf_token`` or the header ``X-CSRF-Token`` (htmx sends it: ``hx-headers`` in base.html), and a browser's
  cross-site request is refused: 403, as in the API (:func:`ty_web.deps._authenticate`, the same check).
- :func:`refuse_cross_site` for the forms that sign in or register (there is no session yet to hold a token).

The token is :func:`ty_web.security.csrf_token_for` of the session cookie: what ``POST /api/v1/auth/login``
returned, so a page and an API client of one browser share one session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from ty_web.deps import SAFE_METHODS, Limiter, count_for_user, database
from ty_web.errors import ApiError
from ty_web.security import CSRF_HEADER, SESSION_COOKIE, csrf_token_for, find_session, token_matches
from ty_web.services.accounts import refuse_cross_site

CSRF_FIELD = "csrf_token"

__all__ = ["CSRF_FIELD", "MaybeUser", "PageUser", "SignInRequired", "SignedIn", "page_limit", "page_router",
           "refuse_cross_site", "safe_next"]


@dataclass(frozen=True)
class SignedIn:
    """The user of a page's cookie session."""

    id: int
    email: str
    session_hash: str
    csrf_token: str  # what the page's forms send
    csrf_token_hash: str | None  # what the session stored: the API's check compares with this one
    expires_at: datetime


class SignInRequired(Exception):
    """Raised for a page that needs a sign-in; answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str):
        self.next_path = next_path


def safe_next(value: str | None, default: str = "/matches") -> str:
    """A local path to go on to after a form (``next``): never another site (``//evil``, ``/\\evil``, a URL)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in value) or len(value) > 500:
        return default
    return value


def _lookup(request: Request) -> SignedIn | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    idle_s = request.app.state.settings.session_idle_hours * 3600
    with database(request).connection() as conn:
        session = find_session(conn, cookie, idle_s)
    if session is None or session.kind != "cookie":
        return None
    return SignedIn(session.user_id, session.email, session.token_hash, csrf_token_for(cookie),
                    session.csrf_token_hash, session.expires_at)


async def _check_csrf(request: Request, user: SignedIn) -> None:
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise ApiError(403, "cross-site request refused", code="csrf_failed")
    token = request.headers.get(CSRF_HEADER) or None  # an empty header: look at the form
    if token is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)  # Starlette keeps the parsed form for the route
        token = value if isinstance(value, str) else None
    if not token_matches(token, user.csrf_token_hash):
        raise ApiError(403, "this form is out of date: load the page again", code="csrf_failed")


async def optional_user(request: Request) -> SignedIn | None:
    if not hasattr(request.state, "page_user"):
        request.state.page_user = await run_in_threadpool(_lookup, request)
    user: SignedIn | None = request.state.page_user
    if user is not None and request.method not in SAFE_METHODS:
        await _check_csrf(request, user)
    return user


async def required_user(request: Request, user: Annotated[SignedIn | None, Depends(optional_user)]) -> SignedIn:
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target if request.method in SAFE_METHODS else request.url.path)
    return user


MaybeUser = Annotated[SignedIn | None, Depends(optional_user)]
PageUser = Annotated[SignedIn, Depends(required_user)]


def page_router() -> APIRouter:
    """A page area's router: every route knows who is signed in (the frame shows their navigation and the CSRF
    token, also on public pages), and a signed-in user's POST passes the CSRF check, whatever the route asks for."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(optional_user)])


def page_limit(name: str, what: str = "requests") -> Any:
    """The API's :func:`ty_web.deps.user_limit` for a page: the same limit and budget, counted for the page's
    session (whose form sends its CSRF token as a field, which the API's user check does not read)."""
    def check(user: PageUser, limiter: Limiter) -> None:
        count_for_user(limiter, name, user.id, what)
    return Depends(check)


def login_redirect_target(next_path: str) -> str:
    return "/login?next=" + quote(safe_next(next_path), safe="/")
