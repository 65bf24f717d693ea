"""Re-run exactly the partitions of an asset whose latest run failed.

Dagster keeps the status of every partition (materialised, failed, in progress,
missing) in its instance; a partition that raised is FAILED until a later run
materialises it. This asks the instance, then materialises those partitions one
by one, oldest first, each as its own recorded run. (In the UI the same is
*Materialize -> Backfill -> "Failed and missing partitions"*, which also fills
missing ones.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from dagster import AssetKey, AssetPartitionStatus, DagsterInstance, Definitions

from ty_assets.loggers import RUN_LOGGER_CONFIG


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
            asset_selection=[key], raise_on_error=False,
        )
        error = None
        if not result.success:
            failures = [e for e in result.all_events if e.is_step_failure]
            info = failures[0].step_failure_data.error if failures else None
            error = info.message.strip() if info is not None else "run failed"
        yield BackfillOutcome(partition_key, result.run_id, result.success, error)
