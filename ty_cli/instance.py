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


def get_instance(settings: Settings, database_url: str) -> DagsterInstance:
    prepare_dagster_home(settings, database_url)
    return DagsterInstance.get()
