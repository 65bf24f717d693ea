"""talent.yoga's pages for job seekers, served by the API's own app at ``/`` (the JSON API is under ``/api/v1``).

Server-rendered (Jinja2, :mod:`ty_web.pages.render`), German first, enhanced with htmx where a browser runs
scripts (vendored in ``ty_web/static/vendor/htmx``, no build step) and complete without it: every form posts and
redirects (303) to the page that shows the result. ``hx-boost`` on ``<body>`` turns links and forms into
requests that swap the page's body, and sends the CSRF token with each (``hx-headers``).

The pages call the query and service modules the API routes call (:mod:`ty_web.queries`, :mod:`ty_web.matching`,
...): a rule lives in one place. A page area is one module here exposing ``router`` and named in :data:`PAGES`;
its templates are ``ty_web/templates/<area>/``, its German messages ``ty_web/locale/de/LC_MESSAGES/<area>.po``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from importlib import import_module
from typing import Annotated

from fastapi import FastAPI, Form, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from ty_web.errors import CODES, SECURITY_HEADERS
from ty_web.pages.render import LANGUAGE_COOKIE, LANGUAGES, STATIC, render
from ty_web.pages.session import (
    MaybeUser,
    SignInRequired,
    login_redirect_target,
    page_router,
    refuse_cross_site,
    safe_next,
)

log = logging.getLogger("ty.web.pages")

# The page areas, in the order of the navigation.
PAGES = ("start", "profile", "cv", "matches", "market", "account")

LANGUAGE_COOKIE_DAYS = 400


class StaticAssets(StaticFiles):
    """``/static``: versioned addresses (``?v=<hash>``, :func:`ty_web.pages.render.static_url`) are cached for a
    year; the security headers' ``no-store`` is for personal answers, not these."""

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


router = page_router()


@router.post("/language")
def choose_language(request: Request, user: MaybeUser, lang: Annotated[str, Form(max_length=8)],
                    next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    """Switch the pages' language (cookie ``ty_lang``) and go back to the page the switch was on."""
    refuse_cross_site(request)
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    if lang in LANGUAGES:
        settings = request.app.state.settings
        response.set_cookie(LANGUAGE_COOKIE, lang, max_age=LANGUAGE_COOKIE_DAYS * 86400, path="/",
                            secure=not settings.debug, httponly=True, samesite="lax")
    return response


def error_page(request: Request, status: int, message: str, code: str, headers: Mapping[str, str] | None) -> Response:
    """An error on a page's path: sign in first (401: to the sign-in page and back), else a page that says what
    happened in the user's language. Never a traceback; if the error page itself fails, plain text."""
    if status == 401:
        return sign_in_redirect(request, request.url.path)
    response: Response
    try:
        response = render(request, "error.html", {"status": status, "code": code, "message": message},
                          status=status, headers=headers)
    except Exception:  # the error page must not fail with a second error
        log.exception("the error page failed")
        response = PlainTextResponse(f"{status} {CODES.get(status, 'error')}", status_code=status,
                                     headers=dict(headers) if headers else None)
    response.headers.update({k: v for k, v in SECURITY_HEADERS.items() if k not in response.headers})
    return response


def sign_in_redirect(request: Request, next_path: str) -> Response:
    target = login_redirect_target(next_path)
    if request.headers.get("hx-request") == "true":  # htmx follows HX-Redirect with a full page load
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return sign_in_redirect(request, exc.next_path)


def install_pages(app: FastAPI) -> None:
    app.mount("/static", StaticAssets(directory=STATIC), name="static")
    app.state.page_errors = error_page
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.include_router(router)
    for name in PAGES:
        app.include_router(import_module(f"ty_web.pages.{name}").router)

