"""Re-run exactly the partitions of an asset whose latest run failed, or died.

Dagster keeps the status of every partition (materialised, failed, in progress,
missing) in its instance; a partition that raised is FAILED until a later run
materialises it. This asks the instance, then materialises those partitions one
by one, oldest first, each as its own recorded run. (In the UI the same is
*Materialize -> Backfill -> "Failed and missing partitions"*, which also fills
missing ones.)

A run whose process was killed outright (SIGKILL, the OOM killer) stays STARTED and its partitions "in
progress", and the pool slots its steps held stay taken. The runs `tyctl` executes in its own process carry the
process's machine, pid and start time (:func:`process_tags`); :func:`fail_dead_runs` marks those whose process is
gone as failed and frees their slots, so that their partitions count as failed and the next runs do not wait.
`tyctl run` and `tyctl backfill-failed` call it first. (Runs the daemon launches with the default run launcher
are not health-checked by Dagster's run monitoring, which fails only runs that never started; see dagster.yaml.)
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
START_TOLERANCE_S = 1.0  # a process's start time moves when the wall clock is stepped (NTP): not a new process


def _machine() -> str:
    """This boot of this machine and this pid namespace: two containers that share a hostname (host networking)
    do not share pids, and a reboot reuses them."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:  # not Linux: the hostname alone
        return socket.gethostname()
    return f"{socket.gethostname()}/{boot}/{namespace}"


def process_tags() -> dict[str, str]:
    """Tags that name the process executing a run in-process: its machine (:func:`_machine`), pid and start
    time (a pid is reused; with its start time it is not)."""
    return {HOST_TAG: _machine(), PID_TAG: str(os.getpid()), STARTED_TAG: f"{psutil.Process().create_time():.3f}"}


def _alive(pid: int, started: str) -> bool:
    try:
        return abs(psutil.Process(pid).create_time() - float(started)) <= START_TOLERANCE_S
    except psutil.NoSuchProcess:
        return False
    except (psutil.Error, ValueError):
        return True  # another user's process, or no start time recorded: not ours to judge


def fail_dead_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed the runs that a process of this machine executed in-process and that are still STARTING or
    STARTED although that process is gone, and free the pool slots they held (nothing else would: the daemon
    frees a finished run's slots only after minutes, if it runs at all). Their ids. Runs re-executed from the UI
    inherit the tags of the run they re-execute but run elsewhere: they are left alone."""
    records = instance.get_run_records(RunsFilter(
        statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED], tags={HOST_TAG: _machine()}))
    dead = []
    for record in records:
        run = record.dagster_run
        pid, started = run.tags.get(PID_TAG, ""), run.tags.get(STARTED_TAG, "")
        if run.parent_run_id is None and pid.isdigit() and not _alive(int(pid), started):
            instance.report_run_failed(run, message=f"the process that executed it (pid {pid} on "
                                                    f"{socket.gethostname()}) is gone: killed or crashed")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
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
