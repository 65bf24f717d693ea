"""BA job postings and their descriptions, as daily partitions."""

from ty_assets.postings.assets import posting_descriptions, postings
from ty_assets.postings.checks import postings_checks

__all__ = ["posting_descriptions", "postings", "postings_checks"]
