"""The FastAPI application: lifespan-managed connection pool, health endpoint."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ty_resources.database import Database
from ty_resources.logs import configure_logging
from ty_resources.migrations import pending_migrations
from ty_resources.settings import Settings, get_settings

log = logging.getLogger("ty.web")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    pending_migrations: int | None = None
    detail: str | None = None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Opening waits for the first connection: a bad database fails start-up, not the first request.
        db = Database.from_settings(settings).open()
        app.state.db = db
        try:
            yield
        finally:
            db.close()

    app = FastAPI(title="talent.yoga API", version="0.1.0", lifespan=lifespan)

    @app.get("/healthz", response_model=Health, tags=["ops"],
             responses={503: {"model": Health, "description": "database unreachable or schema behind"}})
    def healthz(request: Request) -> JSONResponse:
        """Liveness and readiness: the database answers and its schema is current."""
        db: Database = request.app.state.db
        try:
            with db.connection() as conn:
                conn.execute("SELECT 1")
                pending = len(pending_migrations(conn))
        except (psycopg.Error, TimeoutError) as exc:  # pool timeout raises PoolTimeout (an OperationalError)
            log.warning("health check failed", extra={"error": str(exc)})
            body = Health(status="degraded", database="unreachable", detail=type(exc).__name__)
            return JSONResponse(body.model_dump(), status_code=503)
        body = Health(status="ok" if pending == 0 else "degraded", database="ok", pending_migrations=pending)
        return JSONResponse(body.model_dump(), status_code=200 if pending == 0 else 503)

    return app
