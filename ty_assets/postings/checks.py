"""Checks of the postings tables (queried directly, not loaded through the asset)."""

from datetime import date

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, asset_check

from ty_assets.partitions import daily_partitions
from ty_assets.postings.assets import postings
from ty_assets.postings.crawls import crawl_of
from ty_assets.resources import DatabaseResource
from ty_resources.crawl import MAX_COVERAGE
from ty_resources.database import one
from ty_resources.germany import UNKNOWN_STATE
from ty_resources.settings import get_settings

MIN_KNOWN_STATE_SHARE = 0.95
MIN_DAY_OVER_DAY = 0.5


# The postings seen on a day: fetched on it or on a day before and again after it (the rows keep the first
# and the last sighting). The index on last_seen keeps this to the two days' rows.
DAY_VOLUME_SQL = """
SELECT count(*) FILTER (WHERE first_seen <= %(day)s::date AND last_seen >= %(day)s::date) AS on_day,
       count(*) FILTER (WHERE first_seen <= %(day)s::date - 1) AS day_before
FROM postings
WHERE last_seen >= %(day)s::date - 1
"""

@asset_check(
    asset=postings,
    partitions_def=daily_partitions,
    description=(
        f"The day's postings are not fewer than {MIN_DAY_OVER_DAY:.0%} of the day before's, and not none: a "
        "sudden drop means the source answered only part of the market (an empty or cut-short crawl), which "
        "the next days' staleness would then turn into invalidations."
    ),
)
def postings_day_volume(context: AssetCheckExecutionContext, database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        if context.has_partition_key:
            day = date.fromisoformat(context.partition_key)
        else:  # run on its own: the latest day fetched
            day = one(conn.execute("SELECT max(last_seen) FROM postings"))[0]
        on_day, day_before = one(conn.execute(DAY_VOLUME_SQL, {"day": day})) if day else (0, 0)
    ratio = on_day / day_before if day_before else None
    passed = on_day > 0 and (ratio is None or ratio >= MIN_DAY_OVER_DAY)
    return AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.WARN,
        metadata={"day": str(day), "postings_on_day": on_day, "postings_day_before": day_before,
                  "ratio": round(ratio, 4) if ratio is not None else None, "minimum_ratio": MIN_DAY_OVER_DAY},
    )


@asset_check(
    asset=postings,
    description=f"At least {MIN_KNOWN_STATE_SHARE:.0%} of active postings have a known state (a Land or Ausland).",
)
def postings_known_state_share(database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        active, known = one(conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE state <> %s) FROM postings WHERE invalidated_at IS NULL",
            (UNKNOWN_STATE,),
        ))
    share = known / active if active else 1.0
    return AssetCheckResult(
        passed=share >= MIN_KNOWN_STATE_SHARE,
        severity=AssetCheckSeverity.WARN,
        metadata={"active": active, "known_state": known, "share": round(share, 4), "minimum": MIN_KNOWN_STATE_SHARE},
    )


@asset_check(
    asset=postings,
    blocking=True,
    partitions_def=daily_partitions,
    description=(
        "The day's crawl fetched enough of the market: distinct postings fetched / the planned total (the sum "
        "of the offer-type queries' maxErgebnisse). Fails under TY_MIN_CRAWL_COVERAGE or above "
        f"{MAX_COVERAGE} (more than the counts said: they cannot be trusted); downstream assets of the run are "
        "then skipped. Warns "
        "under TY_WARN_CRAWL_COVERAGE."
    ),
)
def postings_crawl_coverage(context: AssetCheckExecutionContext, database: DatabaseResource) -> AssetCheckResult:
    settings = get_settings()
    day = date.fromisoformat(context.partition_key) if context.has_partition_key else None
    with database.connection() as conn:
        crawl = crawl_of(conn, day)
    if crawl is None:
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR,
                                metadata={"day": str(day), "problem": "no crawl recorded for the day"})
    coverage = crawl["coverage"]
    untrusted = coverage < settings.min_crawl_coverage or coverage > MAX_COVERAGE
    severity = AssetCheckSeverity.ERROR if untrusted else AssetCheckSeverity.WARN
    stats = crawl["stats"]
    return AssetCheckResult(
        passed=settings.warn_crawl_coverage <= coverage <= MAX_COVERAGE,
        severity=severity,
        metadata={
            "day": str(crawl["day"]), "source": crawl["source"], "planned": crawl["planned"],
            "fetched": crawl["fetched"], "coverage": round(coverage, 5), "complete": crawl["complete"],
            "minimum": settings.min_crawl_coverage, "warn_below": settings.warn_crawl_coverage,
            "maximum": MAX_COVERAGE,
            **{key: stats[key] for key in ("leaves", "search_requests", "pages", "planning_requests", "splits",
                                           "requeried", "rechecks", "gap") if key in stats},
        },
    )


postings_checks = [postings_day_volume, postings_known_state_share, postings_crawl_coverage]
