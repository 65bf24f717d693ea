"""The posting vectors' HNSW index: its DDL and the nearest-neighbour query that must match it, in one place.

``posting_embeddings.embedding`` is an untyped ``vector`` column, because every embedding model has its own
dimension. pgvector can only index a typed expression, so each model gets a partial HNSW (cosine) index over
``embedding::vector(D)`` under ``WHERE model = '<model>'``. A query uses that index only when it repeats both:
``ORDER BY e.embedding::vector(D) <=> q`` (ascending) with ``e.model = '<model>'`` among its filters. Writing
the two here, side by side, is what keeps them in step: :func:`ensure_hnsw_index` (the ``posting_embeddings``
asset) and :func:`nearest_sql` (the web app's matching).

pgvector's defaults (m=16, ef_construction=64) gave recall@10 0.91 for the match query under profile filters
at ef_search 400 on 250,000 postings of the local embedder's vectors (bench/api.py); m=32, ef_construction=200
gives 0.98 at the same ef_search, for a 2.5x longer build and a 1.6x larger index.
"""

from __future__ import annotations

import hashlib
import re
import time

import psycopg
from psycopg import sql

from ty_resources.database import one
from ty_resources.sqlfiles import sql_file

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
LOCK_WAIT_S = 3600.0  # a first build of a large table takes minutes; an hour means something is stuck

# The nearest-neighbour query: {distance} (the index's expression, or the plain column for an exact scan),
# {join} (JOIN when a level filter needs the posting's profession) and {filters} are filled in by nearest_sql.
NEAREST_SQL = sql_file(__file__, "nearest_postings.sql")
HNSW_INDEXES_SQL = """
SELECT c.relname, pg_get_expr(i.indpred, i.indrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
WHERE i.indrelid = 'posting_embeddings'::regclass AND a.amname = 'hnsw'
"""


def hnsw_index_name(model: str) -> str:
    """The model's index name; it encodes the graph's parameters, so new parameters make a new index."""
    slug = re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")[:30]
    digest = hashlib.md5(f"{model}|m={HNSW_M}|ef_construction={HNSW_EF_CONSTRUCTION}".encode()).hexdigest()[:8]
    return f"posting_embeddings_hnsw_{slug}_{digest}"


def ensure_hnsw_index(conn: psycopg.Connection, model: str, dimension: int, build_memory: str = "1GB") -> str:
    """One HNSW (cosine) index per model, over the vectors cast to that model's dimension, with the parameters
    above; the model's index with other parameters (built by an earlier release) is dropped. Commits first.

    Built with ``CREATE INDEX CONCURRENTLY``, outside any transaction: writers of ``posting_embeddings`` (another
    day's run, a backfill) go on while the graph is built, and no transaction is held open for the minutes a
    first build takes. A concurrent build that was killed leaves an invalid index behind (it would never be
    used, and ``IF NOT EXISTS`` would keep it): it is dropped and built again. One process at a time builds
    (a session advisory lock, taken by polling for at most ``LOCK_WAIT_S``), so none drops another's build.

    A new index is built with ``build_memory`` as ``maintenance_work_mem`` (and two parallel workers) for this
    session, then reset: the build is fast while the graph fits in it (~0.6 GB for 250,000 x 384 dimensions)
    and many times slower once it spills (with PostgreSQL's default of 64 MB, a first load of 250,000 vectors
    did not finish in 15 minutes on two cores).
    """
    name = hnsw_index_name(model)
    conn.commit()
    autocommit = conn.autocommit
    conn.autocommit = True
    try:
        # Try the lock, with no snapshot held between tries: a waiter blocked inside pg_advisory_lock would hold
        # one, and the other process's concurrent build waits for every older snapshot to end (a deadlock).
        deadline = time.monotonic() + LOCK_WAIT_S
        while not one(conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (name,)))[0]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"another process has been building {name} for over {LOCK_WAIT_S:.0f} s")
            time.sleep(1)
        try:
            _build_concurrently(conn, name, model, dimension, build_memory)
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))
    finally:
        conn.autocommit = autocommit
    return name


def _build_concurrently(conn: psycopg.Connection, name: str, model: str, dimension: int, build_memory: str) -> None:
    valid = conn.execute(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s", (name,)
    ).fetchone()
    if valid is not None and not valid[0]:
        conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(name)))
    if valid is None or not valid[0]:
        conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (build_memory,))
        conn.execute("SET max_parallel_maintenance_workers = 2")
        try:
            conn.execute(
                sql.SQL(
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON posting_embeddings "
                    "USING hnsw ((embedding::vector({dim})) vector_cosine_ops) "
                    "WITH (m = {m}, ef_construction = {efc}) WHERE model = {model}"
                ).format(name=sql.Identifier(name), dim=sql.Literal(dimension), model=sql.Literal(model),
                         m=sql.Literal(HNSW_M), efc=sql.Literal(HNSW_EF_CONSTRUCTION))
            )
        finally:
            conn.execute("RESET maintenance_work_mem")
            conn.execute("RESET max_parallel_maintenance_workers")
    indexes: dict[str, str] = {row[0]: row[1] for row in conn.execute(HNSW_INDEXES_SQL).fetchall()}
    for other, predicate in indexes.items():
        if other != name and predicate == indexes[name]:
            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(other)))


def nearest_sql(dimension: int, *, states: bool, levels: bool, suppressed: bool, exact: bool = False) -> sql.Composed:
    """The nearest active postings to ``%(query)s`` among one model's vectors (``%(model)s``), ``%(limit)s`` of
    them, in the profile's states (``%(states)s``) and levels (``%(levels)s``) and not in a suppressed KldB code
    (``%(suppressed)s``); rows ``(refnr, similarity, berufenet_id, kldb_code)``, nearest first.

    ``exact=False`` orders by the index's own expression under its ``model = ...`` predicate, so the index
    serves it; ``exact=True`` orders by the uncast column, which no index matches: an exact scan. Filters are
    only added when set, so the planner sees what is asked.
    """
    dim = sql.Literal(int(dimension))
    distance: sql.Composable
    if exact:
        distance = sql.SQL("e.embedding <=> %(query)s::vector")
    else:
        distance = sql.SQL("e.embedding::vector({dim}) <=> %(query)s::vector({dim})").format(dim=dim)
    filters = [sql.SQL("e.model = %(model)s"), sql.SQL("p.invalidated_at IS NULL")]
    if states:
        filters.append(sql.SQL("p.state = ANY(%(states)s)"))
    if levels:
        filters.append(sql.SQL("pr.level = ANY(%(levels)s)"))  # inner join: unlabelled postings have no level
    if suppressed:
        filters.append(sql.SQL("(p.berufenet_id IS NULL OR left(p.berufenet_id, 5) <> ALL(%(suppressed)s))"))
    return sql.SQL(NEAREST_SQL).format(distance=distance, join=sql.SQL("JOIN" if levels else "LEFT JOIN"),
             filters=sql.SQL(" AND ").join(filters))


def set_search_parameters(conn: psycopg.Connection, ef_search: int) -> None:
    """HNSW parameters for this transaction only (``SET LOCAL``): ``ef_search`` (the recall of the nearest
    postings) and relaxed iterative scans (filters after the index scan do not starve the result)."""
    conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(int(ef_search))))
    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
