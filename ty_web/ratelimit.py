"""Rate limits every web worker shares, kept in PostgreSQL: 429 with ``Retry-After`` past a limit.

A limit is *count requests per period*, allowed in a burst and then at the steady rate (GCRA, the generic cell
rate algorithm): one row per bucket and key holds the theoretical arrival time ``tat``; a request is allowed
when ``max(tat, now) + period/count`` is at most ``now + period``, and then moves ``tat`` there. The check and
the update are one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` statement, so concurrent requests of several
workers never both take the last slot. A refused request does not move ``tat`` (hammering does not extend the
wait). Rows whose ``tat`` has passed mean the same as no row; ty_web/housekeeping.py deletes them (never a
request: a delete of other keys' rows inside the transaction that locked this key's row could deadlock).

Keys: ``user:<id>`` for signed-in work (uploads, imports, refreshes, cover letters, explanations),
``addr:<address>`` for public routes and registration (the client address of :func:`ty_web.clients.client_address`).

The limits and their defaults are :data:`DEFAULT_LIMITS`; ``TY_RATE_LIMITS`` overrides some of them as
``name=count/seconds`` pairs separated by commas (``cv_upload=5/3600,search=30/60``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

from ty_resources.database import Database
from ty_resources.sqlfiles import sql_file
from ty_web.errors import ApiError
from ty_web.queries import fetch_one

log = logging.getLogger("ty.web.ratelimit")


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    period_s: float

    @property
    def interval_s(self) -> float:
        return self.period_s / self.count


DEFAULT_LIMITS: dict[str, Limit] = {limit.name: limit for limit in (
    # per client address
    Limit("register", 10, 3600),         # new accounts (and verification mails) from one address
    Limit("mail", 5, 3600),              # password-reset and verification mails asked for, per address
    Limit("mail_to", 3, 3600),           # ... and per e-mail address asked for: nobody's mailbox is flooded
    Limit("search", 60, 60),             # anonymous profession search
    Limit("public", 600, 60),            # the other public reads (market, professions, postings)
    # per user
    Limit("cv_upload", 20, 3600),
    Limit("cv_import", 30, 3600),
    Limit("refresh", 30, 3600),
    Limit("work_history", 120, 3600),    # each entry added or changed is classified (the LLM, when set)
    Limit("cover_letter", 30, 3600),     # letters not yet cached (a cached one costs nothing)
    Limit("explanation", 60, 3600),      # match explanations not yet cached (a cached one costs nothing)
    Limit("reauth", 10, 3600),           # the password asked again (password change, account deletion)
)}

HIT_SQL = sql_file(__file__, "ratelimit_hit.sql")
WAIT_SQL = sql_file(__file__, "ratelimit_wait.sql")


def parse_limits(spec: str) -> dict[str, Limit]:
    """:data:`DEFAULT_LIMITS` with the overrides of ``spec`` (``name=count/seconds,...``); ValueError if bad."""
    limits = dict(DEFAULT_LIMITS)
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, rate = part.partition("=")
        count, _, period = rate.partition("/")
        name = name.strip()
        if name not in DEFAULT_LIMITS:
            raise ValueError(f"unknown rate limit {name!r} (known: {', '.join(DEFAULT_LIMITS)})")
        try:
            limit = Limit(name, int(count), float(period))
        except ValueError:
            raise ValueError(f"rate limit {part!r} is not name=count/seconds") from None
        if limit.count < 1 or not 0 < limit.period_s <= 86_400 * 30:
            raise ValueError(f"rate limit {part!r}: count >= 1, 0 < seconds <= 30 days")
        limits[name] = limit
    return limits


class Refusals:
    """Refusals this process already had from the database, until they end: a key hammering past its limit is
    answered without a database round trip. Exact, not an approximation: a refused request changes nothing
    stored, so no worker can allow the key before the refusal ends (later failures only lengthen it, and the
    database is asked again once this one is over). At most :data:`MAX_REFUSALS` keys are kept."""

    MAX_REFUSALS = 50_000

    def __init__(self) -> None:
        self._until: dict[object, float] = {}
        self._lock = threading.Lock()

    def wait(self, key: object) -> float | None:
        """Seconds this key stays refused, or None when it is not (known to be) refused."""
        until = self._until.get(key)
        if until is None:
            return None
        left = until - time.monotonic()
        if left > 0:
            return left
        with self._lock:
            self._until.pop(key, None)
        return None

    def forget(self) -> None:
        """Ask the database again for every key (after the stored state was changed by hand)."""
        with self._lock:
            self._until.clear()

    def refuse(self, key: object, seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._until) >= self.MAX_REFUSALS:
                self._until = {k: t for k, t in self._until.items() if t > now}
                if len(self._until) >= self.MAX_REFUSALS:
                    self._until.clear()
            self._until[key] = now + seconds


class RateLimiter:
    """The limits of ``TY_RATE_LIMITS`` on a database; :meth:`check` raises 429 past one."""

    def __init__(self, db: Database, limits: dict[str, Limit]):
        self.db = db
        self.limits = limits
        self.refusals = Refusals()

    def retry_after(self, name: str, key: str) -> int | None:
        """Count one request of ``key`` against limit ``name``: None when allowed, else the seconds to wait."""
        known = self.refusals.wait((name, key))
        if known is not None:
            return max(1, math.ceil(known))
        limit = self.limits[name]
        params = {"bucket": name, "key": key, "interval": limit.interval_s, "period": limit.period_s}
        with self.db.connection() as conn:
            allowed = fetch_one(conn, HIT_SQL, params) is not None
            wait = None if allowed else fetch_one(conn, WAIT_SQL, params)
        if allowed:
            return None
        wait_s = float(wait["wait_s"] or 0) if wait else 0.0
        if wait_s > 0:
            self.refusals.refuse((name, key), wait_s)
        return max(1, math.ceil(wait_s))

    def check(self, name: str, key: str, what: str = "requests") -> None:
        """429 (``Retry-After``) when ``key`` is over limit ``name``."""
        wait = self.retry_after(name, key)
        if wait is not None:
            log.info("rate limited", extra={"limit": name, "key": key, "retry_after_s": wait})
            raise ApiError(429, f"too many {what}: try again in {wait} s", headers={"Retry-After": str(wait)})
