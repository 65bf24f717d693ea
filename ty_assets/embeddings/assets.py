"""``posting_embeddings``: a vector per active posting of the day, for the configured model."""

import hashlib
import time
from datetime import UTC, date, datetime

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from ty_assets.metadata import EMBEDDINGS_WRITTEN, MODEL, SECONDS
from ty_assets.partitions import DAILY_FRESHNESS, NETWORK_RETRY, daily_partitions
from ty_assets.postings import DAY_POSTINGS_SQL, posting_descriptions
from ty_assets.resources import DatabaseResource, EmbedderResource
from ty_assets.tables import table_metadata
from ty_resources.bulk import merge_rows
from ty_resources.settings import get_settings
from ty_resources.vector_index import ensure_hnsw_index

CANDIDATES_SQL = f"""
SELECT p.refnr, p.title_normalized, coalesce(left(d.description, %(chars)s), '')
FROM postings p LEFT JOIN posting_descriptions d ON d.refnr = p.refnr AND d.status = 'ok'
WHERE {DAY_POSTINGS_SQL}
ORDER BY p.refnr
"""
CHUNK = 2048  # texts per embed() call and per write


def embedding_text(title_normalized: str, description_excerpt: str) -> str:
    """What is embedded: the normalised title, then a description excerpt."""
    return f"{title_normalized}\n{description_excerpt}".strip()


def text_hash(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@asset(
    partitions_def=daily_partitions,
    freshness_policy=DAILY_FRESHNESS,
    pool="ollama",
    retry_policy=NETWORK_RETRY,
    deps=[posting_descriptions],
    group_name="postings",
    kinds={"postgres", "pgvector"},
    owners=["team:data-platform"],
    metadata=table_metadata("posting_embeddings"),
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
        conn.commit()  # the work list is read: no snapshot held while the first chunk is embedded
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
        index = ensure_hnsw_index(conn, model.model, model.dimension, settings.hnsw_build_memory)
    stats = model.stats.as_dict(prefix="ollama_") if hasattr(model, "stats") else {}
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(candidates),
            MODEL: model.model,
            "dimension": model.dimension,
            "hnsw_index": index,
            "candidates": len(candidates),
            EMBEDDINGS_WRITTEN: len(todo),
            "unchanged": len(candidates) - len(todo),
            "texts_per_s": MetadataValue.float(round(len(todo) / embed_seconds, 1) if embed_seconds else 0.0),
            SECONDS: MetadataValue.float(round(time.perf_counter() - started, 3)),
            **stats,
        }
    )
