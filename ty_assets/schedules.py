"""When things run and how we notice they did not: the daily schedule, similarity after it, freshness checks.

- ``daily_schedule``: the daily job at 23:50 Europe/Berlin for that day's partition (the partitions have
  ``end_offset=1``, so today's partition exists and is the last one at every tick).
- ``similarity_after_daily``: when a scheduled (or any) daily run succeeds, ``profession_similarity`` is
  recomputed in a run of its own (run key = the daily run, so one similarity run per daily run).
- Freshness, two kinds:
  - *last update* (Dagster's ``build_last_update_freshness_checks``): ``postings``, ``posting_embeddings`` and
    ``berufenet_labels`` were materialised within the last 26 hours; evaluated by Dagster's freshness sensor.
  - *time partition*: each daily asset has the partition of the last day whose deadline (02:00 Europe/Berlin
    the next morning: the 23:50 run plus slack) has passed. Dagster's ``build_time_partition_freshness_checks``
    asks for the *last* partition, which with ``end_offset=1`` is today's, so it would fail all day until
    the evening run; these checks ask for the day the deadline is about. They run in
    ``partition_freshness_job`` right after each deadline (``partition_freshness_schedule``) and whenever
    someone runs the job.
"""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetRecordsFilter,
    AssetSelection,
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    RunStatusSensorContext,
    ScheduleDefinition,
    build_last_update_freshness_checks,
    build_schedule_from_partitioned_job,
    build_sensor_for_freshness_checks,
    define_asset_job,
    multi_asset_check,
    run_status_sensor,
)

from ty_assets.embeddings import posting_embeddings
from ty_assets.labels import berufenet_labels
from ty_assets.market import demand_snapshot, profession_similarity
from ty_assets.partitions import daily_partitions
from ty_assets.postings import posting_descriptions, postings

BERLIN = ZoneInfo("Europe/Berlin")
DAILY_RUN_AT = time(23, 50)
PARTITION_DEADLINE = time(2, 0)  # next morning: the day's partition must exist by then
LAST_UPDATE_WITHIN = timedelta(hours=26)
DAILY_ASSETS = (postings, posting_descriptions, posting_embeddings, berufenet_labels, demand_snapshot)

last_update_freshness_checks = build_last_update_freshness_checks(
    assets=[postings, posting_embeddings, berufenet_labels], lower_bound_delta=LAST_UPDATE_WITHIN
)
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
        "materialised.")) for a in DAILY_ASSETS],
    can_subset=True,
    name="daily_partition_freshness",
)
def daily_partition_freshness(context: AssetCheckExecutionContext) -> Iterable[AssetCheckResult]:
    keys = [k.asset_key for k in context.selected_asset_check_keys]
    yield from partition_freshness(context.instance, keys, datetime.now(BERLIN))


freshness_checks = [*last_update_freshness_checks, daily_partition_freshness]

daily_job = define_asset_job(
    "daily_job",
    # The freshness checks of these assets run on their own schedule/sensor, not inside the day's run.
    selection=AssetSelection.assets(*DAILY_ASSETS) - AssetSelection.checks(*freshness_checks),
    partitions_def=daily_partitions,
    description="One day of the pipeline: postings, their descriptions, embeddings, labels and the demand snapshot.",
)

similarity_job = define_asset_job(
    "similarity_job",
    selection=AssetSelection.assets(profession_similarity),
    description="Profession similarity over every day's postings (after the daily job).",
)

daily_schedule = build_schedule_from_partitioned_job(
    daily_job,
    name="daily_schedule",
    hour_of_day=DAILY_RUN_AT.hour,
    minute_of_hour=DAILY_RUN_AT.minute,
    description="Every day at 23:50 Europe/Berlin: the daily job for that day's partition.",
    default_status=DefaultScheduleStatus.RUNNING,
)


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[daily_job],
    request_job=similarity_job,
    name="similarity_after_daily",
    description="Recompute profession_similarity after each successful daily run.",
    default_status=DefaultSensorStatus.RUNNING,
)
def similarity_after_daily(context: RunStatusSensorContext) -> RunRequest:
    run = context.dagster_run
    return RunRequest(run_key=f"after-{run.run_id}",
                      tags={"ty/after_run": run.run_id, "ty/after_partition": run.tags.get("dagster/partition", "")})


freshness_sensor = build_sensor_for_freshness_checks(
    freshness_checks=last_update_freshness_checks, name="freshness_checks_sensor",
    default_status=DefaultSensorStatus.RUNNING,
)


partition_freshness_job = define_asset_job(
    "partition_freshness_job",
    selection=AssetSelection.checks(daily_partition_freshness),
    description="Is every daily asset's last due partition there? (failures reach the check alert sensor)",
)
partition_freshness_schedule = ScheduleDefinition(
    name="partition_freshness_schedule",
    job=partition_freshness_job,
    cron_schedule=f"{PARTITION_DEADLINE.minute + 5} {PARTITION_DEADLINE.hour} * * *",
    execution_timezone="Europe/Berlin",
    description="Right after each partition deadline: evaluate the time-partition freshness checks.",
    default_status=DefaultScheduleStatus.RUNNING,
)


