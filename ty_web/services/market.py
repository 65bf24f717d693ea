"""The market views' rules shared by ``GET /api/v1/market/demand`` and the market page: which days a demand
series covers."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg

from ty_resources.germany import BERLIN
from ty_web.errors import field_error
from ty_web.queries import market

DEFAULT_DAYS = 30
MAX_DAYS = 366
# Dates outside these are certainly typing errors (and date arithmetic near year 1 or 9999 overflows).
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)


def date_range(conn: psycopg.Connection, start: date | None, end: date | None,
               days: int = DEFAULT_DAYS) -> tuple[date, date]:
    """The first and last day of a demand series: ``end`` defaults to the latest day with a snapshot (today when
    there is none), ``start`` to ``days - 1`` days before ``end``. Raises a 422 :class:`ApiError` (fields
    ``query.from`` / ``query.to``) for a day outside 2000-2100, ``start`` after ``end`` or more than
    ``MAX_DAYS`` days."""
    for name, value in (("query.from", start), ("query.to", end)):
        if value is not None and not EARLIEST_DAY <= value <= LATEST_DAY:
            raise field_error(name, f"must be between {EARLIEST_DAY} and {LATEST_DAY}")
    if end is None:
        end = market.latest_demand_day(conn) or datetime.now(BERLIN).date()
    if start is None:
        start = end - timedelta(days=days - 1)
    if start > end:
        raise field_error("query.from", f"is after `to` ({end})")
    if (end - start).days + 1 > MAX_DAYS:
        raise field_error("query.to", f"the range spans more than {MAX_DAYS} days")
    return start, end
