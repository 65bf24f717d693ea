"""Accounts and sign-in: register, log in (cookie session + CSRF token), bearer tokens, log out."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from ty_resources.database import Database
from ty_resources.settings import Settings
from ty_web.deps import AppSettings, Conn, CurrentUser, Db
from ty_web.errors import ApiError, error_responses
from ty_web.queries import accounts
from ty_web.queries.accounts import AccountQueries
from ty_web.schemas import AccountOut, LoginRequest, LoginResponse, RegisterRequest, SessionOut, TokenResponse
from ty_web.security import (
    SESSION_COOKIE,
    LoginLimiter,
    RateLimited,
    hash_password,
    issue_session,
    password_needs_rehash,
    prune_expired_sessions,
    revoke_session,
    token_hash,
    verify_dummy,
    verify_password,
)

router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(503))

INVALID_CREDENTIALS = "wrong e-mail or password"


def refuse_cross_site(request: Request) -> None:
    """A browser's cross-site form post must not register or sign anyone in (login CSRF)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise ApiError(403, "cross-site request refused", code="csrf_failed")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def session_cookie_kwargs(settings: Settings) -> dict:
    """The flags of the session cookie; deleting it needs the same ones."""
    return {"path": "/", "secure": not settings.debug, "httponly": True, "samesite": "lax"}


def check_credentials(db: Database, settings: Settings, body: LoginRequest, request: Request) -> int:
    """The user id for these credentials; 429 over the rate limit, 401 otherwise (the same answer whether or not
    the e-mail has an account, after about the same time). The password is verified without holding a
    database connection."""
    limiter = LoginLimiter(settings.login_max_attempts, settings.login_window_s)
    account = body.email.lower()
    with db.connection() as conn:
        limiter.prune(conn)
        try:
            attempt = limiter.begin(conn, account, client_address(request))
        except RateLimited as exc:
            raise ApiError(429, "too many login attempts: try again later",
                           headers={"Retry-After": str(exc.retry_after_s)}) from None
        user = accounts.credentials(conn, account)
    if user is None:
        verify_dummy(body.password)
        raise ApiError(401, INVALID_CREDENTIALS, code="invalid_credentials")
    user_id, stored = user["id"], user["password_hash"]
    if not verify_password(stored, body.password):
        raise ApiError(401, INVALID_CREDENTIALS, code="invalid_credentials")
    new_hash = hash_password(body.password) if password_needs_rehash(stored) else None
    with db.connection() as conn:
        limiter.succeeded(conn, attempt)
        AccountQueries(conn, user_id).record_login(new_hash)
        prune_expired_sessions(conn)
    return user_id


@router.post("/register", status_code=201, response_model=AccountOut,
             responses=error_responses(403, 409, 413, 422))
def register(body: RegisterRequest, request: Request, db: Db) -> AccountOut:
    """Create an account (e-mail, password of at least 10 characters). It does not sign in."""
    refuse_cross_site(request)
    password_hash = hash_password(body.password)
    with db.connection() as conn:
        account = accounts.create_user(conn, body.email, password_hash)
    if account is None:
        raise ApiError(409, "an account with this e-mail exists", code="email_taken")
    return account


@router.post("/login", response_model=LoginResponse, responses=error_responses(401, 403, 413, 422, 429))
def login(body: LoginRequest, request: Request, response: Response, db: Db, settings: AppSettings) -> LoginResponse:
    """Sign in: sets the session cookie `ty_session` (HttpOnly, SameSite=Lax, Secure) and returns the CSRF
    token that POST, PUT, PATCH and DELETE requests must send as header `X-CSRF-Token`."""
    refuse_cross_site(request)
    user_id = check_credentials(db, settings, body, request)
    ttl = timedelta(hours=settings.session_ttl_hours)
    with db.connection() as conn:
        previous = request.cookies.get(SESSION_COOKIE)
        if previous:  # the session this browser had is replaced, not left valid beside the new one
            revoke_session(conn, token_hash(previous))
        issued = issue_session(conn, user_id, "cookie", ttl)
    response.set_cookie(SESSION_COOKIE, issued.token, max_age=int(ttl.total_seconds()),
                        **session_cookie_kwargs(settings))
    assert issued.csrf_token is not None
    return LoginResponse(user_id=user_id, csrf_token=issued.csrf_token, expires_at=issued.expires_at)


@router.post("/token", response_model=TokenResponse, responses=error_responses(401, 403, 413, 422, 429))
def token(body: LoginRequest, request: Request, db: Db, settings: AppSettings) -> TokenResponse:
    """A bearer token for API clients (`Authorization: Bearer <token>`, no cookie, no CSRF token),
    valid for TY_TOKEN_TTL_DAYS. Rate-limited like login."""
    refuse_cross_site(request)
    user_id = check_credentials(db, settings, body, request)
    with db.connection() as conn:
        issued = issue_session(conn, user_id, "bearer", timedelta(days=settings.token_ttl_days))
    return TokenResponse(access_token=issued.token, expires_at=issued.expires_at)


@router.post("/logout", status_code=204, response_class=Response, responses=error_responses(401, 403))
def logout(user: CurrentUser, conn: Conn, settings: AppSettings) -> Response:
    """End this session (or revoke this bearer token) and clear the cookie."""
    revoke_session(conn, user.session_hash)
    response = Response(status_code=204)
    if user.session_kind == "cookie":
        response.delete_cookie(SESSION_COOKIE, **session_cookie_kwargs(settings))
    return response


@router.get("/session", response_model=SessionOut, responses=error_responses(401))
def session(user: CurrentUser) -> SessionOut:
    """Who is signed in, how, and until when."""
    return SessionOut(user_id=user.id, email=user.email, kind=user.session_kind, expires_at=user.expires_at)
