"""The code location loads, and dagster.yaml puts Dagster's storage on PostgreSQL."""

from __future__ import annotations

import psycopg
import yaml
from dagster import AssetKey, Definitions
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from ty_assets.definitions import MAIN_SEQUENCE, defs
from ty_assets.loggers import RUN_LOGGER_CONFIG
from ty_cli.instance import get_instance
from ty_resources.settings import Settings, project_root


def test_definitions_load():
    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert AssetKey("berufenet_catalogue") in graph.get_all_asset_keys()
    checks = {key.name for key in graph.asset_check_keys}
    assert {"professions_complete", "profession_codes_exist", "domains_complete", "level5_codes_complete"} <= checks
    for name in MAIN_SEQUENCE:
        assert defs.resolve_job_def(name) is not None


def test_workspace_points_at_the_definitions_module():
    workspace = yaml.safe_load((project_root() / "workspace.yaml").read_text())
    (entry,) = workspace["load_from"]
    assert entry["python_module"]["module_name"] == "ty_assets.definitions"


def test_instance_storage_is_postgres_and_records_runs(db_url, tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    instance = get_instance(settings, db_url)
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        result = defs.resolve_job_def("catalogue_job").execute_in_process(
            instance=instance, run_config=RUN_LOGGER_CONFIG
        )
        assert result.success
    finally:
        instance.dispose()
    with psycopg.connect(db_url) as conn:
        status = conn.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,)).fetchone()
        checks = conn.execute("SELECT count(*) FROM asset_check_executions WHERE run_id = %s",
                              (result.run_id,)).fetchone()[0]
    assert status == ("SUCCESS",)
    assert checks == 4
    assert (settings.dagster_home / "dagster.yaml").read_text() == (project_root() / "dagster.yaml").read_text()
