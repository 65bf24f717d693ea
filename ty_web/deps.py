"""Dependencies of the routes: settings, the database connection, the signed-in user, the classifier, rate limits.

Use them as annotated types::

    @router.get("/things/{thing_id}", response_model=Thing, responses=error_responses(401, 404))
    def get_thing(thing_id: int, user: CurrentUser, conn: Conn) -> Thing:
        thing = ThingQueries(conn, user.id).thing(thing_id)  # ty_web.queries: SQL scoped to its owner
        if thing is None:
            raise not_found("thing")
        return thing

- :data:`Conn`: one pooled connection for the route; its transaction commits when the route returns and rolls
  back when it raises, before the response is sent (``scope="function"``). A route that waits on something
  slow (a model, a CV worker) takes :data:`Db` instead and holds a connection only around its queries
  (``with db.connection() as conn:``): the pool has few connections, and a slow upload must not take one.
- :data:`CurrentUser`: the user of the cookie session ``ty_session`` or of ``Authorization: Bearer <token>``
  (401 otherwise), found on a connection given back at once. For unsafe methods (POST, PUT, PATCH, DELETE) a
  cookie session also needs the header ``X-CSRF-Token`` with the token login returned, and a browser's
  cross-site request is refused (403). Bearer tokens need no CSRF token: a browser never attaches them by itself.
- :func:`user_limit` / :func:`address_limit`: ``dependencies=[user_limit("cv_upload")]`` counts the request
  against a rate limit of :mod:`ty_web.ratelimit` per user or per client address (429 past it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from ty_resources.database import Database
from ty_resources.mail import Mailer
from ty_resources.settings import Settings
from ty_web.classify import AppClassifier
from ty_web.clients import client_address
from ty_web.cv.worker import CvWorkers
from ty_web.errors import ApiError
from ty_web.ratelimit import RateLimiter
from ty_web.security import CSRF_HEADER, SESSION_COOKIE, SessionInfo, find_session, token_matches

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, scheme_name="session_cookie",
    description="Set by POST /auth/login. Unsafe methods also need the header X-CSRF-Token that login returned.",
)
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer_token",
                           description="A token from POST /auth/token; no CSRF token needed.")


def app_settings(request: Request) -> Settings:
    return request.app.state.settings


def database(request: Request) -> Database:
    return request.app.state.db


def connection(request: Request) -> Iterator[psycopg.Connection]:
    with database(request).connection() as conn:
        yield conn


def classifier(request: Request) -> AppClassifier:
    return request.app.state.classifier


AppSettings = Annotated[Settings, Depends(app_settings)]
Db = Annotated[Database, Depends(database)]
Conn = Annotated[psycopg.Connection, Depends(connection, scope="function")]
ClassifierDep = Annotated[AppClassifier, Depends(classifier)]


@dataclass(frozen=True)
class User:
    """The signed-in user and how they signed in."""

    id: int
    email: str
    session_kind: str  # 'cookie' | 'bearer'
    session_hash: str  # sha256 of the session's token: what logout revokes
    expires_at: datetime


def _authenticate(request: Request, conn: psycopg.Connection, cookie: str | None,
                  bearer: HTTPAuthorizationCredentials | None) -> SessionInfo:
    idle_s = app_settings(request).session_idle_hours * 3600
    if request.headers.get("authorization") is not None:
        # An Authorization header decides alone: a bad bearer token never falls back to the cookie.
        session = find_session(conn, bearer.credentials, idle_s) if bearer is not None and bearer.credentials else None
        if session is None or session.kind != "bearer":
            raise ApiError(401, "invalid or expired bearer token", headers={"WWW-Authenticate": "Bearer"})
        return session
    if not cookie:
        raise ApiError(401, "not signed in", headers={"WWW-Authenticate": "Bearer"})
    session = find_session(conn, cookie, idle_s)
    if session is None or session.kind != "cookie":
        raise ApiError(401, "session expired or unknown: sign in again", headers={"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS:
        if request.headers.get("sec-fetch-site") == "cross-site":
            raise ApiError(403, "cross-site request refused", code="csrf_failed")
        if not token_matches(request.headers.get(CSRF_HEADER), session.csrf_token_hash):
            raise ApiError(403, f"missing or wrong {CSRF_HEADER} header", code="csrf_failed")
    return session


def current_user(
    request: Request,
    db: Db,
    cookie: Annotated[str | None, Depends(cookie_scheme)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User:
    with db.connection() as conn:
        session = _authenticate(request, conn, cookie, bearer)
    return User(session.user_id, session.email, session.kind, session.token_hash, session.expires_at)


CurrentUser = Annotated[User, Depends(current_user)]


def rate_limiter(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter


def mailer(request: Request) -> Mailer:
    return request.app.state.mailer


def cv_workers(request: Request) -> CvWorkers:
    return request.app.state.cv_workers


Limiter = Annotated[RateLimiter, Depends(rate_limiter)]
CvWorkersDep = Annotated[CvWorkers, Depends(cv_workers)]
MailerDep = Annotated[Mailer, Depends(mailer)]
ClientAddress = Annotated[str, Depends(client_address)]


def count_for_user(limiter: RateLimiter, name: str, user_id: int, what: str = "requests") -> None:
    """The user's request counts against rate limit ``name`` (429 past it): one budget per user, whether the
    request came through the API or a page."""
    limiter.check(name, f"user:{user_id}", what)


def user_limit(name: str, what: str = "requests") -> Any:
    """A route dependency: the signed-in user's request counts against rate limit ``name``."""
    def check(user: CurrentUser, limiter: Limiter) -> None:
        count_for_user(limiter, name, user.id, what)
    return Depends(check)


def address_limit(name: str, what: str = "requests") -> Any:
    """A route dependency: the client address's request counts against rate limit ``name``."""
    def check(address: ClientAddress, limiter: Limiter) -> None:
        limiter.check(name, f"addr:{address}", what)
    return Depends(check)
