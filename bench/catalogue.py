"""Benchmark: loading the KldB catalogue with COPY + one merge vs. one upsert per row.

Measured, on a freshly migrated empty database each time (CREATE DATABASE +
apply_migrations), with the bundled KldB file parsed once beforehand:

* ``new``   -- ``load_catalogue(conn, catalogue)`` in one transaction, commit
  included (what the ``berufenet_catalogue`` asset does);
* ``rerun`` -- the same load a second time on that database (must change 0 rows);
* ``old``   -- the replaced system's way: one ``INSERT ... ON CONFLICT DO UPDATE``
  per row through ``cursor.execute``, autocommit off, one commit at the end.

Connecting is not timed. Each variant runs REPEATS times, the median is
reported, and the table contents of every run must be identical (row counts and
md5 of all rows in key order), else the exit status is 1.

Server: ``DATABASE_URL`` if set (its role must be allowed to CREATE DATABASE;
only ``ty_bench_<random>`` databases are created and dropped), else a throwaway
embedded PostgreSQL in a temporary folder, stopped and deleted at exit.
"""

from __future__ import annotations

import atexit
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from ty_assets.catalogue.assets import load_catalogue
from ty_resources.database import embedded_server_url, redact, url_for_database
from ty_resources.kldb import Catalogue, read_kldb
from ty_resources.migrations import apply_migrations
from ty_resources.settings import get_settings

REPEATS = 3
# table -> key, the ORDER BY of its checksum
TABLES = {
    "kldb_codes": "code",
    "professions": "berufenet_id",
    "profession_exclusions": "excluded_from_code, title, belongs_to_code",
    "catalogue_versions": "version",
}
Fingerprint = dict[str, tuple[int, str]]


def server_url() -> tuple[str, str]:
    """Admin URL of the server to use, and a label for it."""
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


def upsert_sql(table: str, key: Sequence[str], columns: Sequence[str]) -> str:
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


def load_row_by_row(conn: psycopg.Connection, catalogue: Catalogue) -> None:
    """The baseline: the columns of ``load_catalogue``, one statement and round trip per row."""
    v = catalogue.version
    batches: list[tuple[str, list[tuple[Any, ...]]]] = [
        (upsert_sql("catalogue_versions", ["version"], ["version", "source", "sha256", "professions", "codes"]),
         [(v, catalogue.source, catalogue.sha256, len(catalogue.professions), len(catalogue.codes))]),
        (upsert_sql("kldb_codes", ["code"], ["code", "level", "title", "short_title", "remarks", "description",
                                             "parent_code", "catalogue_version", "active"]),
         [(c.code, c.level, c.title, c.short_title, c.remarks, c.description, c.parent_code, v, True)
          for c in catalogue.codes]),
        (upsert_sql("professions", ["berufenet_id"], ["berufenet_id", "name", "name_male", "name_female",
                    "kldb_code", "level", "is_supervisor", "domain_code", "catalogue_version", "active"]),
         [(p.berufenet_id, p.name, p.name_male, p.name_female, p.kldb_code, p.level, p.is_supervisor,
           p.domain_code, v, True) for p in catalogue.professions]),
        (upsert_sql("profession_exclusions", ["excluded_from_code", "title", "belongs_to_code"],
                    ["excluded_from_code", "title", "belongs_to_code", "catalogue_version"]),
         [(e.excluded_from_code, e.title, e.belongs_to_code, v) for e in catalogue.exclusions]),
    ]
    with conn.cursor() as cur:
        for statement, rows in batches:
            for row in rows:
                cur.execute(statement, row)


def timed_load(url: str, load: Callable[[psycopg.Connection], Any]) -> tuple[float, Any]:
    """Seconds for ``load`` plus its commit on a new connection (autocommit off), and its result."""
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        result = load(conn)
        conn.commit()
        return time.perf_counter() - started, result


def fingerprint(url: str) -> Fingerprint:
    """Row count and md5 of every row (in key order) per table; ``loaded_at`` left out."""
    out: Fingerprint = {}
    with psycopg.connect(url) as conn:
        for table, key in TABLES.items():
            row = "(t.version, t.source, t.sha256, t.professions, t.codes)" if table == "catalogue_versions" else "t"
            count, digest = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg({row}::text, '|' ORDER BY {key}), '')) FROM {table} t"
            ).fetchone()
            out[table] = (count, digest)
    return out


def main() -> int:
    catalogue = read_kldb()
    admin_url, label = server_url()
    times: dict[str, list[float]] = {"new": [], "rerun": [], "old": []}
    prints: list[tuple[str, Fingerprint]] = []
    rerun_changes = 0
    for _ in range(REPEATS):  # variants interleaved, so drift hits both alike
        with fresh_database(admin_url) as url:
            for name in ("new", "rerun"):
                seconds, stats = timed_load(url, lambda conn: load_catalogue(conn, catalogue))
                times[name].append(seconds)
            rerun_changes += sum(s.changed for s in stats.values())
            prints.append(("new", fingerprint(url)))
        with fresh_database(admin_url) as url:
            times["old"].append(timed_load(url, lambda conn: load_row_by_row(conn, catalogue))[0])
            prints.append(("old", fingerprint(url)))

    med = {name: statistics.median(values) for name, values in times.items()}
    reference = prints[0][1]
    rows = sum(reference[t][0] for t in ("kldb_codes", "professions", "profession_exclusions"))
    print(f"catalogue {catalogue.version}: {len(catalogue.codes)} codes, {len(catalogue.professions)} professions,"
          f" {len(catalogue.exclusions)} exclusions; server: {label}")
    print(f"{'variant':<8}" + "".join(f"{'run ' + str(i + 1):>9}" for i in range(REPEATS)) + f"{'median':>9}")
    for name, values in times.items():
        print(f"{name:<8}" + "".join(f"{s:9.3f}" for s in values) + f"{med[name]:9.3f}")
    for table, (count, digest) in reference.items():
        print(f"{table:<22} rows={count:<6} md5={digest}")
    ok = True
    if any(fp != reference for _, fp in prints):
        print("MISMATCH: table contents differ between runs/variants:", file=sys.stderr)
        for name, fp in prints:
            print(f"  {name}: {fp}", file=sys.stderr)
        ok = False
    if rerun_changes:
        print(f"UNEXPECTED: the re-runs changed {rerun_changes} rows (expected 0)", file=sys.stderr)
        ok = False
    print(f"contents identical across {len(prints)} databases: {'yes' if ok else 'NO'}; rerun rows changed: {rerun_changes}")
    print(f"BENCH catalogue rows={rows} new_s={med['new']:.3f} old_s={med['old']:.3f}"
          f" rerun_s={med['rerun']:.3f} ratio={med['old'] / med['new']:.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
