"""Writing a day's postings: batched COPY + merge, then staleness. No Dagster here."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

from ty_assets.postings.rows import POSTING_COLUMNS, posting_row
from ty_resources.bulk import copy_to_staging
from ty_resources.database import one
from ty_resources.sqlfiles import sql_file

UPSERT_SQL = sql_file(__file__, "upsert_postings.sql")

# Driven from the (few) stale postings through their partial index, not from the batch.
REACTIVATED_SQL = """
SELECT count(*) FROM postings p
WHERE p.invalidated_reason = 'stale'
  AND EXISTS (SELECT 1 FROM _stage_postings s
              WHERE s.refnr = p.refnr AND s.last_seen > p.invalidated_on - %(stale_days)s::integer)
"""

# A posting not seen on TY_STALE_DAYS days in a row is stale from the first trusted crawl day at least that many
# days after its last sighting: the day a run of the days in order invalidates it. Measured against every
# trusted crawl (not the run's own day), so days ingested in any order (a backfill of an older day after newer
# ones, runs at once) leave the postings as the days in order leave them.
INVALIDATE_STALE_SQL = sql_file(__file__, "invalidate_stale.sql")

# The day's postings as the day's later steps take them (descriptions, embeddings, labels): every posting seen on
# the day, also one that a newer day, ingested first, has already made stale (the days in order saw it active),
# but not one whose description was given up.
DAY_POSTINGS_SQL = "p.last_seen = %(day)s AND p.invalidated_reason IS DISTINCT FROM 'description_given_up'"


@dataclass
class IngestStats:
    fetched: int = 0
    duplicates: int = 0
    new: int = 0
    updated: int = 0
    reactivated: int = 0
    batches: int = 0


def upsert_batch(
    conn: psycopg.Connection, rows: Iterable[tuple[Any, ...]], stale_days: int
) -> tuple[int, int, int]:
    """Merge rows (one per refnr) into postings; returns (new, updated, reactivated).

    The caller commits; the staging table goes with the commit.
    """
    copy_to_staging(conn, "postings", POSTING_COLUMNS, rows)
    reactivated = one(conn.execute(REACTIVATED_SQL, {"stale_days": stale_days}))[0]
    new, updated = one(conn.execute(UPSERT_SQL, {"stale_days": stale_days}))
    return new, updated, reactivated


def ingest_pages(
    conn: psycopg.Connection, pages: Iterable[list[dict[str, Any]]], day: date, batch_size: int,
    stale_days: int = 3,
) -> IngestStats:
    """Upsert the pages' items for partition ``day``, committing every ``batch_size`` postings.

    Duplicates (across pages, or within one) are written once. While the
    database merges one batch, the next one is fetched and converted (one
    writer thread, one batch in flight), so source, Python and PostgreSQL work
    side by side. If fetching fails midway, what was fetched so far is committed
    before the error propagates, so a re-run only has to redo the rest.
    """
    stats = IngestStats()
    seen: set[str] = set()
    batch: list[tuple[Any, ...]] = []
    in_flight: Future[None] | None = None

    def write(rows: list[tuple[Any, ...]]) -> None:
        try:
            new, updated, reactivated = upsert_batch(conn, rows, stale_days)
            conn.commit()
        except BaseException:
            conn.rollback()  # nothing of a failed batch is kept; earlier batches are committed
            raise
        stats.new += new
        stats.updated += updated
        stats.reactivated += reactivated
        stats.batches += 1

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ty-ingest-writer") as writer:

        def flush() -> None:
            nonlocal in_flight, batch
            if in_flight is not None:
                done, in_flight = in_flight, None
                done.result()  # a database error surfaces here
            if batch:
                in_flight, batch = writer.submit(write, batch), []

        try:
            for page in pages:
                for item in page:
                    stats.fetched += 1
                    if item["refnr"] in seen:
                        stats.duplicates += 1
                        continue
                    seen.add(item["refnr"])
                    batch.append(posting_row(item, day))
                    if len(batch) >= batch_size:
                        flush()
        finally:
            flush()  # the source failed, or it is done: keep what it delivered
            flush()  # and wait for it
    return stats


def invalidate_stale(conn: psycopg.Connection, stale_days: int) -> int:
    """Invalidate the postings that the trusted crawls have missed ``stale_days`` days in a row (and move a stale
    posting's day to where the trusted crawls now put it); how many rows changed."""
    count = conn.execute(INVALIDATE_STALE_SQL, {"stale_days": stale_days}).rowcount
    conn.commit()
    # Fresh statistics for the day's later steps: autovacuum analyses a freshly loaded table
    # only after its next nap, and the labels' joins are planned badly without them.
    conn.execute("ANALYZE postings")
    conn.commit()
    return count


def postings_overview(conn: psycopg.Connection) -> dict[str, int]:
    """Active and invalidated postings (by reason), for summaries."""
    rows = conn.execute(
        "SELECT coalesce(invalidated_reason, 'active'), count(*) FROM postings GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return {reason: count for reason, count in rows}
