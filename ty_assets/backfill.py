"""Re-run exactly the partitions of an asset whose latest run failed, or died.

Dagster keeps the status of every partition (materialised, failed, in progress,
missing) in its instance; a partition that raised is FAILED until a later run
materialises it. This asks the instance, then materialises those partitions one
by one, oldest first, each as its own recorded run. (In the UI the same is
*Materialize -> Backfill -> "Failed and missing partitions"*, which also fills
missing ones.)

A run whose process was killed outright (SIGKILL, the OOM killer) stays STARTED and its partitions "in
progress", and the pool slots its steps held stay taken. Every run names the process executing it in its tags
(:mod:`ty_assets.workers`). While the daemon runs (`make dev`), its run monitoring fails such a run within a
minute (:class:`ty_assets.launcher.MonitoredRunLauncher`); without it, :func:`fail_dead_runs` does, and frees
the run's slots, so that its partitions count as failed and the next runs do not wait: `tyctl run` and
`tyctl backfill-failed` call it first.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from dagster import (
    AssetKey,
    AssetPartitionStatus,
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    RunsFilter,
)

from ty_assets.loggers import RUN_LOGGER_CONFIG
from ty_assets.workers import HOST_TAG, PID_TAG, machine, process_tags, worker_status


def fail_dead_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed the runs of this machine that are still STARTING or STARTED although the process executing
    them is gone (:func:`~ty_assets.workers.worker_status`), and free the pool slots of every run that has ended
    (these, and those run monitoring failed: the daemon frees their slots only after minutes, nothing does while
    it is not running). The ids of the runs marked failed."""
    records = instance.get_run_records(RunsFilter(
        statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED], tags={HOST_TAG: machine()}))
    dead = []
    for record in records:
        run = record.dagster_run
        if worker_status(run.run_id, run.tags) == "dead":
            instance.report_run_failed(run, message=f"the process that executed it (pid {run.tags[PID_TAG]} on "
                                                    f"{socket.gethostname()}) is gone: killed or crashed")
            dead.append(run.run_id)
    free_slots_of_ended_runs(instance)
    return dead


def free_slots_of_ended_runs(instance: DagsterInstance) -> list[str]:
    """Free the pool slots still claimed by runs that have ended; their ids."""
    storage = instance.event_log_storage
    holders = {slot.run_id for pool in storage.get_concurrency_keys()
               for slot in storage.get_concurrency_info(pool).claimed_slots}
    ended = []
    for run_id in sorted(holders):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)
            ended.append(run_id)
    return ended


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
        run_id = str(uuid.uuid4())
        result = job.execute_in_process(
            run_config=RUN_LOGGER_CONFIG, instance=instance, partition_key=partition_key,
            asset_selection=[key], raise_on_error=False, run_id=run_id, tags=process_tags(run_id),
        )
        error = None
        if not result.success:
            failures = [e for e in result.all_events if e.is_step_failure]
            info = failures[0].step_failure_data.error if failures else None
            error = info.message.strip() if info is not None else "run failed"
        yield BackfillOutcome(partition_key, result.run_id, result.success, error)
