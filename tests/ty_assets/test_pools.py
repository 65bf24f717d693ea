"""Concurrency pools: runs at once (a backfill from the UI starts up to 4) never run more BA or Ollama steps at
once than the pool's limit in dagster.yaml (1), counted from the event log."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict

import yaml
from dagster import DagsterEventType

from ty_assets.definitions import defs
from ty_cli.instance import DAGSTER_YAML, get_instance
from ty_resources.settings import get_settings

POOLS = {"ba": {"postings", "posting_descriptions"},
         "ollama": {"posting_embeddings", "berufenet_labels", "title_model", "profession_similarity"}}

RUN_DAY = """
import sys
from ty_assets.definitions import defs
from ty_assets.backfill import process_tags
from ty_assets.loggers import RUN_LOGGER_CONFIG
from ty_cli.instance import get_instance
from ty_resources.settings import get_settings
from dagster import AssetKey
# the steps of both pools without the label index (its first build in a fresh process costs tens of seconds)
result = defs.resolve_job_def("daily_job").execute_in_process(
    run_config=RUN_LOGGER_CONFIG, instance=get_instance(get_settings(), sys.argv[1]), partition_key=sys.argv[2],
    tags=process_tags(), raise_on_error=False,
    asset_selection=[AssetKey(name) for name in ("postings", "posting_descriptions", "posting_embeddings")])
sys.exit(0 if result.success else 1)
"""


def test_the_pools_are_declared_and_limited():
    graph = defs.resolve_asset_graph()
    declared = {key.to_user_string(): graph.get(key).pools for key in graph.get_all_asset_keys()}
    assert {name for name, pools in declared.items() if pools} == set().union(*POOLS.values())
    for pool, assets in POOLS.items():
        assert all(declared[a] == {pool} for a in assets)
    assert yaml.safe_load(DAGSTER_YAML.read_text())["concurrency"]["pools"]["default_limit"] == 1


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def test_four_daily_runs_at_once_keep_to_the_pools(db_url, tmp_path, monkeypatch, small_snapshot):
    snapshot = tmp_path / "snapshot.json.gz"
    small_snapshot.save(snapshot)
    for name, value in {"DATABASE_URL": db_url, "TY_DATA_DIR": str(tmp_path / "data"), "TY_SOURCE": "snapshot",
                        "TY_SNAPSHOT_PATH": str(snapshot), "TY_LOG_FORMAT": "json", "TY_LOG_LEVEL": "WARNING",
                        "DAGSTER_HOME": str(tmp_path / "unused"), "TY_DAGSTER_PG_URL": ""}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    instance = get_instance(get_settings(), db_url)  # it also sets the pools' limits (ty_cli.instance)
    days = small_snapshot.day_keys
    assert len(days) == 4
    runs = [subprocess.Popen([sys.executable, "-c", RUN_DAY, db_url, day], stdout=subprocess.DEVNULL)
            for day in days]
    try:
        assert [run.wait(timeout=240) for run in runs] == [0, 0, 0, 0]
    finally:
        for run in runs:
            run.kill()

    spans: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    kinds = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
    for record in instance.get_run_records():
        for entry in instance.all_logs(record.dagster_run.run_id, of_type=kinds):
            spans[(entry.run_id, entry.step_key or "")][entry.dagster_event_type.value] = entry.timestamp
    by_pool: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (_, step), times in spans.items():
        pool = next((p for p, assets in POOLS.items() if step in assets), None)
        if pool:
            end = times.get(DagsterEventType.STEP_SUCCESS.value) or times.get(DagsterEventType.STEP_FAILURE.value)
            by_pool[pool].append((times[DagsterEventType.STEP_START.value], end))
    assert len(by_pool["ba"]) == 8 and len(by_pool["ollama"]) == 4  # 4 days x (postings, descriptions; embeddings)
    assert _most_at_once(by_pool["ba"]) == 1
    assert _most_at_once(by_pool["ollama"]) == 1
    instance.dispose()
