"""Numbered schema migrations: ``sql/NNN_name.sql``, applied in order.

Each file runs in its own transaction and is recorded in ``schema_migrations``
with a checksum. A session-level advisory lock serialises concurrent callers
(two processes starting at once both succeed, each file is applied once).
A file that changed after it was applied is an error, not a silent skip.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from ty_resources.settings import PACKAGE_DIR, project_root
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


def apply_migrations(url: str, sql_dir: Path | None = None) -> list[Migration]:
    """Apply what is not yet applied; returns the migrations applied by this call."""
    migrations = discover(sql_dir)
    applied_now: list[Migration] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
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
