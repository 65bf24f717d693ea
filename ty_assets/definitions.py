"""The code location: every asset, check, job and resource of the project."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from ty_assets.catalogue import berufenet_catalogue, catalogue_checks
from ty_assets.loggers import ty_console_logger
from ty_resources.database import DatabaseResource

catalogue_job = define_asset_job(
    "catalogue_job",
    selection=AssetSelection.assets(berufenet_catalogue),
    description="Load the KldB 2010 / BERUFENET catalogue and run its checks.",
)

# What `ty run` (make run) materialises, in order. Partitioned jobs run once per
# partition key of the demo window; unpartitioned ones once.
MAIN_SEQUENCE: tuple[str, ...] = ("catalogue_job",)

defs = Definitions(
    assets=[berufenet_catalogue],
    asset_checks=[*catalogue_checks],
    jobs=[catalogue_job],
    resources={"database": DatabaseResource()},
    # Run logs in the format of the rest of the project (TY_LOG_FORMAT).
    loggers={"console": ty_console_logger},
)
