"""The daily schedule, similarity after the day's upstream partitions, and the freshness checks of the daily partitions."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    DagsterInstance,
    DefaultSensorStatus,
    build_schedule_context,
    evaluate_automation_conditions,
)
from dagster._utils.schedules import cron_string_iterator

from ty_assets.definitions import MAIN_SEQUENCE, defs
from ty_assets.freshness import PARTITIONED_ASSETS, expected_partition, partition_freshness
from ty_resources.germany import BERLIN

# The daily job takes its partitions from its assets, so its schedule is resolved by the Definitions.
daily_schedule = defs.resolve_schedule_def("daily_schedule")


@pytest.mark.parametrize("day", ["2026-03-28", "2026-03-29", "2026-03-30",  # clocks go forward on 29 March
                                 "2026-10-24", "2026-10-25", "2026-10-26",  # and back on 25 October
                                 "2026-12-31", "2027-01-01"])
def test_the_tick_at_2200_berlin_runs_that_days_partition(day):
    tick = datetime.combine(date.fromisoformat(day), datetime.min.time(), BERLIN).replace(hour=22, minute=0)
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(instance=instance, scheduled_execution_time=tick)
        requests = daily_schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == [day]
    assert requests[0].job_name in (None, "daily_job")


def test_ticks_stay_at_2200_local_time_across_both_daylight_saving_changes():
    assert daily_schedule.execution_timezone == "Europe/Berlin"
    start = datetime(2026, 3, 26, 12, tzinfo=BERLIN).timestamp()
    ticks = cron_string_iterator(start, daily_schedule.cron_schedule, "Europe/Berlin")
    local = [next(ticks).astimezone(BERLIN) for _ in range(220)]  # to the end of October
    assert all((t.hour, t.minute) == (22, 0) for t in local)
    assert [t.date() for t in local] == [date(2026, 3, 26) + timedelta(days=i) for i in range(220)]
    utc_offsets = {t.utcoffset() for t in local}
    assert utc_offsets == {timedelta(hours=1), timedelta(hours=2)}  # the schedule followed the clock change


def _materialised(instance: DagsterInstance, asset: str, day: str) -> None:
    instance.report_runless_asset_event(AssetMaterialization(asset_key=asset, partition=day))


def test_a_days_similarity_runs_once_its_embeddings_and_labels_are_in():
    """The automation condition, evaluated as the daemon's sensor does, tick after tick."""
    similarity = AssetKey("profession_similarity")
    selection = AssetSelection.assets(similarity)
    with DagsterInstance.ephemeral() as instance:
        tick = evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection)
        assert tick.total_requested == 0  # nothing upstream yet

        _materialised(instance, "berufenet_catalogue", None)
        _materialised(instance, "posting_embeddings", "2026-11-27")
        tick = evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection,
                                              cursor=tick.cursor)
        assert tick.total_requested == 0  # the day's labels are missing

        _materialised(instance, "berufenet_labels", "2026-11-27")
        tick = evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection,
                                              cursor=tick.cursor)
        assert tick.get_requested_partitions(similarity) == {"2026-11-27"}
        tick = evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection,
                                              cursor=tick.cursor)
        assert tick.total_requested == 0  # requested once

        # A backfilled older day gets its similarity too (not only the latest day, as Dagster's eager() would).
        _materialised(instance, "posting_embeddings", "2026-11-20")
        _materialised(instance, "berufenet_labels", "2026-11-20")
        tick = evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection,
                                              cursor=tick.cursor)
        assert tick.get_requested_partitions(similarity) == {"2026-11-20"}

        # A reloaded catalogue does not recompute every day ever kept.
        _materialised(instance, "berufenet_catalogue", None)
        tick = evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection,
                                              cursor=tick.cursor)
        assert tick.total_requested == 0

    sensor = defs.resolve_sensor_def("similarity_automation")
    assert sensor.default_status == DefaultSensorStatus.RUNNING
    assert MAIN_SEQUENCE[-1] == "similarity_job"
    assert defs.resolve_job_def("similarity_job").partitions_def == defs.resolve_job_def("daily_job").partitions_def


@pytest.mark.parametrize("now, day", [
    ("2026-11-29T01:59", "2026-11-27"),  # before today's deadline: the day before yesterday is due
    ("2026-11-29T02:00", "2026-11-28"),
    ("2026-11-29T23:55", "2026-11-28"),
    ("2026-03-29T03:00", "2026-03-28"),  # 02:00 does not exist that night; 03:00 CEST is past it
])
def test_the_due_partition(now, day):
    assert expected_partition(datetime.fromisoformat(now).replace(tzinfo=BERLIN)) == date.fromisoformat(day)


def test_partition_freshness_fails_while_the_due_day_is_missing_and_passes_once_it_is_there():
    now = datetime(2026, 11, 29, 9, 0, tzinfo=BERLIN)
    keys = [a.key for a in PARTITIONED_ASSETS]
    with DagsterInstance.ephemeral() as instance:
        instance.report_runless_asset_event(AssetMaterialization(asset_key="postings", partition="2026-11-27"))
        before = {r.asset_key: r for r in partition_freshness(instance, keys, now)}
        assert not any(r.passed for r in before.values())
        assert before[AssetKey("postings")].metadata["expected_partition"].value == "2026-11-28"
        instance.report_runless_asset_event(AssetMaterialization(asset_key="postings", partition="2026-11-28"))
        after = {r.asset_key: r for r in partition_freshness(instance, keys, now)}
    assert after[AssetKey("postings")].passed
    assert not any(r.passed for k, r in after.items() if k != AssetKey("postings"))


def test_the_freshness_job_evaluates_every_daily_asset():
    with DagsterInstance.ephemeral() as instance:
        due = expected_partition(datetime.now(BERLIN)).isoformat()
        for asset in PARTITIONED_ASSETS[:2]:
            instance.report_runless_asset_event(AssetMaterialization(asset_key=asset.key, partition=due))
        result = defs.resolve_job_def("partition_freshness_job").execute_in_process(instance=instance)
    outcome = {e.asset_key.to_user_string(): e.passed for e in result.get_asset_check_evaluations()}
    assert outcome == {a.key.to_user_string(): i < 2 for i, a in enumerate(PARTITIONED_ASSETS)}


def test_freshness_checks_stay_out_of_the_daily_and_similarity_runs():
    in_daily = {k.name for k in defs.resolve_job_def("daily_job").asset_layer.asset_graph.asset_check_keys}
    everywhere = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert {"labels_coverage", "demand_snapshot_matches_postings", "postings_day_volume"} <= in_daily
    freshness = {n for n in everywhere if "freshness" in n}
    assert freshness == {"partition_freshness"}  # the rest is FreshnessPolicy (test_definitions.py)
    assert not in_daily & freshness
    in_similarity = {k.name for k in defs.resolve_job_def("similarity_job").asset_layer.asset_graph.asset_check_keys}
    assert "similarity_no_self_pairs" in in_similarity and not in_similarity & freshness
