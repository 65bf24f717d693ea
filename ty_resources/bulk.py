"""Bulk writes: COPY into a temporary staging table, then one merge statement.

One piece of code for every "load many rows idempotently" in the project:
rows are streamed with ``COPY`` (no per-row round trips), merged with
``INSERT ... ON CONFLICT DO UPDATE`` that only touches rows whose content
changed, and rows missing from a full load can be *retired* (a flag set),
never deleted. The caller owns the transaction, so a whole load is atomic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from ty_resources.database import one


@dataclass(frozen=True)
class MergeStats:
    inserted: int = 0
    updated: int = 0
    retired: int = 0

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.retired


def copy_to_staging(
    conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> str:
    """Create ``_stage_<table>`` (dropped at commit) shaped like ``table`` and COPY rows into it."""
    staging = f"_stage_{table}"
    # A second load of the same table in one transaction replaces the first staging table.
    conn.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{staging}").format(staging=sql.Identifier(staging)))
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {staging} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP").format(
            staging=sql.Identifier(staging), table=sql.Identifier(table)
        )
    )
    copy_sql = sql.SQL("COPY {staging} ({cols}) FROM STDIN").format(
        staging=sql.Identifier(staging), cols=sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row(row)
    return staging


def merge_rows(
    conn: psycopg.Connection,
    table: str,
    key: Sequence[str],
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    active_column: str | None = None,
) -> MergeStats:
    """Upsert ``rows`` into ``table`` by ``key``; with ``active_column``, retire the rows not given.

    ``columns`` includes the key columns; keys must be unique within ``rows``.
    Unchanged rows are not rewritten, so a second identical load reports
    ``changed == 0`` and leaves no dead tuples.
    """
    staging = copy_to_staging(conn, table, columns, rows)
    ident = sql.Identifier
    cols = list(columns)
    value_cols = [c for c in cols if c not in key]
    if active_column:
        cols.append(active_column)
        value_cols.append(active_column)
    select_list = [ident(c) for c in columns] + ([sql.SQL("true")] if active_column else [])

    def tuple_of(prefix: str) -> sql.Composable:
        return sql.SQL("({})").format(sql.SQL(", ").join(sql.SQL(f"{prefix}.") + ident(c) for c in value_cols))

    conflict: sql.Composable
    if value_cols:
        conflict = sql.SQL("DO UPDATE SET {assignments} WHERE {old} IS DISTINCT FROM {new}").format(
            assignments=sql.SQL(", ").join(
                sql.SQL("{c} = EXCLUDED.{c}").format(c=ident(c)) for c in value_cols
            ),
            old=tuple_of("t"),
            new=tuple_of("EXCLUDED"),
        )
    else:
        conflict = sql.SQL("DO NOTHING")
    # Counted in the server: only two numbers come back, however many rows.
    upsert = sql.SQL(
        "WITH merged AS (INSERT INTO {table} AS t ({cols}) SELECT {select} FROM {staging} "
        "ON CONFLICT ({key}) {conflict} RETURNING (xmax = 0) AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged"
    ).format(
        table=ident(table),
        cols=sql.SQL(", ").join(map(ident, cols)),
        select=sql.SQL(", ").join(select_list),
        staging=ident(staging),
        key=sql.SQL(", ").join(map(ident, key)),
        conflict=conflict,
    )
    inserted, updated = one(conn.execute(upsert))
    retired = 0
    if active_column:
        same_key = sql.SQL(" AND ").join(sql.SQL("s.{c} = t.{c}").format(c=ident(c)) for c in key)
        retire = sql.SQL(
            "UPDATE {table} AS t SET {active} = false WHERE t.{active} "
            "AND NOT EXISTS (SELECT 1 FROM {staging} AS s WHERE {same_key})"
        ).format(table=ident(table), active=ident(active_column), staging=ident(staging), same_key=same_key)
        retired = conn.execute(retire).rowcount
    return MergeStats(inserted=inserted, updated=updated, retired=retired)
