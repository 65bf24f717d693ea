"""berufenet_labels through Dagster on a real database: reuse, `beruf` precedence, failed partitions."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner
from dagster import AssetKey, AssetPartitionStatus, DagsterInstance, RunsFilter, build_op_context, materialize

from ty_assets.catalogue import berufenet_catalogue
from ty_assets.definitions import defs
from ty_assets.labels import berufenet_labels, label_checks
from ty_assets.loggers import RUN_LOGGER_CONFIG
from ty_assets.partitions import daily_partitions
from ty_assets.postings import posting_descriptions, postings
from ty_assets.resources import (
    DatabaseResource,
    EmbedderResource,
    OllamaResource,
    PostingSourceResource,
    WebSearchResource,
)
from ty_cli.instance import get_instance
from ty_cli.main import main
from ty_resources.classifier import LABEL_PROMPT, WEB_PROMPT
from ty_resources.labels import WEB_ATTEMPTS
from ty_resources.settings import get_settings
from ty_testing.ollama_server import CapacityModel, OllamaFault, OllamaTestServer
from ty_testing.searx_server import SearxTestServer, snippet_vote_script


@pytest.fixture
def snapshot_file(small_snapshot, tmp_path):
    path = tmp_path / "snapshot.json.gz"
    small_snapshot.save(path)
    return path


def resources(db_url, snapshot_file, hosts="", search_url=""):
    return {
        "database": DatabaseResource(database_url=db_url),
        "source": PostingSourceResource(source="snapshot", snapshot_path=str(snapshot_file)),
        "embedder": EmbedderResource(ollama=OllamaResource(hosts=hosts)),
        "ollama": OllamaResource(hosts=hosts, require_llm=True),
        "web_search": WebSearchResource(backend="searxng" if search_url else "", url=search_url),
    }


def test_offline_labels_are_reused_and_beruf_comes_first(db_url, small_snapshot, snapshot_file, asset_metadata,
                                                         markdown_table):
    res = resources(db_url, snapshot_file)
    materialize([berufenet_catalogue], resources=res, instance=DagsterInstance.ephemeral())
    days = small_snapshot.day_keys[:2]
    metas = []
    for day in days:
        result = materialize([postings, posting_descriptions, berufenet_labels, *label_checks], partition_key=day,
                             resources=res, instance=DagsterInstance.ephemeral())
        assert all(e.passed for e in result.get_asset_check_evaluations())
        metas.append(asset_metadata(result, "berufenet_labels"))
    assert metas[0]["status_matched"] > 0.5 * metas[0]["classified"]
    assert metas[0]["llm_calls"] == 0 and metas[0]["status_error"] == 0
    shares = markdown_table(metas[0]["status_shares"])  # the preview: every title's status, and the day's
    assert shares[0] == ["status", "titles", "share", "of_the_day", "share_of_the_day"]
    by_status = {row[0]: row for row in shares[1:]}
    assert int(by_status["matched"][1]) == metas[0]["status_matched"]
    assert sum(int(row[3]) for row in shares[1:]) == metas[0]["title_keys_of_day"]
    assert metas[1]["classified"] < metas[1]["title_keys_of_day"]  # day 1's settled labels are reused
    again = materialize([berufenet_labels], partition_key=days[1], resources=res, instance=DagsterInstance.ephemeral())
    again_meta = asset_metadata(again, "berufenet_labels")
    assert again_meta["classified"] == again_meta["status_pending_llm"]  # only open ones again
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT p.beruf, pr.name, p.label_source FROM postings p JOIN professions pr USING (berufenet_id)"
            " WHERE p.label_source = 'beruf' LIMIT 50").fetchall()
        assert rows and all(beruf == name for beruf, name, _ in rows)
        by_title = conn.execute(
            "SELECT count(*) FROM postings p JOIN title_labels l ON l.title_key = p.title_normalized"
            " WHERE p.label_source = 'title' AND p.berufenet_id = l.berufenet_id AND l.status = 'matched'").fetchone()[0]
        assert by_title > 0
        truth_hits = conn.execute("SELECT refnr, berufenet_id FROM postings WHERE berufenet_id IS NOT NULL").fetchall()
        # each label keeps how likely its first candidate is right: 1 for an exact reading, the model's otherwise
        confidence = dict(conn.execute(
            "SELECT method = 'exact', array_agg(DISTINCT round(confidence::numeric, 1)) FROM title_labels"
            " WHERE method IN ('exact', 'retrieval') OR status <> 'matched' GROUP BY 1").fetchall())
        assert confidence[True] == [1] and confidence[False] and None not in confidence[False]
        assert all(0 <= c <= 1 for c in confidence[False])
    correct = sum(small_snapshot.truth.get(r) == b for r, b in truth_hits)
    assert correct / len(truth_hits) > 0.8


def test_a_new_decision_version_revises_only_what_retrieval_decided_and_says_what_changed(
        db_url, small_snapshot, snapshot_file, asset_metadata):
    """Labels decided by retrieval under another vocabulary, confidence model or threshold (here: a decision
    version of 'old', and one label's old verdict another profession) are classified again by the next run that
    sees their titles; only the changed one changes, and the run's metadata says from what to what. Exact
    readings and LLM verdicts are not revised."""
    res = resources(db_url, snapshot_file)
    materialize([berufenet_catalogue], resources=res, instance=DagsterInstance.ephemeral())
    day = small_snapshot.day_keys[0]
    materialize([postings, posting_descriptions, berufenet_labels], partition_key=day, resources=res,
                instance=DagsterInstance.ephemeral())
    with psycopg.connect(db_url) as conn:
        retrieval = conn.execute(
            "SELECT count(*) FROM title_labels WHERE status = 'no_match' OR method IN ('retrieval', 'typo')"
        ).fetchone()[0]
        key, right = conn.execute("SELECT title_key, berufenet_id FROM title_labels WHERE method = 'retrieval'"
                                  " ORDER BY title_key LIMIT 1").fetchone()
        conn.execute("UPDATE title_labels SET decision_version = 'old'")
        conn.execute("UPDATE title_labels SET berufenet_id = '29302-101' WHERE title_key = %s", (key,))
        conn.commit()
    again = materialize([berufenet_labels], partition_key=day, resources=res, instance=DagsterInstance.ephemeral())
    meta = asset_metadata(again, "berufenet_labels")
    assert retrieval > 0 and meta["labels_revised"] == retrieval
    assert meta["labels_revised_changed"] == 1
    assert meta["labels_revised_changes"] == [{"title": meta["labels_revised_changes"][0]["title"],
                                               "from": "matched 29302-101", "to": f"matched {right}"}]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT berufenet_id FROM title_labels WHERE title_key = %s", (key,)).fetchone()[0] == right
        stale = conn.execute("SELECT count(*) FROM title_labels WHERE decision_version = 'old'"
                             " AND (status = 'no_match' OR method IN ('retrieval', 'typo'))").fetchone()[0]
        exact_untouched = conn.execute("SELECT count(*) FROM title_labels WHERE decision_version = 'old'"
                                       " AND method = 'exact'").fetchone()[0]
    assert stale == 0 and exact_untouched > 0


def test_coverage_and_error_share_checks_count_the_days_postings(db_url, snapshot_file, small_snapshot, monkeypatch):
    res = resources(db_url, snapshot_file)
    materialize([berufenet_catalogue], resources=res, instance=DagsterInstance.ephemeral())
    day = small_snapshot.day_keys[0]
    result = materialize([postings, posting_descriptions, berufenet_labels, *label_checks], partition_key=day,
                         resources=res, instance=DagsterInstance.ephemeral())
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["labels_coverage"].passed and checks["labels_error_share"].passed
    with psycopg.connect(db_url) as conn:  # the day's most frequent title fails for good
        conn.execute("UPDATE title_labels SET status = 'error', berufenet_id = NULL, method = NULL, reason = 'boom'"
                     " WHERE title_key = (SELECT title_normalized FROM postings WHERE last_seen = %s"
                     " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)", (day,))
        conn.execute("UPDATE postings p SET berufenet_id = NULL, label_source = NULL FROM title_labels l"
                     " WHERE l.title_key = p.title_normalized AND l.status = 'error'")
        active, labelled, failing = conn.execute(
            "SELECT count(*), count(p.berufenet_id), count(*) FILTER (WHERE l.status = 'error') FROM postings p"
            " JOIN title_labels l ON l.title_key = p.title_normalized"
            " WHERE p.last_seen = %s AND p.invalidated_at IS NULL", (day,)).fetchone()
    assert failing > 0
    monkeypatch.setenv("TY_MIN_COVERAGE", "0.999")
    monkeypatch.setenv("TY_LABEL_MAX_ERROR_RATE", "0.01")
    get_settings.cache_clear()
    # Partitioned checks run with their asset (Dagster 1.13 has no checks-only partitioned run), so the
    # corrupted state is checked by invoking the checks with the day's context.
    with build_op_context(partition_key=day, resources={"database": DatabaseResource(database_url=db_url)}) as ctx:
        checks = {check.check_key.name: check(ctx) for check in label_checks[1:]}
    coverage, errors = checks["labels_coverage"], checks["labels_error_share"]
    meta = {k: v.value for k, v in coverage.metadata.items()}
    assert (meta["day"], meta["postings"], meta["labelled"], meta["error"]) == (day, active, labelled, failing)
    assert meta["coverage"] == round(labelled / active, 4) and not coverage.passed
    assert abs(sum(meta[f"share_{s}"] for s in ("matched", "no_match", "llm_no", "llm_uncertain", "pending_llm",
                                                 "error")) - 1) < 0.01  # every posting has a title label
    error_meta = {k: v.value for k, v in errors.metadata.items()}
    assert error_meta["error_share"] == round(failing / active, 4) > 0.01 and not errors.passed


def _chat(body):
    schema = body["format"]
    if "choice" not in schema["properties"]:  # another asset's prompt in the daily job (posting summaries)
        return {name: [] if schema["properties"][name].get("type") == "array" else None for name in schema["required"]}
    text = body["messages"][-1]["content"]
    return {"choice": text.split("Candidates:\n- ")[1].split(":")[0], "reason": "closest candidate"}


def test_llm_outage_fails_one_partition_and_backfill_reruns_only_it(db_url, small_snapshot, snapshot_file,
                                                                     tmp_path, monkeypatch):
    days = small_snapshot.day_keys[:3]
    with OllamaTestServer(dimension=32, capacity=CapacityModel(time_scale=0), chat_script=_chat) as server:
        for name, value in {"DATABASE_URL": db_url, "TY_DATA_DIR": str(tmp_path / "data"), "OLLAMA_HOST": server.url,
                            "TY_SNAPSHOT_PATH": str(snapshot_file), "TY_ACCEPT_SCORE": "0.999",
                            "TY_OLLAMA_MAX_RETRIES": "0", "TY_LOG_FORMAT": "human", "TY_DAGSTER_PG_URL": ""}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        instance = get_instance(get_settings(), db_url)
        defs.resolve_job_def("catalogue_job").execute_in_process(instance=instance, run_config=RUN_LOGGER_CONFIG)
        daily = defs.resolve_job_def("daily_job")
        outcomes = []
        for i, day in enumerate(days):
            if i == 1:
                server.add_fault(OllamaFault("500", endpoint="/api/chat", count=100_000))
            outcomes.append(daily.execute_in_process(partition_key=day, instance=instance, run_config=RUN_LOGGER_CONFIG,
                                                     raise_on_error=False).success)
            if i == 1:
                with psycopg.connect(db_url) as conn:
                    errors = conn.execute("SELECT count(*) FROM title_labels WHERE status = 'error'").fetchone()[0]
                assert errors > 0  # stored as errors, not lost (a later day with the same titles may retry them)
            server.faults.clear()
        assert outcomes == [True, False, True]
        status = instance.get_status_by_partition(AssetKey("berufenet_labels"), days, daily_partitions)
        assert [status[d] for d in days] == [AssetPartitionStatus.MATERIALIZED, AssetPartitionStatus.FAILED,
                                             AssetPartitionStatus.MATERIALIZED]

        result = CliRunner().invoke(main, ["backfill-failed", "berufenet_labels"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert f"berufenet_labels: 1 failed partition(s): {days[1]}" in result.output
    status = instance.get_status_by_partition(AssetKey("berufenet_labels"), days, daily_partitions)
    assert set(status.values()) == {AssetPartitionStatus.MATERIALIZED}
    runs = {d: len(instance.get_run_records(RunsFilter(tags={"dagster/partition": d}))) for d in days}
    assert runs == {days[0]: 1, days[1]: 2, days[2]: 1}
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM title_labels WHERE status = 'error'").fetchone()[0] == 0
    instance.dispose()


def test_a_run_that_dies_midway_keeps_the_chunks_it_committed(db_url, small_snapshot, snapshot_file, asset_metadata,
                                                              monkeypatch):
    """Labels are stored and committed a chunk at a time: the run that fails in its third chunk keeps the first
    two, and the re-run classifies only the rest."""
    import ty_assets.labels.assets as labels_module
    from ty_resources.classifier import Classifier

    res = resources(db_url, snapshot_file)
    materialize([berufenet_catalogue], resources=res, instance=DagsterInstance.ephemeral())
    day = small_snapshot.day_keys[0]
    materialize([postings, posting_descriptions], partition_key=day, resources=res,
                instance=DagsterInstance.ephemeral())
    monkeypatch.setattr(labels_module, "LABEL_CHUNK", 20)
    calls = []
    classify = Classifier.classify

    def dies_in_the_third_chunk(self, titles, excerpts=None):
        calls.append(len(titles))
        if len(calls) == 3:
            raise RuntimeError("killed")
        return classify(self, titles, excerpts)

    monkeypatch.setattr(Classifier, "classify", dies_in_the_third_chunk)
    failed = materialize([berufenet_labels], partition_key=day, resources=res, instance=DagsterInstance.ephemeral(),
                         raise_on_error=False)
    assert not failed.success and calls == [20, 20, 20]
    with psycopg.connect(db_url) as conn:
        stored, settled = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status <> 'pending_llm') FROM title_labels").fetchone()
    assert stored == 40 and settled > 20
    monkeypatch.setattr(Classifier, "classify", classify)
    again = materialize([berufenet_labels], partition_key=day, resources=res, instance=DagsterInstance.ephemeral())
    meta = asset_metadata(again, "berufenet_labels")
    assert meta["classified"] == meta["title_keys_of_day"] - settled  # pending_llm titles are always open


# ------------------------------------------------------------------ the web stage and prompt versions


def _label_stage(body):
    """The label prompt's stages say NONE, so that every title they see reaches the web stage."""
    return {"choice": "NONE", "reason": "not sure from the title"}


def llm_free_of_web(llm):
    """No web prompt reached the LLM (a failed search asks nothing)."""
    return not any("Search results:" in b["messages"][-1]["content"] for b in llm.chat_bodies)


@pytest.fixture
def web_env(monkeypatch):
    for name, value in {"TY_LABEL_PRECISION": "0.999", "TY_WEB_SEARCH_PER_S": "100",
                        "TY_OLLAMA_MAX_RETRIES": "0"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def test_web_search_settles_titles_with_evidence_and_a_failing_search_leaves_them_open(
        db_url, small_snapshot, snapshot_file, catalogue, asset_metadata, web_env):
    day = small_snapshot.day_keys[0]
    script = snippet_vote_script(catalogue.professions, min_named=1, other=_label_stage)
    with OllamaTestServer(dimension=32, capacity=CapacityModel(time_scale=0), chat_script=script) as llm, \
            SearxTestServer(catalogue=catalogue, seed=1) as searx:
        res = resources(db_url, snapshot_file, hosts=llm.url, search_url=searx.url)
        materialize([berufenet_catalogue], resources=res, instance=DagsterInstance.ephemeral())
        searx.json_enabled = False  # the instance's settings.yml does not allow format=json: every search fails
        failed = materialize([postings, posting_descriptions, berufenet_labels], partition_key=day, resources=res,
                             instance=DagsterInstance.ephemeral())
        meta = asset_metadata(failed, "berufenet_labels")
        assert failed.success and meta["web_search_failed"] > 10 and meta["labels_settled_by_web"] == 0
        assert meta["labels_web_open"] == meta["web_search_failed"] and meta["status_error"] == 0
        with psycopg.connect(db_url) as conn:
            open_rows = conn.execute(
                "SELECT status, reason, evidence FROM title_labels WHERE evidence ? 'error'").fetchall()
            assert conn.execute("SELECT count(*) FROM web_search_cache").fetchone()[0] == 0  # failures not cached
        assert len(open_rows) == meta["web_search_failed"]
        assert {status for status, _, _ in open_rows} <= {"no_match", "llm_no", "llm_uncertain"}  # as they were
        assert all("web stage: search failed: " in reason and "403 Forbidden" in reason
                   for _, reason, _ in open_rows)
        # after 5 failures in a row no more are sent (one more may be in flight on the second worker)
        assert llm_free_of_web(llm) and 5 <= len(searx.queries) <= 6
        assert all(evidence["query"].endswith(" Beruf Stellenbeschreibung") for _, _, evidence in open_rows)

        searx.json_enabled = True  # fixed: the next run searches exactly the titles left open
        fixed = materialize([berufenet_labels], partition_key=day, resources=res, instance=DagsterInstance.ephemeral())
        again = asset_metadata(fixed, "berufenet_labels")
        assert again["classified"] == len(open_rows) and again["web_searches"] == len(open_rows)
        assert again["web_search_failed"] == 0 and again["labels_settled_by_web"] > 0
        assert again["method_web"] == again["labels_settled_by_web"]
        assert again["prompt_versions"] == {"llm_prompt": LABEL_PROMPT.version, "web_prompt": WEB_PROMPT.version}
        with psycopg.connect(db_url) as conn:
            web_rows = conn.execute(
                "SELECT l.berufenet_id, l.evidence, l.prompt_version, l.model, p.name FROM title_labels l"
                " JOIN professions p USING (berufenet_id) WHERE l.method = 'web'").fetchall()
            assert conn.execute("SELECT count(*) FROM title_labels WHERE evidence ? 'error'").fetchone()[0] == 0
            cached = conn.execute("SELECT count(*) FROM web_search_cache").fetchone()[0]
        assert len(web_rows) == again["labels_settled_by_web"] and cached == again["web_searches"]
        for berufenet_id, evidence, prompt_version, model, name in web_rows:
            assert prompt_version == WEB_PROMPT.version and model.endswith("qwen2.5:7b")
            assert berufenet_id in evidence["candidates"] and len(evidence["support"]) >= 1
            assert all(s["url"] in evidence["urls"] and s["url"].startswith("https://") for s in evidence["support"])
            assert evidence["chosen"]["name"] == name
        # settled: a third run searches nothing and asks nothing
        third = asset_metadata(materialize([berufenet_labels], partition_key=day, resources=res,
                                           instance=DagsterInstance.ephemeral()), "berufenet_labels")
        assert third["classified"] == 0 and third["web_searches"] == 0


def test_a_search_that_keeps_failing_reopens_its_titles_only_a_few_times(
        db_url, small_snapshot, snapshot_file, catalogue, asset_metadata, web_env):
    """A title open for the web stage is classified from scratch (both LLM stages before the search): while the
    search keeps failing, that happens until the query has failed WEB_ATTEMPTS times, then the label stays as it
    was. Titles the breaker did not send count as well (they paid the LLM stages all the same)."""
    day = small_snapshot.day_keys[0]
    script = snippet_vote_script(catalogue.professions, min_named=1, other=_label_stage)
    with OllamaTestServer(dimension=32, capacity=CapacityModel(time_scale=0), chat_script=script) as llm, \
            SearxTestServer(catalogue=catalogue, seed=1) as searx:
        res = resources(db_url, snapshot_file, hosts=llm.url, search_url=searx.url)
        materialize([berufenet_catalogue], resources=res, instance=DagsterInstance.ephemeral())
        searx.json_enabled = False  # every search fails, run after run
        first = materialize([postings, posting_descriptions, berufenet_labels], partition_key=day, resources=res,
                            instance=DagsterInstance.ephemeral())
        failed = asset_metadata(first, "berufenet_labels")["web_search_failed"]
        assert failed > 10
        runs = [asset_metadata(materialize([berufenet_labels], partition_key=day, resources=res,
                                           instance=DagsterInstance.ephemeral()), "berufenet_labels")
                for _ in range(WEB_ATTEMPTS)]
        assert runs[0]["classified"] == failed and runs[0]["llm_calls"] > 0  # the second run tries them again
        assert runs[-1]["classified"] == 0 and runs[-1]["llm_calls"] == 0 and runs[-1]["web_searches"] == 0
        with psycopg.connect(db_url) as conn:
            attempts = [row[0] for row in conn.execute(
                "SELECT evidence -> 'attempts' FROM title_labels WHERE evidence ? 'error'")]
            counted = conn.execute("SELECT min(failures) FROM web_search_failures").fetchone()[0]
        assert len(attempts) == failed and min(attempts) >= WEB_ATTEMPTS and counted >= WEB_ATTEMPTS


def test_a_changed_prompt_revises_only_the_labels_that_prompt_decided(db_url, small_snapshot, snapshot_file,
                                                                      catalogue, asset_metadata, web_env):
    """Labels decided by the label prompt under an older version are classified again (with an LLM); labels the
    web prompt decided, retrieval's and exact readings are not. Without an LLM nothing LLM-made is touched."""
    day = small_snapshot.day_keys[0]
    script = snippet_vote_script(catalogue.professions, min_named=1, other=_chat)
    with OllamaTestServer(dimension=32, capacity=CapacityModel(time_scale=0), chat_script=script) as llm, \
            SearxTestServer(catalogue=catalogue, seed=1) as searx:
        res = resources(db_url, snapshot_file, hosts=llm.url, search_url=searx.url)
        materialize([berufenet_catalogue], resources=res, instance=DagsterInstance.ephemeral())
        materialize([postings, posting_descriptions, berufenet_labels], partition_key=day, resources=res,
                    instance=DagsterInstance.ephemeral())
        with psycopg.connect(db_url) as conn:
            by_prompt = dict(conn.execute(
                "SELECT coalesce(prompt_version, 'none'), count(*) FROM title_labels GROUP BY 1").fetchall())
            assert conn.execute("SELECT count(*) FROM title_labels WHERE prompt_version IS NULL AND"
                                " (method IN ('llm', 'enriched', 'web') OR status IN ('llm_no', 'llm_uncertain'))"
                                ).fetchone()[0] == 0  # every LLM verdict records its prompt
            old = conn.execute("UPDATE title_labels SET prompt_version = 'label_verify@0:00000000'"
                               " WHERE prompt_version = %s", (LABEL_PROMPT.version,)).rowcount
            conn.commit()
        assert old > 0 and by_prompt.get(WEB_PROMPT.version, 0) > 0 and by_prompt["none"] > 0

        # the same embedder (so the same decision version), no LLM: no prompt in use, nothing LLM-made revised
        offline = {**res, "ollama": OllamaResource(hosts="", require_llm=True)}
        quiet = asset_metadata(materialize([berufenet_labels], partition_key=day, resources=offline,
                                           instance=DagsterInstance.ephemeral()), "berufenet_labels")
        assert quiet["labels_revised"] == 0 and quiet["web_searches"] == 0

        revised = asset_metadata(materialize([berufenet_labels], partition_key=day, resources=res,
                                             instance=DagsterInstance.ephemeral()), "berufenet_labels")
        assert revised["labels_revised"] == old and revised["classified"] == old
    with psycopg.connect(db_url) as conn:
        after = dict(conn.execute(
            "SELECT coalesce(prompt_version, 'none'), count(*) FROM title_labels GROUP BY 1").fetchall())
    assert "label_verify@0:00000000" not in after
    assert sum(after.values()) == sum(by_prompt.values())
