"""Accounts and sign-in: register and verify the address, log in (cookie session + CSRF token), bearer tokens,
password reset by e-mail, sessions listed and ended, log out.

Answers never say whether an address has an account: registration and a password reset answer 202 with the
same message either way (the mailbox owner learns the rest by e-mail), and a failed login is 401 after about
the same time whether or not the account exists.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from ty_web.deps import (
    AppSettings,
    Conn,
    CurrentUser,
    Db,
    Limiter,
    MailerDep,
    address_limit,
)
from ty_web.errors import error_responses, not_found
from ty_web.queries.accounts import AccountQueries
from ty_web.schemas import (
    Accepted,
    ExportSession,
    LoginRequest,
    LoginResponse,
    PasswordResetConfirm,
    PasswordResetRequest,
    RegisterRequest,
    SessionOut,
    TokenResponse,
    VerifiedOut,
    VerifyEmailRequest,
)
from ty_web.services import accounts as service
from ty_web.services.accounts import REGISTERED, RESET_SENT, NotCrossSite, set_device_cookie

router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(503))

SessionId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A session of yours (GET /auth/sessions).")]


@router.post("/register", status_code=202, response_model=Accepted,
             responses=error_responses(403, 413, 422, 429),
             dependencies=[NotCrossSite, address_limit("register", "registrations")])
def register(body: RegisterRequest, request: Request, db: Db, settings: AppSettings, limiter: Limiter,
             mailer: MailerDep) -> Accepted:
    """Create an account (e-mail, a password of at least 10 characters that is not easy to guess). The answer is
    the same whether or not the address has an account: its owner gets an e-mail, with a link to confirm the
    address (a new account, or one not yet confirmed) or a note that an account exists. Signing in works once
    the address is confirmed (POST /auth/verify-email). An account never confirmed is deleted after
    `TY_UNVERIFIED_ACCOUNT_DAYS`."""
    service.register(db, settings, limiter, mailer, body)
    return Accepted(message=REGISTERED)


@router.post("/verify-email", response_model=VerifiedOut, responses=error_responses(400, 401, 403, 413, 422, 429),
             dependencies=[NotCrossSite, address_limit("mail", "attempts")])
def verify_email(body: VerifyEmailRequest, request: Request, db: Db) -> VerifiedOut:
    """Confirm your address with the token of the link we e-mailed and the password you registered with (so
    that only who registered, and owns the mailbox, confirms it; registering an unconfirmed address again sends
    a link for the new password, which the account takes). The token works once."""
    return service.verify_email(db, body)


@router.post("/password-reset", status_code=202, response_model=Accepted,
             responses=error_responses(403, 413, 422, 429),
             dependencies=[NotCrossSite, address_limit("mail", "e-mails asked for")])
def request_password_reset(body: PasswordResetRequest, request: Request, db: Db, settings: AppSettings,
                           limiter: Limiter, mailer: MailerDep) -> Accepted:
    """Forgot your password: if the address has an account, it gets a link to set a new one (valid
    `TY_RESET_TOKEN_MINUTES`, once). The answer is the same either way."""
    service.request_password_reset(db, settings, limiter, mailer, body)
    return Accepted(message=RESET_SENT)


@router.post("/password-reset/confirm", status_code=204, response_class=Response,
             responses=error_responses(400, 403, 413, 422, 429),
             dependencies=[NotCrossSite, address_limit("mail", "attempts")])
def confirm_password_reset(body: PasswordResetConfirm, request: Request, db: Db, settings: AppSettings,
                           mailer: MailerDep) -> Response:
    """Set a new password with the token of the reset link. Every session, bearer token and known device of the
    account ends, and the address counts as confirmed; this browser becomes a known device (cookie
    `ty_device`): whoever slows down logins to the account by failing on purpose does not slow it. The token
    works once."""
    device_token = service.confirm_password_reset(db, mailer, body)
    response = Response(status_code=204)
    set_device_cookie(response, settings, device_token)
    return response


@router.post("/login", response_model=LoginResponse, responses=error_responses(401, 403, 413, 422, 429),
             dependencies=[NotCrossSite])
def login(body: LoginRequest, request: Request, response: Response, db: Db, settings: AppSettings,
          mailer: MailerDep) -> LoginResponse:
    """Sign in: sets the session cookie `ty_session` (HttpOnly, SameSite=Lax, Secure) and returns the CSRF
    token that POST, PUT, PATCH and DELETE requests must send as header `X-CSRF-Token`. After a few failed
    attempts further ones are delayed (429 with `Retry-After`), except from a device that signed in to the
    account before (cookie `ty_device`, set here). 403 `email_unverified` until the address is confirmed."""
    user_id, issued = service.cookie_sign_in(db, settings, body, request, mailer, response)
    assert issued.csrf_token is not None
    return LoginResponse(user_id=user_id, csrf_token=issued.csrf_token, expires_at=issued.expires_at)


@router.post("/token", response_model=TokenResponse, responses=error_responses(401, 403, 413, 422, 429),
             dependencies=[NotCrossSite])
def token(body: LoginRequest, request: Request, response: Response, db: Db, settings: AppSettings,
          mailer: MailerDep) -> TokenResponse:
    """A bearer token for API clients (`Authorization: Bearer <token>`, no cookie, no CSRF token),
    valid for TY_TOKEN_TTL_DAYS. Throttled like login (a client that keeps the `ty_device` cookie counts as a
    known device)."""
    _, issued, device_token = service.sign_in(db, settings, body, request, mailer, "bearer",
                                      timedelta(days=settings.token_ttl_days))
    set_device_cookie(response, settings, device_token)
    return TokenResponse(access_token=issued.token, expires_at=issued.expires_at)


@router.get("/sessions", response_model=list[ExportSession], responses=error_responses(401))
def list_sessions(user: CurrentUser, conn: Conn, settings: AppSettings) -> list[ExportSession]:
    """Your live sessions and bearer tokens, oldest first; `current` marks the one asking."""
    return service.live_sessions(conn, settings, user.id, user.session_hash)


@router.delete("/sessions", status_code=204, response_class=Response, responses=error_responses(401, 403))
def end_other_sessions(user: CurrentUser, conn: Conn) -> Response:
    """Sign out everywhere else: every session and bearer token of yours but the one asking ends."""
    AccountQueries(conn, user.id).end_other_sessions(user.session_hash)
    return Response(status_code=204)


@router.delete("/sessions/{session_id}", status_code=204, response_class=Response,
               responses=error_responses(401, 403, 404, 422))
def end_session(session_id: SessionId, user: CurrentUser, conn: Conn) -> Response:
    """End one of your sessions or bearer tokens (this one too, if you name it)."""
    if not AccountQueries(conn, user.id).end_session(session_id):
        raise not_found("session")
    return Response(status_code=204)


@router.post("/logout", status_code=204, response_class=Response, responses=error_responses(401, 403))
def logout(user: CurrentUser, conn: Conn, settings: AppSettings) -> Response:
    """End this session (or revoke this bearer token) and clear the cookie."""
    service.sign_out(conn, user.session_hash)
    response = Response(status_code=204)
    if user.session_kind == "cookie":
        service.clear_session_cookie(response, settings)
    return response


@router.get("/session", response_model=SessionOut, responses=error_responses(401))
def session(user: CurrentUser) -> SessionOut:
    """Who is signed in, how, and until when."""
    return SessionOut(user_id=user.id, email=user.email, kind=user.session_kind, expires_at=user.expires_at)
