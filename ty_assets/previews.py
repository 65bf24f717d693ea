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
from ty_resources.sqlfiles import sql_file

TOP_PROFESSIONS = 10
LEVELS = {1: "Helfer", 2: "Fachkraft", 3: "Spezialist", 4: "Experte"}

TOP_NEW_SQL = sql_file(__file__, "preview_top_new.sql")
CATALOGUE_SQL = sql_file(__file__, "preview_catalogue.sql")
STATUS_SQL = sql_file(__file__, "preview_label_status.sql").format(day_postings=DAY_POSTINGS_SQL)


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
