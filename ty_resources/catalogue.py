"""The profession catalogue as the database holds it (``berufenet_catalogue`` wrote it): its current version,
its professions and the texts of its KldB codes. The file side is :mod:`ty_resources.kldb`.
"""

from __future__ import annotations

import psycopg

from ty_resources.kldb import Profession, code_text

# A catalogue load retires titles instead of deleting them, so the active titles could in principle carry two
# versions (a load interrupted between tables cannot happen: it is one transaction). The version most active
# titles carry is the current one: what labels are made with and compared against.
CURRENT_VERSION_SQL = """
SELECT catalogue_version FROM professions WHERE active GROUP BY 1 ORDER BY count(*) DESC, 1 DESC LIMIT 1
"""
PROFESSIONS_SQL = """
SELECT berufenet_id, name, name_male, name_female, kldb_code
FROM professions WHERE active ORDER BY berufenet_id
"""
CODE_TEXTS_SQL = "SELECT code, title, description FROM kldb_codes WHERE level = 5 AND active ORDER BY code"


class CatalogueMissing(LookupError):
    """The database has no active professions: berufenet_catalogue was never materialised."""


def current_version(conn: psycopg.Connection) -> str | None:
    """The catalogue version of the active professions; None before the first catalogue load."""
    row = conn.execute(CURRENT_VERSION_SQL).fetchone()
    return row[0] if row else None


def load_professions(conn: psycopg.Connection) -> list[Profession]:
    """The active BERUFENET titles, by id."""
    return [Profession(*row) for row in conn.execute(PROFESSIONS_SQL).fetchall()]


def load_code_texts(conn: psycopg.Connection) -> dict[str, str]:
    """Every active KldB 5-digit code's text (:func:`ty_resources.kldb.code_text`), by code."""
    return {code: code_text(title, description) for code, title, description in conn.execute(CODE_TEXTS_SQL)}
