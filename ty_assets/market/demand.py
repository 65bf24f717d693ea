"""Demand per day: the SQL behind ``demand_snapshot`` and its independent recount. No Dagster here.

A posting is **active on day D** when ``first_seen <= D`` and it was not invalidated
on or before D (``invalidated_on IS NULL OR invalidated_on > D``). So a posting
counts from the day it was first fetched up to the day before the run that
invalidated it, including the tolerated days it was missing before it went stale
(``TY_STALE_DAYS``). It is **new on D** when ``first_seen = D`` and
**invalidated on D** when ``invalidated_on = D`` (then it no longer counts as
active on D). The counts come from the postings' current rows: a day computed
again later reflects what is known then (a posting that came back after an
invalidation counts as active throughout; its label is its current one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg

from ty_resources.database import one
from ty_resources.sqlfiles import sql_file

INSERT_SQL = sql_file(__file__, "demand_snapshot.sql")

# Serialises writers of the same day (two runs of one partition would otherwise
# both delete, then collide on the unique key).
LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('demand_snapshots'), (%(day)s::date - '2000-01-01'::date))"

TOTALS_SQL = sql_file(__file__, "demand_totals.sql")

RECOUNT_SQL = sql_file(__file__, "demand_recount.sql")


@dataclass(frozen=True)
class DemandTotals:
    """A day's totals: the snapshot's sums, or the recount from ``postings`` (``rows`` = 0 there)."""

    rows: int
    active: int
    new: int
    invalidated: int
    unlabelled_active: int

    def counts(self) -> tuple[int, int, int, int]:
        return (self.active, self.new, self.invalidated, self.unlabelled_active)


def write_demand_snapshot(conn: psycopg.Connection, day: date) -> DemandTotals:
    """Replace ``day``'s rows of ``demand_snapshots`` (delete + one INSERT ... SELECT) and commit."""
    with conn.transaction():
        conn.execute(LOCK_SQL, {"day": day})
        conn.execute("DELETE FROM demand_snapshots WHERE day = %(day)s", {"day": day})
        conn.execute(INSERT_SQL, {"day": day})
    if not conn.autocommit:  # the block above was a savepoint inside the caller's transaction
        conn.commit()
    return snapshot_totals(conn, day)


def snapshot_totals(conn: psycopg.Connection, day: date) -> DemandTotals:
    return DemandTotals(*one(conn.execute(TOTALS_SQL, {"day": day})))


def recount(conn: psycopg.Connection, day: date) -> DemandTotals:
    """The day's totals counted from ``postings`` directly."""
    active, new, invalidated, unlabelled = one(conn.execute(RECOUNT_SQL, {"day": day}))
    return DemandTotals(0, active, new, invalidated, unlabelled)
