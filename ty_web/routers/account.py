"""GDPR: everything stored about you as JSON, and deleting the account with every personal row."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response

from ty_web.deps import AppSettings, Conn, CurrentUser
from ty_web.errors import error_responses
from ty_web.routers.auth import session_cookie_kwargs
from ty_web.routers.profiles import list_work_history, load_profile
from ty_web.schemas import (
    AccountExport,
    ExportAccount,
    ExportCvDraft,
    ExportLoginAttempt,
    ExportMatch,
    ExportSession,
    ExportSuppression,
)
from ty_web.security import SESSION_COOKIE

router = APIRouter(prefix="/account", tags=["account"], responses=error_responses(503))


@router.get("/export", response_model=AccountExport, responses=error_responses(401))
def export_account(user: CurrentUser, conn: Conn) -> AccountExport:
    """Everything stored about you: account (no password hash), sessions (no tokens), login attempts, profile,
    work history, CV drafts (anonymised text only: files are never kept), matches with your ratings, and the
    professions you suppressed."""
    account = conn.execute("SELECT id, email, created_at, last_login_at FROM users WHERE id = %s",
                           (user.id,)).fetchone()
    sessions = [
        ExportSession(kind=r[0], created_at=r[1], expires_at=r[2], last_used_at=r[3], current=r[4])
        for r in conn.execute(
            "SELECT kind, created_at, expires_at, last_used_at, token_hash = %s FROM sessions"
            " WHERE user_id = %s ORDER BY created_at", (user.session_hash, user.id))
    ]
    attempts = [
        ExportLoginAttempt(address=r[0], succeeded=r[1], attempted_at=r[2])
        for r in conn.execute("SELECT address, succeeded, attempted_at FROM login_attempts WHERE account = lower(%s)"
                              " ORDER BY attempted_at", (account[1],))
    ]
    drafts = [
        ExportCvDraft(id=r[0], filename_kind=r[1], anonymised_text=r[2], draft=r[3], created_at=r[4],
                      imported_at=r[5])
        for r in conn.execute("SELECT id, filename_kind, anonymised_text, draft, created_at, imported_at"
                              " FROM cv_drafts WHERE user_id = %s ORDER BY created_at", (user.id,))
    ]
    matches = [
        ExportMatch(id=r[0], refnr=r[1], title=r[2], score=r[3], components=r[4], kldb_code=r[5], computed_at=r[6],
                    rating=r[7], feedback=r[8], decision=r[9], rated_at=r[10])
        for r in conn.execute(
            "SELECT m.id, m.refnr, p.title, m.score, m.components, m.kldb_code, m.computed_at, m.rating,"
            " m.feedback, m.decision, m.rated_at FROM matches m LEFT JOIN postings p ON p.refnr = m.refnr"
            " WHERE m.user_id = %s ORDER BY m.score DESC, m.id", (user.id,))
    ]
    suppressions = [
        ExportSuppression(kldb_code=r[0], created_at=r[1], source_match_id=r[2])
        for r in conn.execute("SELECT kldb_code, created_at, source_match_id FROM suppressions WHERE user_id = %s"
                              " ORDER BY created_at, kldb_code", (user.id,))
    ]
    return AccountExport(
        exported_at=datetime.now(UTC),
        account=ExportAccount(id=account[0], email=account[1], created_at=account[2], last_login_at=account[3]),
        profile=load_profile(conn, user.id),
        work_history=list_work_history(conn, user.id),
        cv_drafts=drafts,
        matches=matches,
        suppressions=suppressions,
        sessions=sessions,
        login_attempts=attempts,
    )


@router.delete("", status_code=204, response_class=Response, responses=error_responses(401, 403))
def delete_account(user: CurrentUser, conn: Conn, settings: AppSettings) -> Response:
    """Delete your account: every personal row (profile, work history, CV drafts, matches, ratings,
    suppressions, sessions and tokens, login attempts) goes in one transaction; the cookie is cleared."""
    email = conn.execute("SELECT email FROM users WHERE id = %s FOR UPDATE", (user.id,)).fetchone()[0]
    conn.execute("DELETE FROM login_attempts WHERE account = lower(%s)", (email,))
    conn.execute("DELETE FROM users WHERE id = %s", (user.id,))  # ON DELETE CASCADE: every table with user_id
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, **session_cookie_kwargs(settings))
    return response
