"""The main job behind `make run`: the project's jobs in order, in this process,
recorded in the Dagster instance, and a summary of what each asset wrote."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from dagster import DagsterEventType, DagsterInstance, Definitions, ExecuteInProcessResult

from ty_assets.loggers import RUN_LOGGER_CONFIG
from ty_assets.progress import RunProgress
from ty_assets.workers import process_tags


@dataclass
class AssetSummary:
    asset: str
    partitions: list[str] = field(default_factory=list)
    rows: int | None = None
    seconds: float = 0.0
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    failed: bool = False


@dataclass
class RunReport:
    assets: dict[str, AssetSummary] = field(default_factory=dict)
    failed_runs: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed_runs and not any(a.checks_failed for a in self.assets.values())

    def _asset(self, name: str) -> AssetSummary:
        return self.assets.setdefault(name, AssetSummary(name))

    def add(self, result: ExecuteInProcessResult, partition_key: str | None) -> None:
        step_seconds = {
            event.step_key: event.step_success_data.duration_ms / 1000
            for event in result.all_events
            if event.event_type == DagsterEventType.STEP_SUCCESS
        }
        for event in result.get_asset_materialization_events():
            materialization = event.materialization
            summary = self._asset(materialization.asset_key.to_user_string())
            if partition_key is not None:
                summary.partitions.append(partition_key)
            row_count = materialization.metadata.get("dagster/row_count")
            rows = None if row_count is None else row_count.value
            if isinstance(rows, (int, float)):  # an int (IntMetadataValue); absent for assets that count none
                summary.rows = (summary.rows or 0) + int(rows)
            summary.seconds += step_seconds.get(event.step_key or "", 0.0)
        for evaluation in result.get_asset_check_evaluations():
            summary = self._asset(evaluation.asset_key.to_user_string())
            if evaluation.passed:
                summary.checks_passed += 1
            else:
                summary.checks_failed.append(evaluation.check_name)
        for event in result.all_events:
            if event.event_type == DagsterEventType.STEP_FAILURE and event.step_key:
                if event.step_key in self.assets:  # an asset's own step (check steps have their own keys)
                    self.assets[event.step_key].failed = True
                self.failed_steps.append(f"{event.step_key}[{partition_key or '-'}]")
        if not result.success:
            self.failed_runs.append(f"{result.job_def.name}[{partition_key or '-'}] run {result.run_id}")

    def render(self) -> str:
        header = ("asset", "partitions", "rows", "seconds", "checks")
        lines = [header]
        for s in self.assets.values():
            checks = f"{s.checks_passed} passed"
            if s.checks_failed:
                checks += f", FAILED: {', '.join(s.checks_failed)}"
            parts = (
                "-"
                if not s.partitions
                else (
                    s.partitions[0]
                    if len(s.partitions) == 1
                    else f"{len(s.partitions)} ({s.partitions[0]}..{s.partitions[-1]})"
                )
            )
            rows = "-" if s.rows is None else f"{s.rows:,}"
            lines.append((s.asset + (" (FAILED)" if s.failed else ""), parts, rows, f"{s.seconds:.1f}", checks))
        widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
        out = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in lines]
        out.insert(1, "  ".join("-" * w for w in widths))
        out.append(
            f"total {self.seconds:.1f} s; "
            + ("all runs succeeded" if not self.failed_runs else "FAILED: " + "; ".join(self.failed_runs))
        )
        return "\n".join(out)


def planned_runs(defs: Definitions, job_names: Iterable[str], partition_keys: list[str]
                 ) -> list[tuple[str, str | None]]:
    """(job, partition key or None) of each run, in order: a partitioned job once per key, oldest first."""
    runs: list[tuple[str, str | None]] = []
    for name in job_names:
        keys: Sequence[str | None] = ([None] if defs.resolve_job_def(name).partitions_def is None
                                      else sorted(partition_keys))
        runs += [(name, key) for key in keys]
    return runs


def run_jobs(
    defs: Definitions,
    instance: DagsterInstance,
    job_names: Iterable[str],
    partition_keys: list[str],
    display: RunProgress | None = None,
) -> RunReport:
    """Execute each job in order; a partitioned job runs once per key, oldest first. ``display``: the progress
    shown meanwhile (started by the caller)."""
    report = RunReport()
    started = time.perf_counter()
    for name, key in planned_runs(defs, job_names, partition_keys):
        job = defs.resolve_job_def(name)
        if display is not None:
            display.start_run(f"{name} {key}" if key else name,
                              sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys))
        run_id = str(uuid.uuid4())
        result = job.execute_in_process(
            run_config=RUN_LOGGER_CONFIG, instance=instance, partition_key=key, raise_on_error=False,
            run_id=run_id, tags=process_tags(run_id),
        )
        if display is not None:
            display.end_run(result.success)
        report.add(result, key)
    report.seconds = time.perf_counter() - started
    return report
