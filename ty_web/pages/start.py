"""The start page and the pages of signing up and in: register, confirm the address (the e-mailed link), sign in
and out, forgotten password (ask for a link, set a new one).

Each form does what its API route does (:mod:`ty_web.services.accounts`, the same rate limits): registering and
asking for a reset answer the same neutral message whatever the address; signing in sets the API's cookie session
(``ty_session``) and known-device cookie (``ty_device``). These forms have no session to hold a CSRF token: a
browser's cross-site post is refused (``Sec-Fetch-Site``), as in the API. Errors are shown in the page's
language next to the field they concern, never the API's English text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any

from babel.dates import format_timedelta
from fastapi import Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from ty_web.deps import AppSettings, Db, Limiter, MailerDep, address_limit
from ty_web.errors import ApiError
from ty_web.pages.render import gettext, language, render
from ty_web.pages.session import MaybeUser, page_router, safe_next
from ty_web.schemas import (
    LoginRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    RegisterRequest,
    VerifyEmailRequest,
)
from ty_web.services import accounts as service
from ty_web.services.accounts import NotCrossSite, clear_session_cookie, set_device_cookie, sign_out

router = page_router()

# The notices a page shows after a redirect, chosen by ``?done=<key>`` (never text from the URL).
START_NOTICES = frozenset({"deleted"})
LOGIN_NOTICES = frozenset({"verified", "reset"})
# The shape of an e-mailed link's token (ty_web.schemas.AccountToken): anything else is not put into the form.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,100}")

Text = Annotated[str, Form()]


def _done(value: str | None, allowed: frozenset[str]) -> str | None:
    return value if value in allowed else None


def wait_in_words(request: Request, seconds: int | str | None) -> str:
    """A ``Retry-After`` as a wait in the page's language (``5 Minuten``), rounded up to the unit shown."""
    try:
        wait = max(1, int(seconds or 1))
    except ValueError:
        wait = 60
    if wait >= 90:  # whole minutes (or hours): never shorter than the real wait
        wait = math.ceil(wait / 60) * 60
    return format_timedelta(timedelta(seconds=wait), threshold=1.5, locale=language(request))


def too_many(request: Request, exc: ApiError) -> str:
    retry = (exc.headers or {}).get("Retry-After")
    return gettext(request, "Too many attempts. Please try again in %(wait)s.", wait=wait_in_words(request, retry))


def _fields(exc: ValidationError | ApiError) -> set[str]:
    """The form fields a validation error names (``body.password`` → ``password``)."""
    if isinstance(exc, ValidationError):
        return {str(err["loc"][-1]) for err in exc.errors() if err.get("loc")}
    return {field.field.rsplit(".", 1)[-1] for field in exc.fields or []}


def _email_error(request: Request) -> str:
    return gettext(request, "Enter a valid e-mail address.")


def _new_password_error(request: Request, exc: ValidationError | ApiError, field: str = "password") -> str:
    if isinstance(exc, ValidationError):
        for err in exc.errors():
            if err.get("loc") and err["loc"][-1] == field and err.get("type") == "string_too_short":
                return gettext(request, "The password needs at least 10 characters.")
    return gettext(request, "This password is easy to guess: choose a longer or less common one.")


def _page(request: Request, template: str, context: dict[str, Any], status: int = 200,
          headers: Mapping[str, str] | None = None) -> Response:
    values = {"errors": [], "fields": {}, "done": None, **context}
    return render(request, template, values, status=status, headers=headers)


# ------------------------------------------------------------------ the start page


@router.get("/")
def start(request: Request, user: MaybeUser, done: str | None = None) -> Response:
    """What talent.yoga does; sign up or in (signed in: on to the matches)."""
    return _page(request, "start/index.html", {"done": _done(done, START_NOTICES)})


# ------------------------------------------------------------------ register and confirm the address


@router.get("/register")
def register_form(request: Request, user: MaybeUser, done: str | None = None) -> Response:
    return _page(request, "start/register.html", {"email": "", "done": _done(done, frozenset({"sent"}))})


@router.post("/register", dependencies=[NotCrossSite, address_limit("register", "registrations")])
def register(request: Request, db: Db, settings: AppSettings, limiter: Limiter, mailer: MailerDep,
             email: Text = "", password: Text = "") -> Response:
    """As ``POST /api/v1/auth/register``: the same neutral notice whatever the address."""
    fields: dict[str, str] = {}
    try:
        body = RegisterRequest(email=email, password=password)
        service.register(db, settings, limiter, mailer, body)
    except (ValidationError, ApiError) as exc:
        if isinstance(exc, ApiError) and exc.status_code == 429:
            return _page(request, "start/register.html", {"email": email, "errors": [too_many(request, exc)]},
                         status=429, headers=exc.headers)
        if isinstance(exc, ApiError) and exc.status_code != 422:
            raise
        named = _fields(exc)
        if "email" in named:
            fields["email"] = _email_error(request)
        if "password" in named or not fields:
            fields["password"] = _new_password_error(request, exc)
        return _page(request, "start/register.html", {"email": email, "fields": fields}, status=422)
    return RedirectResponse("/register?done=sent", status_code=303)


@router.get("/verify-email")
def verify_form(request: Request, user: MaybeUser, token: str = "") -> Response:
    """The page of the link in the verification e-mail: the password of the registration confirms it."""
    valid = TOKEN_SHAPE.fullmatch(token) is not None
    return _page(request, "start/verify.html", {"token": token if valid else "",
                                                 "errors": [] if valid else [_invalid_link(request)]},
                 status=200 if valid else 400)


def _invalid_link(request: Request) -> str:
    return gettext(request, "This link is unknown, used or expired. Ask for a new one.")


@router.post("/verify-email", dependencies=[NotCrossSite, address_limit("mail", "attempts")])
def verify(request: Request, db: Db, token: Text = "", password: Text = "") -> Response:
    """As ``POST /api/v1/auth/verify-email``; then on to signing in."""
    context: dict[str, Any] = {"token": token if TOKEN_SHAPE.fullmatch(token) else ""}
    try:
        service.verify_email(db, VerifyEmailRequest(token=token, password=password))
    except ValidationError as exc:
        if "token" in _fields(exc):
            return _page(request, "start/verify.html", {"token": "", "errors": [_invalid_link(request)]}, status=400)
        return _page(request, "start/verify.html",
                     {**context, "fields": {"password": gettext(request, "Enter your password.")}}, status=422)
    except ApiError as exc:
        if exc.code == "invalid_token":
            return _page(request, "start/verify.html", {"token": "", "errors": [_invalid_link(request)]}, status=400)
        if exc.code == "invalid_credentials":
            message = gettext(request, "This is not the password you registered with.")
            return _page(request, "start/verify.html", {**context, "fields": {"password": message}}, status=401)
        raise
    return RedirectResponse("/login?done=verified", status_code=303)


# ------------------------------------------------------------------ sign in and out


@router.get("/login")
def login_form(request: Request, user: MaybeUser, next: str = "", done: str | None = None) -> Response:
    return _page(request, "start/login.html", {"email": "", "next": safe_next(next),
                                                "done": _done(done, LOGIN_NOTICES)})


@router.post("/login", dependencies=[NotCrossSite])
def login(request: Request, db: Db, settings: AppSettings, mailer: MailerDep, email: Text = "",
          password: Text = "", next: Text = "") -> Response:
    """As ``POST /api/v1/auth/login`` (throttled; known devices); then on to ``next`` (a local path)."""
    context: dict[str, Any] = {"email": email, "next": safe_next(next)}
    try:
        body = LoginRequest(email=email, password=password)
    except ValidationError as exc:
        named = _fields(exc)
        fields = {"email": gettext(request, "Enter your e-mail address.")} if "email" in named else {}
        if "password" in named:
            fields["password"] = gettext(request, "Enter your password.")
        return _page(request, "start/login.html", {**context, "fields": fields}, status=422)
    response = RedirectResponse(context["next"], status_code=303)
    try:
        service.cookie_sign_in(db, settings, body, request, mailer, response)
    except ApiError as exc:
        if exc.status_code == 429:
            message = too_many(request, exc)
        elif exc.code == "email_unverified":
            message = gettext(request, "Confirm your e-mail address first: follow the link in the e-mail we sent "
                                       "you. Registering again sends a new one.")
        elif exc.code == "invalid_credentials":
            message = gettext(request, "Wrong e-mail address or password.")
        else:
            raise
        return _page(request, "start/login.html", {**context, "errors": [message]}, status=exc.status_code,
                     headers=exc.headers)
    return response


@router.post("/logout")
def logout(request: Request, user: MaybeUser, db: Db, settings: AppSettings) -> Response:
    """End this browser's session (the CSRF token checked when there is one) and go to the start page."""
    if user is not None:
        with db.connection() as conn:
            sign_out(conn, user.session_hash)
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response, settings)
    return response


# ------------------------------------------------------------------ forgotten password


@router.get("/forgot-password")
def forgot_form(request: Request, user: MaybeUser, done: str | None = None) -> Response:
    return _page(request, "start/forgot.html", {"email": "", "done": _done(done, frozenset({"sent"}))})


@router.post("/forgot-password", dependencies=[NotCrossSite, address_limit("mail", "e-mails asked for")])
def forgot(request: Request, db: Db, settings: AppSettings, limiter: Limiter, mailer: MailerDep,
           email: Text = "") -> Response:
    """As ``POST /api/v1/auth/password-reset``: the same neutral notice whatever the address."""
    try:
        service.request_password_reset(db, settings, limiter, mailer, PasswordResetRequest(email=email))
    except ValidationError:
        return _page(request, "start/forgot.html", {"email": email, "fields": {"email": _email_error(request)}},
                     status=422)
    except ApiError as exc:
        if exc.status_code != 429:
            raise
        return _page(request, "start/forgot.html", {"email": email, "errors": [too_many(request, exc)]},
                     status=429, headers=exc.headers)
    return RedirectResponse("/forgot-password?done=sent", status_code=303)


@router.get("/reset-password")
def reset_form(request: Request, user: MaybeUser, token: str = "") -> Response:
    """The page of the link in the reset e-mail: a new password (without a token: ask for a link)."""
    if not token:
        return RedirectResponse("/forgot-password", status_code=303)
    valid = TOKEN_SHAPE.fullmatch(token) is not None
    return _page(request, "start/reset.html", {"token": token if valid else "",
                                                "errors": [] if valid else [_invalid_link(request)]},
                 status=200 if valid else 400)


@router.post("/reset-password", dependencies=[NotCrossSite, address_limit("mail", "attempts")])
def reset(request: Request, db: Db, settings: AppSettings, mailer: MailerDep, token: Text = "",
          password: Text = "") -> Response:
    """As ``POST /api/v1/auth/password-reset/confirm``: every session ends, this browser becomes a known device;
    then on to signing in."""
    context: dict[str, Any] = {"token": token if TOKEN_SHAPE.fullmatch(token) else ""}
    try:
        device_token = service.confirm_password_reset(db, mailer, PasswordResetConfirm(token=token,
                                                                                       password=password))
    except (ValidationError, ApiError) as exc:
        if isinstance(exc, ApiError) and exc.code == "invalid_token" or "token" in _fields(exc):
            return _page(request, "start/reset.html", {"token": "", "errors": [_invalid_link(request)]}, status=400)
        if isinstance(exc, ApiError) and exc.status_code != 422:
            raise
        return _page(request, "start/reset.html",
                     {**context, "fields": {"password": _new_password_error(request, exc)}}, status=422)
    response = RedirectResponse("/login?done=reset", status_code=303)
    set_device_cookie(response, settings, device_token)
    return response
