"""Query results as pandas frames: what the asset previews show and ``tyctl export`` writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import psycopg


def frame(conn: psycopg.Connection, query: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """A query's rows as a frame, its columns named as the query names them (pandas' own ``read_sql`` wants
    SQLAlchemy, and warns on a psycopg 3 connection)."""
    with conn.cursor() as cur:
        cur.execute(query, params)
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description or []])
