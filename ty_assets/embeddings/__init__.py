"""Posting embeddings on pgvector."""

from ty_assets.embeddings.assets import posting_embeddings
from ty_assets.embeddings.checks import embedding_checks

__all__ = ["embedding_checks", "posting_embeddings"]
