"""Fetching posting details (descriptions) on a bounded thread pool. No Dagster here."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

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


# The BA detail's own small fields kept beside the description (posting_descriptions.facts), for the summaries
# (working time, contract, pay, start): field -> the value types kept. Only these, so a new field of the API, a long
# text or an address never reaches the table; a value of another type is left out.
FACT_FIELDS: dict[str, tuple[type, ...]] = {
    "angebotsart": (str,),
    "arbeitszeitmodelle": (list,),
    "befristung": (str, int),
    "uebernahme": (bool,),
    "verguetung": (str,),
    "tarifvertrag": (str,),
    "eintrittsdatum": (str,),
    "anzahlOffeneStellen": (int,),
    "betriebsgroesse": (str,),
    "branche": (str,),
    "branchengruppe": (str,),
    "quereinstiegGeeignet": (bool,),
    "fuerFluechtlingeGeeignet": (bool,),
    "nurFuerSchwerbehinderte": (bool,),
}
FACT_CHARS = 200  # per string
FACT_LIST_ITEMS = 10  # strings per list


def _fact_value(value: Any, kinds: tuple[type, ...]) -> Any:
    """The bounded value, or None to leave it out."""
    if isinstance(value, bool):  # a bool is an int to Python: kept only where a bool is meant
        return value if bool in kinds else None
    if isinstance(value, str) and str in kinds:
        return " ".join(value[: FACT_CHARS * 2].split())[:FACT_CHARS] or None
    if isinstance(value, int) and int in kinds:
        return value if -1_000_000 <= value <= 1_000_000 else None
    if isinstance(value, list) and list in kinds:
        items = [" ".join(v[: FACT_CHARS * 2].split())[:FACT_CHARS] for v in value[:FACT_LIST_ITEMS]
                 if isinstance(v, str)]
        return [v for v in items if v] or None
    return None


def detail_facts(detail: dict[str, Any]) -> dict[str, Any]:
    """The detail's :data:`FACT_FIELDS` that have a value of a kept type, each bounded."""
    facts = {}
    for name, kinds in FACT_FIELDS.items():
        value = _fact_value(detail.get(name), kinds)
        if value is not None:
            facts[name] = value
    return facts


@dataclass(frozen=True)
class DetailResult:
    refnr: str
    status: str  # ok | not_found | error
    description: str | None = None
    error: str | None = None
    facts: dict[str, Any] | None = None  # detail_facts of an ok detail


def fetch_one(source: PostingSource, refnr: str) -> DetailResult:
    try:
        detail = source.fetch_detail(refnr)
        if detail is None:
            return DetailResult(refnr, "not_found")
        markup = detail.get("stellenangebotsBeschreibung")
        if markup is not None and not isinstance(markup, str):
            raise TypeError(f"stellenangebotsBeschreibung is a {type(markup).__name__}, not text")
        return DetailResult(refnr, "ok", description=html_to_text(markup), facts=detail_facts(detail))
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
                         "failed": int(r.status == "error" and count_attempt), "error": r.error,
                         "facts": Jsonb(r.facts) if r.facts is not None else None}
                        for r in results
                    ],
                )
            conn.commit()
            counts.update(r.status for r in results)
    given_up = conn.execute(GIVE_UP_SQL, {"day": day, "max_attempts": max_attempts}).rowcount
    conn.commit()
    return {DESCRIPTIONS_FETCHED: len(todo), "ok": counts["ok"], "not_found": counts["not_found"],
            "error": counts["error"], "given_up": given_up}
