"""Your account: the password changed, everything stored about you as JSON (GDPR), and deleting the account with
every personal row. Changing the password and deleting the account ask for the password again."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from ty_resources.database import Database
from ty_web import account_mail
from ty_web.deps import AppSettings, Conn, CurrentUser, Db, MailerDep, User, user_limit
from ty_web.errors import ApiError, error_responses
from ty_web.queries.accounts import AccountQueries
from ty_web.queries.profiles import ProfileQueries
from ty_web.routers.auth import DEVICE_COOKIE, check_new_password, session_cookie_kwargs
from ty_web.schemas import AccountExport, PasswordChange, PasswordConfirmation
from ty_web.security import SESSION_COOKIE, hash_password, token_hash, verify_password

router = APIRouter(prefix="/account", tags=["account"], responses=error_responses(503))


@router.get("/export", response_model=AccountExport, responses=error_responses(401))
def export_account(user: CurrentUser, conn: Conn) -> AccountExport:
    """Everything stored about you: account (no password hash), sessions and known devices (no tokens), e-mailed
    links (no tokens), login attempts, profile, work history, CV drafts (anonymised text only: files are never
    kept), matches with your ratings, the cover letters kept, and the professions you suppressed."""
    account, profiles = AccountQueries(conn, user.id), ProfileQueries(conn, user.id)
    return AccountExport(
        exported_at=datetime.now(UTC),
        account=account.account(),
        profile=profiles.profile(),
        work_history=profiles.work_history(),
        cv_drafts=account.cv_drafts(),
        matches=account.matches(),
        suppressions=account.suppressions(),
        sessions=account.sessions(user.session_hash),
        known_devices=account.known_devices(),
        account_tokens=account.account_tokens(),
        cover_letters=account.cover_letters(),
        login_attempts=account.login_attempts(),
    )


def confirm_password(db: Database, user: User, password: str) -> None:
    """403 ``wrong_password`` unless ``password`` is the user's (checked without holding a connection)."""
    with db.connection() as conn:
        stored = AccountQueries(conn, user.id).password_hash()
    if not verify_password(stored, password):
        raise ApiError(403, "wrong password", code="wrong_password")


@router.post("/password", status_code=204, response_class=Response, responses=error_responses(401, 403, 413, 422, 429),
             dependencies=[user_limit("reauth", "password attempts")])
def change_password(body: PasswordChange, request: Request, user: CurrentUser, db: Db,
                    mailer: MailerDep) -> Response:
    """Change your password (the current one first). Every other session and bearer token of yours ends, and
    every known device but this one; this session stays. You get an e-mail about it."""
    confirm_password(db, user, body.current_password)
    check_new_password(body.new_password, user.email, "body.new_password")
    new_hash = hash_password(body.new_password)
    with db.connection() as conn:
        if conn.execute("SELECT 1 FROM sessions WHERE token_hash = %s FOR UPDATE", (user.session_hash,)
                        ).fetchone() is None:  # ended meanwhile (a password reset): that one wins
            raise ApiError(401, "session expired or unknown: sign in again")
        device = request.cookies.get(DEVICE_COOKIE)  # this browser stays a known device of the account
        AccountQueries(conn, user.id).set_password(new_hash, keep_session=user.session_hash,
                                                   keep_device=token_hash(device) if device else None)
    account_mail.send_later(mailer, user.email, *account_mail.password_changed())
    return Response(status_code=204)


@router.delete("", status_code=204, response_class=Response, responses=error_responses(401, 403, 413, 422, 429),
               dependencies=[user_limit("reauth", "password attempts")])
def delete_account(body: PasswordConfirmation, user: CurrentUser, db: Db, settings: AppSettings) -> Response:
    """Delete your account, with your password in the body (`{"password": "..."}`): every personal row
    (profile, work history, CV drafts, matches, ratings, suppressions, sessions and tokens, known devices,
    login attempts) goes in one transaction; the cookie is cleared."""
    confirm_password(db, user, body.password)
    with db.connection() as conn:
        AccountQueries(conn, user.id).delete()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, **session_cookie_kwargs(settings))
    return response
