"""`tyctl run`'s progress display: a line per run with its assets, fed by the run logger's step events, and the
run's log lines printed above it; none off a terminal or with JSON logs."""


import io

from dagster import (
    AssetExecutionContext,
    DagsterInstance,
    DailyPartitionsDefinition,
    Definitions,
    asset,
    define_asset_job,
)
from rich.console import Console

from ty_assets.loggers import ty_console_logger
from ty_assets.progress import RunProgress, active, wanted
from ty_assets.runner import planned_runs, run_jobs

days = DailyPartitionsDefinition(start_date="2026-11-01")


@asset(partitions_def=days)
def first(context: AssetExecutionContext) -> None:
    context.log.info(f"first of {context.partition_key}")


@asset(partitions_def=days, deps=[first])
def second(context: AssetExecutionContext) -> None:
    if context.partition_key == "2026-11-03":
        raise RuntimeError("the third day fails")


@asset
def summary() -> None:
    pass


defs = Definitions(
    assets=[first, second, summary],
    jobs=[define_asset_job("days", selection=[first, second]), define_asset_job("once", selection=[summary])],
    loggers={"console": ty_console_logger},
)
KEYS = ["2026-11-03", "2026-11-01", "2026-11-02"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_display_follows_every_run_and_asset_and_prints_the_logs_above():
    out = io.StringIO()
    runs = planned_runs(defs, ["days", "once"], KEYS)
    assert runs == [("days", "2026-11-01"), ("days", "2026-11-02"), ("days", "2026-11-03"), ("once", None)]
    display = RunProgress(len(runs), Console(file=out, force_terminal=True, width=160))
    with DagsterInstance.ephemeral() as instance, display.showing():
        assert active() is display
        report = run_jobs(defs, instance, ["days", "once"], KEYS, display)
    assert active() is None
    tasks = {task.description: task for task in display.progress.tasks}
    assert tasks["all runs"].completed == 4
    assert [(tasks[f"days {k}"].completed, tasks[f"days {k}"].fields["doing"]) for k in sorted(KEYS)] == [
        (2, "done"), (2, "done"), (1, "FAILED: second")]
    assert (tasks["once"].completed, tasks["once"].total) == (1, 1)
    assert report.failed_runs and "days[2026-11-03]" in report.failed_runs[0]
    text = out.getvalue()
    assert "first of 2026-11-02" in text  # an asset's log line, printed through the display
    assert "STEP_START" not in text  # DEBUG events drive the display but are not printed at INFO


def test_a_display_only_for_human_lines_on_a_terminal():
    assert wanted("human", Terminal()) and wanted("auto", Terminal())
    assert not wanted("json", Terminal())
    assert not wanted("human", io.StringIO()) and not wanted("auto", io.StringIO())
