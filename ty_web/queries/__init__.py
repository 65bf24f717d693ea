"""The web app's SQL, one module per area (what polar calls a repository): the area's statements and the
functions that run them. Routers keep the HTTP side (status codes, errors, response models) and call these.

- :mod:`~ty_web.queries.accounts`: registration, the login's lookups, the GDPR export and account deletion;
- :mod:`~ty_web.queries.profiles`: the profile and the work history;
- :mod:`~ty_web.queries.cv`: CV drafts;
- :mod:`~ty_web.queries.matches`: matches, ratings, suppressions (the negative filter), a cover letter's facts;
- :mod:`~ty_web.queries.market`: the public market views: demand, professions, similar professions, postings.

**Rows by name.** Each statement runs on a cursor of its own that reads rows as dicts (psycopg's
``dict_row``) or as a model (``class_row``, ``into=``): columns are read by their names, never by position.
The pool's connections keep their tuple rows for the code that reads those.

**Ownership.** A user's rows are read and written through :class:`UserQueries`, bound to one user. Its
statements name the owner as ``%(user_id)s`` (:data:`OWNER`), which it binds to that user, and it refuses a
statement that does not name it: no route passes a user id into SQL itself, and no statement of a per-user
area can leave its owner out.

A statement longer than a few lines lives in a ``.sql`` file beside these modules, named after the module
that owns it (``market_demand.sql``), read once at import (:func:`ty_resources.sqlfiles.sql_file`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row, dict_row

Row = dict[str, Any]
Query = str | sql.Composable
# The owner's parameter: every statement of UserQueries names it.
OWNER = "%(user_id)s"


def execute(conn: psycopg.Connection, query: Query, params: Mapping[str, Any] | None = None, *,
            into: type | None = None, prepare: bool | None = None) -> psycopg.Cursor[Any]:
    """``query`` on a cursor of its own whose rows are dicts (column name -> value), or ``into(**row)``."""
    cursor = conn.cursor(row_factory=class_row(into) if into is not None else dict_row)
    return cursor.execute(query, params, prepare=prepare)  # type: ignore[arg-type]


def fetch_one(conn: psycopg.Connection, query: Query, params: Mapping[str, Any] | None = None, *,
              into: type | None = None) -> Any:
    """The first row (a dict, or ``into``), None when there is none."""
    return execute(conn, query, params, into=into).fetchone()


def fetch_all(conn: psycopg.Connection, query: Query, params: Mapping[str, Any] | None = None, *,
              into: type | None = None) -> list[Any]:
    """Every row (dicts, or ``into``)."""
    return execute(conn, query, params, into=into).fetchall()


class UserQueries:
    """Statements on one user's rows: each names the owner as ``%(user_id)s``, bound here to ``user_id``.

    A statement without it raises ValueError before it runs; a ``user_id`` among the parameters is replaced
    by the bound one. Runs inside the caller's transaction (``conn``).
    """

    def __init__(self, conn: psycopg.Connection, user_id: int):
        self.conn = conn
        self.user_id = user_id

    def _owned(self, query: Query, params: Mapping[str, Any] | None) -> dict[str, Any]:
        text = query if isinstance(query, str) else query.as_string(self.conn)
        if OWNER not in text:
            raise ValueError(f"a statement on a user's rows must name its owner as {OWNER}: {text.strip()[:80]}")
        return {**(params or {}), "user_id": self.user_id}

    def execute(self, query: Query, params: Mapping[str, Any] | None = None, *,
                into: type | None = None) -> psycopg.Cursor[Any]:
        return execute(self.conn, query, self._owned(query, params), into=into)

    def fetch_one(self, query: Query, params: Mapping[str, Any] | None = None, *, into: type | None = None) -> Any:
        return self.execute(query, params, into=into).fetchone()

    def fetch_all(self, query: Query, params: Mapping[str, Any] | None = None, *,
                  into: type | None = None) -> list[Any]:
        return self.execute(query, params, into=into).fetchall()
