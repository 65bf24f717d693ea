"""Posting embeddings on pgvector."""

from ty_assets.embeddings.assets import embedding_checks, posting_embeddings

__all__ = ["embedding_checks", "posting_embeddings"]
