"""Liveness (the process answers) and readiness (the database answers and its schema is current)."""

from __future__ import annotations

import logging

import psycopg
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ty_resources.migrations import pending_migrations
from ty_web.deps import Db
from ty_web.schemas import Liveness, Readiness

log = logging.getLogger("ty.web")

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=Liveness)
def healthz() -> Liveness:
    """The process is up (no database call: a liveness probe must not fail with the database)."""
    return Liveness(status="ok")


@router.get("/readyz", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "database unreachable or schema behind"}})
def readyz(db: Db) -> JSONResponse:
    """Ready to serve: the database answers and every migration is applied."""
    try:
        with db.connection() as conn:
            conn.execute("SELECT 1")
            pending = len(pending_migrations(conn))
    except (psycopg.Error, TimeoutError) as exc:  # a pool timeout raises PoolTimeout (an OperationalError)
        log.warning("readiness check failed", extra={"error": type(exc).__name__})
        body = Readiness(status="degraded", database="unreachable", detail=type(exc).__name__)
        return JSONResponse(body.model_dump(), status_code=503)
    body = Readiness(status="ok" if pending == 0 else "degraded", database="ok", pending_migrations=pending)
    return JSONResponse(body.model_dump(), status_code=200 if pending == 0 else 503)
