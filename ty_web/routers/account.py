"""GDPR: everything stored about you as JSON, and deleting the account with every personal row."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from ty_web.deps import AppSettings, Conn, CurrentUser
from ty_web.errors import error_responses
from ty_web.queries.accounts import AccountQueries
from ty_web.queries.profiles import ProfileQueries
from ty_web.routers.auth import session_cookie_kwargs
from ty_web.schemas import AccountExport
from ty_web.security import SESSION_COOKIE

router = APIRouter(prefix="/account", tags=["account"], responses=error_responses(503))


@router.get("/export", response_model=AccountExport, responses=error_responses(401))
def export_account(user: CurrentUser, conn: Conn) -> AccountExport:
    """Everything stored about you: account (no password hash), sessions (no tokens), login attempts, profile,
    work history, CV drafts (anonymised text only: files are never kept), matches with your ratings, and the
    professions you suppressed."""
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
        login_attempts=account.login_attempts(),
    )


@router.delete("", status_code=204, response_class=Response, responses=error_responses(401, 403))
def delete_account(user: CurrentUser, conn: Conn, settings: AppSettings) -> Response:
    """Delete your account: every personal row (profile, work history, CV drafts, matches, ratings,
    suppressions, sessions and tokens, login attempts) goes in one transaction; the cookie is cleared."""
    AccountQueries(conn, user.id).delete()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, **session_cookie_kwargs(settings))
    return response
