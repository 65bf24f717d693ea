"""Re-run exactly the partitions of an asset whose latest run failed, or died.

Dagster keeps the status of every partition (materialised, failed, in progress,
missing) in its instance; a partition that raised is FAILED until a later run
materialises it. This asks the instance, then materialises those partitions one
by one, oldest first, each as its own recorded run. (In the UI the same is
*Materialize -> Backfill -> "Failed and missing partitions"*, which also fills
missing ones.)

A run whose process was killed outright (SIGKILL, the OOM killer) stays STARTED and its partitions "in
progress". Runs launched by the daemon are failed by Dagster's run monitoring (dagster.yaml); the runs `tyctl`
executes in its own process carry the process's host, pid and start time (:func:`process_tags`), and
:func:`fail_dead_runs` marks those whose process is gone as failed, so that their partitions count as failed.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
from dagster import (
    AssetKey,
    AssetPartitionStatus,
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    RunsFilter,
)

from ty_assets.loggers import RUN_LOGGER_CONFIG

HOST_TAG, PID_TAG, STARTED_TAG = "ty/host", "ty/pid", "ty/process_started"


def process_tags() -> dict[str, str]:
    """Tags that name the process executing a run in-process: this host, pid and the process's start time (a pid
    is reused; the pair is not)."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()),
            STARTED_TAG: f"{psutil.Process().create_time():.3f}"}


def _alive(pid: int, started: str) -> bool:
    try:
        return f"{psutil.Process(pid).create_time():.3f}" == started
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # another user's process, say: not ours to judge


def fail_dead_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed the runs executed by a process of this host that is gone while they are still STARTED; their
    ids."""
    records = instance.get_run_records(RunsFilter(
        statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED], tags={HOST_TAG: socket.gethostname()}))
    dead = []
    for record in records:
        run = record.dagster_run
        pid, started = run.tags.get(PID_TAG, ""), run.tags.get(STARTED_TAG, "")
        if pid.isdigit() and not _alive(int(pid), started):
            instance.report_run_failed(run, message=f"the process that executed it (pid {pid} on "
                                                    f"{run.tags[HOST_TAG]}) is gone: killed or crashed")
            dead.append(run.run_id)
    return dead


@dataclass(frozen=True)
class BackfillOutcome:
    partition_key: str
    run_id: str
    success: bool
    error: str | None


def failed_partitions(defs: Definitions, instance: DagsterInstance, asset: str) -> list[str]:
    key = AssetKey.from_user_string(asset)
    graph = defs.resolve_asset_graph()
    if key not in graph.get_all_asset_keys():
        known = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
        raise ValueError(f"no asset {asset!r}; the assets are: {', '.join(known)}")
    partitions_def = graph.get(key).partitions_def
    if partitions_def is None:
        raise ValueError(f"{asset} is not partitioned: materialise it again instead")
    keys = partitions_def.get_partition_keys(dynamic_partitions_store=instance)
    statuses = instance.get_status_by_partition(key, keys, partitions_def) or {}
    return [k for k in keys if statuses.get(k) == AssetPartitionStatus.FAILED]


def materialize_partitions(
    defs: Definitions, instance: DagsterInstance, asset: str, partition_keys: list[str]
) -> Iterator[BackfillOutcome]:
    """One run per partition key, in the order given; each outcome as it finishes."""
    key = AssetKey.from_user_string(asset)
    job = defs.resolve_implicit_job_def_def_for_assets([key])
    if job is None:
        raise ValueError(f"no job materialises {asset!r}")
    for partition_key in partition_keys:
        result = job.execute_in_process(
            run_config=RUN_LOGGER_CONFIG, instance=instance, partition_key=partition_key,
            asset_selection=[key], raise_on_error=False, tags=process_tags(),
        )
        error = None
        if not result.success:
            failures = [e for e in result.all_events if e.is_step_failure]
            info = failures[0].step_failure_data.error if failures else None
            error = info.message.strip() if info is not None else "run failed"
        yield BackfillOutcome(partition_key, result.run_id, result.success, error)
