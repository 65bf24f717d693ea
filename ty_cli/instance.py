"""Dagster's home and storage for the `tyctl` commands.

``DAGSTER_HOME`` is ``TY_DATA_DIR/dagster``; the project's ``dagster.yaml`` is
copied there, and ``TY_DAGSTER_PG_URL`` (which that file reads) is set to the
``postgresql+psycopg2://`` form of the storage URL: the data database unless
``TY_DAGSTER_PG_URL`` names another.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dagster import DagsterInstance

from ty_resources.database import sqlalchemy_psycopg2_url
from ty_resources.settings import Settings, project_root

DAGSTER_YAML = project_root() / "dagster.yaml"


def prepare_dagster_home(settings: Settings, database_url: str) -> Path:
    """Create DAGSTER_HOME with the project's dagster.yaml and export the storage URL."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != DAGSTER_YAML.read_bytes():
        shutil.copyfile(DAGSTER_YAML, target)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["TY_DAGSTER_PG_URL"] = sqlalchemy_psycopg2_url(settings.dagster_pg_url or database_url)
    return home


def initialize_pools(instance: DagsterInstance) -> list[str]:
    """Give every pool of the definitions its limit from dagster.yaml now, one after the other. Dagster does it
    lazily when a step first claims a slot; runs that start together on a fresh storage then race on PostgreSQL
    (the losing insert's IntegrityError is caught inside its transaction, which is then aborted, and the run
    fails with InFailedSqlTransaction: measured with four daily runs at once, tests/ty_assets/test_pools.py)."""
    from ty_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    pools = sorted({pool for key in graph.get_all_asset_keys() for pool in graph.get(key).pools or ()})
    storage = instance.event_log_storage
    default = instance.global_op_concurrency_default_limit
    known = {limit.name: limit for limit in storage.get_pool_limits()}
    for pool in pools:  # as Dagster decides it when a step claims a slot, but before any does
        limit = known.get(pool)
        if (limit is None and default is not None) or (limit is not None and limit.from_default
                                                       and limit.limit != default):
            storage.initialize_concurrency_limit_to_default(pool)
    return pools


def get_instance(settings: Settings, database_url: str) -> DagsterInstance:
    prepare_dagster_home(settings, database_url)
    instance = DagsterInstance.get()
    initialize_pools(instance)
    return instance
