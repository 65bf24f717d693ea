"""Partitions of the graph, how fresh each asset must be, and how a failed step is retried.

A partition key is the day postings were fetched (Europe/Berlin).

Freshness is Dagster's ``FreshnessPolicy`` on every asset (evaluated by the daemon, ``freshness: enabled`` in
dagster.yaml; the asset page shows it, and a failing policy is an asset health event). A policy looks at an
asset's latest materialisation of any partition, so a backfill of an old day would make a daily asset look fresh:
the per-day deadline check in :mod:`ty_assets.freshness` asks for the day itself.
"""

import warnings
from datetime import timedelta

from dagster import Backoff, DailyPartitionsDefinition, FreshnessPolicy, Jitter, RetryPolicy

from ty_resources.germany import BERLIN, PARTITION_DEADLINE
from ty_resources.settings import get_settings

# end_offset=1: today's partition exists during the day, so the evening schedule
# and `make run` can fill it.
# The first partition is the first day of data (TY_PARTITIONS_START, else what `tyctl run`/`dev` recorded), so a
# fresh UI shows only real days and "backfill missing" cannot ask the live API for days it no longer serves.
daily_partitions = DailyPartitionsDefinition(
    start_date=get_settings().resolved_partitions_start, timezone=BERLIN.key, end_offset=1
)

# The per-day checks are partitioned like their assets (partitions_def on @asset_check), so the UI and the alerts
# name the failed day. Dagster 1.13 marks that "preview" with a warning at every load of the code location; it is
# the design's choice (docs/pipeline.md), so that one warning is not repeated on every run.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec is currently in preview")

# The daily job starts at 22:00 (and title_model at 21:00, ty_assets.schedules); by the partition deadline (02:00)
# every daily asset and profession_similarity must have been materialised since 21:00.
DAILY_FRESHNESS = FreshnessPolicy.cron(
    deadline_cron=f"{PARTITION_DEADLINE.minute} {PARTITION_DEADLINE.hour} * * *",
    lower_bound_delta=timedelta(hours=5), timezone=BERLIN.key)
# title_model runs at 21:00 (trains or says why not): done by 22:00, when the daily job that labels with it starts.
TITLE_MODEL_FRESHNESS = FreshnessPolicy.cron(deadline_cron="0 22 * * *", lower_bound_delta=timedelta(hours=1),
                                             timezone=BERLIN.key)
# The KldB catalogue changes about once a year (a new version of the file): warn after a year, fail after 400 days.
CATALOGUE_FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(days=400), warn_window=timedelta(days=365))

# The assets that call the BA or Ollama retry a failed step before the run fails: a BA outage of minutes or an
# Ollama restart should not cost the night (the daily run starts at 22:00, four hours before the deadline; the
# default 3 retries wait about 2, 4 and 8 minutes). Each request already has its own retries (TY_BA_MAX_RETRIES,
# the Ollama client's); this is for what outlasts them. A step keeps what it committed, so a retry does only the
# rest. Failures that a retry cannot mend (no catalogue) raise Failure(allow_retries=False).
_settings = get_settings()
NETWORK_RETRY = RetryPolicy(max_retries=_settings.retry_max, delay=_settings.retry_delay_s,
                            backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)
