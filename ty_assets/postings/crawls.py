"""The ``crawls`` table: each day's crawl plan and numbers (written by ``postings``, read by its checks,
by ``tyctl health`` and by the next day's crawl)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ty_resources.ba import DayFetch
from ty_resources.crawl import Plan
from ty_resources.sqlfiles import sql_file

SAVE_CRAWL_SQL = sql_file(__file__, "save_crawl.sql")
log = logging.getLogger("ty.crawl")


def load_plan(conn: psycopg.Connection, day: date) -> Plan | None:
    """The plan to start ``day`` from: its own (a re-run) or the latest of a day before."""
    row = conn.execute(
        "SELECT plan FROM crawls WHERE day <= %s AND plan IS NOT NULL ORDER BY day DESC LIMIT 1", (day,)
    ).fetchone()
    if row is None:
        return None
    try:
        return Plan.from_json(row[0])
    except ValueError as exc:  # Plan.from_json checks every node (depth, counts, size) and says what is wrong
        # A damaged plan costs a few planning requests, never the day: plan afresh.
        log.warning("the stored crawl plan before %s cannot be read (%s): planning afresh", day, exc)
        return None


def save_crawl(conn: psycopg.Connection, day: date, source: str, fetch: DayFetch, *, min_coverage: float,
               failed: bool = False) -> bool:
    """Record the day's crawl. Only a complete crawl keeps its plan: the next run (a re-run of this day, or
    the next day) starts from the last plan that worked, never from one a failed crawl left half-changed.
    ``failed``: the run broke off (the crawl's own problems aside), so the crawl is incomplete. Returns whether
    the crawl is *trusted* (complete, its coverage at least ``min_coverage`` and believable): only trusted days
    make postings stale."""
    stats = fetch.stats
    complete = not failed and not stats.problems
    # a day with nothing planned (a snapshot without the day, an API that answers 0) says nothing about the market
    trusted = complete and stats.planned > 0 and stats.trusted(min_coverage)
    conn.execute(SAVE_CRAWL_SQL, {
        "day": day, "source": source, "plan": Jsonb(fetch.plan.to_json()) if complete and fetch.plan else None,
        "planned": stats.planned, "fetched": stats.fetched, "coverage": stats.coverage,
        "complete": complete, "trusted": trusted,
        "stats": Jsonb({**stats.as_dict(), "problem_list": stats.problems[:50]}),
    })
    conn.commit()
    return trusted


def crawl_of(conn: psycopg.Connection, day: date | None = None) -> dict[str, Any] | None:
    """The crawl of ``day`` (default: the latest), or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        if day is None:
            cur.execute("SELECT * FROM crawls ORDER BY day DESC LIMIT 1")
        else:
            cur.execute("SELECT * FROM crawls WHERE day = %s", (day,))
        return cur.fetchone()
