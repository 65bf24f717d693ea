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

from ty_resources.database import Database
from ty_resources.settings import Settings
from ty_web import account_mail
from ty_web.clients import client_address
from ty_web.deps import (
    AppSettings,
    Conn,
    CurrentUser,
    Db,
    Limiter,
    MailerDep,
    address_limit,
)
from ty_web.errors import ApiError, error_responses, field_error, not_found
from ty_web.queries import accounts
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
from ty_web.security import (
    SESSION_COOKIE,
    Attempt,
    IssuedSession,
    LoginThrottle,
    RateLimited,
    find_account_token,
    hash_password,
    issue_account_token,
    issue_session,
    password_needs_rehash,
    password_problem,
    remember_device,
    revoke_session,
    token_hash,
    use_account_token,
    verify_dummy,
    verify_password,
)

router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(503))

INVALID_CREDENTIALS = "wrong e-mail or password"
DEVICE_COOKIE = "ty_device"
DEVICE_COOKIE_DAYS = 400  # browsers cap a cookie's lifetime at 400 days
REGISTERED = ("We sent an e-mail to this address: follow its link to confirm the address, then sign in. "
              "(If the address has an account already, the e-mail says so.)")
RESET_SENT = "If this address has an account, we sent it an e-mail with a link to set a new password."


def invalid_link() -> ApiError:
    return ApiError(400, "this link is unknown, used or expired: ask for a new one", code="invalid_token")


SessionId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A session of yours (GET /auth/sessions).")]


def mail_key(email: str, kind: str) -> str:
    """The ``mail_to`` limit's key for an address and kind of mail (``register``, ``reset``: separate budgets, so
    that registering someone's address again and again does not use up their password resets): a hash, so that
    no address sits in rate_limits or the log."""
    return f"mail:{kind}:" + token_hash(email.lower())[:32]


def refuse_cross_site(request: Request) -> None:
    """A browser's cross-site form post must not register or sign anyone in (login CSRF)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise ApiError(403, "cross-site request refused", code="csrf_failed")


def session_cookie_kwargs(settings: Settings) -> dict:
    """The flags of the session cookie; deleting it needs the same ones."""
    return {"path": "/", "secure": not settings.debug, "httponly": True, "samesite": "lax"}


def check_new_password(password: str, email: str | None, field: str = "body.password") -> None:
    problem = password_problem(password, email)
    if problem:
        raise field_error(field, problem)


def sign_in(db: Database, settings: Settings, body: LoginRequest, request: Request, mailer: MailerDep,
            kind: str, ttl: timedelta) -> tuple[int, IssuedSession, str | None]:
    """A new session of ``kind`` for these credentials: the user id, the session, and a new known device's token
    (None when the request came from one). 429 while throttled, 401 otherwise (the same answer whether or not
    the e-mail has an account, after about the same time), 403 for an address not yet verified. The password is
    verified without holding a database connection; the session is issued in the transaction that finds the
    password unchanged since (a reset meanwhile: 401), so no session outlives a reset that began after it."""
    throttle: LoginThrottle = request.app.state.login_throttle
    account = body.email.lower()
    with db.connection() as conn:
        device = throttle.known_device(conn, request.cookies.get(DEVICE_COOKIE), account)
        try:
            attempt = throttle.begin(conn, account, client_address(request), device)
        except RateLimited as exc:
            raise ApiError(429, "too many failed logins: try again later",
                           headers={"Retry-After": str(exc.retry_after_s)}) from None
        user = accounts.credentials(conn, account)
    if user is None:
        verify_dummy(body.password)
        raise ApiError(401, INVALID_CREDENTIALS, code="invalid_credentials")
    user_id, stored = user["id"], user["password_hash"]
    if not verify_password(stored, body.password):
        _tell_owner_once(db, settings, attempt, user_id, user["email"], mailer)
        raise ApiError(401, INVALID_CREDENTIALS, code="invalid_credentials")
    if not user["verified"]:
        raise ApiError(403, "confirm your e-mail address first: follow the link we sent (registering again "
                            "sends a new one)", code="email_unverified")
    new_hash = hash_password(body.password) if password_needs_rehash(stored) else None
    with db.connection() as conn:
        locked = conn.execute("SELECT password_hash FROM users WHERE id = %s FOR UPDATE", (user_id,)).fetchone()
        if locked is None or locked[0] != stored:  # deleted, reset or changed since it was checked
            raise ApiError(401, INVALID_CREDENTIALS, code="invalid_credentials")
        throttle.succeeded(conn, attempt)
        AccountQueries(conn, user_id).record_login(new_hash)
        device_token = remember_device(conn, user_id, device)
        previous = request.cookies.get(SESSION_COOKIE) if kind == "cookie" else None
        if previous:  # the session this browser had is replaced, not left valid beside the new one
            revoke_session(conn, token_hash(previous))
        issued = issue_session(conn, user_id, kind, ttl, request.headers.get("user-agent"))
    return user_id, issued, device_token


def _tell_owner_once(db: Database, settings: Settings, attempt: Attempt, user_id: int, email: str,
                     mailer: MailerDep) -> None:
    """The owner hears of it when logins to the account start being slowed (at most once a window)."""
    failures = attempt.account_failures + 1
    if attempt.device is not None or failures < settings.login_max_attempts:
        return
    with db.connection() as conn:
        told = conn.execute(
            "UPDATE users SET throttle_notified_at = now() WHERE id = %s AND (throttle_notified_at IS NULL"
            " OR throttle_notified_at < now() - make_interval(secs => %s))", (user_id, settings.login_window_s),
        ).rowcount
    if told:
        account_mail.send_later(mailer, email, *account_mail.logins_slowed(failures))


def set_device_cookie(response: Response, settings: Settings, device_token: str | None) -> None:
    if device_token is not None:
        response.set_cookie(DEVICE_COOKIE, device_token, max_age=DEVICE_COOKIE_DAYS * 86400, path="/",
                            secure=not settings.debug, httponly=True, samesite="strict")


@router.post("/register", status_code=202, response_model=Accepted,
             responses=error_responses(403, 413, 422, 429), dependencies=[address_limit("register", "registrations")])
def register(body: RegisterRequest, request: Request, db: Db, settings: AppSettings, limiter: Limiter,
             mailer: MailerDep) -> Accepted:
    """Create an account (e-mail, a password of at least 10 characters that is not easy to guess). The answer is
    the same whether or not the address has an account: its owner gets an e-mail, with a link to confirm the
    address (a new account, or one not yet confirmed) or a note that an account exists. Signing in works once
    the address is confirmed (POST /auth/verify-email). An account never confirmed is deleted after
    `TY_UNVERIFIED_ACCOUNT_DAYS`."""
    refuse_cross_site(request)
    check_new_password(body.password, body.email)
    limiter.check("mail_to", mail_key(body.email, "register"), "e-mails to this address")
    # also for an existing address (both answers take as long), in the registrations' own slot (never the logins')
    password_hash = hash_password(body.password, registration=True)
    with db.connection() as conn:
        found = accounts.register(conn, body.email, password_hash)
        # an unverified account registered again: the link carries this registration's password, so the mailbox
        # owner wins the address from whoever registered it first
        token = None if found.verified else issue_account_token(
            conn, found.user_id, "verify_email", timedelta(hours=settings.verify_token_hours),
            password_hash=None if found.created else password_hash)
    message = account_mail.verification(settings, token) if token else account_mail.already_registered(settings)
    account_mail.send_later(mailer, body.email, *message)
    return Accepted(message=REGISTERED)


@router.post("/verify-email", response_model=VerifiedOut, responses=error_responses(400, 401, 403, 413, 422, 429),
             dependencies=[address_limit("mail", "attempts")])
def verify_email(body: VerifyEmailRequest, request: Request, db: Db) -> VerifiedOut:
    """Confirm your address with the token of the link we e-mailed and the password you registered with (so
    that only who registered, and owns the mailbox, confirms it; registering an unconfirmed address again sends
    a link for the new password, which the account takes). The token works once."""
    refuse_cross_site(request)
    with db.connection() as conn:
        found = find_account_token(conn, body.token, "verify_email")
    if found is None:
        raise invalid_link()
    if not verify_password(found["password_hash"], body.password):
        raise ApiError(401, "wrong password for this address (forgot it? set a new one: "
                            "POST /auth/password-reset)", code="invalid_credentials")
    with db.connection() as conn:
        if not use_account_token(conn, found["token_hash"]):
            raise invalid_link()
        row = conn.execute("UPDATE users SET email_verified_at = coalesce(email_verified_at, now()),"
                           " password_hash = coalesce(%s, password_hash)"
                           " WHERE id = %s RETURNING email, email_verified_at",
                           (found["token_password_hash"], found["user_id"])).fetchone()
    assert row is not None
    return VerifiedOut(email=row[0], email_verified_at=row[1])


@router.post("/password-reset", status_code=202, response_model=Accepted,
             responses=error_responses(403, 413, 422, 429), dependencies=[address_limit("mail", "e-mails asked for")])
def request_password_reset(body: PasswordResetRequest, request: Request, db: Db, settings: AppSettings,
                           limiter: Limiter, mailer: MailerDep) -> Accepted:
    """Forgot your password: if the address has an account, it gets a link to set a new one (valid
    `TY_RESET_TOKEN_MINUTES`, once). The answer is the same either way."""
    refuse_cross_site(request)
    limiter.check("mail_to", mail_key(body.email, "reset"), "e-mails to this address")
    with db.connection() as conn:
        user = accounts.credentials(conn, body.email.lower())
        token = None if user is None else issue_account_token(
            conn, user["id"], "reset_password", timedelta(minutes=settings.reset_token_minutes))
    if user is not None and token is not None:
        account_mail.send_later(mailer, user["email"], *account_mail.password_reset(settings, token))
    return Accepted(message=RESET_SENT)


@router.post("/password-reset/confirm", status_code=204, response_class=Response,
             responses=error_responses(400, 403, 413, 422, 429), dependencies=[address_limit("mail", "attempts")])
def confirm_password_reset(body: PasswordResetConfirm, request: Request, db: Db, settings: AppSettings,
                           mailer: MailerDep) -> Response:
    """Set a new password with the token of the reset link. Every session, bearer token and known device of the
    account ends, and the address counts as confirmed; this browser becomes a known device (cookie
    `ty_device`): whoever slows down logins to the account by failing on purpose does not slow it. The token
    works once."""
    refuse_cross_site(request)
    with db.connection() as conn:
        found = find_account_token(conn, body.token, "reset_password")
    if found is None:
        raise invalid_link()
    check_new_password(body.password, found["email"])
    new_hash = hash_password(body.password)
    with db.connection() as conn:
        if not use_account_token(conn, found["token_hash"]):
            raise invalid_link()
        AccountQueries(conn, found["user_id"]).set_password(new_hash, keep_session=None)
        device_token = remember_device(conn, found["user_id"], None)  # following the link proved the mailbox
    account_mail.send_later(mailer, found["email"], *account_mail.password_changed())
    response = Response(status_code=204)
    set_device_cookie(response, settings, device_token)
    return response


@router.post("/login", response_model=LoginResponse, responses=error_responses(401, 403, 413, 422, 429))
def login(body: LoginRequest, request: Request, response: Response, db: Db, settings: AppSettings,
          mailer: MailerDep) -> LoginResponse:
    """Sign in: sets the session cookie `ty_session` (HttpOnly, SameSite=Lax, Secure) and returns the CSRF
    token that POST, PUT, PATCH and DELETE requests must send as header `X-CSRF-Token`. After a few failed
    attempts further ones are delayed (429 with `Retry-After`), except from a device that signed in to the
    account before (cookie `ty_device`, set here). 403 `email_unverified` until the address is confirmed."""
    refuse_cross_site(request)
    ttl = timedelta(hours=settings.session_ttl_hours)
    user_id, issued, device_token = sign_in(db, settings, body, request, mailer, "cookie", ttl)
    response.set_cookie(SESSION_COOKIE, issued.token, max_age=int(ttl.total_seconds()),
                        **session_cookie_kwargs(settings))
    set_device_cookie(response, settings, device_token)
    assert issued.csrf_token is not None
    return LoginResponse(user_id=user_id, csrf_token=issued.csrf_token, expires_at=issued.expires_at)


@router.post("/token", response_model=TokenResponse, responses=error_responses(401, 403, 413, 422, 429))
def token(body: LoginRequest, request: Request, response: Response, db: Db, settings: AppSettings,
          mailer: MailerDep) -> TokenResponse:
    """A bearer token for API clients (`Authorization: Bearer <token>`, no cookie, no CSRF token),
    valid for TY_TOKEN_TTL_DAYS. Throttled like login (a client that keeps the `ty_device` cookie counts as a
    known device)."""
    refuse_cross_site(request)
    _, issued, device_token = sign_in(db, settings, body, request, mailer, "bearer",
                                      timedelta(days=settings.token_ttl_days))
    set_device_cookie(response, settings, device_token)
    return TokenResponse(access_token=issued.token, expires_at=issued.expires_at)


@router.get("/sessions", response_model=list[ExportSession], responses=error_responses(401))
def list_sessions(user: CurrentUser, conn: Conn, settings: AppSettings) -> list[ExportSession]:
    """Your live sessions and bearer tokens, oldest first; `current` marks the one asking."""
    return AccountQueries(conn, user.id).sessions(user.session_hash, idle_s=settings.session_idle_hours * 3600)


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
    revoke_session(conn, user.session_hash)
    response = Response(status_code=204)
    if user.session_kind == "cookie":
        response.delete_cookie(SESSION_COOKIE, **session_cookie_kwargs(settings))
    return response


@router.get("/session", response_model=SessionOut, responses=error_responses(401))
def session(user: CurrentUser) -> SessionOut:
    """Who is signed in, how, and until when."""
    return SessionOut(user_id=user.id, email=user.email, kind=user.session_kind, expires_at=user.expires_at)
