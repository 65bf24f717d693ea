"""The run launcher of `make dev`'s daemon: Dagster's default one (each run a process on this machine), plus the
health check that lets Dagster's run monitoring (``run_monitoring`` in dagster.yaml) fail a run whose process was
killed outright. The default launcher offers none, so such a run stayed STARTED and its partitions "in progress"
for good.

The check reads the process a run's tags name (:mod:`ty_assets.workers`). A run it cannot judge (its process has
not named itself yet, or runs on another machine) counts as running: run monitoring fails every run whose check
says anything else, and a wrong "failed" would cut a working run short.
"""

from __future__ import annotations

from dagster import DagsterRun, DefaultRunLauncher

# The health check's result types are exported only by the launcher package, the extension point Dagster
# documents for run launchers (`dagster` itself exports DefaultRunLauncher but not these).
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

from ty_assets.workers import PID_TAG, worker_status


class MonitoredRunLauncher(DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        status = worker_status(run.run_id, run.tags)
        if status == "dead":
            return CheckRunHealthResult(WorkerStatus.FAILED,
                                        f"the process that executed it (pid {run.tags[PID_TAG]}) is gone")
        return CheckRunHealthResult(WorkerStatus.RUNNING, "" if status == "alive" else "not ours to judge")
