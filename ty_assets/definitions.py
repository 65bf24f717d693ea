"""The code location: every asset, check, job, schedule, sensor and resource of the project."""

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from ty_assets.alerts import alert_sensors
from ty_assets.catalogue import berufenet_catalogue, catalogue_checks
from ty_assets.embeddings import embedding_checks, posting_embeddings
from ty_assets.freshness import freshness_checks
from ty_assets.labels import berufenet_labels, label_checks, title_model
from ty_assets.loggers import ty_console_logger
from ty_assets.market import demand_snapshot, market_checks, profession_similarity
from ty_assets.postings import posting_descriptions, postings, postings_checks
from ty_assets.resources import (
    DatabaseResource,
    EmbedderResource,
    NotifierResource,
    OllamaResource,
    PostingSourceResource,
    WebSearchResource,
)
from ty_assets.schedules import (
    daily_job,
    daily_schedule,
    partition_freshness_job,
    partition_freshness_schedule,
    similarity_automation,
    similarity_job,
    title_model_job,
    title_model_schedule,
)
from ty_assets.summaries import posting_summaries, summary_checks

catalogue_job = define_asset_job(
    "catalogue_job",
    selection=AssetSelection.assets(berufenet_catalogue),
    description="Load the KldB 2010 / BERUFENET catalogue and run its checks.",
)

# What `tyctl run` (make run) materialises, in order. Partitioned jobs run once per
# partition key of the demo window (ty_cli.demo), unpartitioned ones once. The title model learns from the
# window's postings after it: the next run's labels use it (and revise what it changes).
MAIN_SEQUENCE: tuple[str, ...] = ("catalogue_job", "daily_job", "title_model_job", "similarity_job")

defs = Definitions(
    assets=[berufenet_catalogue, postings, posting_descriptions, title_model, posting_embeddings, posting_summaries,
            berufenet_labels, demand_snapshot, profession_similarity],
    asset_checks=[*catalogue_checks, *postings_checks, *embedding_checks, *summary_checks, *label_checks,
                  *market_checks, *freshness_checks],
    jobs=[catalogue_job, daily_job, title_model_job, similarity_job, partition_freshness_job],
    schedules=[daily_schedule, title_model_schedule, partition_freshness_schedule],
    sensors=[similarity_automation, *alert_sensors],
    resources={
        "database": DatabaseResource(),
        "source": PostingSourceResource(),
        "embedder": EmbedderResource(ollama=OllamaResource()),
        "ollama": OllamaResource(require_llm=True),
        "notifier": NotifierResource(),
        "web_search": WebSearchResource(),
    },
    # Run logs in the format of the rest of the project (TY_LOG_FORMAT).
    loggers={"console": ty_console_logger},
    # One process per run, its steps one after the other: the steps that could run side by side share a pool
    # of one slot anyway, and the run's process is the one that names itself in the run's tags, so run
    # monitoring can tell a run killed outright (ty_assets.workers, ty_assets.launcher).
    executor=in_process_executor,
)
