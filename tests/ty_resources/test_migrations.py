"""Schema migrations on a real PostgreSQL: order, idempotence, concurrency, failures."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from ty_resources.migrations import MigrationError, apply_migrations, default_sql_dir, discover, pending_migrations


def _applied(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()


def test_files_are_numbered_in_order():
    migrations = discover()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].name == "extensions"


def test_apply_twice_applies_once(empty_db_url):
    first = apply_migrations(empty_db_url)
    assert [m.version for m in first] == [m.version for m in discover()]
    assert apply_migrations(empty_db_url) == []
    assert _applied(empty_db_url) == [(m.version, m.name) for m in discover()]
    with psycopg.connect(empty_db_url) as conn:
        assert pending_migrations(conn) == []
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
    assert tuple(int(x) for x in version.split(".")[:2]) >= (0, 8)


MIGRATE = "import sys; from ty_resources.migrations import apply_migrations; print(len(apply_migrations(sys.argv[1])))"


def test_concurrent_processes_apply_each_migration_once(empty_db_url):
    processes = [
        subprocess.Popen([sys.executable, "-c", MIGRATE, empty_db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, [err[-500:] for _, err in outputs]
    counts = [int(out) for out, _ in outputs]
    assert sum(counts) == len(discover())  # one process did the work, the others found it done
    assert _applied(empty_db_url) == [(m.version, m.name) for m in discover()]


def _copy_sql(tmp_path: Path) -> Path:
    target = tmp_path / "sql"
    shutil.copytree(default_sql_dir(), target)
    return target


def test_failing_migration_rolls_back_alone(empty_db_url, tmp_path):
    sql_dir = _copy_sql(tmp_path)
    (sql_dir / "900_broken.sql").write_text("CREATE TABLE half_done (id int);\nSELECT no_such_function();\n")
    with pytest.raises(MigrationError, match="900_broken.sql failed and was rolled back"):
        apply_migrations(empty_db_url, sql_dir)
    # Everything before it is applied and recorded; nothing of it is.
    assert [v for v, _ in _applied(empty_db_url)] == [m.version for m in discover()]
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone()[0] is None
    (sql_dir / "900_broken.sql").write_text("CREATE TABLE half_done (id int);\n")
    assert [m.name for m in apply_migrations(empty_db_url, sql_dir)] == ["broken"]


def test_edited_applied_migration_is_an_error(empty_db_url, tmp_path):
    sql_dir = _copy_sql(tmp_path)
    apply_migrations(empty_db_url, sql_dir)
    first = sorted(sql_dir.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        apply_migrations(empty_db_url, sql_dir)


def test_badly_named_file_is_an_error(tmp_path):
    (tmp_path / "add_things.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNN_name.sql"):
        discover(tmp_path)


def _two_migrations(tmp_path: Path) -> Path:
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "001_table.sql").write_text("CREATE TABLE busy (id integer);")
    (sql_dir / "002_column.sql").write_text("ALTER TABLE busy ADD COLUMN name text;")
    return sql_dir


def test_a_migration_that_cannot_lock_its_table_fails_instead_of_waiting(empty_db_url, tmp_path):
    """A long run reads the table (its transaction holds a share lock): the ALTER would queue behind it, and every
    query on the table behind the ALTER. It fails after the timeout with a message, and nothing is changed."""
    sql_dir = _two_migrations(tmp_path)
    (sql_dir / "002_column.sql").rename(tmp_path / "002_column.sql")
    apply_migrations(empty_db_url, sql_dir)
    (tmp_path / "002_column.sql").rename(sql_dir / "002_column.sql")
    with psycopg.connect(empty_db_url) as reader:
        reader.execute("SELECT count(*) FROM busy").fetchone()  # the transaction stays open: its lock stays
        started = time.monotonic()
        with pytest.raises(MigrationError, match=r"002_column.sql could not lock a table within 1 s"):
            apply_migrations(empty_db_url, sql_dir, lock_timeout_s=1)
        assert time.monotonic() - started < 10
    assert [v for v, _ in _applied(empty_db_url)] == [1]
    assert [m.name for m in apply_migrations(empty_db_url, sql_dir, lock_timeout_s=1)] == ["column"]  # once free


def test_a_second_migrator_waits_a_bounded_time_for_the_first(empty_db_url, tmp_path):
    from ty_resources.migrations import MIGRATION_LOCK_KEY

    sql_dir = _two_migrations(tmp_path)
    with psycopg.connect(empty_db_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        started = time.monotonic()
        with pytest.raises(MigrationError, match="another process has held the migration lock for more than 1 s"):
            apply_migrations(empty_db_url, sql_dir, lock_timeout_s=1)
        assert 1 <= time.monotonic() - started < 10
    assert [m.name for m in apply_migrations(empty_db_url, sql_dir, lock_timeout_s=1)] == ["table", "column"]
