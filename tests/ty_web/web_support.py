"""Helpers for the web API's tests: plain functions, no fixtures (pair them with conftest's ``db_url``).

    from web_support import running_app, sign_up     # tests/ty_web/ is on sys.path (pytest prepends it)

    def test_something(db_url):
        with running_app(db_url) as client:          # the app with its lifespan (pool) on db_url
            alice = sign_up(client)                  # registered and signed in with a cookie session
            bob = sign_up(client, bearer=True)       # ... or with a bearer token
            alice.put("/api/v1/profiles/me", json={...})    # X-CSRF-Token added on unsafe methods
            alice.client.put("/api/v1/profiles/me", json={})  # the raw client: no CSRF header (expect 403)

Each signed-in user has a client of their own (own cookie jar) on the same running app. Requests go to
``https://testserver`` so that the Secure session cookie is sent back.

Rows the pipeline would write (postings) and the matching would store (matches) come from
:func:`insert_posting` and :func:`insert_match`; :func:`seed_postings` writes a dozen labelled postings
(:data:`POSTINGS`) with descriptions and embeddings, as the matching reads them, and :data:`PROFILE` is a
profile that matches them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx2 as httpx
import psycopg
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg import sql

from ty_resources.settings import Settings
from ty_resources.titles import title_key
from ty_web.app import create_app
from ty_web.ratelimit import DEFAULT_LIMITS

BASE_URL = "https://testserver"
PASSWORD = "correct horse battery staple"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# Tests sign up many users from one client address within seconds: the rate limits are lifted unless a test
# sets TY_RATE_LIMITS itself (rate_limits="" gives the production defaults).
UNLIMITED = ",".join(f"{name}=1000000/1" for name in DEFAULT_LIMITS)


def make_app(db_url: str, **settings: Any) -> FastAPI:
    """The app on ``db_url``; ``settings`` override Settings fields (``debug=True``, ``login_max_attempts=2``)."""
    settings.setdefault("rate_limits", UNLIMITED)
    settings.setdefault("cv_workers", 1)
    return create_app(Settings(database_url=db_url, **settings))


@contextmanager
def running_app(db_url: str, *, raise_server_exceptions: bool = True, **settings: Any) -> Iterator[TestClient]:
    """A client of the running app (lifespan entered: the pool is open), anonymous."""
    with TestClient(make_app(db_url, **settings), base_url=BASE_URL,
                    raise_server_exceptions=raise_server_exceptions) as client:
        yield client


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.org"


@dataclass
class UserClient:
    """A registered, signed-in user with a client of their own."""

    client: TestClient
    id: int
    email: str
    password: str
    csrf: str | None = None  # cookie sessions
    token: str | None = None  # bearer tokens

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        elif self.csrf is not None and method.upper() in UNSAFE:
            headers.setdefault("X-CSRF-Token", self.csrf)
        return self.client.request(method, url, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


def client_for(app_client: TestClient, address: str = "testclient") -> TestClient:
    """Another client (own cookies, client ``address``) of the same running app; no second lifespan."""
    return TestClient(app_client.app, base_url=BASE_URL, client=(address, 50000))


def register(client: TestClient, email: str | None = None, password: str = PASSWORD, *, verify: bool = True) -> dict:
    """Register ``email`` (202) and, with ``verify``, mark its address confirmed as following the e-mailed link
    would (tests/ty_web/test_web_accounts.py follows the real link through an SMTP server). ``id`` and ``email``
    of the account."""
    email = email or new_email()
    response = client.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert response.status_code == 202, response.text
    with client.app.state.db.connection() as conn:  # type: ignore[attr-defined]
        row = conn.execute("UPDATE users SET email_verified_at = CASE WHEN %s THEN coalesce(email_verified_at, now())"
                           " ELSE email_verified_at END"
                           " WHERE lower(email) = lower(%s) RETURNING id, email", (verify, email.strip())).fetchone()
    assert row is not None
    return {"id": row[0], "email": row[1]}


def sign_up(app_client: TestClient, email: str | None = None, password: str = PASSWORD, *,
            bearer: bool = False) -> UserClient:
    """Register a new user and sign them in (cookie session, or a bearer token with ``bearer=True``)."""
    client = client_for(app_client)
    account = register(client, email, password)
    credentials = {"email": account["email"], "password": password}
    if bearer:
        response = client.post("/api/v1/auth/token", json=credentials)
        assert response.status_code == 200, response.text
        return UserClient(client, account["id"], account["email"], password, token=response.json()["access_token"])
    response = client.post("/api/v1/auth/login", json=credentials)
    assert response.status_code == 200, response.text
    return UserClient(client, account["id"], account["email"], password, csrf=response.json()["csrf_token"])


def load_catalogue(db_url: str) -> None:
    """The bundled KldB/BERUFENET catalogue into the database (~0.4 s), as berufenet_catalogue loads it."""
    from ty_assets.catalogue.assets import load_catalogue as load
    from ty_resources.kldb import read_kldb

    with psycopg.connect(db_url) as conn:
        load(conn, read_kldb())


def user_tables(db_url: str) -> list[str]:
    """Every table of the public schema with a ``user_id`` column."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT c.table_name FROM information_schema.columns c"
            " JOIN information_schema.tables t USING (table_schema, table_name)"
            " WHERE c.table_schema = 'public' AND c.column_name = 'user_id' AND t.table_type = 'BASE TABLE'"
            " ORDER BY 1"
        ).fetchall()
    return [r[0] for r in rows]


def rows_of_user(db_url: str, user_id: int) -> dict[str, int]:
    """Rows per table (of :func:`user_tables`, plus ``users``) that refer to ``user_id``."""
    counts = {}
    with psycopg.connect(db_url) as conn:
        counts["users"] = conn.execute("SELECT count(*) FROM users WHERE id = %s", (user_id,)).fetchone()[0]
        for table in user_tables(db_url):
            counts[table] = conn.execute(
                psycopg.sql.SQL("SELECT count(*) FROM {} WHERE user_id = %s").format(psycopg.sql.Identifier(table)),
                (user_id,),
            ).fetchone()[0]
    return counts


def _insert(conn: psycopg.Connection, table: str, values: dict[str, Any], suffix: str = "") -> Any:
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)))
    return conn.execute(query + sql.SQL(suffix), list(values.values()))


def insert_posting(conn: psycopg.Connection, refnr: str, title: str, **columns: Any) -> None:
    """A ``postings`` row as the pipeline writes it: the title's matching key as ``title_normalized``, in Berlin,
    seen on 2025-01-01 and 2025-01-02, an empty raw record, unlabelled; ``columns`` set any other column or
    override these. A posting of that refnr that exists already stays as it is."""
    values = {"refnr": refnr, "title": title, "title_normalized": title_key(title), "state": "Berlin", "raw": "{}",
              "first_seen": date(2025, 1, 1), "last_seen": date(2025, 1, 2), **columns}
    _insert(conn, "postings", values, " ON CONFLICT (refnr) DO NOTHING")


def insert_match(conn: psycopg.Connection, user_id: int, refnr: str, score: float = 0.5, **columns: Any) -> int:
    """A stored match of ``user_id`` on the posting ``refnr``, unrated unless ``columns`` say otherwise; its id."""
    values = {"user_id": user_id, "refnr": refnr, "score": score, **columns}
    return _insert(conn, "matches", values, " RETURNING id").fetchone()[0]


# ------------------------------------------------------------------ postings embedded as the pipeline does it


@dataclass(frozen=True)
class P:
    """A posting of :func:`seed_postings`."""

    refnr: str
    title: str
    berufenet_id: str | None
    state: str
    employer: str = "Beispiel GmbH"
    city: str = "Berlin"
    description: str = ""
    active: bool = True
    external_url: str | None = None


POSTINGS = [
    P("SW-1", "Softwareentwickler (m/w/d)", "43414-102", "Berlin", "Code & Co GmbH",
      description="Entwicklung von Webanwendungen mit Python und SQL.", external_url="https://code.example/jobs/1"),
    P("SW-2", "Softwareentwicklerin Python", "43414-102", "Bayern", "Isar Software AG", "München",
      "Python, Django und PostgreSQL.", external_url="javascript:alert(1)"),
    P("SW-3", "Software Engineer Backend", "43414-114", "Berlin", "Spree Tech", description="Backend mit Python."),
    P("SW-4", "Softwareentwickler Java", "43414-102", "Berlin", "Alt GmbH", active=False),  # taken down
    P("SW-5", "Softwareentwickler C++", "43414-102", "Hamburg", "Hafen IT", "Hamburg"),  # not in the states
    P("BE-1", "Backend-Entwickler/in", "43413-113", "Berlin", "Byte AG"),
    P("FI-1", "Fachinformatiker Anwendungsentwicklung", "43412-103", "Berlin", "Kiez IT"),
    P("LA-1", "Fachkraft für Lagerlogistik", "51312-111", "Berlin", "Lager GmbH"),
    P("LA-2", "Fachkraft Lagerlogistik", "51312-111", "Bayern", "Lager Süd", "Augsburg"),
    P("KO-1", "Koch (m/w/d)", "29302-100", "Berlin", "Gasthaus Spree"),
    P("KO-2", "Köchin Restaurant", "29302-100", "Bayern", "Wirtshaus", "München"),
    P("UN-1", "Python Softwareentwicklung Werkstudent", None, "Berlin", "Uni Berlin"),  # unlabelled
]
PROFILE = {"display_name": "Alex Beispiel", "desired_berufenet_ids": ["43414-102"], "skills": ["Python", "SQL"],
           "states": ["Berlin", "Bayern"], "summary": "Backend-Entwicklung mit Python."}


def seed_postings(db_url: str, postings: list[P] = POSTINGS) -> str:
    """The postings, labelled, described and embedded as the pipeline does it (its local embedder: no Ollama); the
    model's HNSW index's name. Seen from 2025-01-01 to 2025-01-05; a taken-down one invalidated on 2025-01-06."""
    from pgvector.psycopg import register_vector

    from ty_assets.embeddings.assets import embedding_text, ensure_hnsw_index, text_hash
    from ty_resources.embedders import LocalEmbedder

    settings = Settings()
    embedder = LocalEmbedder(settings.local_embed_dimension)
    texts = [embedding_text(title_key(p.title), p.description[:settings.embed_description_chars]) for p in postings]
    vectors = embedder.embed(texts)
    with psycopg.connect(db_url) as conn:
        register_vector(conn)
        for p, text, vector in zip(postings, texts, vectors):
            insert_posting(conn, p.refnr, p.title, employer=p.employer, state=p.state, city=p.city,
                           external_url=p.external_url, last_seen=date(2025, 1, 5),
                           invalidated_at=None if p.active else datetime(2025, 1, 6, tzinfo=UTC),
                           invalidated_on=None if p.active else date(2025, 1, 6),
                           invalidated_reason=None if p.active else "stale", berufenet_id=p.berufenet_id,
                           label_source="title" if p.berufenet_id else None, published_on=date(2025, 1, 1))
            if p.description:
                conn.execute("INSERT INTO posting_descriptions (refnr, status, description) VALUES (%s, 'ok', %s)",
                             (p.refnr, p.description))
            conn.execute(
                "INSERT INTO posting_embeddings (refnr, model, dimension, text_hash, embedding, embedded_at)"
                " VALUES (%s, %s, %s, %s, %s, now())",
                (p.refnr, embedder.model, embedder.dimension, text_hash(text), vector),
            )
        return ensure_hnsw_index(conn, embedder.model, embedder.dimension)
