"""One JSON shape for every error the API answers.

``{"error": {"status": 404, "code": "not_found", "message": "...", "fields": [...]}}``; ``fields`` only
with 422, naming each offending field as ``body.email``, ``query.limit``, ``path.id``. Routes raise
:class:`ApiError` (or FastAPI's ``HTTPException``: the code then follows from the status); request
validation errors, an unavailable database (503) and unexpected exceptions are turned into this shape by
the handlers that :func:`install_error_handlers` registers. A 500 is logged with its traceback and tells
the client nothing about the cause.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("ty.web")

CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "unavailable",
    504: "gateway_timeout",
}

DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request",
    401: "Not signed in, or the session or token expired",
    403: "Missing or wrong X-CSRF-Token, or a cross-site request",
    404: "Not found (or not yours)",
    409: "Conflict with what is stored",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request: `fields` names each offending field",
    429: "Too many attempts: retry after the `Retry-After` seconds",
    500: "Unexpected error (logged; the answer tells nothing about it)",
    503: "The database is unavailable: retry after the `Retry-After` seconds",
}


class ErrorField(BaseModel):
    field: str = Field(description="Where: `body.email`, `query.limit`, `path.id`, `header.x-csrf-token`.")
    message: str


class ErrorBody(BaseModel):
    status: int
    code: str = Field(description="Stable machine-readable code: not_found, validation_error, ...")
    message: str
    fields: list[ErrorField] | None = Field(default=None, description="422 only: each invalid field.")


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(StarletteHTTPException):
    """An error answered as ``{"error": {...}}`` with an explicit code."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 headers: Mapping[str, str] | None = None, fields: Sequence[ErrorField] | None = None):
        super().__init__(status_code=status, detail=message, headers=dict(headers) if headers else None)
        self.code = code or CODES.get(status, "error")
        self.fields = list(fields) if fields is not None else None


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, f"{what} not found")


def field_error(field: str, message: str) -> ApiError:
    """A 422 about one field that pydantic could not judge (e.g. an id missing from the catalogue)."""
    return ApiError(422, "invalid request", fields=[ErrorField(field=field, message=message)])


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with the error model, for a complete OpenAPI."""
    return {status: {"model": ErrorResponse, "description": DESCRIPTIONS.get(status, CODES.get(status, "error"))}
            for status in statuses}


def error_json(status: int, message: str, *, code: str | None = None, fields: Iterable[ErrorField] | None = None,
               headers: Mapping[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(status=status, code=code or CODES.get(status, "error"), message=message,
                     fields=list(fields) if fields is not None else None)
    return JSONResponse({"error": body.model_dump(exclude_none=True)}, status_code=status,
                        headers=dict(headers) if headers else None)


def _field_name(loc: Sequence[Any], error_type: str) -> str:
    if error_type == "json_invalid":
        return "body"  # loc holds the character position, not a field
    return ".".join(str(part) for part in loc) or "request"


def validation_fields(errors: Sequence[Mapping[str, Any]]) -> list[ErrorField]:
    """Pydantic's errors as named fields; the offending input is never echoed (it may be a password)."""
    fields = []
    for err in errors:
        message = str(err.get("msg", "invalid value"))
        if err.get("type") == "json_invalid" and isinstance(err.get("ctx"), Mapping):
            message = f"invalid JSON: {err['ctx'].get('error', '')}".rstrip(": ")
        fields.append(ErrorField(field=_field_name(err.get("loc", ()), str(err.get("type", ""))), message=message))
    return fields


# Paths answered by the JSON API (errors as JSON); every other path is a page (errors as a page).
API_PATHS = ("/api/", "/healthz", "/readyz", "/openapi.json", "/docs", "/redoc")

# Renders an error as a page: (request, status, message, code, headers) -> Response (ty_web.pages.error_page).
PageErrors = Callable[[Request, int, str, str, Mapping[str, str] | None], Response]


def error_answer(request: Request, status: int, message: str, *, code: str | None = None,
                 fields: Iterable[ErrorField] | None = None, headers: Mapping[str, str] | None = None) -> Response:
    """The error as JSON for the API's paths, as a page for the pages' (when the app has pages)."""
    pages: PageErrors | None = getattr(request.app.state, "page_errors", None)
    if pages is not None and not request.url.path.startswith(API_PATHS):
        return pages(request, status, message, code or CODES.get(status, "error"), headers)
    return error_json(status, message, code=code, fields=fields, headers=headers)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    status = exc.status_code
    message = exc.detail if isinstance(exc.detail, str) else CODES.get(status, "error").replace("_", " ")
    fields = getattr(exc, "fields", None)
    if status == 422 and fields is None and not isinstance(exc.detail, str):
        fields = validation_fields(jsonable_encoder(exc.detail)) if isinstance(exc.detail, list) else []
    return error_answer(request, status, message, code=getattr(exc, "code", None), fields=fields,
                        headers=getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    return error_answer(request, 422, "invalid request", fields=validation_fields(exc.errors()))


async def _database_unavailable(request: Request, exc: psycopg.OperationalError) -> Response:
    # The pool had no connection in time (PoolTimeout), or the server went away: retry later, not a bug here.
    log.warning("database unavailable", extra={"error": type(exc).__name__, "method": request.method,
                                                "path": request.url.path})
    return error_answer(request, 503, "database unavailable: try again shortly", headers={"Retry-After": "5"})


# Headers every answer carries (ty_web.app.SecurityHeadersMiddleware): no MIME sniffing, no framing, no referrer to
# another site, and personal data not cached. The referrer policy is `same-origin`, not `no-referrer`: under
# no-referrer a browser sends `Origin: null` with the pages' own form posts, which could then not be told from a
# sandboxed page of another site (ty_web.services.accounts.refuse_cross_site refuses `null`).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc, extra={"method": request.method, "path": request.url.path})
    # Starlette answers this one outside every middleware (ServerErrorMiddleware): the headers are set here.
    response = error_answer(request, 500, "internal error")
    response.headers.update(SECURITY_HEADERS)
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
