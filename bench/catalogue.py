"""Benchmark: loading the KldB catalogue with COPY + one merge vs. one upsert per row.

Measured, on a freshly migrated empty database each time (CREATE DATABASE +
apply_migrations), with the bundled KldB file parsed once beforehand:

* ``new``   -- ``load_catalogue(conn, catalogue)`` in one transaction, commit
  included (what the ``berufenet_catalogue`` asset does);
* ``rerun`` -- the same load a second time on that database (must change 0 rows);
* ``old``   -- the replaced system's way: one ``INSERT ... ON CONFLICT DO UPDATE``
  per row through ``cursor.execute``, autocommit off, one commit at the end.
  Through psycopg 3, which prepares a statement after 5 runs: a baseline about
  20 % faster than psycopg2's client-side interpolation, so the ratio is a floor.

Connecting is not timed. Each variant runs REPEATS times, the median is
reported, and the table contents of every run must be identical (row counts and
md5 of all rows in key order) and the re-runs must change no row, else the
exit status is 1.

Server (``bench.common.server_url``): ``DATABASE_URL`` if set (its role must be
allowed to CREATE DATABASE; only ``ty_bench_<random>`` databases are created and
dropped), else a throwaway embedded PostgreSQL in a temporary folder.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from bench.common import fresh_database, server_url, table_digest
from ty_assets.catalogue.assets import load_catalogue
from ty_resources.kldb import Catalogue, read_kldb

REPEATS = 3
# table -> key, the ORDER BY of its checksum
TABLES = {
    "kldb_codes": "code",
    "professions": "berufenet_id",
    "profession_exclusions": "excluded_from_code, title, belongs_to_code",
    "catalogue_versions": "version",
}
Fingerprint = dict[str, tuple[int, str]]


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
    version_row = "(t.version, t.source, t.sha256, t.professions, t.codes)"
    return {
        table: table_digest(url, table, key, version_row if table == "catalogue_versions" else "t")
        for table, key in TABLES.items()
    }


def measure(admin_url: str, catalogue: Catalogue) -> tuple[dict[str, list[float]], list[Fingerprint], int]:
    """Seconds per variant and run, the fingerprint of every database, rows changed by the re-runs."""
    times: dict[str, list[float]] = {"new": [], "rerun": [], "old": []}
    prints: list[Fingerprint] = []
    rerun_changes = 0
    for _ in range(REPEATS):  # variants interleaved, so drift hits both alike
        with fresh_database(admin_url) as url:
            times["new"].append(timed_load(url, lambda conn: load_catalogue(conn, catalogue))[0])
            seconds, stats = timed_load(url, lambda conn: load_catalogue(conn, catalogue))
            times["rerun"].append(seconds)
            rerun_changes += sum(s.changed for s in stats.values())
            prints.append(fingerprint(url))
        with fresh_database(admin_url) as url:
            times["old"].append(timed_load(url, lambda conn: load_row_by_row(conn, catalogue))[0])
            prints.append(fingerprint(url))
    return times, prints, rerun_changes


def main() -> int:
    catalogue = read_kldb()
    admin_url, label = server_url()
    times, prints, rerun_changes = measure(admin_url, catalogue)
    med = {name: statistics.median(values) for name, values in times.items()}
    reference = prints[0]
    same = all(fp == reference for fp in prints)
    rows = sum(reference[t][0] for t in ("kldb_codes", "professions", "profession_exclusions"))

    print(f"catalogue {catalogue.version}: {len(catalogue.codes)} codes, {len(catalogue.professions)} professions,"
          f" {len(catalogue.exclusions)} exclusions; server: {label}")
    print(f"{'variant':<8}" + "".join(f"{'run ' + str(i + 1):>9}" for i in range(REPEATS)) + f"{'median':>9}")
    for name, values in times.items():
        print(f"{name:<8}" + "".join(f"{s:9.3f}" for s in values) + f"{med[name]:9.3f}")
    for table, (count, digest) in reference.items():
        print(f"{table:<22} rows={count:<6} md5={digest}")
    print(f"identical contents in all {len(prints)} databases: {'yes' if same else 'NO'};"
          f" rows changed by the re-runs: {rerun_changes}")
    if not same:
        for fp in prints:
            print(f"  {fp}", file=sys.stderr)
    print(f"BENCH catalogue rows={rows} new_s={med['new']:.3f} old_s={med['old']:.3f}"
          f" rerun_s={med['rerun']:.3f} ratio={med['old'] / med['new']:.1f}")
    return 0 if same and rerun_changes == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
