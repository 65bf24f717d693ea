"""The FastAPI application: the connection pool in the lifespan, the routers, errors, request limits.

Adding a feature is one line: its module name in :data:`ROUTERS` (``ty_web/routers/<name>.py`` exposing
``router``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib import import_module

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ty_resources.database import Database
from ty_resources.logs import configure_logging
from ty_resources.mail import Mailer
from ty_resources.settings import Settings, get_settings
from ty_web.classify import AppClassifier
from ty_web.clients import parse_trusted_proxies
from ty_web.cv.worker import CvWorkers
from ty_web.errors import SECURITY_HEADERS, ApiError, error_json, error_responses, install_error_handlers
from ty_web.housekeeping import Housekeeper
from ty_web.pages import install_pages
from ty_web.ratelimit import RateLimiter, parse_limits
from ty_web.security import LoginThrottle

log = logging.getLogger("ty.web")

# The JSON API's feature routers, under API_PREFIX, in the order the OpenAPI document lists them. The health
# probes (``ops``) stay at the root; the pages (ty_web.pages) are served at ``/``.
API_PREFIX = "/api/v1"
ROUTERS = (
    "auth",
    "profiles",
    "account",
    "cv",
    "market",
    "matches",
)

# Largest request body of any route (JSON); uploads get their own limit in create_app.
DEFAULT_BODY_LIMIT = 256 * 1024
# Multipart framing around an uploaded file (boundaries, part headers): the file itself is checked by its route.
MULTIPART_OVERHEAD = 64 * 1024
# The CV uploads: the API's route and the CV page's form.
CV_UPLOAD_PATHS = (API_PREFIX + "/profiles/me/cv", "/cv")

DESCRIPTION = """
The talent.yoga API for job seekers, over the tables the data pipeline materialised. Every path is under
`/api/v1` (the descriptions below leave the prefix out); the health probes `/healthz` and `/readyz` are at the root.

**Signing in.** `POST /auth/register`, then either `POST /auth/login` (browser: sets the HttpOnly cookie
`ty_session` and returns a `csrf_token`; every POST, PUT, PATCH and DELETE must send it as header
`X-CSRF-Token`) or `POST /auth/token` (API clients: `Authorization: Bearer <token>`, no CSRF token).

**Errors** all have one shape: `{"error": {"status", "code", "message", "fields"}}`; `fields` (422 only)
names each invalid field as `body.email`, `query.limit`, `path.entry_id`. Another user's id answers 404.
"""


class BodyLimitMiddleware:
    """413 for a request body over its limit: at once from Content-Length, else while it is read (chunked).

    FastAPI sets no limit of its own on what a route reads, so without this a client could post gigabytes.
    """

    def __init__(self, app: ASGIApp, default_limit: int, limits: Mapping[str, int]):
        self.app = app
        self.default_limit = default_limit
        self.limits = dict(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default_limit)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await error_json(400, "invalid Content-Length header")(scope, receive, send)
                return
            if int(declared) > limit:
                await error_json(413, f"request body larger than {limit} bytes")(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the route's body read: the error handlers answer it in the usual shape.
                    raise ApiError(413, f"request body larger than {limit} bytes")
            return message

        await self.app(scope, limited_receive, send)


class SecurityHeadersMiddleware:
    """Headers every answer carries (ty_web.errors.SECURITY_HEADERS; a 500 gets them from its handler)."""

    HEADERS = SECURITY_HEADERS

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def operation_id(route: APIRoute) -> str:
    """`profiles_get_profile` rather than FastAPI's `get_profile_profiles_me_get`: stable names for clients."""
    return f"{route.tags[0]}_{route.name}" if route.tags else route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    # Settings the API reads per request are checked here: a typo fails start-up, not the first request.
    limits = parse_limits(settings.rate_limits)
    parse_trusted_proxies(settings.trusted_proxies)
    classifier = AppClassifier(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Opening waits for the first connection: a bad database fails start-up, not the first request.
        db = Database.from_settings(
            settings, statement_timeout_s=settings.web_statement_timeout_s,
            idle_in_transaction_timeout_s=settings.web_idle_in_transaction_timeout_s,
        ).open()
        app.state.db = db
        app.state.rate_limiter = RateLimiter(db, limits)
        housekeeper = app.state.housekeeper = Housekeeper(db, settings).start()
        # The catalogue index in the background (minutes with a cold cache): no request is the one that waits.
        threading.Thread(target=classifier.warm, args=(db,), name="ty-web-classifier-warm", daemon=True).start()
        # Started by the first upload (a process of its own each: ~1 s to import what reads PDFs and DOCX).
        workers = app.state.cv_workers = CvWorkers.from_settings(settings)
        try:
            yield
        finally:
            workers.close()
            housekeeper.stop()
            db.close()
            classifier.close()

    app = FastAPI(title="talent.yoga API", version="0.2.0", description=DESCRIPTION, lifespan=lifespan,
                  responses=error_responses(500), generate_unique_id_function=operation_id)
    app.state.settings = settings
    app.state.classifier = classifier
    app.state.mailer = Mailer.from_settings(settings)
    app.state.login_throttle = LoginThrottle.from_settings(settings)
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, default_limit=DEFAULT_BODY_LIMIT,
                       limits=dict.fromkeys(CV_UPLOAD_PATHS, settings.cv_max_bytes + MULTIPART_OVERHEAD))
    app.add_middleware(SecurityHeadersMiddleware)
    app.include_router(import_module("ty_web.routers.ops").router)
    for name in ROUTERS:
        app.include_router(import_module(f"ty_web.routers.{name}").router, prefix=API_PREFIX)
    install_pages(app)
    return app
