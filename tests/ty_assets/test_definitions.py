"""The code location loads (no superseded or deprecated API), the graph has the edges the docs draw, and
dagster.yaml puts Dagster's storage on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import yaml
from dagster import AssetKey, Definitions
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from ty_assets.definitions import MAIN_SEQUENCE, defs
from ty_assets.loggers import RUN_LOGGER_CONFIG
from ty_cli.instance import get_instance
from ty_resources.classifier import settings_decision_version
from ty_resources.embedders import embedding_model_name
from ty_resources.settings import Settings, get_settings, project_root


def test_definitions_load():
    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert AssetKey("berufenet_catalogue") in graph.get_all_asset_keys()
    checks = {key.name for key in graph.asset_check_keys}
    assert {"professions_complete", "profession_codes_exist", "domains_complete", "level5_codes_complete"} <= checks
    for name in MAIN_SEQUENCE:
        assert defs.resolve_job_def(name) is not None


def test_definitions_use_no_superseded_or_deprecated_api():
    """In a fresh interpreter, so that warnings raised while the modules are imported count."""
    subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-W", "error::FutureWarning", "-c",
                    "import ty_assets.definitions"], check=True, capture_output=True, cwd=project_root())


# The lineage the UI draws (README.md and docs/pipeline.md draw the same): a refactor cannot cut an edge silently.
EDGES = {
    "berufenet_catalogue": set(),
    "postings": set(),
    "posting_descriptions": {"postings"},
    "posting_embeddings": {"posting_descriptions"},
    "posting_summaries": {"postings", "posting_descriptions"},
    "title_model": {"postings", "berufenet_catalogue"},
    "berufenet_labels": {"postings", "posting_descriptions", "berufenet_catalogue", "title_model"},
    "demand_snapshot": {"berufenet_labels", "postings"},
    "profession_similarity": {"posting_embeddings", "berufenet_labels", "berufenet_catalogue"},
}


def test_the_graph_has_the_documented_edges_and_every_asset_a_freshness_policy():
    graph = defs.resolve_asset_graph()
    edges = {key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
             for key in graph.get_all_asset_keys()}
    assert edges == EDGES
    for line in (project_root() / "README.md").read_text().splitlines():
        if "-->" in line and "domains" not in line:  # the mermaid chart: a --> b (--> c)
            names = [part.strip() for part in line.split("-->")]
            for upstream, downstream in zip(names, names[1:]):
                assert upstream in EDGES[downstream], line
    assert all(graph.get(key).freshness_policy is not None for key in graph.get_all_asset_keys())


def test_the_label_cascade_has_a_code_version_that_follows_what_decides_a_label():
    labels = defs.resolve_asset_graph().get(AssetKey("berufenet_labels"))
    settings = get_settings()
    assert labels.code_version == settings_decision_version(settings, embedding_model_name(settings))
    stricter = settings.model_copy(update={"accept_score": settings.accept_score + 0.01})
    assert settings_decision_version(stricter, embedding_model_name(settings)) != labels.code_version


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
