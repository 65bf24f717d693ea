"""One log setting for pipeline, CLI and web: JSON lines or human lines, or whichever suits the stream."""

from __future__ import annotations

import io
import json
import logging

import pytest

from ty_resources.logs import configure_logging, make_formatter, resolve_log_format
from ty_resources.settings import Settings


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _emit(log_format: str) -> str:
    stream = io.StringIO()
    configure_logging(Settings(log_format=log_format), stream=stream)
    logging.getLogger("ty.test").info("loaded %d rows", 42, extra={"asset": "berufenet_catalogue"})
    logging.getLogger("ty.test").debug("not shown at INFO")
    return stream.getvalue()


def test_json_lines(restore_root_logger):
    (line,) = _emit("json").splitlines()
    record = json.loads(line)
    assert record["message"] == "loaded 42 rows"
    assert record["level"] == "INFO"
    assert record["logger"] == "ty.test"
    assert record["asset"] == "berufenet_catalogue"
    assert "ts" in record


def test_human_lines(restore_root_logger):
    (line,) = _emit("human").splitlines()
    assert "INFO" in line and "ty.test: loaded 42 rows" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_is_human_on_a_terminal_and_json_elsewhere(restore_root_logger):
    assert resolve_log_format("auto", Terminal()) == "human"
    assert resolve_log_format("auto", io.StringIO()) == "json"
    assert resolve_log_format("json", Terminal()) == "json"  # asked for: JSON on a terminal too
    terminal = Terminal()
    configure_logging(Settings(log_format="auto"), stream=terminal)
    logging.getLogger("ty.test").info("on a terminal")
    assert "ty.test: on a terminal" in terminal.getvalue()
    piped = io.StringIO()
    configure_logging(Settings(log_format="auto"), stream=piped)
    logging.getLogger("ty.test").info("into a pipe")
    assert json.loads(piped.getvalue())["message"] == "into a pipe"


def test_configuring_twice_keeps_one_handler(restore_root_logger):
    configure_logging(Settings(log_format="json"), stream=io.StringIO())
    configure_logging(Settings(log_format="human"), stream=io.StringIO())
    assert sum(h.get_name() == "ty-root-handler" for h in logging.getLogger().handlers) == 1


def test_unknown_format_is_rejected():
    with pytest.raises(ValueError, match="unknown log format"):
        make_formatter("xml")


def test_setting_from_environment(monkeypatch):
    monkeypatch.setenv("TY_LOG_FORMAT", "HUMAN")
    monkeypatch.setenv("TY_LOG_LEVEL", "debug")
    settings = Settings()
    assert (settings.log_format, settings.log_level) == ("human", "DEBUG")
