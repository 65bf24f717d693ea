"""Checks of ``posting_embeddings``: they query the table directly (a check that took the asset as an input
would load every partition)."""

import numpy as np
from dagster import AssetCheckResult, asset_check

from ty_assets.embeddings.assets import embedding_text, posting_embeddings, text_hash
from ty_assets.resources import DatabaseResource, EmbedderResource
from ty_resources.database import one
from ty_resources.settings import get_settings


@asset_check(asset=posting_embeddings, blocking=True, description="Vectors have the model's dimension and unit norm.")
def embeddings_shape(embedder: EmbedderResource, database: DatabaseResource) -> AssetCheckResult:
    model = embedder.get_embedder()
    with database.connection() as conn:
        total, wrong_dim, not_unit = one(conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE vector_dims(embedding) <> %s),"
            " count(*) FILTER (WHERE abs(vector_norm(embedding) - 1) > 1e-3) FROM posting_embeddings WHERE model = %s",
            (model.dimension, model.model),
        ))
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
