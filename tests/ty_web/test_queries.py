"""The web app's SQL lives in ty_web.queries; a user's rows are reached only through UserQueries, which binds
the owner to every statement and refuses one that does not name it."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from ty_web.queries import UserQueries, fetch_one

ROUTERS = Path(__file__).resolve().parents[2] / "ty_web" / "routers"


def test_a_statement_on_a_users_rows_must_name_its_owner(db_url):
    with psycopg.connect(db_url) as conn:
        owned = UserQueries(conn, 42)
        with pytest.raises(ValueError, match="owner"):
            owned.execute("SELECT count(*) FROM matches")
        bound = owned.fetch_one("SELECT %(user_id)s::bigint AS owner", {"user_id": 7})
        plain = fetch_one(conn, "SELECT 1 AS one, 'x' AS other")
    assert bound == {"owner": 42}  # the bound user, whatever the caller passed
    assert plain == {"one": 1, "other": "x"}  # rows by name


def test_routers_leave_the_ownership_filter_to_the_query_modules():
    found = [f"{path.name}: {m.group(0)}" for path in sorted(ROUTERS.glob("*.py"))
             for m in re.finditer(r"user_id\s*=\s*%", path.read_text(encoding="utf-8"))]
    assert found == []
