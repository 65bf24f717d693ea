"""The account page: your e-mail address, the download of everything stored about you (GDPR, the API's export as
a file), your sessions (end one, or every other), the password changed and the account deleted, both with the
password.

Each form does what its API route does (:mod:`ty_web.services.accounts`): changing the password and deleting the
account count against the same ``reauth`` limit per user as ``POST /api/v1/account/password`` and ``DELETE
/api/v1/account``. Every form carries the session's CSRF token (:data:`ty_web.pages.session.PageUser`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError

from ty_web.deps import AppSettings, Db, MailerDep
from ty_web.errors import ApiError, not_found
from ty_web.pages.render import gettext, render
from ty_web.pages.session import PageUser, SignedIn, page_limit, page_router
from ty_web.queries.accounts import AccountQueries
from ty_web.schemas import PasswordChange, PasswordConfirmation
from ty_web.services import accounts as service
from ty_web.services.accounts import DEVICE_COOKIE, clear_session_cookie

router = page_router()

EXPORT_FILENAME = "talent-yoga-export.json"
# The notices of the account page after a redirect, chosen by ``?done=<key>``.
NOTICES = frozenset({"password", "ended", "others_ended"})

SessionId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Text = Annotated[str, Form()]




def _account_page(request: Request, user: SignedIn, db: Db, settings: AppSettings, *, status: int = 200,
                  done: str | None = None, password_fields: dict[str, str] | None = None,
                  delete_error: str | None = None, headers: dict[str, str] | None = None) -> Response:
    with db.connection() as conn:
        account = AccountQueries(conn, user.id).account()
        sessions = service.live_sessions(conn, settings, user.id, user.session_hash)
    return render(request, "account/index.html", {
        "account": account, "sessions": sessions, "done": done if done in NOTICES else None,
        "password_fields": password_fields or {}, "delete_error": delete_error,
        "others": sum(1 for s in sessions if not s.current),
    }, status=status, headers=headers)


@router.get("/account")
def account_page(request: Request, user: PageUser, db: Db, settings: AppSettings, done: str | None = None
                 ) -> Response:
    return _account_page(request, user, db, settings, done=done)


@router.get("/account/export")
def export(user: PageUser, db: Db) -> Response:
    """The document of ``GET /api/v1/account/export``, as a file to save."""
    with db.connection() as conn:
        document = service.export(conn, user.id, user.session_hash)
    return JSONResponse(document.model_dump(mode="json"),
                        headers={"Content-Disposition": f'attachment; filename="{EXPORT_FILENAME}"'})


@router.post("/account/sessions/{session_id}/end")
def end_session(session_id: SessionId, user: PageUser, db: Db) -> Response:
    """End one of your sessions or bearer tokens (as ``DELETE /api/v1/auth/sessions/{id}``)."""
    with db.connection() as conn:
        if not AccountQueries(conn, user.id).end_session(session_id):
            raise not_found("session")
    return RedirectResponse("/account?done=ended", status_code=303)


@router.post("/account/sessions/end-others")
def end_other_sessions(user: PageUser, db: Db) -> Response:
    """Sign out everywhere else (as ``DELETE /api/v1/auth/sessions``)."""
    with db.connection() as conn:
        AccountQueries(conn, user.id).end_other_sessions(user.session_hash)
    return RedirectResponse("/account?done=others_ended", status_code=303)


@router.post("/account/password", dependencies=[page_limit("reauth", "password attempts")])
def change_password(request: Request, user: PageUser, db: Db, settings: AppSettings, mailer: MailerDep,
                    current_password: Text = "", new_password: Text = "") -> Response:
    """As ``POST /api/v1/account/password``: the current password first; every other session ends."""
    fields: dict[str, str] = {}
    try:
        body = PasswordChange(current_password=current_password, new_password=new_password)
        service.change_password(db, mailer, user.id, user.email, user.session_hash,
                                request.cookies.get(DEVICE_COOKIE), body)
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][-1]) if err.get("loc") else ""
            if field == "current_password":
                fields[field] = gettext(request, "Enter your current password.")
            elif field == "new_password":
                fields[field] = gettext(request, "The password needs at least 10 characters.")
        return _account_page(request, user, db, settings, status=422, password_fields=fields)
    except ApiError as exc:
        if exc.code == "wrong_password":
            fields["current_password"] = gettext(request, "This is not your current password.")
        elif exc.status_code == 422:
            fields["new_password"] = gettext(request, "This password is easy to guess: choose a longer or less "
                                                      "common one.")
        else:
            raise
        return _account_page(request, user, db, settings, status=exc.status_code, password_fields=fields)
    return RedirectResponse("/account?done=password", status_code=303)


@router.post("/account/delete", dependencies=[page_limit("reauth", "password attempts")])
def delete_account(request: Request, user: PageUser, db: Db, settings: AppSettings, password: Text = "") -> Response:
    """As ``DELETE /api/v1/account``: with the password, every personal row goes; the cookie is cleared."""
    try:
        service.delete_account(db, user.id, PasswordConfirmation(password=password).password)
    except ValidationError:
        return _account_page(request, user, db, settings, status=422,
                             delete_error=gettext(request, "Enter your password."))
    except ApiError as exc:
        if exc.code != "wrong_password":
            raise
        return _account_page(request, user, db, settings, status=403,
                             delete_error=gettext(request, "This is not your current password."))
    response = RedirectResponse("/?done=deleted", status_code=303)
    clear_session_cookie(response, settings)
    return response
