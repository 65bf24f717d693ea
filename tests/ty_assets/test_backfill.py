"""`tyctl backfill-failed`: exactly the failed partitions, checked through the Dagster instance."""

from __future__ import annotations

import logging
import uuid
from datetime import date

import psycopg
from click.testing import CliRunner
from dagster import AssetKey, AssetPartitionStatus

from ty_assets.definitions import defs
from ty_assets.loggers import RUN_LOGGER_CONFIG
from ty_assets.partitions import daily_partitions
from ty_cli.instance import get_instance
from ty_cli.main import main
from ty_resources.settings import get_settings
from ty_resources.snapshot import Snapshot


def _tyctl_instance(monkeypatch, db_url, tmp_path, snapshot_path):
    """The environment of a `tyctl` command on this database and snapshot, and its Dagster instance."""
    for name, value in {"DATABASE_URL": db_url, "TY_DATA_DIR": str(tmp_path / "data"), "TY_SOURCE": "snapshot",
                        "TY_SNAPSHOT_PATH": str(snapshot_path), "TY_LOG_FORMAT": "human",
                        "DAGSTER_HOME": str(tmp_path / "unused"), "TY_DAGSTER_PG_URL": ""}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return get_instance(get_settings(), db_url)


def test_backfill_reruns_only_the_failed_partition(db_url, tmp_path, monkeypatch, make_snapshot):
    snapshot_path = tmp_path / "snap.json"
    days = make_snapshot(snapshot_path, {"A": [0, 1, 2], "B": [0, 2]}, date(2026, 2, 2))
    broken = Snapshot.load(snapshot_path)
    missing_day = broken.days.pop(days[1])  # the source has nothing for the middle day: that run fails
    broken.save(snapshot_path)
    instance = _tyctl_instance(monkeypatch, db_url, tmp_path, snapshot_path)
    job = defs.resolve_implicit_job_def_def_for_assets([AssetKey("postings")])
    outcomes = [job.execute_in_process(run_config=RUN_LOGGER_CONFIG, instance=instance, partition_key=day,
                                       asset_selection=[AssetKey("postings")], raise_on_error=False).success
                for day in days]
    assert outcomes == [True, False, True]

    def status() -> dict:
        return instance.get_status_by_partition(AssetKey("postings"), days, daily_partitions)

    assert status()[days[1]] == AssetPartitionStatus.FAILED

    fixed = Snapshot.load(snapshot_path)
    fixed.days[days[1]] = missing_day
    fixed.save(snapshot_path)
    result = CliRunner().invoke(main, ["backfill-failed", "postings"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"postings: 1 failed partition(s): {days[1]}" in result.output
    assert "materialised" in result.output

    assert set(status().values()) == {AssetPartitionStatus.MATERIALIZED}
    runs_per_day = {day: len(instance.get_run_records(filters=_partition_filter(day))) for day in days}
    assert runs_per_day == {days[0]: 1, days[1]: 2, days[2]: 1}  # only the failed day ran again
    again = CliRunner().invoke(main, ["backfill-failed", "postings"], catch_exceptions=False)
    assert "postings: 0 failed partition(s)" in again.output
    instance.dispose()


def _partition_filter(day: str):
    from dagster import RunsFilter

    return RunsFilter(tags={"dagster/partition": day})


def test_unknown_or_unpartitioned_asset_is_a_usage_error(db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("TY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused"))
    monkeypatch.setenv("TY_DAGSTER_PG_URL", "")
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["backfill-failed", "nope"])
    assert result.exit_code == 2 and "no asset 'nope'" in result.output
    result = CliRunner().invoke(main, ["backfill-failed", "berufenet_catalogue"])
    assert result.exit_code == 2 and "not partitioned" in result.output


KILLED_RUN = """
import sys, threading
import ty_assets.postings.assets as postings_assets

def hang(*args, **kwargs):  # inside the asset: says so, then waits until it is killed
    print("INSIDE THE ASSET", flush=True)
    threading.Event().wait()

postings_assets.ingest_pages = hang
from dagster import AssetKey
from ty_assets.definitions import defs
from ty_assets.loggers import RUN_LOGGER_CONFIG
from ty_assets.workers import process_tags
from ty_cli.instance import get_instance
from ty_resources.settings import get_settings
job = defs.resolve_implicit_job_def_def_for_assets([AssetKey("postings")])
job.execute_in_process(run_config=RUN_LOGGER_CONFIG, instance=get_instance(get_settings(), sys.argv[1]),
                       partition_key=sys.argv[2], asset_selection=[AssetKey("postings")], run_id=sys.argv[3],
                       tags=process_tags(sys.argv[3]))  # as tyctl creates its runs
"""


def test_a_run_killed_outright_is_marked_failed_and_backfilled(db_url, tmp_path, monkeypatch, make_snapshot):
    """SIGKILL leaves the run STARTED and its partition in progress for good; backfill-failed sees that the
    process is gone, marks the run failed and materialises the partition."""
    import signal
    import subprocess
    import sys

    from dagster import DagsterRunStatus, RunsFilter

    snapshot_path = tmp_path / "snap.json"
    (day,) = make_snapshot(snapshot_path, {"A": [0]}, date(2026, 2, 2))
    instance = _tyctl_instance(monkeypatch, db_url, tmp_path, snapshot_path)
    worker = subprocess.Popen([sys.executable, "-c", KILLED_RUN, db_url, day, str(uuid.uuid4())],
                              stdout=subprocess.PIPE, text=True)
    try:  # its first line of output says the run is inside the asset (EOF: it died before; pytest-timeout bounds it)
        assert any("INSIDE THE ASSET" in line for line in worker.stdout), "the run never reached the asset"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker.stdout.close()
    (record,) = instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTED]))
    status = instance.get_status_by_partition(AssetKey("postings"), [day], daily_partitions)
    assert status[day] == AssetPartitionStatus.IN_PROGRESS

    result = CliRunner().invoke(main, ["backfill-failed", "postings"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"run {record.dagster_run.run_id}: its process is gone; marked failed" in result.output
    assert not instance.event_log_storage.get_concurrency_info("ba").claimed_slots  # freed, or it would wait
    assert f"postings: 1 failed partition(s): {day}" in result.output and "materialised" in result.output
    assert instance.get_run_by_id(record.dagster_run.run_id).status == DagsterRunStatus.FAILURE
    status = instance.get_status_by_partition(AssetKey("postings"), [day], daily_partitions)
    assert status[day] == AssetPartitionStatus.MATERIALIZED
    instance.dispose()


KILLED_LABELS = """
import sys, threading
import ty_assets.labels.assets as labels_assets
from ty_resources.classifier import Classifier

labels_assets.LABEL_CHUNK = 20  # small chunks: several are committed before the kill
real, calls = Classifier.classify, []

def classify(self, titles, excerpts):  # records what it classified; the third chunk never returns
    calls.append(1)
    if len(calls) == 3:
        print("INSIDE THE ASSET", flush=True)
        threading.Event().wait()
    labels = real(self, titles, excerpts)
    with open(sys.argv[3], "a", encoding="utf-8") as out:
        out.writelines(f"{label.title_key}\\t{label.status}\\n" for label in labels)
    return labels

Classifier.classify = classify
from dagster import AssetKey
from ty_assets.definitions import defs
from ty_assets.loggers import RUN_LOGGER_CONFIG
from ty_cli.instance import get_instance
from ty_resources.settings import get_settings
# no tags at creation (as a run the daemon launches): the run's resources name its process
job = defs.resolve_implicit_job_def_def_for_assets([AssetKey("berufenet_labels")])
job.execute_in_process(run_config=RUN_LOGGER_CONFIG, instance=get_instance(get_settings(), sys.argv[1]),
                       partition_key=sys.argv[2], asset_selection=[AssetKey("berufenet_labels")])
"""


def test_labels_killed_midway_keep_their_chunks_and_the_backfill_classifies_only_the_rest(
        db_url, tmp_path, monkeypatch, small_snapshot):
    """SIGKILL in the middle of berufenet_labels: run monitoring marks the run failed, the chunks committed
    before stay, and backfill-failed labels the rest without classifying a settled title again."""
    import signal
    import subprocess
    import sys

    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter, materialize
    from dagster._daemon.monitoring.run_monitoring import monitor_started_run

    from ty_assets.catalogue import berufenet_catalogue
    from ty_assets.launcher import MonitoredRunLauncher
    from ty_assets.postings import posting_descriptions, postings
    from ty_assets.resources import DatabaseResource, PostingSourceResource
    from ty_resources.classifier import Classifier

    snapshot_path = tmp_path / "snap.json.gz"
    small_snapshot.save(snapshot_path)
    day = small_snapshot.day_keys[0]
    instance = _tyctl_instance(monkeypatch, db_url, tmp_path, snapshot_path)
    upstream = {"database": DatabaseResource(database_url=db_url),
                "source": PostingSourceResource(source="snapshot", snapshot_path=str(snapshot_path))}
    assert materialize([berufenet_catalogue], resources=upstream, instance=DagsterInstance.ephemeral()).success
    assert materialize([postings, posting_descriptions], partition_key=day, resources=upstream,
                       instance=DagsterInstance.ephemeral()).success
    with psycopg.connect(db_url) as conn:
        day_keys = conn.execute("SELECT count(DISTINCT title_normalized) FROM postings WHERE last_seen = %s",
                                (day,)).fetchone()[0]
    assert day_keys > 60  # more than the two chunks the killed run commits

    classified = tmp_path / "classified.tsv"
    worker = subprocess.Popen([sys.executable, "-c", KILLED_LABELS, db_url, day, str(classified)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert any("INSIDE THE ASSET" in line for line in worker.stdout), "the run never reached the third chunk"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker.stdout.close()
    before_kill = [line.split("\t") for line in classified.read_text(encoding="utf-8").splitlines()]
    with psycopg.connect(db_url) as conn:
        stored = dict(conn.execute("SELECT title_key, status FROM title_labels").fetchall())
    assert len(before_kill) == 40 and stored == dict(before_kill)  # two chunks committed, nothing else
    (killed,) = instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTED]))
    assert isinstance(instance.run_launcher, MonitoredRunLauncher)
    # One pass of the daemon's run monitoring (dagster.yaml: no resume): it asks the launcher, which finds the
    # process the run's resources named gone.
    monitor_started_run(instance, None, killed, logging.getLogger("test"))
    failed = instance.get_run_by_id(killed.dagster_run.run_id)
    assert failed.status == DagsterRunStatus.FAILURE
    # Its pool slot stays claimed (the daemon frees it minutes later): backfill-failed frees it, or would wait.
    assert instance.event_log_storage.get_concurrency_info("ollama").claimed_slots

    again: list[str] = []
    real = Classifier.classify

    def counting(self, titles, excerpts):
        again.extend(titles)
        return real(self, titles, excerpts)

    monkeypatch.setattr(Classifier, "classify", counting)
    result = CliRunner().invoke(main, ["backfill-failed", "berufenet_labels"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "its process is gone" not in result.output  # run monitoring did it already
    assert not instance.event_log_storage.get_concurrency_info("ollama").claimed_slots
    assert f"berufenet_labels: 1 failed partition(s): {day}" in result.output
    settled = {key for key, status in before_kill if status not in ("pending_llm", "error")}
    assert settled and not settled & set(again)  # no settled title classified twice
    assert len(again) == len(set(again))
    with psycopg.connect(db_url) as conn:
        labelled = conn.execute("SELECT count(*) FROM title_labels").fetchone()[0]
    assert labelled == day_keys
    status = instance.get_status_by_partition(AssetKey("berufenet_labels"), [day], daily_partitions)
    assert status[day] == AssetPartitionStatus.MATERIALIZED
    instance.dispose()
