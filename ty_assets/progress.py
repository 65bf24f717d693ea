"""What `tyctl run` shows on a terminal while it works: a line per run (job and partition) with its assets done
and the one in progress, and a line for the whole sequence; the run's log lines print above them.

The run logger (:mod:`ty_assets.loggers`) feeds the display Dagster's step events (start, success, failure,
retry) as they happen, and writes its lines through the display's console so the two do not tear each other.
Off a terminal, or with ``TY_LOG_FORMAT=json``, there is no display: log lines only (:func:`wanted`).
Rich is Dagster's own dependency.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from ty_resources.logs import resolve_log_format

_ACTIVE: list[RunProgress] = []


def wanted(log_format: str, stream: TextIO | None = None) -> bool:
    """A display only for a person: human lines, on a terminal."""
    stream = stream or sys.stderr
    return resolve_log_format(log_format, stream) == "human" and stream.isatty()


def active() -> RunProgress | None:
    """The display `tyctl run` shows now, if any."""
    return _ACTIVE[-1] if _ACTIVE else None


class RunProgress:
    def __init__(self, total_runs: int, console: Console | None = None):
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[doing]}"), TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )
        self.overall = self.progress.add_task("all runs", total=total_runs, doing="")
        self._run: TaskID | None = None
        self._assets: set[str] = set()
        self._running: list[str] = []
        self._failed: list[str] = []

    @contextmanager
    def showing(self) -> Iterator[RunProgress]:
        self.progress.start()
        _ACTIVE.append(self)
        try:
            yield self
        finally:
            _ACTIVE.remove(self)
            self.progress.stop()

    def start_run(self, label: str, assets: Sequence[str]) -> None:
        self._assets, self._running, self._failed = set(assets), [], []
        self._run = self.progress.add_task(label, total=len(assets), doing="starting")

    def end_run(self, success: bool) -> None:
        if self._run is not None:
            failed = f"FAILED: {', '.join(self._failed)}" if self._failed else "FAILED"
            self.progress.update(self._run, doing="done" if success else failed)
            self.progress.stop_task(self._run)
        self.progress.advance(self.overall)
        self._run = None

    def step_event(self, event_type: str, step_key: str | None) -> None:
        """A Dagster event of the current run's step ``step_key`` (only the assets' own steps count)."""
        if self._run is None or step_key not in self._assets:
            return
        if event_type in ("STEP_START", "STEP_RESTARTED") and step_key not in self._running:
            self._running.append(step_key)
        elif event_type in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_UP_FOR_RETRY") and step_key in self._running:
            self._running.remove(step_key)
        if event_type == "STEP_SUCCESS":
            self.progress.advance(self._run)
        doing = ", ".join(self._running)
        if event_type == "STEP_FAILURE":
            self._failed.append(step_key)
            doing = f"{step_key} FAILED"
        elif event_type == "STEP_UP_FOR_RETRY":
            doing = f"{step_key} waits to retry"
        self.progress.update(self._run, doing=doing)

    def log_handler(self, level: int) -> logging.Handler:
        return _ProgressHandler(self, level)


class _ProgressHandler(logging.Handler):
    """Feeds every record's Dagster event to the display; prints the records at ``level`` and above above it."""

    def __init__(self, display: RunProgress, level: int):
        super().__init__(logging.DEBUG)  # the step events Dagster logs at DEBUG drive the display
        self.display, self.print_level = display, level

    def emit(self, record: logging.LogRecord) -> None:
        try:
            meta = getattr(record, "dagster_meta", None) or {}
            event = meta.get("dagster_event")
            if event is not None:
                self.display.step_event(event.event_type_value, event.step_key)
            if record.levelno >= self.print_level:
                self.display.progress.console.print(self.format(record), markup=False, highlight=False,
                                                    soft_wrap=True)
        except Exception:  # a display must never fail a run
            self.handleError(record)
