"""Numbered schema migrations: ``sql/NNN_name.sql``, applied in order.

Each file runs in its own transaction and is recorded in ``schema_migrations``
with a checksum. A session-level advisory lock serialises concurrent callers
(two processes starting at once both succeed, each file applied once, when the first is done within the
timeout below).
A file that changed after it was applied is an error, not a silent skip.

No wait is unbounded (``TY_MIGRATION_LOCK_TIMEOUT_S``): a caller that cannot get the advisory lock, or a migration
that cannot get a table's lock (a long pipeline run holds it), fails with a message that says so. A migration
waiting in the lock queue of a busy table would otherwise stall every query that comes after it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from ty_resources.settings import PACKAGE_DIR, get_settings, project_root
from ty_resources.sqlfiles import sql_file

log = logging.getLogger("ty.migrations")

# Any 64-bit constant works; this one is "ty-schema" folded into a bigint.
MIGRATION_LOCK_KEY = int.from_bytes(hashlib.sha256(b"ty-schema-migrations").digest()[:8], "big", signed=True)
SCHEMA_MIGRATIONS_SQL = sql_file(__file__, "schema_migrations.sql")
_NAME = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def default_sql_dir() -> Path:
    """``sql/`` of the checkout, or the copy a wheel carries inside ty_resources."""
    for candidate in (project_root() / "sql", PACKAGE_DIR / "sql"):
        if candidate.is_dir():
            return candidate
    raise MigrationError("no sql/ folder found next to the project or inside ty_resources")


def discover(sql_dir: Path | None = None) -> list[Migration]:
    sql_dir = sql_dir or default_sql_dir()
    migrations: list[Migration] = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_name.sql")
        migrations.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number in {sql_dir}: {versions}")
    return migrations


def _take_lock(conn: psycopg.Connection, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not (conn.execute("SELECT pg_try_advisory_lock(%s)", (MIGRATION_LOCK_KEY,)).fetchone() or (False,))[0]:
        if time.monotonic() >= deadline:
            raise MigrationError(
                f"another process has held the migration lock for more than {timeout_s:g} s "
                "(TY_MIGRATION_LOCK_TIMEOUT_S): it is applying migrations, or it hangs; try again when it is done")
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def apply_migrations(url: str, sql_dir: Path | None = None, lock_timeout_s: float | None = None) -> list[Migration]:
    """Apply what is not yet applied; returns the migrations applied by this call. ``lock_timeout_s``: how long
    to wait for the migration lock, and for each table lock a migration needs (default TY_MIGRATION_LOCK_TIMEOUT_S)."""
    migrations = discover(sql_dir)
    timeout_s = get_settings().migration_lock_timeout_s if lock_timeout_s is None else lock_timeout_s
    applied_now: list[Migration] = []
    with psycopg.connect(url, autocommit=True) as conn:
        _take_lock(conn, timeout_s)
        conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{int(timeout_s * 1000)}ms")))
        try:
            conn.execute(SCHEMA_MIGRATIONS_SQL)
            done = {
                version: (name, checksum)
                for version, name, checksum in conn.execute(
                    "SELECT version, name, checksum FROM schema_migrations"
                )
            }
            for migration in migrations:
                if migration.version in done:
                    _, checksum = done[migration.version]
                    if checksum != migration.checksum:
                        raise MigrationError(
                            f"{migration.path.name} was changed after it was applied; "
                            "add a new migration instead of editing an applied one"
                        )
                    continue
                started = time.perf_counter()
                try:
                    with conn.transaction():
                        conn.execute(migration.sql)
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum, duration_ms)"
                            " VALUES (%s, %s, %s, %s)",
                            (
                                migration.version,
                                migration.name,
                                migration.checksum,
                                int((time.perf_counter() - started) * 1000),
                            ),
                        )
                except psycopg.errors.LockNotAvailable as exc:
                    raise MigrationError(
                        f"{migration.path.name} could not lock a table within {timeout_s:g} s "
                        "(TY_MIGRATION_LOCK_TIMEOUT_S): a running job or query holds it; this migration changed "
                        "nothing (those before it are applied), try again when it is done") from exc
                except psycopg.Error as exc:
                    raise MigrationError(f"{migration.path.name} failed and was rolled back: {exc}") from exc
                log.info("applied migration", extra={"migration": migration.path.name})
                applied_now.append(migration)
        finally:
            if not conn.closed:  # a dead connection has released the lock with its session
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied_now


def pending_migrations(conn: psycopg.Connection, sql_dir: Path | None = None) -> list[Migration]:
    """Migrations the database has not applied (all of them if it has none)."""
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    exists = row is not None and row[0]  # a SELECT without FROM always returns its one row
    applied = set()
    if exists:
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    return [m for m in discover(sql_dir) if m.version not in applied]
