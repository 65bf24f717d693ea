"""The `ty` console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from ty_assets.cli import main


@pytest.fixture
def env(monkeypatch, tmp_path, db_url):
    """`ty` exports DATABASE_URL, DAGSTER_HOME and TY_DAGSTER_PG_URL; monkeypatch restores them."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("TY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused"))
    monkeypatch.setenv("TY_DAGSTER_PG_URL", "")
    monkeypatch.setenv("TY_LOG_FORMAT", "human")
    monkeypatch.setenv("TY_SAMPLE_POSTINGS", "1500")  # the default snapshot, generated on first use
    monkeypatch.setenv("TY_SAMPLE_DAYS", "3")
    return db_url


def test_help_lists_the_commands():
    result = subprocess.run([str(Path(sys.executable).with_name("ty")), "--help"],
                            capture_output=True, text=True, check=True)
    for command in ("run", "sample", "dev", "web", "migrate", "db-url"):
        assert f"  {command} " in result.stdout


def test_run_materialises_the_graph_and_prints_a_summary(env):
    runner = CliRunner()
    first = runner.invoke(main, ["run"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "berufenet_catalogue" in first.output and "18,838" in first.output
    assert "4 passed" in first.output and "all runs succeeded" in first.output
    assert "postings" in first.output and "posting_descriptions" in first.output
    assert "3 (" in first.output  # three daily partitions, oldest first
    assert "postings: active" in first.output
    second = runner.invoke(main, ["run"], catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert second.output.splitlines()[-1] == first.output.splitlines()[-1]  # same postings overview
    with psycopg.connect(env) as conn:
        runs = conn.execute("SELECT status FROM runs ORDER BY id").fetchall()
    assert runs == [("SUCCESS",)] * 8  # (catalogue + 3 days) twice


def test_run_fails_with_exit_code_when_checks_fail(env, tmp_path, monkeypatch):
    truncated = tmp_path / "short.csv"
    from ty_resources.kldb import BUNDLED_KLDB_PATH

    truncated.write_bytes(b"".join(BUNDLED_KLDB_PATH.read_bytes().splitlines(keepends=True)[:300]))
    monkeypatch.setenv("TY_CATALOGUE_PATH", str(truncated))
    result = CliRunner().invoke(main, ["run"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "FAILED: " in result.output and "professions_complete" in result.output


def test_migrate_applies_what_is_missing_once(monkeypatch, empty_db_url):
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    first = CliRunner().invoke(main, ["migrate"], catch_exceptions=False)
    assert first.exit_code == 0 and "001_extensions.sql" in first.output
    second = CliRunner().invoke(main, ["migrate"], catch_exceptions=False)
    assert second.exit_code == 0 and second.output.startswith("0 migration(s) applied")


def test_sample_writes_a_deterministic_snapshot(tmp_path):
    from ty_resources.snapshot import Snapshot

    args = ["sample", "--postings", "300", "--days", "2", "--end-date", "2026-05-04", "--seed", "3"]
    first = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a.json.gz")], catch_exceptions=False)
    assert first.exit_code == 0 and "300 postings" in first.output
    CliRunner().invoke(main, [*args, "--out", str(tmp_path / "b.json.gz")], catch_exceptions=False)
    a, b = Snapshot.load(tmp_path / "a.json.gz"), Snapshot.load(tmp_path / "b.json.gz")
    assert a.day_keys == ["2026-05-03", "2026-05-04"]
    assert a.to_json() == b.to_json()
