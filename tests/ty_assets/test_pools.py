"""Concurrency pools: runs at once (a backfill from the UI starts up to 4) never run more BA or Ollama steps at
once than the pool's limit in dagster.yaml (1), counted from the event log."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict

import psycopg
import yaml
from dagster import AssetKey, DagsterEventType

from ty_assets.definitions import defs
from ty_cli.instance import DAGSTER_YAML, get_instance
from ty_resources.settings import get_settings

POOLS = {"ba": {"postings", "posting_descriptions"},
         "ollama": {"posting_embeddings", "posting_summaries", "berufenet_labels", "title_model",
                    "profession_similarity"}}

RUN_DAY = """
import sys
from ty_assets.definitions import defs
from ty_assets.loggers import RUN_LOGGER_CONFIG
from ty_cli.instance import get_instance
from ty_resources.settings import get_settings
from dagster import AssetKey
# the steps of both pools without the label index (its first build in a fresh process costs tens of seconds);
# the days given, one run each, in order
instance = get_instance(get_settings(), sys.argv[1])
for day in sys.argv[2:]:
    result = defs.resolve_job_def("daily_job").execute_in_process(
        run_config=RUN_LOGGER_CONFIG, instance=instance, partition_key=day, raise_on_error=False,
        asset_selection=[AssetKey(name) for name in ("postings", "posting_descriptions", "posting_embeddings")])
    if not result.success:
        sys.exit(1)
"""


def test_the_pools_are_declared_and_limited():
    graph = defs.resolve_asset_graph()
    declared = {key.to_user_string(): graph.get(key).pools for key in graph.get_all_asset_keys()}
    assert {name for name, pools in declared.items() if pools} == set().union(*POOLS.values())
    for pool, assets in POOLS.items():
        assert all(declared[a] == {pool} for a in assets)
    assert yaml.safe_load(DAGSTER_YAML.read_text())["concurrency"]["pools"]["default_limit"] == 1


def test_summaries_take_the_ollama_pool_after_the_days_other_work():
    """Steps that are ready together claim a pool in priority order (Dagster's dagster/priority op tag): the day's
    LLM summaries, hours of GPU work, never go before the embeddings and labels that matching needs."""
    graph = defs.resolve_asset_graph()
    priority = {name: int(defs.resolve_assets_def(name).op.tags.get("dagster/priority", 0))
                for name in POOLS["ollama"]}
    assert priority["posting_summaries"] < min(p for name, p in priority.items() if name != "posting_summaries")
    assert graph.get(AssetKey("posting_summaries")).pools == {"ollama"}


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


# What the runs wrote, without the clock: the same after concurrent runs as after sequential ones.
FINGERPRINT_SQL = {
    "postings": "SELECT md5(string_agg(concat_ws('|', refnr, title_normalized, state, first_seen, last_seen,"
                " invalidated_on, invalidated_reason, raw::text), E'\\n' ORDER BY refnr)), count(*) FROM postings",
    "posting_descriptions": "SELECT md5(string_agg(concat_ws('|', refnr, status, description, attempts), E'\\n'"
                            " ORDER BY refnr)), count(*) FROM posting_descriptions",
    "posting_embeddings": "SELECT md5(string_agg(concat_ws('|', refnr, model, text_hash, embedding::text), E'\\n'"
                          " ORDER BY refnr, model)), count(*) FROM posting_embeddings",
}


def _fingerprint(url: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        return {table: tuple(conn.execute(sql).fetchone()) for table, sql in FINGERPRINT_SQL.items()}


def test_a_ten_day_backfill_four_runs_at_once_keeps_to_the_pools_and_writes_what_sequential_runs_write(
        db_url, new_database, tmp_path, monkeypatch, catalogue):
    from datetime import datetime

    from ty_resources.germany import BERLIN
    from ty_resources.sample import generate_snapshot

    ten_days = generate_snapshot(catalogue, seed=11, days=10, postings=400, end_date=datetime.now(BERLIN).date())
    snapshot = tmp_path / "snapshot.json.gz"
    ten_days.save(snapshot)
    for name, value in {"DATABASE_URL": db_url, "TY_DATA_DIR": str(tmp_path / "data"), "TY_SOURCE": "snapshot",
                        "TY_SNAPSHOT_PATH": str(snapshot), "TY_LOG_FORMAT": "json", "TY_LOG_LEVEL": "WARNING",
                        "DAGSTER_HOME": str(tmp_path / "unused"), "TY_DAGSTER_PG_URL": ""}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    instance = get_instance(get_settings(), db_url)  # it also sets the pools' limits (ty_cli.instance)
    days = ten_days.day_keys
    assert len(days) == 10
    # A backfill from the UI: 4 runs at once (max_concurrent_runs), each the next day as soon as one ends; here
    # four processes, each running its share of the days one after the other (a Python process per run would
    # cost the suite a Dagster import per day), newest days first so that the order differs from the
    # sequential runs below.
    newest_first = list(reversed(days))
    workers = [subprocess.Popen([sys.executable, "-c", RUN_DAY, db_url, *newest_first[i::4]],
                                stdout=subprocess.DEVNULL) for i in range(4)]
    try:
        assert [worker.wait(timeout=240) for worker in workers] == [0, 0, 0, 0]
    finally:
        for worker in workers:
            worker.kill()

    spans: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    kinds = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
    for record in instance.get_run_records():
        for entry in instance.all_logs(record.dagster_run.run_id, of_type=kinds):
            spans[(entry.run_id, entry.step_key or "")][entry.dagster_event_type.value] = entry.timestamp
    by_pool: dict[str, list[tuple[float, float]]] = defaultdict(list)
    named: dict[str, list[tuple[float, float, str, str]]] = defaultdict(list)
    for (run_id, step), times in spans.items():
        pool = next((p for p, assets in POOLS.items() if step in assets), None)
        if pool:
            end = times.get(DagsterEventType.STEP_SUCCESS.value) or times.get(DagsterEventType.STEP_FAILURE.value)
            by_pool[pool].append((times[DagsterEventType.STEP_START.value], end))
            named[pool].append((times[DagsterEventType.STEP_START.value], end, run_id[:8], step))
    assert len(by_pool["ba"]) == 20 and len(by_pool["ollama"]) == 10  # 10 days x (postings, descriptions; embeddings)
    assert _most_at_once(by_pool["ba"]) == 1, sorted(named["ba"])
    assert _most_at_once(by_pool["ollama"]) == 1, sorted(named["ollama"])
    instance.dispose()

    # The same days one after the other, oldest first, into a database of their own.
    sequential = new_database()
    assert subprocess.run([sys.executable, "-c", RUN_DAY, sequential, *days], stdout=subprocess.DEVNULL,
                          env={**os.environ, "DATABASE_URL": sequential}, timeout=240).returncode == 0
    concurrent_rows, sequential_rows = _fingerprint(db_url), _fingerprint(sequential)
    assert concurrent_rows["postings"][1] > 0
    assert concurrent_rows == sequential_rows
