"""`tyctl health`: asset states, backlog, throughput and ETA against real runs and a database of known contents."""

import json
import threading
from datetime import date, datetime, timedelta

import psycopg
import pytest
from click.testing import CliRunner
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    MaterializeResult,
    StaticPartitionsDefinition,
    WeeklyPartitionsDefinition,
    asset,
    materialize,
)

from ty_assets.definitions import defs
from ty_assets.health import (
    Backlog,
    add_eta,
    asset_health,
    build_report,
    format_duration,
    recent_throughput,
    window_partition_keys,
)
from ty_assets.loggers import RUN_LOGGER_CONFIG
from ty_assets.partitions import daily_partitions
from ty_cli.instance import get_instance
from ty_cli.main import main
from ty_resources.classifier import settings_decision_version
from ty_resources.embedders import embedding_model_name
from ty_resources.germany import BERLIN
from ty_resources.settings import get_settings
from ty_resources.snapshot import Snapshot

DAILY = ["postings", "posting_descriptions", "posting_embeddings", "berufenet_labels"]
ITEMS = {"posting_descriptions": "todo", "berufenet_labels": "classified", "posting_embeddings": "embedded"}

MINI_CATALOGUE_SQL = """
INSERT INTO catalogue_versions (version, source, sha256, professions, codes) VALUES ('v2', 'test', 'x', 1, 5);
INSERT INTO kldb_codes (code, level, title, short_title, parent_code, catalogue_version) VALUES
    ('2', 1, 'Rohstoffgewinnung, Produktion und Fertigung', 'Produktion', NULL, 'v2'),
    ('29', 2, 'Lebensmittelherstellung und -verarbeitung', 'Lebensmittel', '2', 'v2'),
    ('293', 3, 'Speisenzubereitung', 'Speisen', '29', 'v2'),
    ('2930', 4, 'Koeche/Koechinnen (ohne Spezialisierung)', 'Koeche', '293', 'v2'),
    ('29302', 5, 'Berufe in der Gastronomie - fachlich ausgerichtete Taetigkeiten', 'Koeche', '2930', 'v2');
INSERT INTO professions (berufenet_id, name, name_male, name_female, kldb_code, level, is_supervisor, domain_code,
                         catalogue_version)
VALUES ('29302-101', 'Koch/Koechin', 'Koch', 'Koechin', '29302', 2, false, '29', 'v2');
"""


def _today() -> date:
    return datetime.now(BERLIN).date()


@pytest.fixture
def pipeline(db_url, tmp_path, monkeypatch, make_snapshot):
    """Three days ending today through the real daily assets; the middle day's source is broken, so it fails."""
    presence = {"P1": [0, 1, 2], "P2": [0, 2], "P3": [0], "P4": [0], "P5": [0], "P6": [2], "P7": [2], "P8": [2]}
    snapshot_path = tmp_path / "snap.json"
    days = make_snapshot(snapshot_path, presence, _today() - timedelta(days=2))
    broken = Snapshot.load(snapshot_path)
    broken.days.pop(days[1])
    broken.save(snapshot_path)
    for name, value in {"DATABASE_URL": db_url, "TY_DATA_DIR": str(tmp_path / "data"), "TY_SOURCE": "snapshot",
                        "TY_SNAPSHOT_PATH": str(snapshot_path), "TY_LOG_FORMAT": "human",
                        "DAGSTER_HOME": str(tmp_path / "unused"), "TY_DAGSTER_PG_URL": ""}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    get_settings.cache_clear()
    with psycopg.connect(db_url) as conn:
        conn.execute(MINI_CATALOGUE_SQL)
    instance = get_instance(get_settings(), db_url)
    keys = [AssetKey(a) for a in DAILY]
    job = defs.resolve_implicit_job_def_def_for_assets(keys)
    results = {day: job.execute_in_process(run_config=RUN_LOGGER_CONFIG, instance=instance, partition_key=day,
                                           asset_selection=keys, raise_on_error=False) for day in days}
    assert [results[d].success for d in days] == [True, False, True]
    yield instance, days, results
    instance.dispose()


def _arrange_backlog(db_url: str) -> None:
    """Known contents: 7 active postings (P5 invalidated), each backlog kind set up by hand."""
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM postings WHERE invalidated_at IS NULL").fetchone()[0] == 8
        conn.execute("UPDATE postings SET invalidated_at = now(), invalidated_on = last_seen,"
                     " invalidated_reason = 'stale' WHERE refnr = 'P5'")
        # descriptions: P2 has none, P3 failed (both backlog), P4 not_found (settled); P5's gap is inactive
        conn.execute("DELETE FROM posting_descriptions WHERE refnr IN ('P2', 'P5')")
        conn.execute("UPDATE posting_descriptions SET status = 'error', attempts = 1 WHERE refnr = 'P3'")
        conn.execute("UPDATE posting_descriptions SET status = 'not_found', description = NULL WHERE refnr = 'P4'")
        # embeddings: P6 none, P7 only for another model (both backlog); P5 inactive
        conn.execute("DELETE FROM posting_embeddings WHERE refnr IN ('P5', 'P6', 'P7')")
        conn.execute("INSERT INTO posting_embeddings (refnr, model, dimension, text_hash, embedding, embedded_at)"
                     " VALUES ('P7', 'other-model', 3, 'h', '[1,0,0]', now())")
        # labels: one title key per posting, P4 and P6 share one
        conn.execute("DELETE FROM title_labels")
        conn.execute("UPDATE postings SET berufenet_id = NULL, label_source = NULL,"
                     " title_normalized = 'k_' || lower(refnr)")
        conn.execute("UPDATE postings SET title_normalized = 'k_shared' WHERE refnr IN ('P4', 'P6')")
        # P1 is labelled by its `beruf`, its title has no label yet: an open title, no unlabelled posting
        conn.execute("UPDATE postings SET berufenet_id = '29302-101', label_source = 'beruf' WHERE refnr = 'P1'")
        conn.execute("UPDATE postings SET berufenet_id = '29302-101', label_source = 'title' WHERE refnr = 'P2'")
        labels = [("k_p2", "matched", "29302-101", "exact", "v2"),   # settled, posting labelled
                  ("k_p3", "no_match", None, None, "v2"),             # settled: not backlog
                  ("k_shared", "error", None, None, "v2"),            # open: 1 title, 2 postings
                  ("k_p7", "pending_llm", None, None, "v2"),          # open, blocked without an LLM
                  ("k_p8", "llm_no", None, None, "v1")]               # made with an older catalogue: open
        conn.cursor().executemany(
            "INSERT INTO title_labels (title_key, example_title, status, berufenet_id, method, catalogue_version)"
            " VALUES (%s, 'x', %s, %s, %s, %s)", labels)
        # the no_match was decided by today's cascade (another decision version would make it 'revised': open)
        settings = get_settings()
        conn.execute("UPDATE title_labels SET decision_version = %s WHERE title_key = 'k_p3'",
                     (settings_decision_version(settings, embedding_model_name(settings)),))
        # k_p5 (inactive P5) has no label either and must not count


def _expected_rate(results, asset: str, model: str | None = None) -> tuple[int, float, set[str]]:
    """From the run results themselves: the runs whose materialization processed items in a measurable time."""
    items, seconds, runs = 0, 0.0, set()
    for result in results.values():
        for event in result.get_asset_materialization_events():
            if event.asset_key.to_user_string() != asset:
                continue
            meta = {k: v.value for k, v in event.materialization.metadata.items()}
            if meta[ITEMS[asset]] and meta["seconds"] and (model is None or meta["model"] == model):
                items, seconds = items + meta[ITEMS[asset]], seconds + meta["seconds"]
                runs.add(result.run_id)
    return items, seconds, runs


def test_report_from_real_runs_and_known_backlog(pipeline, db_url):
    instance, days, results = pipeline
    _arrange_backlog(db_url)
    report = build_report(defs, instance, db_url, days=7)
    today = _today()
    window = [(today - timedelta(days=i)).isoformat() for i in range(6, -1, -1)]
    assert (report.window_start, report.window_end) == (window[0], window[-1])

    by_asset = {a.asset: a for a in report.assets}
    assert sorted(by_asset) == sorted(k.to_user_string() for k in defs.resolve_asset_graph().materializable_asset_keys)
    order = [a.asset for a in report.assets]  # upstream first
    assert order.index("postings") < order.index("posting_descriptions") < order.index("posting_embeddings")
    for name in DAILY:  # the broken day failed for postings and, skipped after it, for everything downstream
        health = by_asset[name]
        assert health.partitioned and health.partitions_in_window == 7
        assert health.failed == [days[1]], name
        assert health.missing == window[:4], name
        assert health.materialized == 2 and health.in_progress == []
        assert health.last_materialization.partition == days[2]
        assert health.last_materialization.run_id == results[days[2]].run_id
    catalogue = by_asset["berufenet_catalogue"]
    assert (catalogue.partitioned, catalogue.state, catalogue.last_materialization) == (False, "never_materialized",
                                                                                      None)

    backlog = {b.kind: b for b in report.backlog}
    desc = backlog["descriptions"]
    assert (desc.items, desc.detail) == (2, {"missing": 1, "error": 1, "not_found_settled": 1})
    labels = backlog["labels"]
    assert labels.items == 4 and labels.blocked == 1 and labels.workable == 3
    assert labels.detail == {"missing": 1, "error": 1, "pending_llm": 1, "outdated": 1, "revised": 0,
                             "web": 0, "unlabelled_postings": 4,
                             "unlabelled_postings_settled": 1, "catalogue_version": "v2"}
    assert "OLLAMA_HOST" in labels.blocked_reason
    emb = backlog["embeddings"]
    model = embedding_model_name(get_settings())
    assert model.startswith("local-hash-") and (emb.items, emb.detail) == (2, {"model": model})

    for kind, asset_name, workable in (("descriptions", "posting_descriptions", 2),
                                       ("labels", "berufenet_labels", 3),
                                       ("embeddings", "posting_embeddings", 2)):
        entry = backlog[kind]
        items, seconds, runs = _expected_rate(results, asset_name, model if kind == "embeddings" else None)
        # the successful days did work (the failed day materialised nothing); day 0 did most of it
        assert results[days[0]].run_id in runs and results[days[1]].run_id not in runs and items > 0, kind
        assert (entry.throughput.items, entry.throughput.materializations) == (items, len(runs))
        assert entry.throughput.seconds == pytest.approx(seconds)
        assert set(entry.throughput.run_ids) == runs
        assert entry.eta_seconds == pytest.approx(workable / (items / seconds)) and entry.eta_reason is None

    # the same report through the command, as JSON and as a table
    json_result = CliRunner().invoke(main, ["health", "--json", "--days", "7"], catch_exceptions=False)
    assert json_result.exit_code == 0, json_result.output
    parsed = json.loads(json_result.stdout)
    expected = json.loads(json.dumps(report.to_dict()))
    assert parsed["assets"] == expected["assets"] and parsed["window"] == expected["window"]
    assert parsed["backlog"] == expected["backlog"] and parsed["crawl"] == expected["crawl"]
    crawl = report.crawl  # the latest day's crawl: the broken day recorded none
    assert (crawl["day"], crawl["source"], crawl["coverage"], crawl["complete"]) == (days[2], "snapshot", 1.0, True)
    assert crawl["planned"] == crawl["fetched"] > 0
    table = CliRunner().invoke(main, ["health", "--days", "3"], catch_exceptions=False)
    assert table.exit_code == 0, table.output
    for name in [*DAILY, "berufenet_catalogue", "descriptions", "labels", "embeddings", "never_materialized"]:
        assert name in table.stdout
    assert f"1: {days[1]}" in table.stdout and "2/3 ok" in table.stdout  # failed day; 2 of 3 days materialised
    assert format_duration(backlog["labels"].eta_seconds) in table.stdout
    assert f"last crawl: {days[2]} from snapshot: coverage 1.0000 ({crawl['fetched']:,} of" in table.stdout


# ------------------------------------------------------------------ unit-sized checks on a local instance

release = threading.Event()
started = threading.Event()


@asset(partitions_def=daily_partitions)
def slow_daily() -> None:
    started.set()
    assert release.wait(30)


@asset
def slow_once() -> None:
    started.set()
    assert release.wait(30)


@asset
def broken_once() -> None:
    raise RuntimeError("broken on purpose")


@asset
def fine_once() -> None:
    return None


# (items, seconds, model) per partition day: the throughput reads exactly these
WORK = {0: (10, 2.0, "m"), 1: (0, 0.5, "m"), 2: (30, 4.0, "m"), 3: (100, 1.0, "other")}


@asset(partitions_def=daily_partitions)
def worker(context) -> MaterializeResult:
    offset = (_today() - date.fromisoformat(context.partition_key)).days
    items, seconds, model = WORK[3 - offset]
    return MaterializeResult(metadata={"todo": items, "seconds": seconds, "model": model})


def test_in_progress_failed_and_throughput_on_a_local_instance(tmp_path):
    instance = DagsterInstance.local_temp(str(tmp_path))
    test_defs = Definitions(assets=[slow_daily, slow_once, broken_once, fine_once, worker])
    today = _today()
    materialize([broken_once], instance=instance, raise_on_error=False)
    fine = materialize([fine_once], instance=instance)
    day_keys = [(today - timedelta(days=3 - i)).isoformat() for i in range(4)]
    for key in day_keys:
        materialize([worker], partition_key=key, instance=instance)

    none_yet = recent_throughput(instance, "slow_daily", "todo")
    assert none_yet is None
    backlog = Backlog("x", "slow_daily", "items", 5, {})
    add_eta(backlog, none_yet, runs=10)
    assert backlog.eta_seconds is None and "no throughput yet" in backlog.eta_reason
    empty = Backlog("x", "slow_daily", "items", 0, {})
    add_eta(empty, None, runs=10)
    assert empty.eta_seconds == 0.0  # nothing to do needs no rate

    last_two = recent_throughput(instance, "worker", "todo", runs=2, model="m")  # day 1 did nothing; day 3 other model
    assert (last_two.items, last_two.seconds, last_two.materializations) == (40, 6.0, 2)
    assert recent_throughput(instance, "worker", "todo", runs=1, model="m").per_second == 30 / 4.0
    assert recent_throughput(instance, "worker", "todo", runs=10).per_second == 140 / 7.0
    backlog = Backlog("x", "worker", "items", 100, {}, blocked=20, blocked_reason="waits")
    add_eta(backlog, last_two, runs=2)
    assert backlog.eta_seconds == pytest.approx(80 / (40 / 6.0))

    threads = [threading.Thread(target=materialize, args=([slow_daily],),
                                kwargs={"partition_key": today.isoformat(), "instance": instance}),
               threading.Thread(target=materialize, args=([slow_once],), kwargs={"instance": instance})]
    started.clear()
    release.clear()
    try:
        for thread in threads:
            thread.start()
        assert started.wait(30)
        health = _wait_for(lambda: {a.asset: a for a in asset_health(test_defs, instance, days=3)},
                           lambda h: h["slow_daily"].in_progress and h["slow_once"].state == "in_progress")
    finally:
        release.set()
        for thread in threads:
            thread.join(30)
    assert health["slow_daily"].in_progress == [today.isoformat()]
    assert health["slow_once"].state == "in_progress" and health["slow_once"].last_materialization is None
    assert health["slow_daily"].missing == [(today - timedelta(days=d)).isoformat() for d in (2, 1)]
    assert health["broken_once"].state == "failed" and health["broken_once"].last_materialization is None
    assert health["fine_once"].state == "materialized"
    assert health["fine_once"].last_materialization.run_id == fine.run_id
    assert health["worker"].materialized == 3 and health["worker"].last_materialization.partition == day_keys[-1]

    after = {a.asset: a for a in asset_health(test_defs, instance, days=3)}
    assert after["slow_daily"].in_progress == [] and after["slow_daily"].materialized == 1
    assert after["slow_once"].state == "materialized"
    instance.dispose()


def _wait_for(produce, ready, timeout: float = 10.0):
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = produce()
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_window_holds_only_existing_partition_keys():
    now = datetime(2025, 1, 3, 9, 0, tzinfo=BERLIN)  # daily_partitions start on 2025-01-01 (default settings)
    keys = window_partition_keys(daily_partitions, DagsterInstance.ephemeral(), 7, now)
    assert keys == ["2025-01-01", "2025-01-02", "2025-01-03"]  # today's partition exists (end_offset=1)
    late = datetime(2025, 3, 10, 23, 30, tzinfo=BERLIN)
    assert window_partition_keys(daily_partitions, DagsterInstance.ephemeral(), 2, late) == ["2025-03-09",
                                                                                             "2025-03-10"]
    weekly = WeeklyPartitionsDefinition(start_date="2025-01-06", day_offset=1, timezone="Europe/Berlin")  # Mondays
    # 03-03..03-10 overlaps 03-08..03-10; the week of 03-10 has not ended, so it does not exist yet
    assert window_partition_keys(weekly, DagsterInstance.ephemeral(), 3, late) == ["2025-03-03"]
    static = StaticPartitionsDefinition(["a", "b"])  # not time-based: no window
    assert window_partition_keys(static, DagsterInstance.ephemeral(), 1, late) == ["a", "b"]


def test_embedding_model_follows_the_settings(monkeypatch):
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.setenv("TY_LOCAL_EMBED_DIMENSION", "128")
    get_settings.cache_clear()
    assert embedding_model_name(get_settings()) == "local-hash-v1-128d-35"
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:1")
    monkeypatch.setenv("TY_EMBED_MODEL", "nomic-embed-text")
    get_settings.cache_clear()
    assert embedding_model_name(get_settings()) == "ollama:nomic-embed-text"


def test_durations_read_well():
    assert [format_duration(s) for s in (0.0125, 4.25, 125, 3 * 3600 + 5 * 60, 3 * 86400)] == [
        "12 ms", "4.2 s", "2 min", "3 h 05 min", "3.0 days"]
