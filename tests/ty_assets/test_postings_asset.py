"""postings and posting_descriptions through Dagster, on a real database, from the
offline snapshot and from the local BA server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance, materialize

from ty_assets.postings import posting_descriptions, postings
from ty_assets.postings.checks import postings_crawl_coverage, postings_day_volume, postings_known_state_share
from ty_assets.resources import DatabaseResource, PostingSourceResource
from ty_resources.snapshot import Snapshot
from ty_testing.ba_server import BaTestServer, Fault

# Everything but the volatile invalidation timestamp.
TABLE_DIGEST = """
SELECT md5(string_agg(concat_ws('|', refnr, title, title_normalized, beruf, employer, state, plz, city, lat, lon,
       published_on, entry_date, modified_at, external_url, raw::text, first_seen, last_seen,
       invalidated_on, invalidated_reason), E'\\n' ORDER BY refnr)) FROM postings
"""


@pytest.fixture
def fast_settings(monkeypatch):
    for name, value in {
        "TY_BA_REQUESTS_PER_S": "1000", "TY_BA_PAGE_SIZE": "20",
        "TY_BA_BACKOFF_S": "0.01", "TY_BA_MAX_RETRIES": "3", "TY_INGEST_BATCH_SIZE": "50",
    }.items():
        monkeypatch.setenv(name, value)


def run_day(db_url: str, day: str, *, snapshot_path: Path | None = None, ba_url: str | None = None,
            assets=(postings, posting_descriptions), raise_on_error: bool = True):
    source = (PostingSourceResource(source="snapshot", snapshot_path=str(snapshot_path)) if snapshot_path
              else PostingSourceResource(source="ba", ba_base_url=ba_url))
    return materialize(
        [*assets, postings_day_volume, postings_known_state_share, postings_crawl_coverage],
        partition_key=day,
        resources={"database": DatabaseResource(database_url=db_url), "source": source},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=raise_on_error,
    )


def query(db_url: str, sql: str, params=None):
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
def snapshot_file(small_snapshot, tmp_path) -> Path:
    path = tmp_path / "snapshot.json.gz"
    small_snapshot.save(path)
    return path


def test_snapshot_days_in_order_then_a_rerun_changes_nothing(db_url, small_snapshot, snapshot_file, fast_settings, asset_metadata):
    for day in small_snapshot.day_keys:
        result = run_day(db_url, day, snapshot_path=snapshot_file)
        assert all(e.passed for e in result.get_asset_check_evaluations())
    first_day = asset_metadata(run_day(db_url, small_snapshot.day_keys[0], snapshot_path=snapshot_file), "postings")
    assert first_day["new"] == 0
    distinct = {r for day in small_snapshot.day_keys for r in small_snapshot.days[day]}
    assert query(db_url, "SELECT count(*) FROM postings")[0][0] == len(distinct)
    digest = query(db_url, TABLE_DIGEST)
    descriptions = query(db_url, "SELECT md5(string_agg(refnr || status || coalesce(description, ''), '' ORDER BY refnr)) FROM posting_descriptions")
    for day in small_snapshot.day_keys:
        result = run_day(db_url, day, snapshot_path=snapshot_file)
        meta = asset_metadata(result, "postings")
        assert (meta["new"], meta["updated"], meta["invalidated"], meta["reactivated"]) == (0, 0, 0, 0)
        assert asset_metadata(result, "posting_descriptions")["todo"] == 0
    assert query(db_url, TABLE_DIGEST) == digest
    assert query(db_url, "SELECT md5(string_agg(refnr || status || coalesce(description, ''), '' ORDER BY refnr)) FROM posting_descriptions") == descriptions


def test_rows_carry_the_item(db_url, small_snapshot, snapshot_file, fast_settings, asset_metadata):
    day = small_snapshot.day_keys[0]
    result = run_day(db_url, day, snapshot_path=snapshot_file)
    meta = asset_metadata(result, "postings")
    items = small_snapshot.items_for(day)
    assert meta["fetched"] == len(items)
    assert meta["duplicates"] == len(items) - len({i["refnr"] for i in items}) > 0
    item = items[0]
    (row,) = query(db_url, "SELECT title, employer, state, city, first_seen, last_seen, raw->>'refnr' FROM postings WHERE refnr = %s", (item["refnr"],))
    assert row[0] == item["titel"] and row[1] == item.get("arbeitgeber")
    assert row[4] == row[5] == date.fromisoformat(day) and row[6] == item["refnr"]
    states = dict(query(db_url, "SELECT state, count(*) FROM postings GROUP BY state"))
    assert set(states) <= {"Ausland", "unbekannt", "Berlin", "Bayern", "Hamburg", "Hessen", "Bremen", "Saarland",
                           "Sachsen", "Thüringen", "Brandenburg", "Niedersachsen", "Nordrhein-Westfalen",
                           "Baden-Württemberg", "Rheinland-Pfalz", "Sachsen-Anhalt", "Schleswig-Holstein",
                           "Mecklenburg-Vorpommern"}
    statuses = dict(query(db_url, "SELECT status, count(*) FROM posting_descriptions GROUP BY status"))
    assert statuses.get("ok", 0) > 0.9 * len({i["refnr"] for i in items})
    missing = [r for r in {i["refnr"] for i in items} if r not in small_snapshot.details]
    assert statuses.get("not_found", 0) == len(missing)


def test_staleness_invalidates_and_reactivates(db_url, tmp_path, fast_settings, monkeypatch, make_snapshot, asset_metadata):
    monkeypatch.setenv("TY_STALE_DAYS", "3")
    path = tmp_path / "hand.json"
    days = make_snapshot(path, {"A": [0, 1, 2, 3, 4, 5, 6], "B": [0, 5, 6], "C": [0, 1]}, date(2026, 3, 1))
    invalidated_on = {}
    for day in days:
        result = run_day(db_url, day, snapshot_path=path)
        meta = asset_metadata(result, "postings")
        invalidated_on[day] = (meta["invalidated"], meta["reactivated"])
    # B: seen day 0, missing 1-3, invalidated on day 3, back on day 5. C: last seen day 1, invalidated day 4.
    assert invalidated_on[days[3]] == (1, 0)
    assert invalidated_on[days[4]] == (1, 0)
    assert invalidated_on[days[5]] == (0, 1)
    rows = {r[0]: r[1:] for r in query(db_url, "SELECT refnr, invalidated_reason, invalidated_on, invalidated_at IS NOT NULL, last_seen FROM postings")}
    assert rows["A"][:3] == (None, None, False)
    assert rows["B"][:3] == (None, None, False) and rows["B"][3] == date(2026, 3, 7)
    assert rows["C"] == ("stale", date(2026, 3, 5), True, date(2026, 3, 2))
    assert query(db_url, "SELECT count(*) FROM postings")[0][0] == 3  # nothing deleted


def test_a_late_backfill_of_an_earlier_day_brings_a_posting_back(db_url, tmp_path, fast_settings, monkeypatch,
                                                                 make_snapshot, asset_metadata):
    monkeypatch.setenv("TY_STALE_DAYS", "3")
    path = tmp_path / "late.json"
    days = make_snapshot(path, {"P": [0, 2], "Q": [0, 1, 2, 3, 4]}, date(2026, 6, 1))
    for i in (0, 1, 3):  # day 2 "failed" and is backfilled after day 3
        run_day(db_url, days[i], snapshot_path=path, assets=(postings,))
    assert query(db_url, "SELECT invalidated_reason FROM postings WHERE refnr = 'P'") == [("stale",)]
    meta = asset_metadata(run_day(db_url, days[2], snapshot_path=path, assets=(postings,)), "postings")
    assert meta["reactivated"] == 1  # seen on day 2: it was never missing 3 days before day 3
    assert query(db_url, "SELECT invalidated_reason, last_seen FROM postings WHERE refnr = 'P'") == [
        (None, date(2026, 6, 3))]


@pytest.mark.parametrize("order", [(0, 9, 3), (9, 3, 0), (3, 0, 9)])
def test_staleness_in_any_order_of_days_is_what_the_days_in_order_leave(db_url, new_database, tmp_path, fast_settings,
                                                                        monkeypatch, make_snapshot, order):
    """P seen on day 0 only, Q every day. Whatever order days 0, 3 and 9 are ingested in, P is stale from day 3
    (the first crawled day three days after its sighting), as when they run in order."""
    monkeypatch.setenv("TY_STALE_DAYS", "3")
    path = tmp_path / "order.json"
    days = make_snapshot(path, {"P": [0], "Q": list(range(10)), "R": [9]}, date(2026, 6, 1))
    in_order = new_database()
    for i in sorted(order):
        run_day(in_order, days[i], snapshot_path=path, assets=(postings,))
    for i in order:
        run_day(db_url, days[i], snapshot_path=path, assets=(postings,))
    states = "SELECT refnr, first_seen, last_seen, invalidated_on, invalidated_reason FROM postings ORDER BY refnr"
    assert query(db_url, states) == query(in_order, states)
    assert query(db_url, "SELECT invalidated_on FROM postings WHERE refnr = 'P'") == [(date(2026, 6, 4),)]


def test_duplicates_across_pages_and_days_are_stored_once(db_url, tmp_path, fast_settings, make_snapshot):
    path = tmp_path / "dups.json"
    days = make_snapshot(path, {"X": [0, 1], "Y": [0, 1]}, date(2026, 4, 1))
    snapshot = Snapshot.load(path)
    snapshot.days[days[0]] = ["X", "Y", "X", "Y", "X"]
    snapshot.save(path)
    for day in days:
        run_day(db_url, day, snapshot_path=path)
    assert query(db_url, "SELECT refnr, first_seen, last_seen FROM postings ORDER BY refnr") == [
        ("X", date(2026, 4, 1), date(2026, 4, 2)), ("Y", date(2026, 4, 1), date(2026, 4, 2))]


def test_day_volume_warns_when_a_day_brings_far_fewer_postings(db_url, tmp_path, fast_settings, make_snapshot):
    path = tmp_path / "drop.json"
    # day 0: five postings; day 1: four of them (80 %); day 2: one (25 % of day 1); day 3: none at all
    days = make_snapshot(path, {"A": [0, 1, 2], "B": [0, 1], "C": [0, 1], "D": [0, 1], "E": [0], "F": [4]},
                         date(2026, 5, 1))
    verdicts = {}
    for day in days[:4]:
        (evaluation,) = [e for e in run_day(db_url, day, snapshot_path=path, assets=(postings,)).get_asset_check_evaluations()
                         if e.check_name == "postings_day_volume"]
        meta = {k: v.value for k, v in evaluation.metadata.items()}
        verdicts[day] = (evaluation.passed, meta["postings_on_day"], meta["postings_day_before"])
    assert verdicts == {days[0]: (True, 5, 0), days[1]: (True, 4, 5), days[2]: (False, 1, 4),
                        days[3]: (False, 0, 1)}


# ----------------------------------------------------------------- live client


def test_ba_source_completes_despite_429_and_503(db_url, small_snapshot, fast_settings, asset_metadata):
    today = small_snapshot.day_keys[-1]
    with BaTestServer(small_snapshot) as server:
        server.add_fault(Fault("429", page=2, retry_after=0))
        server.add_fault(Fault("503", page=3, count=2))
        server.add_fault(Fault("503", endpoint="details", count=2))
        result = run_day(db_url, today, ba_url=server.url)
    meta = asset_metadata(result, "postings")
    assert meta["retries"] >= 3 and meta["source"] == "ba"
    expected = {i["refnr"] for i in small_snapshot.items_for(today)}
    assert {r for (r,) in query(db_url, "SELECT refnr FROM postings")} == expected
    assert asset_metadata(result, "posting_descriptions")["error"] == 0


def test_source_failure_keeps_what_was_fetched_and_fails_the_partition(db_url, small_snapshot, fast_settings, monkeypatch):
    monkeypatch.setenv("TY_BA_MAX_RETRIES", "0")
    today = small_snapshot.day_keys[-1]
    with BaTestServer(small_snapshot) as server:
        server.add_fault(Fault("503", page=4, count=100))
        result = run_day(db_url, today, ba_url=server.url, assets=(postings,), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "503" in failure.step_failure_data.error.to_string()
    assert query(db_url, "SELECT count(*) FROM postings")[0][0] >= 50  # committed batches stay


def test_a_fault_in_one_leaf_fails_the_partition_after_storing_the_rest_and_a_rerun_completes_it(
        db_url, catalogue, fast_settings, monkeypatch, asset_metadata):
    from ty_resources.germany import BERLIN
    from ty_testing.ba_market import Market

    monkeypatch.setenv("TY_BA_MAX_RETRIES", "0")
    monkeypatch.setenv("TY_BA_PAGE_SIZE", "100")
    monkeypatch.setenv("TY_INGEST_BATCH_SIZE", "5000")
    today = datetime.now(BERLIN).date()
    market = Market.generate(catalogue, day=today, postings=12_000, seed=31, offer_shares={1: 1.0})
    bavaria = {market.items[i]["refnr"] for i in market.select({"wo": "Bayern"})}
    with BaTestServer(market=market) as server:
        server.add_fault(Fault("503", params={"wo": "Bayern"}, count=1))  # its first request fails
        failed = run_day(db_url, today.isoformat(), ba_url=server.url, assets=(postings,), raise_on_error=False)
        stored = {r for (r,) in query(db_url, "SELECT refnr FROM postings")}
        crawl_after_failure = query(db_url, "SELECT complete, coverage, plan IS NOT NULL FROM crawls")[0]
        rerun = run_day(db_url, today.isoformat(), ba_url=server.url, assets=(postings,))
    assert not failed.success
    failure = next(e for e in failed.all_events if e.is_step_failure)
    assert "wo=Bayern" in failure.step_failure_data.error.to_string()
    assert market.open_refnrs() - bavaria <= stored and len(stored & bavaria) <= 100
    # incomplete, and no plan kept: the re-run starts from the last plan that worked (here: none)
    assert crawl_after_failure == (False, pytest.approx(crawl_after_failure[1]), False)
    assert crawl_after_failure[1] < 0.9
    assert query(db_url, "SELECT count(*) FROM postings WHERE invalidated_at IS NOT NULL")[0][0] == 0
    assert {r for (r,) in query(db_url, "SELECT refnr FROM postings")} == market.open_refnrs()
    meta = asset_metadata(rerun, "postings")
    assert meta["coverage"] == 1.0 and meta["planned"] == market.open_count and meta["planning_requests"] == 1
    assert query(db_url, "SELECT complete, coverage, offer_type FROM crawls, postings LIMIT 1")[0] == (True, 1.0, 1)
    check = next(e for e in rerun.get_asset_check_evaluations() if e.check_name == "postings_crawl_coverage")
    assert check.passed


def test_descriptions_are_given_up_after_the_limit(db_url, small_snapshot, fast_settings, monkeypatch):
    monkeypatch.setenv("TY_BA_MAX_RETRIES", "0")
    monkeypatch.setenv("TY_DESCRIPTION_MAX_ATTEMPTS", "3")
    today = small_snapshot.day_keys[-1]
    victim = next(r for r in sorted({i["refnr"] for i in small_snapshot.items_for(today)}) if r in small_snapshot.details)
    with BaTestServer(small_snapshot) as server:
        server.add_fault(Fault("503", endpoint="details", refnr=victim, count=100))
        attempts, outcomes = [], []
        for _ in range(3):
            result = run_day(db_url, today, ba_url=server.url, raise_on_error=False)
            outcomes.append(result.success)
            attempts.append(query(db_url, "SELECT status, attempts FROM posting_descriptions WHERE refnr = %s", (victim,))[0])
    assert attempts == [("error", 1), ("error", 2), ("error", 3)]
    # 1 failure among all the day's details is within TY_DESCRIPTION_MAX_ERROR_RATE; alone, it fails the partition.
    assert outcomes == [True, False, False]
    (row,) = query(db_url, "SELECT invalidated_reason, invalidated_at IS NOT NULL FROM postings WHERE refnr = %s", (victim,))
    assert row == ("description_given_up", True)
    assert query(db_url, "SELECT count(*) FROM postings WHERE invalidated_reason = 'description_given_up'")[0][0] == 1


def test_retries_of_one_run_count_as_one_attempt(db_url, small_snapshot, fast_settings, monkeypatch):
    """The RetryPolicy tries a failed descriptions step again within minutes: those tries are the same run's
    attempt, or one outage of the details endpoint would give the day's postings up for good."""
    from ty_assets.postings.descriptions import fetch_descriptions
    from ty_resources.ba import BaClient
    from ty_resources.settings import get_settings

    monkeypatch.setenv("TY_BA_MAX_RETRIES", "0")
    today = small_snapshot.day_keys[-1]
    victim = next(r for r in sorted({i["refnr"] for i in small_snapshot.items_for(today)}) if r in small_snapshot.details)
    with BaTestServer(small_snapshot) as server:
        run_day(db_url, today, ba_url=server.url, assets=(postings,))
        server.add_fault(Fault("503", endpoint="details", refnr=victim, count=100))
        source = BaClient.from_settings(get_settings(), base_url=server.url)
        with psycopg.connect(db_url) as conn:
            for first_try in (True, False, False, False):  # the run, then its three retries
                fetch_descriptions(conn, source, date.fromisoformat(today), workers=2, max_attempts=3,
                                   count_attempt=first_try)
        source.close()
    assert query(db_url, "SELECT status, attempts FROM posting_descriptions WHERE refnr = %s", (victim,)) == [
        ("error", 1)]
    assert query(db_url, "SELECT invalidated_reason FROM postings WHERE refnr = %s", (victim,)) == [(None,)]


KILLED_RUN = textwrap.dedent("""
    import sys
    from dagster import DagsterInstance, materialize
    from ty_assets.postings import postings
    from ty_assets.resources import PostingSourceResource
    from ty_assets.resources import DatabaseResource
    db_url, ba_url, day = sys.argv[1:4]
    materialize([postings], partition_key=day, instance=DagsterInstance.ephemeral(),
                resources={"database": DatabaseResource(database_url=db_url),
                           "source": PostingSourceResource(source="ba", ba_base_url=ba_url)})
""")


def test_killed_run_then_rerun_equals_an_uninterrupted_run(db_url, new_database, small_snapshot, fast_settings):
    today = small_snapshot.day_keys[-1]
    reference = new_database()
    with BaTestServer(small_snapshot) as server:
        run_day(reference, today, ba_url=server.url, assets=(postings,))
    with BaTestServer(small_snapshot) as server:
        server.add_fault(Fault("hold", page=4))
        process = subprocess.Popen([sys.executable, "-c", KILLED_RUN, db_url, server.url, today],
                                   env=dict(os.environ, TY_INGEST_BATCH_SIZE="20"),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            assert server.held.wait(timeout=120), process.stderr.read().decode()[-2000:] if process.poll() is not None else "no hold"
            committed = query(db_url, "SELECT count(*) FROM postings")[0][0]
            process.kill()
        finally:
            process.wait(timeout=30)
            server.release.set()
    assert 0 < committed < len({i["refnr"] for i in small_snapshot.items_for(today)})
    with BaTestServer(small_snapshot) as server:
        run_day(db_url, today, ba_url=server.url, assets=(postings,))
    assert query(db_url, TABLE_DIGEST) == query(reference, TABLE_DIGEST)


def test_a_crawl_that_falls_short_of_its_plan_fails_the_coverage_check_and_blocks_downstream(
        db_url, catalogue, fast_settings, monkeypatch, asset_metadata):
    """Postings withdrawn while the day is crawled (here: 6 with every request) are planned but never fetched:
    no query failed, yet the day is incomplete, and the blocking check keeps the descriptions from running."""
    from dagster import AssetCheckSeverity

    from ty_resources.germany import BERLIN
    from ty_testing.ba_market import Market
    from ty_testing.ba_server import Churn

    monkeypatch.setenv("TY_BA_PAGE_SIZE", "100")
    today = datetime.now(BERLIN).date()
    market = Market.generate(catalogue, day=today, postings=3_000, seed=37, offer_shares={1: 1.0})
    with BaTestServer(market=market, churn=Churn(withdrawals=6, seed=5)) as server:
        result = run_day(db_url, today.isoformat(), ba_url=server.url, raise_on_error=False)
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "postings_crawl_coverage")
    coverage = check.metadata["coverage"].value
    assert not check.passed and check.severity == AssetCheckSeverity.ERROR and coverage < 0.99
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"postings"}  # posting_descriptions was not run
    assert asset_metadata(result, "postings")["staleness"] == "day not counted (coverage)"
    (complete, trusted, stored) = query(db_url, "SELECT complete, trusted, coverage FROM crawls")[0]
    assert complete is True and trusted is False and stored == pytest.approx(coverage, abs=1e-5)


def test_a_damaged_stored_plan_is_planned_afresh_not_a_failed_day(db_url):
    from psycopg.types.json import Jsonb

    from ty_assets.postings.crawls import load_plan
    from ty_resources.crawl import PLAN_FORMAT

    damaged = {"format": PLAN_FORMAT, "roots": [{"params": {"angebotsart": "1"}, "split": "umkreis", "children": []}]}
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO crawls (day, source, plan, planned, fetched, coverage, complete, stats)"
                     " VALUES ('2026-12-06', 'ba', %s, 1, 1, 1.0, true, '{}')", (Jsonb(damaged),))
        conn.commit()
        assert load_plan(conn, date(2026, 12, 7)) is None
        good = {"format": PLAN_FORMAT, "roots": [{"params": {"angebotsart": "1"}, "count": 5}]}
        conn.execute("UPDATE crawls SET plan = %s", (Jsonb(good),))
        conn.commit()
        assert load_plan(conn, date(2026, 12, 7)).roots[0].count == 5
        assert load_plan(conn, date(2026, 12, 5)) is None  # no plan of that day or before
