"""Market views and the catalogue: demand over time, profession search, a profession and its neighbours, a
posting.

**Public**: none of these routes needs a sign-in. They serve what the pipeline materialised from the BA's
public job board and the public KldB/BERUFENET catalogue, nothing about any user; so they take no cookie and
need no CSRF token (all are GET). Reads only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter, Path, Query
from psycopg import sql

from ty_resources.titles import normalize_title
from ty_web.deps import ClassifierDep, Conn
from ty_web.errors import error_responses, field_error, not_found
from ty_web.market_schemas import (
    LEVEL_NAMES,
    DemandFilters,
    DemandPoint,
    DemandSeries,
    MarketState,
    NeighbourProfession,
    PostingLabel,
    PostingOut,
    ProfessionDetail,
    ProfessionSearch,
    ProfessionSummary,
    SearchCandidate,
    SimilarProfession,
    SimilarProfessions,
)
from ty_web.schemas import BERUFENET_ID_PATTERN

router = APIRouter(tags=["market"], responses=error_responses(503))

BERLIN = ZoneInfo("Europe/Berlin")
DEFAULT_DAYS = 30
MAX_DAYS = 366
# Dates outside these are certainly typing errors (and date arithmetic near year 1 or 9999 overflows).
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)
QUERY_MAX_CHARS = 200
EXAMPLES_PER_NEIGHBOUR = 5
URL_MAX_CHARS = 2048
# BA reference numbers (`10000-1234567890-S`, `12265-447238_JB4263457-S`): letters, digits and - _ .
REFNR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"

BerufenetIdPath = Annotated[str, Path(pattern=BERUFENET_ID_PATTERN, description="BERUFENET id: `43414-102`.")]


# ------------------------------------------------------------------ demand

DEMAND_SQL = """
WITH days AS (
    SELECT g::date AS day
    FROM generate_series(%(from)s::date, %(to)s::date, interval '1 day') g
    WHERE EXISTS (SELECT 1 FROM demand_snapshots x WHERE x.day = g::date)
)
SELECT days.day,
       coalesce(sum(d.active_postings), 0)::bigint,
       coalesce(sum(d.new_postings), 0)::bigint,
       coalesce(sum(d.invalidated_postings), 0)::bigint
FROM days
LEFT JOIN demand_snapshots d ON d.day = days.day AND {filters}
GROUP BY days.day
ORDER BY days.day
"""


def _kldb_filter(prefix: str, params: dict[str, Any]) -> sql.Composable:
    """Rows whose KldB code starts with ``prefix``, written so the indexes on kldb_code and domain_code serve."""
    if len(prefix) == 5:
        params["kldb"] = prefix
        return sql.SQL("d.kldb_code = %(kldb)s")
    if len(prefix) == 1:  # a Berufsbereich: its ten possible domains
        params["kldb_domains"] = [f"{prefix}{digit}" for digit in range(10)]
        return sql.SQL("d.domain_code = ANY(%(kldb_domains)s)")
    params["kldb_domain"] = prefix[:2]
    params["kldb_like"] = prefix + "%"  # digits only: nothing to escape
    return sql.SQL("d.domain_code = %(kldb_domain)s AND d.kldb_code LIKE %(kldb_like)s")


def _code_title(conn: psycopg.Connection, code: str) -> str | None:
    row = conn.execute("SELECT title FROM kldb_codes WHERE code = %s", (code,)).fetchone()
    return row[0] if row else None


def _date_range(conn: psycopg.Connection, start: date | None, end: date | None) -> tuple[date, date]:
    for name, value in (("query.from", start), ("query.to", end)):
        if value is not None and not EARLIEST_DAY <= value <= LATEST_DAY:
            raise field_error(name, f"must be between {EARLIEST_DAY} and {LATEST_DAY}")
    if end is None:
        latest = conn.execute("SELECT max(day) FROM demand_snapshots").fetchone()[0]
        end = latest or datetime.now(BERLIN).date()
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise field_error("query.from", f"is after `to` ({end})")
    if (end - start).days + 1 > MAX_DAYS:
        raise field_error("query.to", f"the range spans more than {MAX_DAYS} days")
    return start, end


@router.get("/market/demand", response_model=DemandSeries, response_model_by_alias=True,
            responses=error_responses(422))
def get_demand(
    conn: Conn,
    kldb: Annotated[str | None, Query(pattern=r"^[0-9]{1,5}$", description=(
        "KldB 2010 code or prefix, 1-5 digits: `4` Berufsbereich, `43` Hauptgruppe, `434` Gruppe, "
        "`4341` Untergruppe, `43414` Berufsgattung."))] = None,
    domain: Annotated[str | None, Query(pattern=r"^[0-9]{2}$", description="Berufshauptgruppe, 2 digits.")] = None,
    state: Annotated[MarketState | None, Query(description="A Land, `Ausland` or `unbekannt`.")] = None,
    level: Annotated[int | None, Query(ge=1, le=4, description="Anforderungsniveau 1-4.")] = None,
    start: Annotated[date | None, Query(alias="from", description=(
        "First day (inclusive); default: 29 days before `to`."))] = None,
    end: Annotated[date | None, Query(alias="to", description=(
        "Last day (inclusive); default: the latest day with a snapshot (today when there is none). "
        f"At most {MAX_DAYS} days in all."))] = None,
) -> DemandSeries:
    """Open, new and disappeared postings per day, summed over the snapshot's buckets that match the filters
    (all filters together). Without a profession filter (`kldb`, `domain`, `level`) the sums include the
    unlabelled postings. Days in the range whose snapshot was not computed are left out. Public."""
    kldb_title = domain_title = None
    if kldb is not None:
        kldb_title = _code_title(conn, kldb)
        if kldb_title is None:
            raise field_error("query.kldb", f"{kldb} is not a KldB 2010 code")
    if domain is not None:
        domain_title = _code_title(conn, domain)
        if domain_title is None:
            raise field_error("query.domain", f"{domain} is not a KldB 2010 Berufshauptgruppe")
        if kldb is not None and not (kldb.startswith(domain) or domain.startswith(kldb)):
            raise field_error("query.domain", f"KldB {kldb} is not in domain {domain}")
    first, last = _date_range(conn, start, end)

    params: dict[str, Any] = {"from": first, "to": last}
    filters: list[sql.Composable] = []
    if kldb is not None:
        filters.append(_kldb_filter(kldb, params))
    if domain is not None:
        params["domain"] = domain
        filters.append(sql.SQL("d.domain_code = %(domain)s"))
    if state is not None:
        params["state"] = state
        filters.append(sql.SQL("d.state = %(state)s"))
    if level is not None:
        params["level"] = level
        filters.append(sql.SQL("d.level = %(level)s"))
    where = sql.SQL(" AND ").join(filters) if filters else sql.SQL("true")
    rows = conn.execute(sql.SQL(DEMAND_SQL).format(filters=where), params).fetchall()
    return DemandSeries(
        filters=DemandFilters(kldb=kldb, kldb_title=kldb_title, domain=domain, domain_title=domain_title,
                              state=state, level=level),
        from_=first, to=last,
        series=[DemandPoint(day=r[0], active_postings=r[1], new_postings=r[2], invalidated_postings=r[3])
                for r in rows],
    )


# ------------------------------------------------------------------ professions


def _clean_query(q: str) -> str:
    q = " ".join(q.split())
    if not q:
        raise field_error("query.q", "is blank")
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in q):
        raise field_error("query.q", "control characters are not allowed")
    return q


@router.get("/professions/search", response_model=ProfessionSearch, responses=error_responses(422))
def search_professions(
    conn: Conn,
    classifier: ClassifierDep,
    q: Annotated[str, Query(min_length=1, max_length=QUERY_MAX_CHARS,
                            description="A job title as anyone writes it: `Lagerist (m/w/d)`, `Köchin`.")],
    limit: Annotated[int, Query(ge=1, le=50, description="Candidates returned at most.")] = 10,
) -> ProfessionSearch:
    """The catalogue's professions for a job title, through the project's classifier (the pipeline's label
    cascade: exact reading, retrieval, and the LLM when one is configured). Public."""
    q = _clean_query(q)
    if not normalize_title(q).key:
        raise field_error("query.q", "nothing to search for once gender markers and filler words are removed")
    label = classifier.classify(conn, [q])[0]
    profession = None
    if label.berufenet_id is not None and label.kldb_code is not None and label.name is not None:
        profession = ProfessionSummary(berufenet_id=label.berufenet_id, name=label.name, kldb_code=label.kldb_code,
                                       level=int(label.kldb_code[4]))
    candidates = [SearchCandidate(berufenet_id=c.berufenet_id, name=c.name, kldb_code=c.kldb_code,
                                  level=int(c.kldb_code[4]), score=round(float(c.score), 4))
                  for c in label.candidates[:limit]]
    return ProfessionSearch(query=q, key=label.key, status=label.status, profession=profession,
                            score=round(label.score, 4) if label.score is not None else None, candidates=candidates)


PROFESSION_SQL = """
SELECT p.berufenet_id, p.name, p.name_male, p.name_female, p.kldb_code, k.title, p.level, p.is_supervisor,
       p.domain_code, dk.title, p.active
FROM professions p
JOIN kldb_codes k ON k.code = p.kldb_code
LEFT JOIN kldb_codes dk ON dk.code = p.domain_code
WHERE p.berufenet_id = %s
"""


@router.get("/professions/{berufenet_id}", response_model=ProfessionDetail, responses=error_responses(404, 422))
def get_profession(berufenet_id: BerufenetIdPath, conn: Conn) -> ProfessionDetail:
    """A catalogue profession: its readings, KldB code, level, domain and how many open postings carry it.
    Public."""
    row = conn.execute(PROFESSION_SQL, (berufenet_id,)).fetchone()
    if row is None:
        raise not_found("profession")
    active_postings = conn.execute(
        "SELECT count(*) FROM postings WHERE berufenet_id = %s AND invalidated_at IS NULL", (berufenet_id,)
    ).fetchone()[0]
    return ProfessionDetail(berufenet_id=row[0], name=row[1], name_male=row[2], name_female=row[3],
                            kldb_code=row[4], kldb_title=row[5], level=row[6], level_name=LEVEL_NAMES[row[6]],
                            is_supervisor=row[7], domain_code=row[8], domain_title=row[9], active=row[10],
                            active_postings=active_postings)


NEIGHBOURS_SQL = """
SELECT s.rank, s.neighbour_code, k.title, s.score, s.neighbour_basis, s.model, s.computed_at
FROM profession_similarity s
JOIN kldb_codes k ON k.code = s.neighbour_code
WHERE s.kldb_code = %s
ORDER BY s.rank
"""

EXAMPLES_SQL = """
SELECT kldb_code, berufenet_id, name, level, total
FROM (SELECT kldb_code, berufenet_id, name, level,
             row_number() OVER (PARTITION BY kldb_code ORDER BY berufenet_id) AS n,
             count(*) OVER (PARTITION BY kldb_code) AS total
      FROM professions WHERE active AND kldb_code = ANY(%s)) t
WHERE n <= %s
ORDER BY kldb_code, berufenet_id
"""


@router.get("/professions/{berufenet_id}/similar", response_model=SimilarProfessions,
            responses=error_responses(404, 422))
def get_similar_professions(berufenet_id: BerufenetIdPath, conn: Conn) -> SimilarProfessions:
    """The professions (KldB 5-digit codes) most like this one's code, best first, with some of their titles:
    what the `profession_similarity` asset computed from the postings' embeddings (empty until it ran).
    Public."""
    row = conn.execute("SELECT p.kldb_code, k.title FROM professions p JOIN kldb_codes k ON k.code = p.kldb_code"
                       " WHERE p.berufenet_id = %s", (berufenet_id,)).fetchone()
    if row is None:
        raise not_found("profession")
    code, code_title = row
    rows = conn.execute(NEIGHBOURS_SQL, (code,)).fetchall()
    examples: dict[str, list[NeighbourProfession]] = {}
    totals: dict[str, int] = {}
    if rows:
        for ex_code, ex_id, ex_name, ex_level, total in conn.execute(
                EXAMPLES_SQL, ([r[1] for r in rows], EXAMPLES_PER_NEIGHBOUR)):
            examples.setdefault(ex_code, []).append(NeighbourProfession(berufenet_id=ex_id, name=ex_name,
                                                                        level=ex_level))
            totals[ex_code] = total
    neighbours = [SimilarProfession(rank=r[0], kldb_code=r[1], title=r[2], score=r[3], basis=r[4],
                                    professions=totals.get(r[1], 0), examples=examples.get(r[1], []))
                  for r in rows]
    return SimilarProfessions(berufenet_id=berufenet_id, kldb_code=code, kldb_title=code_title,
                              model=rows[0][5] if rows else None, computed_at=rows[0][6] if rows else None,
                              neighbours=neighbours)


# ------------------------------------------------------------------ postings


def safe_external_url(url: str | None) -> str | None:
    """``url`` when it is a plain absolute http(s) URL a client may render as a link; otherwise None.

    Refused: other schemes (``javascript:``, ``data:``, ``file:``), scheme-relative and relative URLs,
    user info (``https://www.arbeitsagentur.de@evil.example``), whitespace or control characters anywhere,
    and anything longer than 2,048 characters."""
    if not url or len(url) > URL_MAX_CHARS:
        return None
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname or "@" in parts.netloc:
        return None
    return url


POSTING_SQL = """
SELECT p.refnr, p.title, p.employer, p.beruf, p.plz, p.city, p.state, p.published_on, p.entry_date,
       p.first_seen, p.last_seen, p.invalidated_at IS NULL, p.invalidated_on,
       pr.berufenet_id, pr.name, pr.kldb_code, pr.level, p.label_source,
       CASE WHEN d.status = 'ok' THEN d.description END,
       p.external_url
FROM postings p
LEFT JOIN professions pr ON pr.berufenet_id = p.berufenet_id
LEFT JOIN posting_descriptions d ON d.refnr = p.refnr
WHERE p.refnr = %s
"""


@router.get("/postings/{refnr}", response_model=PostingOut, responses=error_responses(404, 422))
def get_posting(
    refnr: Annotated[str, Path(pattern=REFNR_PATTERN, description="The BA's reference number.")],
    conn: Conn,
) -> PostingOut:
    """A posting's public fields, its label and description; postings that are no longer open are still
    served (`active` false). Public."""
    row = conn.execute(POSTING_SQL, (refnr,)).fetchone()
    if row is None:
        raise not_found("posting")
    label = None
    if row[13] is not None:
        label = PostingLabel(berufenet_id=row[13], name=row[14], kldb_code=row[15], level=row[16], source=row[17])
    return PostingOut(refnr=row[0], title=row[1], employer=row[2], beruf=row[3], plz=row[4], city=row[5],
                      state=row[6], published_on=row[7], entry_date=row[8], first_seen=row[9], last_seen=row[10],
                      active=row[11], invalidated_on=row[12], label=label, description=row[18],
                      external_url=safe_external_url(row[19]))
