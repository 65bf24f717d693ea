"""Posting summaries: a short structured summary of each posting, per model (extractive, and the LLM's)."""

from ty_assets.summaries.assets import posting_summaries
from ty_assets.summaries.checks import summary_checks

__all__ = ["posting_summaries", "summary_checks"]
