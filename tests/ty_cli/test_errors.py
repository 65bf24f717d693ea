"""Errors a user can cause end in one line on stderr and exit code 1, never a traceback; `python -m ty_cli`
is the same program as `tyctl`, for every command; `--version`."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys

import psycopg
import pytest
from click.testing import CliRunner

from ty_cli.main import PROG, main
from ty_testing.ollama_server import OllamaTestServer

COMMANDS = ("run", "sample", "classify", "health", "backfill-failed", "dev", "web", "migrate", "db-url")


def python_m(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "ty_cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    error_lines = [line for line in lines if line.startswith("Error: ")]
    assert len(error_lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    for fragment in fragments:
        assert fragment in error_lines[0], error_lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", COMMANDS)
def test_python_m_runs_every_command(command):
    result = python_m(command, "--help")
    assert result.returncode == 0, result.stderr
    assert f"Usage: {PROG} {command}" in result.stdout


def test_version():
    result = python_m("--version")
    assert result.returncode == 0 and result.stdout.startswith(f"{PROG}, version ")


def test_an_unreachable_database_is_one_line(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none?connect_timeout=2")
    for command in (["migrate"], ["health"], ["run"]):
        result = CliRunner().invoke(main, command)
        assert_one_line_error(result, "OperationalError", "127.0.0.1")
        assert "secret" not in result.stderr


def test_a_migration_changed_after_it_was_applied_is_one_line(monkeypatch, db_url):
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = %s WHERE version = 1",
                     (hashlib.sha256(b"something else").hexdigest(),))
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert_one_line_error(CliRunner().invoke(main, ["migrate"]), "MigrationError", "001_extensions.sql",
                          "changed after it was applied")


def test_a_bad_snapshot_file_is_one_line(monkeypatch, db_url, tmp_path):
    bad = tmp_path / "snapshot.json.gz"
    bad.write_bytes(b"\x1f\x8b not really gzip")
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("TY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TY_SNAPSHOT_PATH", str(bad))
    assert_one_line_error(CliRunner().invoke(main, ["run"]), "SnapshotError", "damaged gzip data")


def test_a_missing_ollama_model_is_one_line(monkeypatch):
    with OllamaTestServer(models=("nomic-embed-text:latest",)) as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        result = CliRunner().invoke(main, ["classify"], input="Koch (m/w/d)\n")
    assert_one_line_error(result, "ModelNotFound", "bge-m3", "ollama pull")


def test_a_bad_catalogue_file_is_one_line(monkeypatch, tmp_path):
    bad = tmp_path / "kldb.csv"
    bad.write_text("not;the;header\n", encoding="utf-8")
    monkeypatch.setenv("TY_CATALOGUE_PATH", str(bad))
    assert_one_line_error(CliRunner().invoke(main, ["classify"], input="Koch\n"), "CatalogueFileError",
                          "expected the header")


def test_invalid_settings_are_one_line(monkeypatch):
    monkeypatch.setenv("TY_LOG_FORMAT", "xml")
    result = python_m("db-url", TY_LOG_FORMAT="xml")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("Error: ")] == [
        "Error: ValidationError: invalid settings: log_format: Input should be 'auto', 'json' or 'human'"]
