"""Your account: the password changed, everything stored about you as JSON (GDPR), and deleting the account with
every personal row. Changing the password and deleting the account ask for the password again."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ty_web.deps import AppSettings, Conn, CurrentUser, Db, MailerDep, user_limit
from ty_web.errors import error_responses
from ty_web.schemas import AccountExport, PasswordChange, PasswordConfirmation
from ty_web.services import accounts as service
from ty_web.services.accounts import DEVICE_COOKIE

router = APIRouter(prefix="/account", tags=["account"], responses=error_responses(503))


@router.get("/export", response_model=AccountExport, responses=error_responses(401))
def export_account(user: CurrentUser, conn: Conn) -> AccountExport:
    """Everything stored about you: account (no password hash), sessions and known devices (no tokens), e-mailed
    links (no tokens), login attempts, profile, work history, CV drafts (anonymised text only: files are never
    kept), matches with your ratings, the cover letters kept, and the professions you suppressed."""
    return service.export(conn, user.id, user.session_hash)


@router.post("/password", status_code=204, response_class=Response, responses=error_responses(401, 403, 413, 422, 429),
             dependencies=[user_limit("reauth", "password attempts")])
def change_password(body: PasswordChange, request: Request, user: CurrentUser, db: Db,
                    mailer: MailerDep) -> Response:
    """Change your password (the current one first). Every other session and bearer token of yours ends, and
    every known device but this one; this session stays. You get an e-mail about it."""
    service.change_password(db, mailer, user.id, user.email, user.session_hash,
                            request.cookies.get(DEVICE_COOKIE), body)  # this browser stays a known device
    return Response(status_code=204)


@router.delete("", status_code=204, response_class=Response, responses=error_responses(401, 403, 413, 422, 429),
               dependencies=[user_limit("reauth", "password attempts")])
def delete_account(body: PasswordConfirmation, user: CurrentUser, db: Db, settings: AppSettings) -> Response:
    """Delete your account, with your password in the body (`{"password": "..."}`): every personal row
    (profile, work history, CV drafts, matches, ratings, suppressions, sessions and tokens, known devices,
    login attempts) goes in one transaction; the cookie is cleared."""
    service.delete_account(db, user.id, body.password)
    response = Response(status_code=204)
    service.clear_session_cookie(response, settings)
    return response
