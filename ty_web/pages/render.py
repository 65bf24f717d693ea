"""The pages' templates and languages: one Jinja2 environment per language, each with its gettext catalogue.

- Templates are ``ty_web/templates/*.html``, autoescaped, with undefined names an error (``StrictUndefined``).
  Every word a page shows goes through gettext: ``{{ _("Save") }}``, ``{{ _("%(n)s matches", n=count) }}``
  (new-style gettext: the arguments are escaped, the message is not parsed twice).
- The message ids are English; German is the default language (``ty_web/locale/de/LC_MESSAGES/*.po``, one
  catalogue per area, merged at start-up). English needs no catalogue. ``tests/ty_web/test_pages_i18n.py``
  checks that every message the templates and page modules use has a German translation.
- A language is chosen by the cookie ``ty_lang`` (``POST /language``), German when there is none.
- Dates and numbers are written in the language's format (Babel): the filters ``date``, ``datetime``,
  ``number``, ``percent``.
- Every page answer carries a strict Content-Security-Policy (:data:`PAGE_CSP`): scripts and styles only from
  this origin, no inline script or style, no eval; forms post only here; no framing.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.core import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, format_decimal, format_percent, parse_pattern
from babel.support import NullTranslations, Translations
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ty_resources.germany import BERLIN

PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
LOCALES = PACKAGE / "locale"

LANGUAGES = {"de": "Deutsch", "en": "English"}
DEFAULT_LANGUAGE = "de"
LANGUAGE_COOKIE = "ty_lang"

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def language(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


@cache
def translations(lang: str) -> NullTranslations:
    """The language's catalogues merged (compiled in memory: no .mo files in the repository to go stale)."""
    translated = Translations()
    for po in sorted((LOCALES / lang / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=lang)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        translated.merge(Translations(compiled))
    return translated


@cache
def static_url(path: str) -> str:
    """``/static/<path>?v=<content hash>``: the files are served as immutable, a change gets a new address."""
    file = (STATIC / path).resolve()
    if not file.is_relative_to(STATIC) or not file.is_file():
        raise FileNotFoundError(f"no static file {path!r}")
    return f"/static/{path}?v={hashlib.sha256(file.read_bytes()).hexdigest()[:12]}"


def _local(value: date | datetime) -> date | datetime:
    return value.astimezone(BERLIN) if isinstance(value, datetime) and value.tzinfo else value


@cache
def _number_pattern(digits: int) -> NumberPattern:
    return parse_pattern("#,##0" + ("." + "0" * digits if digits else ""))


@cache
def environment(lang: str) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    # The Locale parsed once: given a name, Babel parses it on every call (365 dates and 730 numbers, the market
    # page's year: 69 ms with names, 8 ms with the object, measured on this project's 2-core machine).
    locale = Locale.parse(lang)
    env.filters["date"] = lambda value, fmt="medium": format_date(_local(value), fmt, locale=locale)
    env.filters["datetime"] = lambda value, fmt="medium": format_datetime(_local(value), fmt, tzinfo=BERLIN,
                                                                          locale=locale)
    env.filters["number"] = lambda value, digits=0: format_decimal(value, format=_number_pattern(digits),
                                                                   locale=locale)
    env.filters["percent"] = lambda value: format_percent(value, locale=locale)
    env.globals["static"] = static_url
    env.globals["languages"] = LANGUAGES
    return env


def gettext(request: Request, message: str, **values: Any) -> str:
    """A message of a page module (not a template) in the request's language: ``gettext(request, "Saved.")``."""
    text = translations(language(request)).gettext(message)
    return text % values if values else text


def render(request: Request, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200,
           headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """The template as an answer in the request's language, with the signed-in user (if any) and the CSRF
    token that the page's forms and htmx requests send."""
    lang = language(request)
    user = getattr(request.state, "page_user", None)
    values = {"request": request, "lang": lang, "user": user, "csrf_token": user.csrf_token if user else "",
              "path": request.url.path, "htmx": request.headers.get("hx-request") == "true", **(context or {})}
    html = environment(lang).get_template(template).render(values)
    response = HTMLResponse(html, status_code=status, headers=dict(headers) if headers else None)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Cookie, HX-Request"
    return response
