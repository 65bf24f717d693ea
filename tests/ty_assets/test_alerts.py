"""Alerts: the notifier's channels against a receiver on 127.0.0.1, and both sensors over real runs."""

import logging
from dataclasses import dataclass

import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    DagsterInstance,
    DailyPartitionsDefinition,
    Definitions,
    asset,
    asset_check,
    build_run_status_sensor_context,
    build_sensor_context,
    materialize,
)
from pydantic import ValidationError

from ty_assets.alerts import (
    CheckFailure,
    alert_sensors,
    asset_check_failure_alert,
    build_check_failure_sensor,
    describe_check_failures,
    error_line,
    run_failure_alert,
)
from ty_assets.definitions import defs
from ty_assets.resources import NotifierResource
from ty_resources.database import sqlalchemy_psycopg2_url
from ty_resources.notify import AlertDeliveryError, Notifier, NotifierConfigError
from ty_resources.settings import get_settings
from ty_testing.receiver import AlertReceiver

DAY = "2025-01-03"
days = DailyPartitionsDefinition(start_date="2025-01-01")


@asset(partitions_def=days)
def day_source(context) -> None:
    raise ValueError(f"the source has nothing for {context.partition_key}\nsecond line of the error")


@asset(partitions_def=days)
def day_rows() -> int:
    return 3


@asset_check(asset=day_rows, description="At least 5 rows per day.")
def enough_rows() -> AssetCheckResult:
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN, metadata={"rows": 3, "minimum": 5})


@asset_check(asset=day_rows, blocking=True, description="No duplicate rows.")
def no_duplicates() -> AssetCheckResult:
    return AssetCheckResult(passed=False, description="2 rows stored twice", metadata={"duplicates": 2})


@asset_check(asset=day_rows, description="Rows are positive.")
def rows_positive() -> AssetCheckResult:
    return AssetCheckResult(passed=True, metadata={"negative": 0})


@pytest.fixture
def receiver():
    with AlertReceiver() as server:
        yield server


def webhook(receiver: AlertReceiver, **fields) -> NotifierResource:
    return NotifierResource(kind="webhook", url=receiver.url + "/hooks/T0/secret", backoff_s=0, **fields)


# ------------------------------------------------------------------ notifier


def test_webhook_posts_text_and_context(receiver):
    notifier = webhook(receiver)
    assert notifier.send("Run failed: job daily_job", job="daily_job", partition=DAY, assets=["postings"]) is True
    (request,) = receiver.wait_for(1)
    assert request.method == "POST" and request.path == "/hooks/T0/secret"
    assert request.headers["content-type"] == "application/json"
    assert request.json == {"text": "Run failed: job daily_job", "job": "daily_job", "partition": DAY,
                            "assets": ["postings"]}


def test_signal_rest_api_shape(receiver):
    notifier = NotifierResource(kind="signal", url=receiver.url + "/", signal_number="+4915100000000",
                                signal_recipients="+4915111111111, +4915122222222", backoff_s=0)
    assert notifier.send("check failed", job="x") is True
    (request,) = receiver.wait_for(1)
    assert request.path == "/v2/send"
    assert request.json == {"message": "check failed", "number": "+4915100000000",
                            "recipients": ["+4915111111111", "+4915122222222"]}


def test_signal_settings_from_environment(receiver, monkeypatch):
    for name, value in {"TY_ALERT_KIND": "signal", "TY_ALERT_URL": receiver.url,
                        "TY_ALERT_SIGNAL_NUMBER": "+491", "TY_ALERT_SIGNAL_RECIPIENTS": "+492"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    assert NotifierResource(backoff_s=0).send("from the settings") is True
    assert receiver.wait_for(1)[0].json["recipients"] == ["+492"]


def test_off_logs_and_posts_nothing(receiver, caplog):
    notifier = NotifierResource(kind="off", url=receiver.url)
    with caplog.at_level(logging.INFO, logger="ty.alerts"):
        assert notifier.send("Run failed: job daily_job", job="daily_job") is False
    (record,) = [r for r in caplog.records if r.name == "ty.alerts"]
    assert record.levelno == logging.WARNING
    assert record.alert_text == "Run failed: job daily_job" and record.alert_job == "daily_job"
    assert record.alert_kind == "off"
    assert receiver.requests == []


def test_default_is_off(monkeypatch):
    assert NotifierResource().notifier.kind == "off"


def test_retries_a_500_and_delivers_once(receiver, caplog):
    receiver.answer_next(500)
    with caplog.at_level(logging.INFO, logger="ty.alerts"):
        assert webhook(receiver).send("once") is True
    assert [r.status for r in receiver.requests] == [500, 200]
    assert len(receiver.delivered) == 1 and receiver.delivered[0].json["text"] == "once"
    sent = [r for r in caplog.records if r.name == "ty.alerts"]
    assert sent[-1].alert_attempts == 2


def test_undeliverable_alert_raises_and_is_logged(receiver, caplog):
    receiver.default_status = 503
    with caplog.at_level(logging.INFO, logger="ty.alerts"), pytest.raises(AlertDeliveryError) as failure:
        webhook(receiver, max_retries=2).send("Dagster run failed: job daily_job\nboom: ValueError: x")
    assert len(receiver.requests) == 3  # 1 + 2 retries
    assert "HTTP 503" in str(failure.value) and "Dagster run failed: job daily_job" in str(failure.value)
    assert "secret" not in str(failure.value)  # the webhook's path (its token) is not repeated
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.alert_text.endswith("boom: ValueError: x")


def test_client_error_is_not_retried(receiver):
    receiver.default_status = 400
    with pytest.raises(AlertDeliveryError, match="HTTP 400"):
        webhook(receiver).send("bad request")
    assert len(receiver.requests) == 1


def test_unreachable_receiver_raises():
    receiver = AlertReceiver().start()
    url = receiver.url
    receiver.stop()  # nothing listens on that port any more
    with pytest.raises(AlertDeliveryError, match="ConnectionError"):
        NotifierResource(kind="webhook", url=url, max_retries=1, backoff_s=0).send("lost?")


def test_long_messages_are_cut(receiver):
    webhook(receiver).send("x" * 5000)
    assert len(receiver.wait_for(1)[0].json["text"]) == 1000


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"kind": "webhook"}, "TY_ALERT_URL"),
        ({"kind": "signal", "url": "http://127.0.0.1:8080", "signal_recipients": "+49"}, "TY_ALERT_SIGNAL_NUMBER"),
        ({"kind": "signal", "url": "http://127.0.0.1:8080", "signal_number": "+49"}, "TY_ALERT_SIGNAL_RECIPIENTS"),
        ({"kind": "signal"}, "TY_ALERT_URL"),
        ({"kind": "webhook", "url": "hooks.example.org/x"}, "http(s) URL"),
        ({"kind": "email"}, "not one of off, webhook, signal"),
    ],
)
def test_bad_settings_fail_at_construction(fields, named):
    with pytest.raises(ValidationError, match=named.replace("(", r"\(").replace(")", r"\)")):
        NotifierResource(**fields)
    with pytest.raises(NotifierConfigError, match=named.replace("(", r"\(").replace(")", r"\)")):
        Notifier(**fields)


def test_bad_environment_fails_at_construction(monkeypatch):
    monkeypatch.setenv("TY_ALERT_KIND", "webhook")
    get_settings.cache_clear()
    with pytest.raises(ValidationError, match="TY_ALERT_KIND=webhook needs TY_ALERT_URL"):
        NotifierResource()


# --------------------------------------------------------- run-failure sensor


def _evaluate(sensor, **context_args):
    with build_sensor_context(**context_args) as context:
        return sensor.evaluate_tick(context)


def _failed_run(instance: DagsterInstance):
    result = materialize([day_source, day_rows], partition_key=DAY, instance=instance, raise_on_error=False)
    assert not result.success
    return result


def test_run_failure_sensor_names_job_asset_partition_and_error(receiver):
    instance = DagsterInstance.ephemeral()
    result = _failed_run(instance)
    with build_run_status_sensor_context(
        sensor_name="run_failure_alert", dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(), resources={"notifier": webhook(receiver)},
    ) as context:
        run_failure_alert(context)
    (request,) = receiver.wait_for(1)
    body = request.json
    assert body["text"] == (
        f"Dagster run failed: job __ephemeral_asset_job__, partition {DAY}, asset day_source"
        f" (run {result.run_id[:8]})\nday_source: ValueError: the source has nothing for {DAY}"
    )
    assert body["event"] == "run_failure" and body["run_id"] == result.run_id and body["partition"] == DAY
    assert body["assets"] == ["day_source"]  # day_rows succeeded
    assert body["errors"] == [{"step": "day_source", "error": f"ValueError: the source has nothing for {DAY}"}]


def test_run_failure_sensor_over_the_instance(receiver):
    """Through Dagster's own cursor machinery: in-process runs (no code location) are monitored."""
    instance = DagsterInstance.ephemeral()
    resources = {"notifier": webhook(receiver)}
    first = _evaluate(run_failure_alert, instance=instance, resources=resources)
    assert first.skip_message and "Initiating" in first.skip_message
    result = _failed_run(instance)
    materialize([day_rows], partition_key=DAY, instance=instance)  # a successful run: no alert

    tick = _evaluate(run_failure_alert, instance=instance, cursor=first.cursor, resources=resources)
    assert [r.dagster_run.run_id for r in tick.dagster_run_reactions] == [result.run_id]
    assert tick.dagster_run_reactions[0].error is None
    assert len(receiver.wait_for(1)) == 1 and receiver.requests[0].json["run_id"] == result.run_id

    again = _evaluate(run_failure_alert, instance=instance, cursor=tick.cursor, resources=resources)
    assert not again.dagster_run_reactions and len(receiver.requests) == 1

    # An undeliverable alert fails the tick with the alert in the error (Dagster moves on regardless).
    receiver.default_status = 500
    failed = _failed_run(instance)
    broken = _evaluate(run_failure_alert, instance=instance, cursor=again.cursor,
                       resources={"notifier": webhook(receiver, max_retries=1)})
    (reaction,) = broken.dagster_run_reactions
    assert reaction.dagster_run.run_id == failed.run_id
    assert "AlertDeliveryError" in reaction.error.to_string() and "Dagster run failed" in reaction.error.to_string()


# ---------------------------------------------------------- check-failure sensor


@pytest.fixture
def pg_instance(db_url, tmp_path):
    """A Dagster instance whose storage is the test database, as in production (dagster.yaml)."""
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        f"storage:\n  postgres:\n    postgres_url: \"{sqlalchemy_psycopg2_url(db_url)}\"\n"
        "telemetry:\n  enabled: false\n"
    )
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance


CHECK_DEFS = Definitions(assets=[day_rows], asset_checks=[enough_rows, no_duplicates, rows_positive])


def _tick(sensor, instance, cursor, notifier):
    result = _evaluate(sensor, instance=instance, cursor=cursor, definitions=CHECK_DEFS,
                       resources={"notifier": notifier})
    return result.cursor, result.skip_message


def test_check_sensor_alerts_failed_checks_once(receiver, pg_instance):
    sensor = build_check_failure_sensor("checks_test", settle_s=0)
    notifier = webhook(receiver)
    materialize([day_rows, enough_rows], partition_key="2025-01-01", instance=pg_instance)  # before the sensor
    cursor, message = _tick(sensor, pg_instance, None, notifier)
    assert "started after event" in message and receiver.requests == []

    materialize([day_rows, rows_positive], partition_key="2025-01-02", instance=pg_instance)
    cursor, message = _tick(sensor, pg_instance, cursor, notifier)
    assert message == "1 check evaluation(s), none failed" and receiver.requests == []

    run = materialize([day_rows, enough_rows, no_duplicates, rows_positive], partition_key=DAY,
                      instance=pg_instance, raise_on_error=False)
    cursor, message = _tick(sensor, pg_instance, cursor, notifier)
    assert message == "alerted 2 failed check(s) of 3 evaluation(s)"
    (request,) = receiver.wait_for(1)
    text = request.json["text"]
    assert text.splitlines()[0] == "2 asset checks failed:"
    assert f"- [WARN] day_rows:enough_rows, partition {DAY}: At least 5 rows per day. — minimum=5, rows=3" in text
    assert f"- [ERROR, blocking] day_rows:no_duplicates, partition {DAY}: 2 rows stored twice — duplicates=2" in text
    assert "rows_positive" not in text
    failures = request.json["failures"]
    assert {f["check"] for f in failures} == {"enough_rows", "no_duplicates"}
    assert all(f["run_id"] == run.run_id and f["partition"] == DAY for f in failures)

    cursor, message = _tick(sensor, pg_instance, cursor, notifier)  # nothing new: nothing sent again
    assert message.startswith("no settled check evaluation") and len(receiver.requests) == 1


def test_check_sensor_retries_an_undelivered_alert_next_tick(receiver, pg_instance):
    sensor = build_check_failure_sensor("checks_test", settle_s=0)
    cursor, _ = _tick(sensor, pg_instance, None, webhook(receiver))
    materialize([day_rows, enough_rows], partition_key=DAY, instance=pg_instance)

    receiver.default_status = 502
    with pytest.raises(Exception, match="alert not delivered"):
        _tick(sensor, pg_instance, cursor, webhook(receiver, max_retries=1))
    assert len(receiver.requests) == 2 and receiver.delivered == []

    receiver.default_status = 200
    new_cursor, message = _tick(sensor, pg_instance, cursor, webhook(receiver))  # same cursor: the tick failed
    assert message.startswith("alerted 1 failed check")
    assert len(receiver.delivered) == 1 and "day_rows:enough_rows" in receiver.delivered[0].json["text"]
    assert receiver.delivered[0].json["text"].startswith("Asset check failed (run ")
    _, message = _tick(sensor, pg_instance, new_cursor, webhook(receiver))
    assert len(receiver.delivered) == 1


def test_check_sensor_leaves_fresh_events_for_the_next_tick(receiver, pg_instance):
    sensor = build_check_failure_sensor("checks_test", settle_s=3600)
    cursor, _ = _tick(sensor, pg_instance, None, webhook(receiver))
    materialize([day_rows, enough_rows], partition_key=DAY, instance=pg_instance)
    new_cursor, message = _tick(sensor, pg_instance, cursor, webhook(receiver))
    assert new_cursor == cursor and message.startswith("no settled") and receiver.requests == []


def test_check_sensor_refuses_run_sharded_storage(receiver, tmp_path):
    with DagsterInstance.local_temp(str(tmp_path)) as instance, pytest.raises(Exception, match="run-sharded"):
        _tick(asset_check_failure_alert, instance, None, webhook(receiver))


def test_many_failures_fit_one_message():
    failures = [CheckFailure(asset="postings", check=f"check_{i}", severity="ERROR", blocking=False,
                             partition=f"2025-01-{i % 28 + 1:02d}", run_id="r" * 36, description="d" * 80,
                             metadata={"share": "0.91"}) for i in range(40)]
    text, fields = describe_check_failures(failures)
    assert len(text) <= 1000 and text.startswith("40 asset checks failed:")
    assert text.splitlines()[-1].startswith("… and ") and len(fields["failures"]) == 40
    shown = sum(line.startswith("- ") for line in text.splitlines())
    assert text.splitlines()[-1].startswith(f"… and {40 - shown} more")


@dataclass
class SerializableErrorInfo:
    """The fields of Dagster's error record that error_line reads (the class itself is not public)."""

    message: str
    stack: list[str]
    cls_name: str | None
    cause: "SerializableErrorInfo | None" = None


def test_error_line_unwraps_dagster_and_drops_module_paths():
    user = SerializableErrorInfo("ty_resources.ba.BaRequestError: GET /pc/v4/jobs failed\nmore\n", [], "BaRequestError")
    wrapped = SerializableErrorInfo('dagster._core.errors.DagsterExecutionStepExecutionError: Error in op "x":\n', [],
                                    "DagsterExecutionStepExecutionError", cause=user)
    assert error_line(wrapped) == "BaRequestError: GET /pc/v4/jobs failed"
    check = SerializableErrorInfo("dagster._core.errors.DagsterAssetCheckFailedError: 1 blocking asset check failed"
                                  "\npostings: postings_day_volume\n", [], "DagsterAssetCheckFailedError")
    assert error_line(check) == "DagsterAssetCheckFailedError: 1 blocking asset check failed"
    assert error_line(SerializableErrorInfo("ValueError: http://x.y/z: bad\n", [], "ValueError")) == (
        "ValueError: http://x.y/z: bad")


def test_exported_sensors_load_with_the_project_definitions():
    assert {s.name for s in alert_sensors} == {"run_failure_alert", "asset_check_failure_alert"}
    for sensor in alert_sensors:
        assert sensor.required_resource_keys == {"notifier"}
        assert sensor.default_status.value == "RUNNING"
    Definitions.validate_loadable(defs)
    assert defs.resolve_sensor_def("asset_check_failure_alert") is asset_check_failure_alert
    assert defs.resolve_sensor_def("run_failure_alert") is run_failure_alert
    assert isinstance(defs.resources["notifier"], NotifierResource)
