"""The public market views: demand over time (``demand_snapshots``), catalogue professions and their
neighbours (``profession_similarity``), and a posting's public fields. Nothing here reads a user's rows."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg import sql

from ty_resources.sqlfiles import sql_file
from ty_web.market_schemas import (
    LEVEL_NAMES,
    DemandPoint,
    NeighbourProfession,
    PostingLabel,
    PostingOut,
    ProfessionDetail,
    SimilarProfession,
    SimilarProfessions,
)
from ty_web.queries import fetch_all, fetch_one
from ty_web.queries.summaries import summaries

DEMAND_SQL = sql_file(__file__, "market_demand.sql")
PROFESSION_SQL = sql_file(__file__, "market_profession.sql")
NEIGHBOURS_SQL = sql_file(__file__, "market_neighbours.sql")
NEIGHBOUR_EXAMPLES_SQL = sql_file(__file__, "market_neighbour_examples.sql")
POSTING_SQL = sql_file(__file__, "market_posting.sql")

EXAMPLES_PER_NEIGHBOUR = 5


def code_title(conn: psycopg.Connection, code: str) -> str | None:
    """The title of a KldB 2010 code (any level, 1-5 digits); None for an unknown code."""
    row = fetch_one(conn, "SELECT title FROM kldb_codes WHERE code = %(code)s", {"code": code})
    return row["title"] if row else None


def latest_demand_day(conn: psycopg.Connection) -> date | None:
    """The latest day with a demand snapshot; None before the first."""
    return fetch_one(conn, "SELECT max(day) AS day FROM demand_snapshots")["day"]


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


def demand(conn: psycopg.Connection, first: date, last: date, *, kldb: str | None = None,
           domain: str | None = None, state: str | None = None, level: int | None = None,
           offer_type: int | None = None) -> list[DemandPoint]:
    """One point per day from ``first`` to ``last`` whose snapshot was computed, summed over the buckets that
    pass every filter given: ``kldb`` a KldB code or prefix, ``domain`` a Berufshauptgruppe, ``state``,
    ``level``, ``offer_type``."""
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
    if offer_type is not None:
        params["offer_type"] = offer_type
        filters.append(sql.SQL("d.offer_type = %(offer_type)s"))
    where = sql.SQL(" AND ").join(filters) if filters else sql.SQL("true")
    return fetch_all(conn, sql.SQL(DEMAND_SQL).format(filters=where), params, into=DemandPoint)


def profession(conn: psycopg.Connection, berufenet_id: str) -> ProfessionDetail | None:
    row = fetch_one(conn, PROFESSION_SQL, {"id": berufenet_id})
    return ProfessionDetail(**row, level_name=LEVEL_NAMES[row["level"]]) if row else None


def similar_professions(conn: psycopg.Connection, berufenet_id: str) -> SimilarProfessions | None:
    """The neighbours of the profession's KldB code, best first, each with a few of its catalogue titles;
    None for an unknown profession."""
    code = fetch_one(conn, "SELECT p.kldb_code, k.title FROM professions p JOIN kldb_codes k ON k.code = p.kldb_code"
                           " WHERE p.berufenet_id = %(id)s", {"id": berufenet_id})
    if code is None:
        return None
    rows = fetch_all(conn, NEIGHBOURS_SQL, {"code": code["kldb_code"]})
    examples: dict[str, list[NeighbourProfession]] = {}
    totals: dict[str, int] = {}
    if rows:
        for example in fetch_all(conn, NEIGHBOUR_EXAMPLES_SQL, {"codes": [r["kldb_code"] for r in rows],
                                                                "per_code": EXAMPLES_PER_NEIGHBOUR}):
            examples.setdefault(example["kldb_code"], []).append(NeighbourProfession(
                berufenet_id=example["berufenet_id"], name=example["name"], level=example["level"]))
            totals[example["kldb_code"]] = example["total"]
    neighbours = [SimilarProfession(rank=r["rank"], kldb_code=r["kldb_code"], title=r["title"], score=r["score"],
                                    basis=r["basis"], professions=totals.get(r["kldb_code"], 0),
                                    examples=examples.get(r["kldb_code"], []))
                  for r in rows]
    return SimilarProfessions(berufenet_id=berufenet_id, kldb_code=code["kldb_code"], kldb_title=code["title"],
                              model=rows[0]["model"] if rows else None, day=rows[0]["day"] if rows else None,
                              computed_at=rows[0]["computed_at"] if rows else None, neighbours=neighbours)


def posting(conn: psycopg.Connection, refnr: str, summary_model: str | None = None) -> PostingOut | None:
    """A posting's public fields, its label, description and summary (the LLM ``summary_model``'s when it made
    one, else the extractive one: :mod:`ty_web.queries.summaries`); None for an unknown refnr."""
    row = fetch_one(conn, POSTING_SQL, {"refnr": refnr})
    if row is None:
        return None
    label = None
    if row["berufenet_id"] is not None:
        label = PostingLabel(berufenet_id=row["berufenet_id"], name=row["name"], kldb_code=row["kldb_code"],
                             level=row["level"], source=row["label_source"])
    return PostingOut(refnr=row["refnr"], title=row["title"], employer=row["employer"], beruf=row["beruf"],
                      plz=row["plz"], city=row["city"], state=row["state"], offer_type=row["offer_type"],
                      published_on=row["published_on"],
                      entry_date=row["entry_date"], first_seen=row["first_seen"], last_seen=row["last_seen"],
                      active=row["active"], invalidated_on=row["invalidated_on"], label=label,
                      description=row["description"], external_url=row["external_url"],
                      summary=summaries(conn, [row["refnr"]], summary_model).get(row["refnr"]))
