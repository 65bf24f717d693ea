"""Checks of ``berufenet_labels``: they query the tables directly (a check that took the asset as an input
would load every partition)."""

from datetime import date

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, asset_check
from psycopg.rows import dict_row

from ty_assets.labels.assets import berufenet_labels, labels_overview
from ty_assets.partitions import daily_partitions
from ty_assets.postings import DAY_POSTINGS_SQL
from ty_assets.resources import DatabaseResource
from ty_resources.database import one
from ty_resources.labels import STATUSES
from ty_resources.settings import get_settings
from ty_resources.sqlfiles import sql_file


@asset_check(asset=berufenet_labels,
             description="Matched labels point at active catalogue titles (a catalogue change retires some).")
def labels_point_at_active_professions(database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        retired = one(conn.execute(
            "SELECT count(*) FROM title_labels l JOIN professions p USING (berufenet_id)"
            " WHERE l.status = 'matched' AND NOT p.active"
        ))[0]
        statuses = labels_overview(conn)
    return AssetCheckResult(
        passed=retired == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={"matched_to_retired": retired, **{f"labels_{k}": v for k, v in statuses.items()}},
    )


DAY_LABEL_COUNTS_SQL = sql_file(__file__, "day_label_counts.sql").format(
    statuses=", ".join(f"count(*) FILTER (WHERE l.status = '{s}') AS {s}" for s in STATUSES),
    day_postings=DAY_POSTINGS_SQL)


def _day_label_counts(context: AssetCheckExecutionContext, database: DatabaseResource) -> tuple[dict, dict]:
    day = date.fromisoformat(context.partition_key) if context.has_partition_key else None
    with database.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
        counts = one(cursor.execute(DAY_LABEL_COUNTS_SQL, {"day": day}))
    total = counts["postings"]
    shares = {f"share_{s}": round(counts[s] / total, 4) if total else 0.0 for s in STATUSES}
    return counts, {"day": str(day) if day else "all active", **counts, **shares}


@asset_check(asset=berufenet_labels, blocking=False, partitions_def=daily_partitions,
             description="Coverage: the share of the day's active postings with a matched label (their title's, or "
                         "the BA's `beruf`) reaches TY_MIN_COVERAGE; the share of each title status in the metadata.")
def labels_coverage(context: AssetCheckExecutionContext, database: DatabaseResource) -> AssetCheckResult:
    minimum = get_settings().min_coverage
    counts, metadata = _day_label_counts(context, database)
    coverage = counts["labelled"] / counts["postings"] if counts["postings"] else 1.0
    return AssetCheckResult(passed=coverage >= minimum,
                            metadata={"coverage": round(coverage, 4), "minimum": minimum, **metadata})


@asset_check(asset=berufenet_labels, blocking=False, partitions_def=daily_partitions,
             description="The share of the day's active postings whose title label is `error` stays within "
                         "TY_LABEL_MAX_ERROR_RATE.")
def labels_error_share(context: AssetCheckExecutionContext, database: DatabaseResource) -> AssetCheckResult:
    maximum = get_settings().label_max_error_rate
    counts, metadata = _day_label_counts(context, database)
    share = counts["error"] / counts["postings"] if counts["postings"] else 0.0
    return AssetCheckResult(passed=share <= maximum,
                            metadata={"error_share": round(share, 4), "maximum": maximum, **metadata})


label_checks = [labels_point_at_active_professions, labels_coverage, labels_error_share]
