"""Which process executes a run, and whether it is gone: the tags every run carries and the launcher's health
check that run monitoring asks."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
from dagster import DagsterInstance, DagsterRun, asset, materialize
from dagster._core.launcher import WorkerStatus

from ty_assets.launcher import MonitoredRunLauncher
from ty_assets.resources import DatabaseResource
from ty_assets.workers import HOST_TAG, PID_TAG, RUN_TAG, STARTED_TAG, _start, process_tags, worker_status


def _gone_process_tags(run_id: str, *, reap: bool = True) -> dict[str, str]:
    child = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
    started = _start(child.pid)
    child.kill()
    if reap:
        child.wait()
    else:  # killed, not yet reaped (WNOWAIT: wait until it has exited, leave it a zombie)
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
    return {**process_tags(run_id), PID_TAG: str(child.pid), STARTED_TAG: started}


def test_worker_status_alive_dead_or_not_ours_to_judge():
    assert worker_status("r1", process_tags("r1")) == "alive"
    assert worker_status("r1", _gone_process_tags("r1")) == "dead"
    assert worker_status("r2", process_tags("r1")) == "unknown"  # a re-execution still carrying its parent's tags
    assert worker_status("r1", {**process_tags("r1"), HOST_TAG: "elsewhere/boot/1"}) == "unknown"
    assert worker_status("r1", {}) == "unknown"
    # a pid reused by another process: its start differs
    assert worker_status("r1", {**process_tags("r1"), STARTED_TAG: "ticks:1"}) == "dead"
    assert worker_status("r1", _gone_process_tags("r1", reap=False)) == "dead"  # a zombie is gone
    # the start is counted in ticks since boot: a step of the wall clock does not make a live process look new
    assert process_tags("r1")[STARTED_TAG].startswith("ticks:")


def test_the_launcher_reports_a_gone_process_as_failed_and_everything_else_as_running():
    launcher = MonitoredRunLauncher()
    assert launcher.supports_check_run_worker_health

    def health(tags: dict[str, str]) -> WorkerStatus:
        return launcher.check_run_worker_health(DagsterRun(job_name="daily_job", run_id="r1", tags=tags)).status

    assert health(_gone_process_tags("r1")) == WorkerStatus.FAILED
    assert health(process_tags("r1")) == WorkerStatus.RUNNING
    assert health({}) == WorkerStatus.RUNNING  # not named yet: a wrong "failed" would cut a working run short


@asset
def touches_the_database(database: DatabaseResource) -> None:
    with database.connection() as conn:
        conn.execute("SELECT 1")


def test_a_runs_process_names_itself_in_its_tags_when_its_resources_start(db_url):
    with DagsterInstance.ephemeral() as instance:
        result = materialize([touches_the_database], resources={"database": DatabaseResource(database_url=db_url)},
                             instance=instance)
        tags = instance.get_run_by_id(result.run_id).tags
    assert tags[RUN_TAG] == result.run_id and tags[PID_TAG] == str(os.getpid())
    assert worker_status(result.run_id, tags) == "alive"
