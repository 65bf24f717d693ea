"""COPY-into-staging merges: inserted, updated, unchanged and retired rows."""

from __future__ import annotations

import psycopg

from ty_resources.bulk import merge_rows


def _merge(url: str, rows, **kwargs):
    with psycopg.connect(url) as conn:
        return merge_rows(conn, "things", key=["id"], columns=["id", "name"], rows=rows, **kwargs)


def test_merge_counts_and_retires(db_url):
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TABLE things (id int PRIMARY KEY, name text, active boolean NOT NULL DEFAULT true)")
    stats = _merge(db_url, [(1, "a"), (2, "b"), (3, "c")], active_column="active")
    assert (stats.inserted, stats.updated, stats.retired) == (3, 0, 0)
    stats = _merge(db_url, [(1, "a"), (2, "b"), (3, "c")], active_column="active")
    assert stats.changed == 0
    stats = _merge(db_url, [(1, "a"), (2, "B"), (4, "d")], active_column="active")
    assert (stats.inserted, stats.updated, stats.retired) == (1, 1, 1)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT id, name, active FROM things ORDER BY id").fetchall()
    assert rows == [(1, "a", True), (2, "B", True), (3, "c", False), (4, "d", True)]
    stats = _merge(db_url, [(1, "a"), (2, "B"), (3, "c"), (4, "d")], active_column="active")
    assert (stats.inserted, stats.updated, stats.retired) == (0, 1, 0)  # 3 comes back


def test_merge_is_atomic_with_the_callers_transaction(db_url):
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TABLE things (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO things VALUES (1, 'kept')")
    try:
        with psycopg.connect(db_url) as conn:
            merge_rows(conn, "things", key=["id"], columns=["id", "name"], rows=[(1, "lost"), (2, "lost")])
            raise RuntimeError("the load fails after the merge")
    except RuntimeError:
        pass
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT id, name FROM things").fetchall() == [(1, "kept")]
