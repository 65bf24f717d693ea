"""Checks of ``posting_summaries``: they query the tables directly (a check that took the asset as an input
would load every partition)."""

from datetime import date

from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check
from psycopg.rows import dict_row

from ty_assets.partitions import daily_partitions
from ty_assets.postings import DAY_POSTINGS_SQL
from ty_assets.resources import DatabaseResource
from ty_assets.summaries.assets import posting_summaries
from ty_resources.database import one
from ty_resources.sqlfiles import sql_file
from ty_resources.summaries import EXTRACTIVE

_COUNTS_SQL = sql_file(__file__, "day_summary_counts.sql")
DAY_COUNTS_SQL = _COUNTS_SQL.format(day_postings=DAY_POSTINGS_SQL)
ACTIVE_COUNTS_SQL = _COUNTS_SQL.format(day_postings="p.invalidated_at IS NULL")  # run without a partition


@asset_check(asset=posting_summaries, blocking=False, partitions_def=daily_partitions,
             description="Every posting of the day with a description has an ok summary (the extractive one at "
                         "least, which needs no LLM); how many have the LLM's, and how many a failed one, in the "
                         "metadata.")
def summaries_cover_described_postings(context: AssetCheckExecutionContext,
                                       database: DatabaseResource) -> AssetCheckResult:
    day = date.fromisoformat(context.partition_key) if context.has_partition_key else None
    query = DAY_COUNTS_SQL if day else ACTIVE_COUNTS_SQL
    with database.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
        counts = one(cursor.execute(query, {"day": day, "extractive": EXTRACTIVE}))
    described = counts["described"]
    return AssetCheckResult(
        passed=counts["without_summary"] == 0,
        metadata={"day": str(day) if day else "all active", **counts,
                  "share_with_llm_summary": round(counts["with_llm_summary"] / described, 4) if described else 0.0},
    )


summary_checks = [summaries_cover_described_postings]
