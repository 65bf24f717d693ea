"""Markdown previews on a materialisation, where a person looks first (the asset's page in the UI): a small frame
read from the tables just written, rendered as a table.

- ``demand_snapshot``: the day's professions with the most new postings;
- ``berufenet_catalogue``: the BERUFENET titles per domain (Berufshauptgruppe) and level (Anforderungsniveau);
- ``berufenet_labels``: the labels' status shares, of every title and of the day's titles.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import psycopg
from dagster import MetadataValue

from ty_assets.postings import DAY_POSTINGS_SQL
from ty_resources.frames import frame

TOP_PROFESSIONS = 10
LEVELS = {1: "Helfer", 2: "Fachkraft", 3: "Spezialist", 4: "Experte"}

TOP_NEW_SQL = """
SELECT coalesce(pr.name, '(unlabelled)') AS profession, coalesce(s.kldb_code, '') AS kldb,
       sum(s.new_postings)::int AS new, sum(s.active_postings)::int AS active
FROM demand_snapshots s LEFT JOIN professions pr ON pr.berufenet_id = s.berufenet_id
WHERE s.day = %(day)s
GROUP BY s.berufenet_id, pr.name, s.kldb_code
HAVING sum(s.new_postings) > 0
ORDER BY new DESC, active DESC, profession
LIMIT %(limit)s
"""
CATALOGUE_SQL = """
SELECT d.code AS domain, d.title AS name, p.level, count(*)::int AS titles
FROM professions p JOIN kldb_codes d ON d.code = p.domain_code
WHERE p.active
GROUP BY d.code, d.title, p.level
"""
STATUS_SQL = f"""
WITH day_keys AS (SELECT DISTINCT p.title_normalized AS title_key FROM postings p WHERE {DAY_POSTINGS_SQL})
SELECT l.status, count(*)::int AS titles, count(d.title_key)::int AS of_the_day
FROM title_labels l LEFT JOIN day_keys d USING (title_key)
GROUP BY l.status
ORDER BY titles DESC, l.status
"""


def markdown(table: pd.DataFrame, empty: str) -> MetadataValue:
    # disable_numparse: codes such as KldB 43412 stay text, not numbers
    return MetadataValue.md(table.to_markdown(index=False, disable_numparse=True) if len(table) else f"_{empty}_")


def top_new_professions(conn: psycopg.Connection, day: date, limit: int = TOP_PROFESSIONS) -> pd.DataFrame:
    """The day's BERUFENET titles with the most new postings (active postings break ties)."""
    return frame(conn, TOP_NEW_SQL, {"day": day, "limit": limit})


def catalogue_by_domain_and_level(conn: psycopg.Connection) -> pd.DataFrame:
    """Active BERUFENET titles per domain (rows) and level (columns), with totals."""
    counts = frame(conn, CATALOGUE_SQL)
    if counts.empty:
        return counts
    table = counts.pivot_table(index=["domain", "name"], columns="level", values="titles", aggfunc="sum",
                               fill_value=0)
    table = table.rename(columns=LEVELS).reset_index()
    table.columns.name = None
    table["total"] = table[[c for c in LEVELS.values() if c in table.columns]].sum(axis=1)
    return table


def label_status_shares(conn: psycopg.Connection, day: date) -> pd.DataFrame:
    """Titles per label status, of all titles and of the day's, each with its share."""
    table = frame(conn, STATUS_SQL, {"day": day})
    if table.empty:
        return table
    table["share"] = (table["titles"] / table["titles"].sum()).map("{:.1%}".format)
    day_total = table["of_the_day"].sum()
    table["share_of_the_day"] = (table["of_the_day"] / day_total).map("{:.1%}".format) if day_total else "-"
    return table[["status", "titles", "share", "of_the_day", "share_of_the_day"]]
