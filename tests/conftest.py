"""Test fixtures: one real PostgreSQL per test session, a fresh database per test.

The server is an embedded PostgreSQL 18 + pgvector in a temporary folder
(or the server named by TY_TEST_DATABASE_URL, whose role may create
databases). Nothing here reads DATABASE_URL, so a developer's own database is
never touched. A migrated template database is made once; each test that asks
for ``db_url`` gets its own copy (CREATE DATABASE ... TEMPLATE, ~100 ms).
"""

from __future__ import annotations

import atexit
import os

# The graph's partitions are made when ty_assets is first imported (at collection): a fixed first day for the
# tests, whose days reach back. Unset, it is the first day of data (tests/ty_cli/test_cli.py covers that).
os.environ.setdefault("TY_PARTITIONS_START", "2025-01-01")
# The network-bound assets' RetryPolicy is made at import too: no retries in the tests, whose faults are meant to
# fail the step they hit; tests/ty_assets/test_retries.py runs the real policy in a process of its own.
os.environ.setdefault("TY_RETRY_MAX", "0")
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from ty_resources.database import embedded_server_url, url_for_database
from ty_resources.migrations import apply_migrations
from ty_resources.settings import get_settings
from ty_resources.snapshot import Snapshot

TEMPLATE_DB = "ty_test_template"
TEST_CACHE_ENV = "TY_TEST_CACHE_DIR"  # set by the controlling process, inherited by the xdist workers
_WARMER = pytest.StashKey[tuple[subprocess.Popen, Path]]()


def pytest_configure(config: pytest.Config) -> None:
    """In the controlling process (before the xdist workers start, which inherit the environment): the run's
    cache folder, and the bundled catalogue's lexical model trained into it in the background
    (ty_testing.warm_cache) while the tests that need no model run."""
    if os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get(TEST_CACHE_ENV):
        return
    cache = Path(tempfile.mkdtemp(prefix="ty-test-cache-"))
    os.environ[TEST_CACHE_ENV] = str(cache)
    env = {**os.environ, "TY_CACHE_DIR": str(cache), "TY_LOG_LEVEL": "WARNING"}
    warmer = subprocess.Popen([sys.executable, "-m", "ty_testing.warm_cache", str(cache)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config.stash[_WARMER] = (warmer, cache)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _WARMER not in config.stash:
        return
    warmer, cache = config.stash[_WARMER]
    if warmer.poll() is None:
        warmer.kill()
    warmer.wait()
    os.environ.pop(TEST_CACHE_ENV, None)
    shutil.rmtree(cache, ignore_errors=True)



@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never see the developer's DATABASE_URL, data dir or Ollama."""
    saved = dict(os.environ)
    data_dir = tmp_path_factory.mktemp("ty-data")
    for name in ("DATABASE_URL", "OLLAMA_HOST", "DAGSTER_HOME", "TY_DAGSTER_PG_URL", "TY_CATALOGUE_PATH"):
        os.environ.pop(name, None)
    os.environ["TY_DATA_DIR"] = str(data_dir)
    # One cache for the whole run (every xdist worker, and tests with a data dir of their own): the lexical
    # model and the catalogue's vectors are derived from the bundled catalogue and would be trained and
    # embedded again. pytest_configure made it (and started filling it) before the workers started.
    os.environ["TY_CACHE_DIR"] = os.environ[TEST_CACHE_ENV]
    get_settings.cache_clear()
    yield data_dir
    os.environ.clear()
    os.environ.update(saved)
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """Admin URL of the test server.

    The embedded server's folder is not under pytest's basetemp: every pytest
    session resets ``/tmp/pytest-of-<user>`` to mode 0700, which would lock the
    server (it runs as its own system user when tests run as root) out of its
    data while another session starts.
    """
    url = os.environ.get("TY_TEST_DATABASE_URL")
    if url:
        yield url
        return
    folder = Path(tempfile.mkdtemp(prefix="ty-test-pg-"))
    # Registered before the server's own exit hook, so it runs after the server has stopped.
    atexit.register(shutil.rmtree, folder, True)
    yield embedded_server_url(folder / "pg")


def _create_database(server_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        template_sql = f" TEMPLATE {template}" if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{template_sql}')
    return url_for_database(server_url, name)


def _drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def template_db(server_url: str) -> str:
    _drop_database(server_url, TEMPLATE_DB)
    url = _create_database(server_url, TEMPLATE_DB)
    apply_migrations(url)
    return url


@pytest.fixture
def new_database(server_url: str) -> Iterator:
    """Factory of fresh databases (``migrated=False``: empty), dropped after the test."""
    created: list[str] = []

    def make(migrated: bool = True) -> str:
        name = f"ty_test_{uuid.uuid4().hex[:12]}"
        created.append(name)
        if migrated:
            return _create_database(server_url, name, template=TEMPLATE_DB)
        return _create_database(server_url, name)

    yield make
    for name in created:
        _drop_database(server_url, name)


@pytest.fixture(scope="module")
def module_db_url(server_url: str, template_db: str) -> Iterator[str]:
    """A freshly migrated database shared by one test module (its tests only read what the module's own fixture
    wrote into it), dropped after the module."""
    name = f"ty_test_module_{uuid.uuid4().hex[:12]}"
    url = _create_database(server_url, name, template=TEMPLATE_DB)
    yield url
    _drop_database(server_url, name)


@pytest.fixture
def db_url(template_db: str, new_database) -> str:
    """A freshly migrated, empty database of this test's own."""
    return new_database(migrated=True)


@pytest.fixture
def empty_db_url(new_database) -> str:
    """A database without any migration applied."""
    return new_database(migrated=False)


@pytest.fixture(scope="session")
def catalogue():
    from ty_resources.kldb import read_kldb

    return read_kldb()


@pytest.fixture(scope="session")
def small_snapshot(catalogue):
    """600 postings over 4 days ending today (Europe/Berlin), so the live client accepts the last day."""
    from datetime import datetime

    from ty_resources.germany import BERLIN
    from ty_resources.sample import generate_snapshot

    return generate_snapshot(catalogue, seed=7, days=4, postings=600, end_date=datetime.now(BERLIN).date())


@pytest.fixture
def make_snapshot():
    """Write a hand-made snapshot: ``make_snapshot(path, {"A": [0, 2]}, date(...))`` -> its days."""
    return _hand_made_snapshot


def _hand_made_snapshot(path: Path, presence: dict[str, list[int]], start: date) -> list[str]:
    """Postings present on the given day numbers (0-based), in the API's item shape."""
    days = [(start + timedelta(days=i)).isoformat() for i in range(1 + max(max(v) for v in presence.values()))]
    items = {
        refnr: {"refnr": refnr, "titel": f"Fachkraft Lagerlogistik (m/w/d) {refnr}", "beruf": "Fachkraft - Lagerlogistik",
                "arbeitgeber": "Lager GmbH", "aktuelleVeroeffentlichungsdatum": days[0],
                "arbeitsort": {"plz": "10115", "ort": "Berlin", "region": "Berlin", "land": "Deutschland",
                               "koordinaten": {"lat": 52.53, "lon": 13.38}}}
        for refnr in presence
    }
    snapshot = Snapshot(
        meta={"format": "ty-ba-snapshot/1", "days": days, "postings": len(items), "seed": 0},
        postings=items,
        days={d: [r for r, on in presence.items() if i in on] for i, d in enumerate(days)},
        details={r: {"stellenangebotsTitel": items[r]["titel"], "stellenangebotsBeschreibung": "<p>Lager</p>"} for r in items},
        truth={},
    )
    snapshot.save(path)
    return days


def materialization_metadata(result, asset: str) -> dict:
    """The metadata values of ``asset``'s materialization in a Dagster run result."""
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == asset:
            return {k: v.value for k, v in event.materialization.metadata.items()}
    raise AssertionError(f"no materialization of {asset}")


@pytest.fixture
def asset_metadata():
    """``asset_metadata(result, "postings")`` -> that materialization's metadata values."""
    return materialization_metadata


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of a markdown table (a preview in an asset's metadata), header first, without the rule line."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for i, line in enumerate(lines) if i != 1]


@pytest.fixture
def markdown_table():
    """``markdown_table(metadata["top_new_professions"])`` -> its rows of cells, header first."""
    return markdown_rows
