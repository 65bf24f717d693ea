"""``posting_embeddings``: a vector per active posting of the day, for the configured model."""

import hashlib
import re
import time
from datetime import UTC, date, datetime

import numpy as np
import psycopg
from dagster import AssetCheckResult, AssetExecutionContext, MaterializeResult, MetadataValue, asset, asset_check

from ty_assets.partitions import daily_partitions
from ty_assets.postings import posting_descriptions
from ty_assets.resources import DatabaseResource, EmbedderResource
from ty_resources.bulk import merge_rows
from ty_resources.settings import get_settings

CANDIDATES_SQL = """
SELECT p.refnr, p.title_normalized, coalesce(left(d.description, %(chars)s), '')
FROM postings p LEFT JOIN posting_descriptions d ON d.refnr = p.refnr AND d.status = 'ok'
WHERE p.last_seen = %(day)s AND p.invalidated_at IS NULL
ORDER BY p.refnr
"""
CHUNK = 2048  # texts per embed() call and per write


def embedding_text(title_normalized: str, description_excerpt: str) -> str:
    """What is embedded: the normalised title, then a description excerpt."""
    return f"{title_normalized}\n{description_excerpt}".strip()


def text_hash(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


# The HNSW graph's parameters. pgvector's defaults (m=16, ef_construction=64) gave recall@10 0.91 for the match
# query under profile filters at ef_search 400 on 250,000 postings of the local embedder's vectors (bench/api.py);
# m=32, ef_construction=200 gives 0.98 at the same ef_search, for a 2.5x longer build and a 1.6x larger index.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200

HNSW_INDEXES_SQL = """
SELECT c.relname, pg_get_expr(i.indpred, i.indrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
WHERE i.indrelid = 'posting_embeddings'::regclass AND a.amname = 'hnsw'
"""


def hnsw_index_name(model: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")[:30]
    digest = hashlib.md5(f"{model}|m={HNSW_M}|ef_construction={HNSW_EF_CONSTRUCTION}".encode()).hexdigest()[:8]
    return f"posting_embeddings_hnsw_{slug}_{digest}"


def ensure_hnsw_index(conn: psycopg.Connection, model: str, dimension: int) -> str:
    """One HNSW (cosine) index per model, over the vectors cast to that model's dimension, with the parameters
    above; the model's index with other parameters (built by an earlier release) is replaced."""
    name = hnsw_index_name(model)
    conn.execute(
        psycopg.sql.SQL(
            "CREATE INDEX IF NOT EXISTS {name} ON posting_embeddings "
            "USING hnsw ((embedding::vector({dim})) vector_cosine_ops) WITH (m = {m}, ef_construction = {efc}) "
            "WHERE model = {model}"
        ).format(name=psycopg.sql.Identifier(name), dim=psycopg.sql.Literal(dimension),
                 model=psycopg.sql.Literal(model), m=psycopg.sql.Literal(HNSW_M),
                 efc=psycopg.sql.Literal(HNSW_EF_CONSTRUCTION))
    )
    indexes = dict(conn.execute(HNSW_INDEXES_SQL).fetchall())
    for other, predicate in indexes.items():
        if other != name and predicate == indexes[name]:
            conn.execute(psycopg.sql.SQL("DROP INDEX {}").format(psycopg.sql.Identifier(other)))
    conn.commit()
    return name


@asset(
    partitions_def=daily_partitions,
    deps=[posting_descriptions],
    group_name="postings",
    kinds={"postgres", "pgvector"},
    owners=["team:data-platform"],
    description=(
        "One vector per active posting of the day and embedding model (Ollama's bge-m3 when OLLAMA_HOST is set, "
        "else the local hashed n-gram embedder): normalised title plus a description excerpt, with a hash of that "
        "text so only changed texts are embedded again. HNSW (cosine) index per model (m=32, ef_construction=200)."
    ),
)
def posting_embeddings(
    context: AssetExecutionContext, embedder: EmbedderResource, database: DatabaseResource
) -> MaterializeResult:
    settings = get_settings()
    day = date.fromisoformat(context.partition_key)
    model = embedder.get_embedder()
    started = time.perf_counter()
    with database.connection() as conn:
        candidates = conn.execute(CANDIDATES_SQL, {"day": day, "chars": settings.embed_description_chars}).fetchall()
        texts = {refnr: embedding_text(title, excerpt) for refnr, title, excerpt in candidates}
        stored = dict(conn.execute(
            "SELECT refnr, text_hash FROM posting_embeddings WHERE model = %s AND refnr = ANY(%s)",
            (model.model, list(texts)),
        ).fetchall())
        todo = [refnr for refnr, text in texts.items() if stored.get(refnr) != text_hash(text)]
        embed_seconds = 0.0
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            t0 = time.perf_counter()
            vectors = model.embed([texts[r] for r in chunk])
            embed_seconds += time.perf_counter() - t0
            now = datetime.now(UTC)
            merge_rows(
                conn, "posting_embeddings", key=["refnr", "model"],
                columns=["refnr", "model", "dimension", "text_hash", "embedding", "embedded_at"],
                rows=((r, model.model, model.dimension, text_hash(texts[r]), v, now) for r, v in zip(chunk, vectors)),
            )
            conn.commit()
        # After the writes: the first partition's vectors go into one bulk build (several times faster than
        # inserting them one by one into the graph); later partitions' inserts keep the index up to date.
        index = ensure_hnsw_index(conn, model.model, model.dimension)
    stats = model.stats.as_dict(prefix="ollama_") if hasattr(model, "stats") else {}
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(candidates),
            "model": model.model,
            "dimension": model.dimension,
            "hnsw_index": index,
            "candidates": len(candidates),
            "embedded": len(todo),
            "unchanged": len(candidates) - len(todo),
            "texts_per_s": MetadataValue.float(round(len(todo) / embed_seconds, 1) if embed_seconds else 0.0),
            "seconds": MetadataValue.float(round(time.perf_counter() - started, 3)),
            **stats,
        }
    )


@asset_check(asset=posting_embeddings, blocking=True, description="Vectors have the model's dimension and unit norm.")
def embeddings_shape(embedder: EmbedderResource, database: DatabaseResource) -> AssetCheckResult:
    model = embedder.get_embedder()
    with database.connection() as conn:
        total, wrong_dim, not_unit = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE vector_dims(embedding) <> %s),"
            " count(*) FILTER (WHERE abs(vector_norm(embedding) - 1) > 1e-3) FROM posting_embeddings WHERE model = %s",
            (model.dimension, model.model),
        ).fetchone()
    return AssetCheckResult(
        passed=wrong_dim == 0 and not_unit == 0,
        metadata={"vectors": total, "wrong_dimension": wrong_dim, "not_unit_norm": not_unit, "model": model.model},
    )


@asset_check(asset=posting_embeddings, description="A sample of stored texts embedded again gives the same vectors.")
def embeddings_deterministic(embedder: EmbedderResource, database: DatabaseResource) -> AssetCheckResult:
    settings = get_settings()
    model = embedder.get_embedder()
    with database.connection() as conn:
        rows = conn.execute(
            "SELECT e.embedding, p.title_normalized, coalesce(left(d.description, %s), ''), e.text_hash"
            " FROM posting_embeddings e JOIN postings p USING (refnr)"
            " LEFT JOIN posting_descriptions d ON d.refnr = e.refnr AND d.status = 'ok'"
            " WHERE e.model = %s ORDER BY md5(e.refnr) LIMIT 32",
            (settings.embed_description_chars, model.model),
        ).fetchall()
    current = [(np.asarray(v.to_numpy(), dtype=np.float32), embedding_text(t, x)) for v, t, x, h in rows
               if text_hash(embedding_text(t, x)) == h]  # texts changed since are re-embedded by the next run
    if not current:
        return AssetCheckResult(passed=True, metadata={"sampled": 0})
    again = model.embed([text for _, text in current])
    similarity = np.array([float(stored @ new) for (stored, _), new in zip(current, again)])
    return AssetCheckResult(
        passed=bool(similarity.min() >= 0.999),
        metadata={"sampled": len(current), "min_cosine": round(float(similarity.min()), 6)},
    )


embedding_checks = [embeddings_shape, embeddings_deterministic]
