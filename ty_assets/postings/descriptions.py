"""Fetching posting details (descriptions) on a bounded thread pool. No Dagster here."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import psycopg

from ty_assets.metadata import DESCRIPTIONS_FETCHED
from ty_assets.postings.ingest import DAY_POSTINGS_SQL
from ty_resources.ba import PostingSource, html_to_text
from ty_resources.sqlfiles import sql_file

MISSING_SQL = f"""
SELECT p.refnr FROM postings p LEFT JOIN posting_descriptions d USING (refnr)
WHERE {DAY_POSTINGS_SQL} AND (d.refnr IS NULL OR d.status = 'error')
ORDER BY p.refnr
"""

UPSERT_SQL = sql_file(__file__, "descriptions_upsert.sql")

# The day's postings whose details failed in max_attempts runs (scoped to the day: its day is never before the
# posting's first_seen, whatever order the days run in).
GIVE_UP_SQL = """
UPDATE postings p
SET invalidated_at = now(), invalidated_on = %(day)s, invalidated_reason = 'description_given_up'
FROM posting_descriptions d
WHERE d.refnr = p.refnr AND d.status = 'error' AND d.attempts >= %(max_attempts)s
  AND p.last_seen = %(day)s AND p.invalidated_at IS NULL
"""


@dataclass(frozen=True)
class DetailResult:
    refnr: str
    status: str  # ok | not_found | error
    description: str | None = None
    error: str | None = None


def fetch_one(source: PostingSource, refnr: str) -> DetailResult:
    try:
        detail = source.fetch_detail(refnr)
        if detail is None:
            return DetailResult(refnr, "not_found")
        markup = detail.get("stellenangebotsBeschreibung")
        if markup is not None and not isinstance(markup, str):
            raise TypeError(f"stellenangebotsBeschreibung is a {type(markup).__name__}, not text")
        return DetailResult(refnr, "ok", description=html_to_text(markup))
    except Exception as exc:  # recorded per posting, retried by the next run
        return DetailResult(refnr, "error", error=f"{type(exc).__name__}: {exc}"[:1000])


def fetch_descriptions(
    conn: psycopg.Connection, source: PostingSource, day: date, *, workers: int, max_attempts: int,
    batch_size: int = 500, count_attempt: bool = True,
) -> dict[str, int]:
    """Fetch what the day's postings lack; record a status each; give up after ``max_attempts`` failed runs.
    ``count_attempt=False`` (a retry of the same run): failures do not count again, so the retries of one night's
    outage cannot use up every attempt and give the day's postings up for good."""
    todo = [refnr for (refnr,) in conn.execute(MISSING_SQL, {"day": day}).fetchall()]
    conn.commit()  # the work list is read: no transaction open while the first batch is fetched
    counts: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ty-details") as pool:
        for start in range(0, len(todo), batch_size):
            results = list(pool.map(lambda r: fetch_one(source, r), todo[start : start + batch_size]))
            with conn.cursor() as cur:
                cur.executemany(
                    UPSERT_SQL,
                    [
                        {"refnr": r.refnr, "status": r.status, "description": r.description,
                         "failed": int(r.status == "error" and count_attempt), "error": r.error}
                        for r in results
                    ],
                )
            conn.commit()
            counts.update(r.status for r in results)
    given_up = conn.execute(GIVE_UP_SQL, {"day": day, "max_attempts": max_attempts}).rowcount
    conn.commit()
    return {DESCRIPTIONS_FETCHED: len(todo), "ok": counts["ok"], "not_found": counts["not_found"],
            "error": counts["error"], "given_up": given_up}
