"""The code location: every asset, check, job, sensor and resource of the project."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, build_sensor_for_freshness_checks, define_asset_job

from ty_assets.catalogue import berufenet_catalogue, catalogue_checks
from ty_assets.embeddings import embedding_checks, posting_embeddings
from ty_assets.labels import berufenet_labels, label_checks
from ty_assets.loggers import ty_console_logger
from ty_assets.postings import posting_descriptions, postings, postings_checks
from ty_assets.postings.checks import postings_freshness_checks
from ty_resources.ba import PostingSourceResource
from ty_resources.database import DatabaseResource
from ty_resources.embedders import EmbedderResource
from ty_resources.ollama import OllamaResource

catalogue_job = define_asset_job(
    "catalogue_job",
    selection=AssetSelection.assets(berufenet_catalogue),
    description="Load the KldB 2010 / BERUFENET catalogue and run its checks.",
)

daily_job = define_asset_job(
    "daily_job",
    selection=AssetSelection.assets(postings, posting_descriptions, posting_embeddings, berufenet_labels),
    description="One day of the pipeline: postings, their descriptions, embeddings and labels.",
)

freshness_sensor = build_sensor_for_freshness_checks(
    freshness_checks=[*postings_freshness_checks], name="freshness_checks_sensor"
)

# What `ty run` (make run) materialises, in order. Partitioned jobs run once per
# partition key of the demo window (ty_assets.demo), unpartitioned ones once.
MAIN_SEQUENCE: tuple[str, ...] = ("catalogue_job", "daily_job")

defs = Definitions(
    assets=[berufenet_catalogue, postings, posting_descriptions, posting_embeddings, berufenet_labels],
    asset_checks=[*catalogue_checks, *postings_checks, *embedding_checks, *label_checks],
    jobs=[catalogue_job, daily_job],
    sensors=[freshness_sensor],
    resources={
        "database": DatabaseResource(),
        "source": PostingSourceResource(),
        "embedder": EmbedderResource(ollama=OllamaResource()),
        "ollama": OllamaResource(require_llm=True),
    },
    # Run logs in the format of the rest of the project (TY_LOG_FORMAT).
    loggers={"console": ty_console_logger},
)
