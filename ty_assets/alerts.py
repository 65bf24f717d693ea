"""Alerts on failures: a failed run, and a failed asset check, each become one short message.

Both sensors send through the ``notifier`` resource (:class:`~ty_resources.notify.NotifierResource`)
and start RUNNING: with the default ``TY_ALERT_KIND=off`` they only log (logger
``ty.alerts``), so turning alerts on is one setting, not a click in the UI too.

``run_failure_alert`` (a ``@run_failure_sensor`` over every code location, so
that runs without a code-location origin, such as ``tyctl run``'s in-process runs,
count too) names the job, the partition, the asset(s) of the failed steps and
the first line of each step's error.

``asset_check_failure_alert`` reads ``ASSET_CHECK_EVALUATION`` events from the
instance's event log after a cursor (the event's storage id); open-source
Dagster 1.13 has no sensor for check results, and a failed check does not fail
its run (dagster-io/dagster#29896), so the run-failure sensor never sees it.
Every evaluation with ``passed=False`` is alerted, of ERROR and of WARN
severity (the message says which). All failures a tick finds go out as one
message, and the cursor moves only after it was delivered: a failed delivery
fails the tick and the next tick sends the same failures again (plus new ones),
with no duplicates. Events younger than ``settle_s`` wait for the next tick: a
concurrent writer may commit a lower storage id after a higher one was read.

Delivery failures raise (the tick turns failed in the UI, the ERROR log line
carries the alert). For the run-failure sensor Dagster itself moves the cursor
past the run even when the tick fails (``_daemon/sensor.py``: run-status
sensors have side effects that must not repeat), so a run alert that could not
be delivered through the notifier's retries is reported, not re-sent.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetKey,
    DagsterEventType,
    DefaultSensorStatus,
    EventLogEntry,
    EventRecordsFilter,
    RunFailureSensorContext,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from ty_assets.resources import NotifierResource
from ty_resources.notify import MAX_MESSAGE_CHARS, clip

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
MAX_STEPS_IN_MESSAGE = 3
ERROR_LINE_CHARS = 300
CHECK_LINE_CHARS = 300


def partition_of(tags: Mapping[str, str]) -> str | None:
    """The run's partition, or its range as ``start...end``."""
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start}...{end}"
    return None


_MODULE_PREFIX = re.compile(r"^(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*(?::|$))")  # dagster._core.errors.X: -> X:


class ErrorInfo(Protocol):
    """What Dagster records of an error (its ``SerializableErrorInfo``, not exported publicly)."""

    message: str
    cls_name: str | None
    cause: ErrorInfo | None


def error_line(error: ErrorInfo | None) -> str | None:
    """First line of the error that says what went wrong: Dagster's wrappers are unwrapped to their cause."""
    while error is not None and error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    if error is None:
        return None
    lines = [line.strip() for line in (error.message or "").splitlines() if line.strip()]
    text = lines[0] if lines else error.cls_name or "unknown error"
    return clip(_MODULE_PREFIX.sub(r"\1", text), ERROR_LINE_CHARS)


def _key_label(key: AssetKey | AssetCheckKey) -> str:
    if isinstance(key, AssetCheckKey):
        return f"{key.asset_key.to_user_string()}:{key.name}"
    return key.to_user_string()


# --------------------------------------------------------------- run failures


def describe_run_failure(context: RunFailureSensorContext) -> tuple[str, dict[str, Any]]:
    """The alert text and its context for one failed run."""
    run = context.dagster_run
    steps = {
        e.step_key: error_line(getattr(e.event_specific_data, "error", None))
        for e in context.get_step_failure_events()
        if e.step_key
    }

    keys_by_step: dict[str, list[AssetKey | AssetCheckKey]] = {}
    snapshot = (
        context.instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        if run.execution_plan_snapshot_id else None
    )
    if snapshot is not None:
        for step in snapshot.steps:
            keys_by_step[step.key] = sorted(step.entity_keys or (), key=_key_label)
    if steps:  # what failed: the failed steps' assets and checks
        keys = [key for step in steps for key in keys_by_step.get(step, [])]
    elif run.asset_selection:  # the run failed outside a step: what it was to materialise
        keys = sorted(run.asset_selection, key=_key_label)
    else:
        keys = [k for ks in keys_by_step.values() for k in ks if isinstance(k, AssetKey)]
    assets = list(dict.fromkeys(_key_label(k) for k in keys))

    partition = partition_of(run.tags)
    head = f"Dagster run failed: job {run.job_name}"
    if partition:
        head += f", partition {partition}"
    if assets:
        shown = ", ".join(assets[:5]) + (f" and {len(assets) - 5} more" if len(assets) > 5 else "")
        head += f", asset{'s' if len(assets) > 1 else ''} {shown}"
    head += f" (run {run.run_id[:8]})"

    lines = [head]
    errors = [{"step": step, "error": error} for step, error in steps.items()]
    for item in errors[:MAX_STEPS_IN_MESSAGE]:
        lines.append(f"{item['step']}: {item['error'] or 'failed'}")
    if len(errors) > MAX_STEPS_IN_MESSAGE:
        lines.append(f"… and {len(errors) - MAX_STEPS_IN_MESSAGE} more failed steps")
    if not errors:  # failed before or outside the steps (launch, resources, a killed worker)
        failure = context.failure_event
        reason = run.tags.get("dagster/failure_reason")
        text = error_line(getattr(failure.event_specific_data, "error", None)) or (failure.message or "").strip()
        text = text.splitlines()[0] if text else "no error recorded"
        lines.append(f"{reason}: {text}" if reason else text)
        errors.append({"step": None, "error": clip(text, ERROR_LINE_CHARS)})
    context_fields = {
        "event": "run_failure", "job": run.job_name, "run_id": run.run_id, "partition": partition,
        "assets": assets, "errors": errors,
    }
    return clip("\n".join(lines), MAX_MESSAGE_CHARS), context_fields


@run_failure_sensor(
    name="run_failure_alert",
    monitor_all_code_locations=True,
    default_status=DefaultSensorStatus.RUNNING,
    description="One alert per failed run (job, partition, failed assets, error) through the notifier.",
)
def run_failure_alert(context: RunFailureSensorContext, notifier: NotifierResource) -> None:
    text, fields = describe_run_failure(context)
    sent = notifier.send(text, **fields)
    context.log.info(f"{'alert sent' if sent else 'alert logged only (TY_ALERT_KIND=off)'}: {text.splitlines()[0]}")


# ----------------------------------------------------------- failed checks


@dataclass(frozen=True)
class CheckFailure:
    asset: str
    check: str
    severity: str
    blocking: bool
    partition: str | None
    run_id: str
    description: str | None
    metadata: dict[str, str]

    def line(self) -> str:
        label = f"[{self.severity}{', blocking' if self.blocking else ''}] {self.asset}:{self.check}"
        if self.partition:
            label += f", partition {self.partition}"
        details = [part for part in (self.description, _metadata_summary(self.metadata)) if part]
        return clip(label + (": " + " — ".join(details) if details else ""), CHECK_LINE_CHARS)


def _metadata_summary(metadata: Mapping[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in metadata.items())


def _metadata_text(value: Any) -> str:
    raw = getattr(value, "value", value)
    if isinstance(raw, float):
        return f"{raw:.4g}"
    return clip(str(raw), 60)


def _check_description(context: SensorEvaluationContext, key: AssetCheckKey) -> str | None:
    repository = context.repository_def
    if repository is None:
        return None
    graph = repository.asset_graph
    return graph.get(key).description if graph.has(key) else None


def describe_check_failures(failures: Sequence[CheckFailure]) -> tuple[str, dict[str, Any]]:
    """One alert for the failed checks of a tick: one line each, as many as fit in 1,000 characters."""
    if len(failures) == 1:
        only = failures[0]
        head = f"Asset check failed (run {only.run_id[:8]}):"
    else:
        head = f"{len(failures)} asset checks failed:"
    lines = [head]
    used = len(head)
    for shown, failure in enumerate(failures):
        line = f"- {failure.line()}"
        rest = len(failures) - shown
        tail = f"… and {rest} more (Dagster UI: the assets' Checks tab)"
        if used + 1 + len(line) + (1 + len(tail) if rest > 1 else 0) > MAX_MESSAGE_CHARS:
            lines.append(tail)
            break
        lines.append(line)
        used += 1 + len(line)
    fields = {"event": "asset_check_failed", "failures": [asdict(f) for f in failures]}
    return "\n".join(lines), fields


def _evaluation(entry: EventLogEntry) -> AssetCheckEvaluation | None:
    return entry.dagster_event.asset_check_evaluation_data if entry.dagster_event else None


def _failure_from(entry: EventLogEntry, run_tags: Mapping[str, str], description: str | None) -> CheckFailure:
    evaluation = _evaluation(entry)
    assert evaluation is not None
    return CheckFailure(
        asset=evaluation.asset_key.to_user_string(),
        check=evaluation.check_name,
        severity=evaluation.severity.value,
        blocking=bool(evaluation.blocking),
        partition=evaluation.partition or partition_of(run_tags),
        run_id=entry.run_id,
        description=evaluation.description or description,
        metadata={key: _metadata_text(value) for key, value in evaluation.metadata.items()},
    )


def build_check_failure_sensor(
    name: str = "asset_check_failure_alert",
    *,
    settle_s: float = 5.0,
    batch_size: int = 200,
    minimum_interval_seconds: int = 30,
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
) -> SensorDefinition:
    """A sensor alerting on every failed asset check evaluation (ERROR and WARN) after its cursor.

    The first tick starts after the newest evaluation (no alerts about the past).
    ``settle_s``: how old an event must be before the cursor passes it.
    """

    @sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description="One alert per tick for the asset checks that failed (ERROR or WARN) since the last tick.",
    )
    def _check_failure_sensor(context: SensorEvaluationContext, notifier: NotifierResource) -> SkipReason:
        storage = context.instance.event_log_storage
        if storage.is_run_sharded:
            raise RuntimeError(
                f"{name} reads check evaluations by global storage id, which a run-sharded event log "
                "(Dagster's default SQLite storage) does not have: use the PostgreSQL storage of dagster.yaml"
            )
        evaluations = DagsterEventType.ASSET_CHECK_EVALUATION
        if context.cursor is None:
            newest = storage.get_event_records(EventRecordsFilter(event_type=evaluations), limit=1, ascending=False)
            start = newest[0].storage_id if newest else 0
            context.update_cursor(str(start))
            return SkipReason(f"started after event {start}: check failures from now on are alerted")

        after = int(context.cursor)
        records = storage.get_event_records(
            EventRecordsFilter(event_type=evaluations, after_cursor=after), limit=batch_size, ascending=True
        )
        horizon = time.time() - settle_s
        settled = []
        for record in records:
            if record.timestamp > horizon:
                break  # this one and all after it wait for the next tick
            settled.append(record)
        if not settled:
            return SkipReason(f"no settled check evaluation after event {after}")

        failing = [
            (r.event_log_entry, evaluation) for r in settled
            if (evaluation := _evaluation(r.event_log_entry)) is not None and not evaluation.passed
        ]
        run_ids = sorted({e.run_id for e, _ in failing})
        runs = context.instance.get_runs(RunsFilter(run_ids=run_ids)) if run_ids else []
        tags = {run.run_id: run.tags for run in runs}
        failures = [
            _failure_from(e, tags.get(e.run_id, {}), _check_description(context, evaluation.asset_check_key))
            for e, evaluation in failing
        ]
        if failures:
            text, fields = describe_check_failures(failures)
            sent = notifier.send(text, **fields)  # raises: the tick fails, the cursor stays, the next tick retries
            context.log.info(f"{'alert sent' if sent else 'alert logged only (TY_ALERT_KIND=off)'}: {text}")
        context.update_cursor(str(settled[-1].storage_id))
        if failures:
            return SkipReason(f"alerted {len(failures)} failed check(s) of {len(settled)} evaluation(s)")
        return SkipReason(f"{len(settled)} check evaluation(s), none failed")

    return _check_failure_sensor


asset_check_failure_alert = build_check_failure_sensor()

alert_sensors = [run_failure_alert, asset_check_failure_alert]
