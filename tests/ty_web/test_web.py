"""The web app as a whole: lifespan, liveness and readiness, error shape, request limits, headers, OpenAPI."""

from __future__ import annotations

import inspect
from importlib import import_module
from urllib.parse import urlsplit

import psycopg
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from web_support import BASE_URL, make_app, running_app, sign_up

from ty_resources.settings import Settings
from ty_web.app import API_PREFIX, DEFAULT_BODY_LIMIT, ROUTERS, create_app

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


# ------------------------------------------------------------------ liveness and readiness


def test_healthz_and_readyz_on_a_migrated_database(db_url):
    with running_app(db_url) as client:
        live = client.get("/healthz")
        ready = client.get("/readyz")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "pending_migrations": 0, "detail": None}


def test_readyz_reports_a_schema_behind(empty_db_url):
    with running_app(empty_db_url) as client:
        response = client.get("/readyz")
        live = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded" and response.json()["pending_migrations"] > 0
    assert live.status_code == 200  # the process is fine: only readiness fails


def test_readyz_reports_a_lost_database_while_healthz_stays_up(db_url, server_url):
    with running_app(db_url, db_connect_timeout_s=2) as client:
        user = sign_up(client, bearer=True)
        dbname = urlsplit(db_url).path.lstrip("/")
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (dbname,))
            admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS false')
        try:
            ready = client.get("/readyz")
            live = client.get("/healthz")
            personal = [user.get("/api/v1/profiles/me") for _ in range(2)]  # a dead pooled connection, then none
        finally:
            with psycopg.connect(server_url, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS true')
    assert ready.status_code == 503
    assert ready.json()["database"] == "unreachable"
    assert live.status_code == 200
    for response in personal:
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "unavailable" and response.headers["retry-after"]


def test_bad_database_fails_at_start_up(tmp_path):
    bad = f"postgresql://postgres@/nope?host={tmp_path}"  # no server on that socket
    app = create_app(Settings(database_url=bad, db_connect_timeout_s=1))
    with pytest.raises(Exception, match="(?i)couldn't get a connection|pool"):
        with TestClient(app):
            pass


# ------------------------------------------------------------------ errors


def test_every_error_has_one_shape(db_url):
    with running_app(db_url) as client:
        missing = client.get("/api/v1/no/such/route")
        missing_page = client.get("/no/such/page")
        wrong_method = client.patch("/healthz")
        bad_json = client.post("/api/v1/auth/register", content=b"{not json", headers={"Content-Type": "application/json"})
        wrong_types = client.post("/api/v1/auth/register", json={"email": 5, "password": ["x"]})
        unknown_field = client.post("/api/v1/auth/login", json={"email": "a@b.de", "password": "x", "admin": True})
    assert missing.status_code == 404
    assert missing.json() == {"error": {"status": 404, "code": "not_found", "message": "Not Found"}}
    # outside /api/v1 a path is a page's: the error is a page (in German unless the user chose English)
    assert missing_page.status_code == 404 and missing_page.headers["content-type"].startswith("text/html")
    assert "Nicht gefunden" in missing_page.text and "script-src 'self'" in missing_page.headers["content-security-policy"]
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert bad_json.status_code == 422
    assert bad_json.json()["error"]["fields"][0]["field"] == "body"
    assert "invalid JSON" in bad_json.json()["error"]["fields"][0]["message"]
    assert wrong_types.status_code == 422
    error = wrong_types.json()["error"]
    assert error["code"] == "validation_error"
    assert {f["field"] for f in error["fields"]} == {"body.email", "body.password"}
    assert unknown_field.status_code == 422
    assert [f["field"] for f in unknown_field.json()["error"]["fields"]] == ["body.admin"]


def test_validation_errors_never_echo_the_input(db_url):
    with running_app(db_url) as client:
        response = client.post("/api/v1/auth/register", json={"email": "someone@example.org", "password": "hunter2"})
    assert response.status_code == 422
    assert "hunter2" not in response.text
    assert response.json()["error"]["fields"][0]["field"] == "body.password"


def test_an_unexpected_error_is_a_500_that_tells_nothing(db_url):
    app = make_app(db_url)

    def explode() -> None:
        raise RuntimeError("secret connection string postgresql://admin:pw@db")

    app.add_api_route("/api/v1/explode", explode)
    app.add_api_route("/explode", explode)  # a page's path: the error is a page, which tells nothing either
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/explode")
        page = client.get("/explode")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "secret" not in page.text and "postgresql" not in page.text and "RuntimeError" not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert response.status_code == 500
    assert response.json() == {"error": {"status": 500, "code": "internal_error", "message": "internal error"}}
    assert "secret" not in response.text and "postgresql" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff" and response.headers["cache-control"] == "no-store"


# ------------------------------------------------------------------ request limits and headers


def test_a_body_over_the_limit_is_413_before_it_is_read(db_url):
    big = b'{"email": "a@b.de", "password": "' + b"x" * DEFAULT_BODY_LIMIT + b'"}'
    with running_app(db_url) as client:
        declared = client.post("/api/v1/auth/register", content=big, headers={"Content-Type": "application/json"})

        def chunks():  # no Content-Length: counted while it is read
            for i in range(0, len(big), 65536):
                yield big[i:i + 65536]

        chunked = client.post("/api/v1/auth/register", content=chunks(), headers={"Content-Type": "application/json"})
        with psycopg.connect(db_url) as conn:
            users = conn.execute("SELECT count(*) FROM users").fetchone()[0]
    for response in (declared, chunked):
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "payload_too_large"
    assert users == 0


def test_security_headers_on_every_answer(db_url):
    with running_app(db_url) as client:
        for response in (client.get("/healthz"), client.get("/nope"), client.get("/api/v1/profiles/me")):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["referrer-policy"] == "same-origin"


# ------------------------------------------------------------------ routes and OpenAPI


def _api_routes() -> list[APIRoute]:
    """Every route of the JSON API's feature routers (ROUTERS, paths without API_PREFIX)."""
    return [r for name in ROUTERS for r in import_module(f"ty_web.routers.{name}").router.routes
            if isinstance(r, APIRoute)]


def test_no_endpoint_is_async():
    """Endpoints are plain `def` on the sync pool (FastAPI runs them in its threadpool): an `async def`
    calling the blocking driver would stall every request (the old service's bug)."""
    routes = _api_routes()
    assert len(routes) >= 13
    for route in routes:
        assert not inspect.iscoroutinefunction(route.endpoint), f"{route.path} is async def"


def test_openapi_is_complete(db_url):
    with running_app(db_url) as client:
        spec = client.get("/openapi.json").json()
    routes = _api_routes()
    assert {"/healthz", "/readyz", "/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/token", "/api/v1/auth/logout",
            "/api/v1/profiles/me", "/api/v1/profiles/me/work-history", "/api/v1/profiles/me/work-history/{entry_id}",
            "/api/v1/account", "/api/v1/account/export"} <= set(spec["paths"])
    schemes = spec["components"]["securitySchemes"]
    assert schemes["session_cookie"] == {"type": "apiKey", "in": "cookie", "name": "ty_session",
                                         "description": schemes["session_cookie"]["description"]}
    assert schemes["bearer_token"]["scheme"] == "bearer"
    error_ref = "#/components/schemas/ErrorResponse"
    for route in routes:
        for method in route.methods:
            operation = spec["paths"][API_PREFIX + route.path][method.lower()]
            where = f"{method} {API_PREFIX}{route.path}"
            assert operation.get("tags"), where
            responses = operation["responses"]
            success = [code for code in responses if code.startswith("2")]
            assert success, where
            if success != ["204"]:
                assert "application/json" in responses[success[0]]["content"], where
            authenticated = bool(operation.get("security"))
            expected = set()
            if authenticated:
                expected.add("401")
                if method in UNSAFE:
                    expected.add("403")
            if "{" in route.path:
                expected.add("404")
            if operation.get("requestBody") or operation.get("parameters"):
                expected.add("422")
            for code in expected:
                assert code in responses, f"{where}: {code} undocumented"
                schema = responses[code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": error_ref}, f"{where}: {code} not in the error shape"


def test_schemathesis_finds_no_server_error(db_url):
    """Property-based requests from the OpenAPI document, as a signed-in user (bearer) and anonymously:
    no 5xx, whatever the input. Deleting the account and logging out are left out (they end the user)."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from web_support import load_catalogue

    load_catalogue(db_url)
    with running_app(db_url, raise_server_exceptions=False) as client:
        spec = client.get("/openapi.json").json()
        user = sign_up(client, bearer=True)
        schema = schemathesis.openapi.from_dict(spec)
        checked = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) in {("DELETE", "/api/v1/account"), ("POST", "/api/v1/auth/logout")}:
                continue

            @given(case=operation.as_strategy())
            @settings(max_examples=15, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            def no_server_error(case) -> None:
                kwargs = case.as_transport_kwargs(base_url=BASE_URL)
                headers = {k: v for k, v in (kwargs.get("headers") or {}).items()
                           if k.lower() not in {"authorization", "cookie"}}
                for extra in ({"Authorization": f"Bearer {user.token}"}, {}):
                    response = client.request(kwargs["method"], kwargs["url"], headers={**headers, **extra},
                                              params=kwargs.get("params"), json=kwargs.get("json"),
                                              content=kwargs.get("data"), files=kwargs.get("files"))
                    assert response.status_code < 500, (case.method, case.formatted_path, response.text)

            no_server_error()
            checked += 1
    assert checked >= 10
