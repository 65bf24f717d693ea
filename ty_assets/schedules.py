"""When things run: the daily schedule, similarity after it, the freshness checks after each deadline.

- ``daily_schedule``: the daily job at 22:00 Europe/Berlin for that day's partition (the partitions have
  ``end_offset=1``, so today's partition exists and is the last one at every tick). Why 22:00: the live
  crawl of a 250,000-posting day takes about 2,700 requests (9 minutes at TY_BA_REQUESTS_PER_S=5, more with
  the API's own answer time) and the ~15,000 new postings' details 15,000 more (50 minutes), then labels and
  embeddings; started at 22:00 the day is done well before the 02:00 deadline of the freshness checks, with
  room for one retry. The evening crawl still sees the day's postings (the BA publishes through the
  day), and a run that crosses midnight still writes its own day (:data:`PARTITION_DEADLINE`).
- ``similarity_automation``: the daemon evaluates ``profession_similarity``'s automation condition (a day's
  similarity runs once that day's embeddings and labels are in, whichever run or backfill wrote them:
  ``SIMILARITY_AUTOMATION`` in :mod:`ty_assets.market.assets`) every minute.
- ``title_model_schedule``: at 21:00, an hour before the daily job, ``title_model`` (it trains only when enough
  new pairs came, so most evenings it just says so), so that the day's labels use the newest accepted model.
- ``partition_freshness_schedule``: right after each partition deadline, the time-partition freshness checks
  (:mod:`ty_assets.freshness`).
"""

from datetime import time

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    ScheduleDefinition,
    build_schedule_from_partitioned_job,
    define_asset_job,
)

from ty_assets.freshness import DAILY_ASSETS, daily_partition_freshness, freshness_checks
from ty_assets.labels import title_model
from ty_assets.market import profession_similarity
from ty_resources.germany import BERLIN, PARTITION_DEADLINE

DAILY_RUN_AT = time(22, 0)
TITLE_MODEL_AT = time(21, 0)

daily_job = define_asset_job(
    "daily_job",
    # The freshness checks of these assets run on their own schedule/sensor, not inside the day's run.
    selection=AssetSelection.assets(*DAILY_ASSETS) - AssetSelection.checks(*freshness_checks),
    description="One day of the pipeline: postings, their descriptions, embeddings, labels and the demand snapshot.",
)

similarity_job = define_asset_job(
    "similarity_job",
    selection=AssetSelection.assets(profession_similarity) - AssetSelection.checks(*freshness_checks),
    description="Profession similarity of a day's active postings (what the automation condition runs; make run "
                "runs it per day after the daily job).",
)

title_model_job = define_asset_job(
    "title_model_job",
    selection=AssetSelection.assets(title_model),
    description="Train the lexical model on the catalogue plus the BA's own labels when enough new ones came, "
                "and check it against the model in use.",
)
title_model_schedule = ScheduleDefinition(
    name="title_model_schedule",
    job=title_model_job,
    cron_schedule=f"{TITLE_MODEL_AT.minute} {TITLE_MODEL_AT.hour} * * *",
    execution_timezone=BERLIN.key,
    description="Every day at 21:00 Europe/Berlin, before the daily job: title_model (trains when due).",
    default_status=DefaultScheduleStatus.RUNNING,
)

daily_schedule = build_schedule_from_partitioned_job(
    daily_job,
    name="daily_schedule",
    hour_of_day=DAILY_RUN_AT.hour,
    minute_of_hour=DAILY_RUN_AT.minute,
    description="Every day at 22:00 Europe/Berlin: the daily job for that day's partition (done by 02:00).",
    default_status=DefaultScheduleStatus.RUNNING,
)


similarity_automation = AutomationConditionSensorDefinition(
    "similarity_automation",
    target=AssetSelection.assets(profession_similarity),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Evaluates profession_similarity's automation condition: a day's similarity once its embeddings "
                "and labels are in.",
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
    execution_timezone=BERLIN.key,
    description="Right after each partition deadline: evaluate the time-partition freshness checks.",
    default_status=DefaultScheduleStatus.RUNNING,
)


