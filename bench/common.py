"""What every benchmark needs: a server of its own and fresh, migrated databases on it."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from ty_resources.database import embedded_server_url, redact, url_for_database
from ty_resources.migrations import apply_migrations
from ty_resources.settings import get_settings


def server_url() -> tuple[str, str]:
    """Admin URL of the server to use, and a label for it.

    ``DATABASE_URL`` if set (its role must be allowed to CREATE DATABASE; only
    ``ty_bench_<random>`` databases are created and dropped), else a throwaway
    embedded PostgreSQL in a temporary folder, stopped and deleted at exit.
    """
    url = get_settings().database_url
    if url:
        return url, redact(url)
    tmpdir = tempfile.mkdtemp(prefix="ty-bench-")
    atexit.register(shutil.rmtree, tmpdir, True)  # registered first: runs after the server stops
    return embedded_server_url(Path(tmpdir) / "pg"), f"embedded, {tmpdir}"


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, migrated, empty database, dropped afterwards."""
    name = f"ty_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = url_for_database(admin_url, name)
        apply_migrations(url)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def table_digest(url: str, table: str, order_by: str, row: str = "t") -> tuple[int, str]:
    """Row count and md5 of every row in ``order_by`` order (``row``: the expression hashed per row)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"SELECT count(*), md5(coalesce(string_agg({row}::text, '|' ORDER BY {order_by}), '')) FROM {table} t"
        ).fetchone()
