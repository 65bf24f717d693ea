"""The rules of accounts and sign-in, called by the API's routes (ty_web.routers.auth, ty_web.routers.account) and
by the pages (ty_web.pages.start, ty_web.pages.account): register and verify the address, sign in (throttled, known
devices), the password reset by e-mail, sign out, the sessions listed, the password changed, the GDPR export and
deleting the account.

Nothing here says whether an address has an account: registering and asking for a password reset do the same
either way (the mailbox owner learns the rest by e-mail), and a failed sign-in is 401 after about the same time
whether or not the account exists. Errors are :class:`ty_web.errors.ApiError` with a ``code`` (``invalid_token``,
``invalid_credentials``, ``email_unverified``, ``wrong_password``, ``csrf_failed``) or a 422's ``fields``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import psycopg
from fastapi import Depends, Request, Response

from ty_resources.database import Database
from ty_resources.mail import Mailer
from ty_resources.settings import Settings
from ty_web import account_mail
from ty_web.clients import client_address
from ty_web.errors import ApiError, field_error
from ty_web.queries import accounts
from ty_web.queries.accounts import AccountQueries
from ty_web.queries.profiles import ProfileQueries
from ty_web.ratelimit import RateLimiter
from ty_web.schemas import (
    AccountExport,
    ExportSession,
    LoginRequest,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    RegisterRequest,
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

INVALID_CREDENTIALS = "wrong e-mail or password"
DEVICE_COOKIE = "ty_device"
DEVICE_COOKIE_DAYS = 400  # browsers cap a cookie's lifetime at 400 days
REGISTERED = ("We sent an e-mail to this address: follow its link to confirm the address, then sign in. "
              "(If the address has an account already, the e-mail says so.)")
RESET_SENT = "If this address has an account, we sent it an e-mail with a link to set a new password."


def invalid_link() -> ApiError:
    return ApiError(400, "this link is unknown, used or expired: ask for a new one", code="invalid_token")


def mail_key(email: str, kind: str) -> str:
    """The ``mail_to`` limit's key for an address and kind of mail (``register``, ``reset``: separate budgets, so
    that registering someone's address again and again does not use up their password resets): a hash, so that
    no address sits in rate_limits or the log."""
    return f"mail:{kind}:" + token_hash(email.lower())[:32]


def refuse_cross_site(request: Request) -> None:
    """A browser's cross-site form post must not register or sign anyone in (login CSRF). Browsers say so in
    ``Sec-Fetch-Site``; those that do not send it (older ones, and every browser on plain http) still send
    ``Origin`` with a POST: one that names neither this request's host nor ``TY_PUBLIC_URL``'s is refused too
    (``null`` included: a sandboxed or privacy-redirected form). Clients that send no ``Origin`` (API clients,
    curl) are not browsers posting a form."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise ApiError(403, "cross-site request refused", code="csrf_failed")
    origin = request.headers.get("origin")
    if origin is not None:
        own = {request.headers.get("host", "").lower(),
               urlsplit(request.app.state.settings.public_url).netloc.lower()}
        if urlsplit(origin.strip()).netloc.lower() not in own - {""}:
            raise ApiError(403, "cross-site request refused", code="csrf_failed")


# Listed first in a route's dependencies: a cross-site post is refused before it counts against any rate limit
# (which a page of another site could otherwise use up for everyone behind the victim's address).
NotCrossSite = Depends(refuse_cross_site)


def session_cookie_kwargs(settings: Settings) -> dict:
    """The flags of the session cookie; deleting it needs the same ones."""
    return {"path": "/", "secure": not settings.debug, "httponly": True, "samesite": "lax"}


def check_new_password(password: str, email: str | None, field: str = "body.password") -> None:
    problem = password_problem(password, email)
    if problem:
        raise field_error(field, problem)


# ------------------------------------------------------------------ registration and the e-mailed links


def register(db: Database, settings: Settings, limiter: RateLimiter, mailer: Mailer, body: RegisterRequest) -> None:
    """A new account, or a new verification link for an unconfirmed one, or a note to the owner of a confirmed
    one: the same for the caller either way (the mailbox learns which). The ``mail_to`` limit counts per address;
    the route's own limit (``register``, per client address) is the caller's."""
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


def verify_email(db: Database, body: VerifyEmailRequest) -> VerifiedOut:
    """The address confirmed with the link's token and the password of its registration (400 ``invalid_token``,
    401 ``invalid_credentials``). The token works once."""
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


def request_password_reset(db: Database, settings: Settings, limiter: RateLimiter, mailer: Mailer,
                           body: PasswordResetRequest) -> None:
    """A reset link to the address if it has an account; nothing the caller can tell apart otherwise."""
    limiter.check("mail_to", mail_key(body.email, "reset"), "e-mails to this address")
    with db.connection() as conn:
        user = accounts.credentials(conn, body.email.lower())
        token = None if user is None else issue_account_token(
            conn, user["id"], "reset_password", timedelta(minutes=settings.reset_token_minutes))
    if user is not None and token is not None:
        account_mail.send_later(mailer, user["email"], *account_mail.password_reset(settings, token))


def confirm_password_reset(db: Database, mailer: Mailer, body: PasswordResetConfirm) -> str | None:
    """The new password of the reset link's account (400 ``invalid_token``, 422 ``body.password``): every session,
    bearer token and known device ends, the address counts as confirmed. Returns the token of the known device
    this browser becomes (:func:`set_device_cookie`)."""
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
    return device_token


# ------------------------------------------------------------------ sign in and out


def sign_in(db: Database, settings: Settings, body: LoginRequest, request: Request, mailer: Mailer,
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
                     mailer: Mailer) -> None:
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


def cookie_sign_in(db: Database, settings: Settings, body: LoginRequest, request: Request, mailer: Mailer,
                   response: Response) -> tuple[int, IssuedSession]:
    """Sign in with a cookie session (:func:`sign_in`): the session cookie ``ty_session`` and a new known device's
    cookie ``ty_device`` set on ``response``. The user id and the session (its CSRF token)."""
    ttl = timedelta(hours=settings.session_ttl_hours)
    user_id, issued, device_token = sign_in(db, settings, body, request, mailer, "cookie", ttl)
    response.set_cookie(SESSION_COOKIE, issued.token, max_age=int(ttl.total_seconds()),
                        **session_cookie_kwargs(settings))
    set_device_cookie(response, settings, device_token)
    return user_id, issued


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, **session_cookie_kwargs(settings))


def sign_out(conn: psycopg.Connection, session_hash: str) -> None:
    """End this session (or revoke this bearer token); the caller clears a cookie."""
    revoke_session(conn, session_hash)


def live_sessions(conn: psycopg.Connection, settings: Settings, user_id: int, session_hash: str
                  ) -> list[ExportSession]:
    """The user's live sessions and bearer tokens, oldest first; ``current`` marks the one hashed
    ``session_hash``."""
    return AccountQueries(conn, user_id).sessions(session_hash, idle_s=settings.session_idle_hours * 3600)


# ------------------------------------------------------------------ the account


def export(conn: psycopg.Connection, user_id: int, session_hash: str) -> AccountExport:
    """Everything stored about the user (GDPR): account (no password hash), sessions and known devices (no
    tokens), e-mailed links (no tokens), login attempts, profile, work history, CV drafts (anonymised text only),
    matches with the ratings, the cover letters and match explanations kept, and the professions suppressed."""
    account, profiles = AccountQueries(conn, user_id), ProfileQueries(conn, user_id)
    return AccountExport(
        exported_at=datetime.now(UTC),
        account=account.account(),
        profile=profiles.profile(),
        work_history=profiles.work_history(),
        cv_drafts=account.cv_drafts(),
        matches=account.matches(),
        suppressions=account.suppressions(),
        sessions=account.sessions(session_hash),
        known_devices=account.known_devices(),
        account_tokens=account.account_tokens(),
        cover_letters=account.cover_letters(),
        match_explanations=account.match_explanations(),
        login_attempts=account.login_attempts(),
    )


def confirm_password(db: Database, user_id: int, password: str) -> None:
    """403 ``wrong_password`` unless ``password`` is the user's (checked without holding a connection)."""
    with db.connection() as conn:
        stored = AccountQueries(conn, user_id).password_hash()
    if not verify_password(stored, password):
        raise ApiError(403, "wrong password", code="wrong_password")


def change_password(db: Database, mailer: Mailer, user_id: int, email: str, session_hash: str,
                    device_cookie: str | None, body: PasswordChange) -> None:
    """The new password (the current one first: 403 ``wrong_password``; 422 ``body.new_password``). Every other
    session and bearer token ends, and every known device but this browser's (``device_cookie``); this session
    stays (401 if it ended meanwhile). The owner gets an e-mail about it."""
    confirm_password(db, user_id, body.current_password)
    check_new_password(body.new_password, email, "body.new_password")
    new_hash = hash_password(body.new_password)
    with db.connection() as conn:
        if conn.execute("SELECT 1 FROM sessions WHERE token_hash = %s FOR UPDATE", (session_hash,)
                        ).fetchone() is None:  # ended meanwhile (a password reset): that one wins
            raise ApiError(401, "session expired or unknown: sign in again")
        AccountQueries(conn, user_id).set_password(new_hash, keep_session=session_hash,
                                                   keep_device=token_hash(device_cookie) if device_cookie else None)
    account_mail.send_later(mailer, email, *account_mail.password_changed())


def delete_account(db: Database, user_id: int, password: str) -> None:
    """The account and every personal row, in one transaction, once the password is confirmed (403
    ``wrong_password``); the caller clears a cookie."""
    confirm_password(db, user_id, password)
    with db.connection() as conn:
        AccountQueries(conn, user_id).delete()
