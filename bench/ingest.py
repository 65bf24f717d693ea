"""Benchmark: upserting postings, the project's path vs the old one-row-at-a-time pattern.

Data: ROWS postings in the BA API's item shape, generated deterministically
(refnr, title, beruf, employer, place with coordinates, dates, the raw item).

- ``new``: ``ingest_pages`` as the ``postings`` asset runs it: batches of
  TY_INGEST_BATCH_SIZE (5,000), each COPY'd into a staging table and merged
  with one ``INSERT ... ON CONFLICT (refnr) DO UPDATE``, one commit per batch.
- ``old``: the replaced pattern: one ``INSERT ... ON CONFLICT (refnr) DO UPDATE``
  per row through ``executemany`` of psycopg2, the driver the old system used
  (one round trip per row), with the same SET/WHERE clause, batches and commits.
- ``old_pipelined`` (for reference): the same statement through psycopg 3's
  ``executemany``, which pipelines the rows; the fastest a per-row statement gets.

The row conversion (``posting_row``) is timed in every variant.

Pass 1 loads all rows into an empty, migrated database; pass 2 sends the same
day again with 5 % of the rows changed. Each variant gets its own fresh
database on the same server. The two must end with identical tables.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import psycopg

from bench.common import fresh_database, server_url, table_digest
from ty_assets.postings.ingest import UPSERT_SQL, ingest_pages
from ty_assets.postings.rows import POSTING_COLUMNS, posting_row
from ty_resources.germany import LAENDER

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 260_000
BATCH = 5_000
CHANGED_SHARE = 0.05
DAY = date(2026, 11, 2)
WORDS = [
    "Fachkraft",
    "Helfer",
    "Kaufmann",
    "Pflegefachkraft",
    "Elektroniker",
    "Softwareentwickler",
    "Koch",
    "Berufskraftfahrer",
    "Erzieher",
    "Lagerist",
    "Verkäufer",
    "Mechatroniker",
    "Bürokauffrau",
]
OLD_SQL = (
    f"INSERT INTO postings AS p ({', '.join(POSTING_COLUMNS)}) VALUES ({', '.join(['%s'] * len(POSTING_COLUMNS))}) "
    + UPSERT_SQL[UPSERT_SQL.index("ON CONFLICT") : UPSERT_SQL.index("RETURNING")].replace("%(stale_days)s", "3")
)


def generate(rows: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    items = []
    for n in range(rows):
        land = rng.choice(LAENDER)
        items.append(
            {
                "refnr": f"10000-{1_100_000_000 + n}-S",
                "titel": f"{rng.choice(WORDS)} (m/w/d) {rng.choice(['Vollzeit', 'Teilzeit', 'in ' + land])}",
                "beruf": rng.choice(WORDS) + "/in" if rng.random() < 0.6 else None,
                "arbeitgeber": f"Firma {rng.randrange(20_000)} GmbH",
                "aktuelleVeroeffentlichungsdatum": f"2026-10-{rng.randrange(1, 29):02d}",
                "modifikationsTimestamp": "2026-10-30T08:15:00.000",
                "arbeitsort": {
                    "plz": f"{rng.randrange(1000, 99999):05d}",
                    "ort": f"Ort {rng.randrange(3000)}",
                    "region": land,
                    "land": "Deutschland",
                    "koordinaten": {"lat": round(rng.uniform(47.3, 55.0), 6), "lon": round(rng.uniform(5.9, 15.0), 6)},
                },
            }
        )
    return items


def changed(items: list[dict[str, Any]], share: float, seed: int = 2) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for item in items:
        if rng.random() < share:
            item = {**item, "titel": item["titel"] + " - ab sofort", "arbeitgeber": item["arbeitgeber"] + " & Co. KG"}
        out.append(item)
    return out


def pages(items: list[dict[str, Any]], size: int = 100) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def load_new(url: str, items: list[dict[str, Any]]) -> float:
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        ingest_pages(conn, pages(items), DAY, BATCH)
        return time.perf_counter() - started


def per_row_upserts(conn: Any, items: list[dict[str, Any]]) -> float:
    """One statement per row through the driver's ``executemany`` (any DB-API connection)."""
    started = time.perf_counter()
    for start in range(0, len(items), BATCH):
        rows = [posting_row(item, DAY) for item in items[start : start + BATCH]]
        with conn.cursor() as cur:
            cur.executemany(OLD_SQL, rows)
        conn.commit()
    return time.perf_counter() - started


def load_old_pipelined(url: str, items: list[dict[str, Any]]) -> float:
    with psycopg.connect(url) as conn:
        return per_row_upserts(conn, items)


def load_old(url: str, items: list[dict[str, Any]]) -> float:
    import psycopg2  # the old system's driver; installed with dagster-postgres

    conn = psycopg2.connect(url)
    try:
        return per_row_upserts(conn, items)
    finally:
        conn.close()


def main() -> int:
    admin, label = server_url()
    items = generate(ROWS)
    second = changed(items, CHANGED_SHARE)
    print(f"server: {label}; {ROWS:,} postings, batches of {BATCH:,}, pass 2 with {CHANGED_SHARE:.0%} changed")
    times: dict[str, tuple[float, float]] = {}
    digests = {}
    for name, load in (("new", load_new), ("old", load_old), ("old_pipelined", load_old_pipelined)):
        with fresh_database(admin) as url:
            first_s = load(url, items)
            second_s = load(url, second)
            times[name] = (first_s, second_s)
            digests[name] = table_digest(url, "postings", "refnr")
        print(
            f"{name:<13}: pass 1 {first_s:7.2f} s ({ROWS / first_s:9,.0f} rows/s)"
            f"   pass 2 {second_s:7.2f} s ({ROWS / second_s:9,.0f} rows/s)"
        )
    if len(set(digests.values())) != 1:
        print(f"tables differ: {digests}", file=sys.stderr)
        return 1
    (new1, new2), (old1, old2), (pip1, _) = times["new"], times["old"], times["old_pipelined"]
    print(
        f"BENCH ingest rows={ROWS} new_rows_per_s={ROWS / new1:.0f} old_rows_per_s={ROWS / old1:.0f} "
        f"ratio={old1 / new1:.1f} new_s={new1:.2f} old_s={old1:.2f} "
        f"pass2_new_s={new2:.2f} pass2_old_s={old2:.2f} pass2_ratio={old2 / new2:.1f} "
        f"pipelined_rows_per_s={ROWS / pip1:.0f} pipelined_ratio={pip1 / new1:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
