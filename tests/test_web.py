"""The web app's lifespan and health endpoint against a real database."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg
import pytest
from fastapi.testclient import TestClient

from ty_resources.settings import Settings
from ty_web.app import create_app


def test_healthz_ok_on_a_migrated_database(db_url):
    with TestClient(create_app(Settings(database_url=db_url)), base_url="https://testserver") as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "pending_migrations": 0, "detail": None}


def test_healthz_reports_a_schema_behind(empty_db_url):
    with TestClient(create_app(Settings(database_url=empty_db_url))) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded" and response.json()["pending_migrations"] > 0


def test_healthz_reports_a_lost_database(db_url, server_url):
    with TestClient(create_app(Settings(database_url=db_url, db_connect_timeout_s=2))) as client:
        dbname = urlsplit(db_url).path.lstrip("/")
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (dbname,))
            admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS false')
        try:
            response = client.get("/healthz")
        finally:
            with psycopg.connect(server_url, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS true')
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_bad_database_fails_at_start_up(tmp_path):
    bad = f"postgresql://postgres@/nope?host={tmp_path}"  # no server on that socket
    app = create_app(Settings(database_url=bad, db_connect_timeout_s=1))
    with pytest.raises(Exception, match="(?i)couldn't get a connection|pool"):
        with TestClient(app):
            pass


def test_openapi_lists_healthz(db_url):
    with TestClient(create_app(Settings(database_url=db_url))) as client:
        spec = client.get("/openapi.json").json()
    assert "/healthz" in spec["paths"]
