"""BA job postings and their descriptions, as daily partitions."""

from ty_assets.postings.assets import posting_descriptions, postings
from ty_assets.postings.checks import postings_checks
from ty_assets.postings.ingest import DAY_POSTINGS_SQL

__all__ = ["DAY_POSTINGS_SQL", "posting_descriptions", "postings", "postings_checks"]
