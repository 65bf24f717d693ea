"""The `tyctl` console script."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from ty_cli.main import main


@pytest.fixture
def env(monkeypatch, tmp_path, db_url):
    """`tyctl` exports DATABASE_URL, DAGSTER_HOME and TY_DAGSTER_PG_URL; monkeypatch restores them."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("TY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused"))
    monkeypatch.setenv("TY_DAGSTER_PG_URL", "")
    monkeypatch.setenv("TY_LOG_FORMAT", "human")
    monkeypatch.setenv("TY_SAMPLE_POSTINGS", "1500")  # the default snapshot, generated on first use
    monkeypatch.setenv("TY_SAMPLE_DAYS", "3")
    monkeypatch.delenv("TY_PARTITIONS_START")  # `run` records the first day of data (the graph is imported already)
    return db_url


def test_help_lists_the_commands():
    result = subprocess.run([str(Path(sys.executable).with_name("tyctl")), "--help"],
                            capture_output=True, text=True, check=True)
    for command in ("run", "sample", "classify", "health", "backfill-failed", "export", "dev", "web", "migrate",
                    "db-url"):
        assert f"  {command} " in result.stdout


def test_web_serves_without_a_server_header(env, monkeypatch):
    import uvicorn

    served: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.update(kwargs))
    result = CliRunner().invoke(main, ["web", "--port", "8123"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert served["server_header"] is False and served["proxy_headers"] is False and served["port"] == 8123


def test_run_materialises_the_graph_and_prints_a_summary(env, tmp_path):
    runner = CliRunner()
    first = runner.invoke(main, ["run"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "berufenet_catalogue" in first.output and "18,838" in first.output
    assert "4 passed" in first.output and "all runs succeeded" in first.output
    assert "postings" in first.output and "posting_descriptions" in first.output
    assert "3 (" in first.output  # three daily partitions, oldest first
    first_day = (tmp_path / "data" / "partitions_start").read_text().strip()  # the first day of data, recorded
    assert f"3 ({first_day}.." in first.output
    assert "postings: active" in first.output
    second = runner.invoke(main, ["run"], catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert "demand_snapshot" in first.output and "profession_similarity" in first.output
    assert "title_model" in first.output and "title model: none trained yet" in first.output  # < 1,000 pairs
    assert "pipeline health at" in first.output and "backlog" in first.output  # tyctl health, printed at the end

    def overview(output: str) -> list[str]:
        return [line for line in output.splitlines() if line.startswith(("postings: ", "title labels: "))]

    assert overview(second.output) == overview(first.output) and len(overview(first.output)) == 2
    with psycopg.connect(env) as conn:
        runs = conn.execute("SELECT status FROM runs ORDER BY id").fetchall()
    assert runs == [("SUCCESS",)] * 16  # (catalogue + 3 days + title model + 3 days' similarity) twice


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


def test_classify_reads_titles_and_json_lines_and_reports_bad_ones(monkeypatch, tmp_path):
    import json

    monkeypatch.setenv("TY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TY_LOG_FORMAT", "human")
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    lines = ["Bürokauffrau (m/w/d) in Berlin", "", '{"title": "Lagerist", "beruf": "Fachkraft - Lagerlogistik"}',
             '{"title": 7}', "Xqzv Blorp (m/w/d)", "Softwareentwickler (m/w/d) Vollzeit"]
    result = CliRunner().invoke(main, ["classify", "--candidates", "2", "--batch", "2"], input="\n".join(lines))
    assert result.exit_code == 1, result.output  # one line could not be read
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("title") for o in out] == ["Bürokauffrau (m/w/d) in Berlin", "Lagerist", None,
                                             "Xqzv Blorp (m/w/d)", "Softwareentwickler (m/w/d) Vollzeit"]
    assert (out[0]["status"], out[0]["method"], out[0]["kldb"], out[0]["normalized"]) == (
        "matched", "exact", "71402", "Bürokauffrau")
    assert out[1]["method"] == "beruf" and out[1]["name"] == "Fachkraft - Lagerlogistik"
    assert out[2] == {"line": 4, "status": "invalid", "reason": "'title' must be a string, not int"}
    assert out[3]["status"] == "no_match" and out[3]["berufenet_id"] is None and len(out[3]["candidates"]) == 2
    first = out[3]["candidates"][0]  # not a label, but what it most likely is, and how likely
    assert out[3]["suggestion"] == {k: first[k] for k in ("berufenet_id", "name", "kldb")}
    assert out[3]["confidence"] < 0.25
    assert out[4]["kldb"] == "43414" and out[4]["level"] == 4
    assert out[0]["confidence"] == out[1]["confidence"] == 1.0 and out[0]["suggestion"] is None
    cache = Path(os.environ["TY_CACHE_DIR"])  # the session's (conftest), not under this test's data dir
    assert list(cache.glob("catalogue-index-*.npz")) and list(cache.glob("code-model-*.npz"))  # next call: faster


def test_classify_asks_the_llm_when_ollama_host_is_set(monkeypatch, tmp_path):
    import json

    from ty_resources.settings import get_settings
    from ty_testing.ollama_server import CapacityModel, OllamaTestServer

    def pick_first(body):
        return {"choice": body["format"]["properties"]["choice"]["enum"][0], "reason": "first candidate"}

    with OllamaTestServer(dimension=16, capacity=CapacityModel(time_scale=0), chat_script=pick_first) as server:
        for name, value in {"TY_DATA_DIR": str(tmp_path), "TY_LOG_FORMAT": "human", "OLLAMA_HOST": server.url,
                            "TY_ACCEPT_SCORE": "1.0", "TY_REJECT_SCORE": "0.0"}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        result = CliRunner().invoke(main, ["classify"], input="Mitarbeiter Produktion Kunststoff (m/w/d)\n")
        assert result.exit_code == 0, result.output
        record = json.loads(result.stdout)
        assert record["status"] == "matched" and record["method"] == "llm"
        assert record["berufenet_id"] == record["candidates"][0]["berufenet_id"]
        assert server.requests["/api/chat"] == 1


def test_dev_stops_with_sigterm_even_when_started_in_the_background(db_url, tmp_path):
    """`tyctl dev &` from a script inherits SIGINT as ignored; dagster dev stops on SIGINT (and maps SIGTERM to
    it), so ty must give it SIGINT back, or the webserver and daemon outlive ty and its database."""
    import os
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": db_url, "TY_DATA_DIR": str(tmp_path / "data"), "TY_LOG_FORMAT": "human",
           "TY_DAGSTER_PG_URL": ""}
    env.pop("DAGSTER_HOME", None)
    log = (tmp_path / "dev.log").open("wb")
    ty = subprocess.Popen([str(Path(sys.executable).with_name("tyctl")), "dev", "--port", str(port)], env=env,
                          stdout=log, stderr=subprocess.STDOUT,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as answer:
                    assert answer.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "dagster dev did not come up"
                try:  # wait for the next try, or for `tyctl dev` to exit (it must not, before it is stopped)
                    ty.wait(timeout=0.2)
                except subprocess.TimeoutExpired:
                    continue
                raise AssertionError((tmp_path / "dev.log").read_text()) from None
        ty.send_signal(signal.SIGTERM)
        assert ty.wait(timeout=60) == 128 + signal.SIGTERM
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
        assert "Dagster services shut down" in (tmp_path / "dev.log").read_text()
    finally:
        if ty.poll() is None:
            ty.kill()
        log.close()


def test_the_partitions_start_on_the_first_day_of_data(tmp_path):
    """Unset TY_PARTITIONS_START: the day `tyctl run` recorded, else today (a fresh UI lists no empty years)."""
    from ty_resources.settings import Settings

    probe = "from ty_assets.partitions import daily_partitions as d; print(d.start.date(), len(d.get_partition_keys()))"
    env = {k: v for k, v in os.environ.items() if k != "TY_PARTITIONS_START"} | {"TY_DATA_DIR": str(tmp_path)}
    settings = Settings(data_dir=tmp_path, partitions_start=None)
    today = date.fromisoformat(settings.resolved_partitions_start)
    fresh = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    start, count = fresh.stdout.split()
    assert start in (today.isoformat(), (today + timedelta(days=1)).isoformat()) and count == "1"  # today only
    settings.record_first_day(today - timedelta(days=6))
    settings.record_first_day(today - timedelta(days=2))  # a later snapshot does not hide the days before
    recorded = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert recorded.stdout.split() == [(today - timedelta(days=6)).isoformat(), "7"]
