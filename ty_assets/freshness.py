"""How we notice that a day is missing: the per-day deadline check of the daily assets.

Every asset has a ``FreshnessPolicy`` (:mod:`ty_assets.partitions`), but a policy looks at the latest
materialisation of any partition: a backfill of last month would make ``postings`` look fresh although today's
crawl never ran. So each daily asset also has ``partition_freshness``: the partition of the last day whose deadline
(02:00 Europe/Berlin the next morning: the 22:00 run plus slack) has passed is materialised. Dagster's own
``build_time_partition_freshness_checks`` (superseded, too) asks for the *last* partition, which with
``end_offset=1`` is today's, so it would fail all day until the evening run; this check asks for the day the
deadline is about. It runs in ``partition_freshness_job`` right after each deadline
(``partition_freshness_schedule``, :mod:`ty_assets.schedules`) and whenever someone runs the job.

It covers several asset families at once, so it lives here rather than in one family's folder.
"""

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    multi_asset_check,
)

from ty_assets.embeddings import posting_embeddings
from ty_assets.labels import berufenet_labels
from ty_assets.market import demand_snapshot, profession_similarity
from ty_assets.partitions import daily_partitions
from ty_assets.postings import posting_descriptions, postings
from ty_assets.summaries import posting_summaries
from ty_resources.germany import BERLIN, PARTITION_DEADLINE

# What the daily job materialises; profession_similarity follows by its automation condition. All are checked.
DAILY_ASSETS = (postings, posting_descriptions, posting_embeddings, posting_summaries, berufenet_labels,
                demand_snapshot)
PARTITIONED_ASSETS = (*DAILY_ASSETS, profession_similarity)

def expected_partition(now: datetime) -> date:
    """The day whose partition must exist at ``now``: the last day whose deadline (02:00 the next morning,
    Europe/Berlin) has passed."""
    local = now.astimezone(BERLIN)
    deadline_today = datetime.combine(local.date(), PARTITION_DEADLINE, BERLIN)
    last_deadline = deadline_today if local >= deadline_today else deadline_today - timedelta(days=1)
    return last_deadline.date() - timedelta(days=1)


def partition_freshness(
    instance: DagsterInstance, asset_keys: Iterable[AssetKey], now: datetime
) -> Iterable[AssetCheckResult]:
    """One result per asset: passed if the expected day's partition has a materialization."""
    day = expected_partition(now)
    key = day.isoformat()
    first = date.fromisoformat(daily_partitions.start.strftime("%Y-%m-%d"))
    for asset_key in asset_keys:
        if day < first:
            yield AssetCheckResult(asset_key=asset_key, check_name="partition_freshness", passed=True,
                                   metadata={"expected_partition": key, "note": "before the first partition"})
            continue
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=asset_key, asset_partitions=[key]), limit=1
        ).records
        metadata = {"expected_partition": key,
                    "deadline": datetime.combine(day + timedelta(days=1), PARTITION_DEADLINE, BERLIN).isoformat()}
        if records:
            metadata["materialized_at"] = datetime.fromtimestamp(records[0].timestamp, BERLIN).isoformat()
        yield AssetCheckResult(asset_key=asset_key, check_name="partition_freshness", passed=bool(records),
                               severity=AssetCheckSeverity.WARN, metadata=metadata)


@multi_asset_check(
    specs=[AssetCheckSpec("partition_freshness", asset=a, description=(
        "The partition of the last day whose deadline (02:00 Europe/Berlin the next morning) has passed is "
        "materialised.")) for a in PARTITIONED_ASSETS],
    can_subset=True,
    name="daily_partition_freshness",
)
def daily_partition_freshness(context: AssetCheckExecutionContext) -> Iterable[AssetCheckResult]:
    keys = [k.asset_key for k in context.selected_asset_check_keys]
    yield from partition_freshness(context.instance, keys, datetime.now(BERLIN))


freshness_checks = [daily_partition_freshness]


