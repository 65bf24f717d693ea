"""posting_summaries through Dagster on a real database and the local Ollama test server: what is made, what is
made again (and what not), errors with attempts, a killed run resumed, the partition's error rule, and what the
web app is given to show."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import pytest
from dagster import DagsterInstance, build_op_context, materialize

import ty_assets.summaries.assets as summaries_module
from ty_assets.postings import posting_descriptions, postings
from ty_assets.postings.descriptions import FACT_CHARS, FACT_LIST_ITEMS, detail_facts, fetch_one
from ty_assets.resources import DatabaseResource, OllamaResource, PostingSourceResource
from ty_assets.summaries import posting_summaries, summary_checks
from ty_resources.germany import BERLIN
from ty_resources.prompts import load_prompt
from ty_resources.sample import generate_snapshot
from ty_resources.settings import get_settings
from ty_resources.summaries import EXTRACTIVE, EXTRACTIVE_VERSION, LlmSummarizer
from ty_resources.summary_store import shown_summaries
from ty_testing.ollama_server import CapacityModel, OllamaTestServer

LLM = "qwen2.5:7b"


@pytest.fixture(scope="module")
def day_snapshot(catalogue):
    """Two days, about 40 postings on the last one: a day small enough to ask the LLM about every posting."""
    return generate_snapshot(catalogue, seed=3, days=2, postings=40, end_date=datetime.now(BERLIN).date())


@dataclass
class Day:
    db_url: str
    day: str
    refnrs: list[str]  # the day's postings
    described: list[str]  # those with an ok, non-empty description
    skipped: str  # one posting made not_found (no description)
    title_of: dict[str, str]

    @property
    def undescribed(self) -> int:
        return len(self.refnrs) - len(self.described)


@pytest.fixture
def prepared(db_url, day_snapshot, tmp_path) -> Day:
    """The last day's postings and descriptions fetched; one of them without a description (not_found)."""
    path = tmp_path / "snapshot.json.gz"
    day_snapshot.save(path)
    day = day_snapshot.day_keys[-1]
    materialize([postings, posting_descriptions], partition_key=day, instance=DagsterInstance.ephemeral(),
                resources={"database": DatabaseResource(database_url=db_url),
                           "source": PostingSourceResource(source="snapshot", snapshot_path=str(path))})
    with psycopg.connect(db_url) as conn:
        titles: dict[str, str] = dict(conn.execute(
            "SELECT refnr, title FROM postings WHERE last_seen = %s ORDER BY refnr", (day,)).fetchall())
        skipped = sorted(titles)[0]
        conn.execute("UPDATE posting_descriptions SET status = 'not_found', description = NULL, facts = NULL"
                     " WHERE refnr = %s", (skipped,))
        described = [r for (r,) in conn.execute(
            "SELECT refnr FROM posting_descriptions WHERE status = 'ok' AND description <> '' AND refnr = ANY(%s)"
            " ORDER BY refnr", (list(titles),)).fetchall()]
    assert len(titles) >= 35 and len(described) >= len(titles) - 3
    return Day(db_url, day, sorted(titles), described, skipped, titles)


def summarize(prepared: Day, hosts: str = "", raise_on_error: bool = True):
    return materialize(
        [posting_summaries, *summary_checks], partition_key=prepared.day, instance=DagsterInstance.ephemeral(),
        resources={"database": DatabaseResource(database_url=prepared.db_url),
                   "ollama": OllamaResource(hosts=hosts, require_llm=True)},
        raise_on_error=raise_on_error,
    )


def rows(db_url: str, model: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(db_url, row_factory=psycopg.rows.dict_row) as conn:
        return {r["refnr"]: r for r in conn.execute(
            "SELECT refnr, status, summary, prompt_version, source_hash, attempts, last_error, made_at"
            " FROM posting_summaries WHERE model = %s", (model,)).fetchall()}


# ------------------------------------------------------------------------------------------ the LLM's answers


def _fenced(body: dict[str, Any]) -> str:
    text = body["messages"][-1]["content"]
    return text.split("<<<\n", 1)[1].rsplit("\n>>>", 1)[0]


def asked_title(body: dict[str, Any]) -> str:
    """The posting a chat request is about: its title line."""
    first = body["messages"][-1]["content"].splitlines()[0]
    assert first.startswith("Titel: ")
    return first.removeprefix("Titel: ")


class Script:
    """The LLM's answers: a faithful summary (list items of the description) unless the posting's title is
    named in ``bad``: then a wrong schema, an invented salary or truncated JSON."""

    def __init__(self) -> None:
        self.bad: dict[str, str] = {}
        self.asked: Counter[str] = Counter()

    def __call__(self, body: dict[str, Any]) -> str | dict[str, Any]:
        title = asked_title(body)
        self.asked[title] += 1
        fields = body["format"]["required"]
        kind = self.bad.get(title)
        if kind == "schema":
            return {"tasks": "Holz sortieren", "requirements": [], "bonus": 1}
        if kind == "truncated":
            return '{"tasks": ["Maschinen einrich'
        # the description's list items, their first words (the schema bounds an item's length)
        items = [" ".join(line[2:].split()[:6]) for line in _fenced(body).splitlines() if line.startswith("- ")]
        answer: dict[str, Any] = {name: None for name in fields}
        answer["tasks"], answer["requirements"] = items[:2], items[5:6]
        if kind == "salary":
            assert "salary" in fields, "the invented salary needs a posting whose facts name no pay"
            answer["salary"] = "4.321 € brutto im Monat"
        return answer


@pytest.fixture
def llm():
    script = Script()
    with OllamaTestServer(dimension=32, capacity=CapacityModel(time_scale=0), chat_script=script) as server:
        server.script = script
        yield server


def pick_unique(prepared: Day, count: int, facts_without_pay: bool = False) -> list[str]:
    """``count`` described postings whose titles no other posting of the day has (the script tells them apart by
    their title), optionally only those whose BA facts state no pay (the LLM is asked for the salary)."""
    titles = Counter(prepared.title_of.values())
    with psycopg.connect(prepared.db_url) as conn:
        paid = {r for (r,) in conn.execute("SELECT refnr FROM posting_descriptions WHERE facts ? 'verguetung'")}
    chosen = [r for r in prepared.described if titles[prepared.title_of[r]] == 1
              and not (facts_without_pay and r in paid)]
    assert len(chosen) >= count
    return chosen[:count]


def bad_answers(prepared: Day, llm) -> dict[str, str]:
    """Three postings whose answers go wrong: refnr -> kind."""
    schema_wrong, truncated = pick_unique(prepared, 2)
    salary = next(r for r in pick_unique(prepared, 10, facts_without_pay=True) if r not in (schema_wrong, truncated))
    bad = {schema_wrong: "schema", salary: "salary", truncated: "truncated"}
    llm.script.bad = {prepared.title_of[r]: kind for r, kind in bad.items()}
    return bad


# ---------------------------------------------------------------------------------------------- the tests


def test_the_ba_facts_are_kept_small_and_never_the_text_or_addresses(prepared):
    class Source:
        def fetch_detail(self, refnr):
            return {"stellenangebotsBeschreibung": "<p>Text</p>", "arbeitsorte": [{"ort": "Berlin"}],
                    "arbeitgeberAdresse": {"strasse": "Hauptstr. 1"}, "arbeitgeberdarstellung": "x" * 5000,
                    "arbeitszeitmodelle": ["VOLLZEIT", 7, {"x": 1}, *[f"M{i}" for i in range(30)]],
                    "befristung": "UNBEFRISTET", "uebernahme": True, "anzahlOffeneStellen": 3,
                    "verguetung": "  3.200 €\n brutto " + "sehr " * 1000, "eintrittsdatum": "2026-12-16",
                    "nurFuerSchwerbehinderte": 1, "quereinstiegGeeignet": False, "unbekanntesFeld": "neu"}

    result = fetch_one(Source(), "R-1")
    facts = result.facts
    assert result.status == "ok" and result.description == "Text" and facts is not None
    assert set(facts) == {"arbeitszeitmodelle", "befristung", "uebernahme", "anzahlOffeneStellen", "verguetung",
                          "eintrittsdatum", "quereinstiegGeeignet"}  # 1 is no bool; unknown fields are left out
    assert facts["arbeitszeitmodelle"][:2] == ["VOLLZEIT", "M0"] and len(facts["arbeitszeitmodelle"]) < FACT_LIST_ITEMS
    assert facts["verguetung"].startswith("3.200 € brutto sehr") and len(facts["verguetung"]) == FACT_CHARS
    assert (facts["uebernahme"], facts["quereinstiegGeeignet"], facts["anzahlOffeneStellen"]) == (True, False, 3)
    assert detail_facts({"anzahlOffeneStellen": True, "befristung": ["x"], "branche": ""}) == {}
    with psycopg.connect(prepared.db_url) as conn:  # what the snapshot's details gave, stored
        stored = conn.execute("SELECT facts FROM posting_descriptions WHERE status = 'ok' AND refnr = ANY(%s)",
                              (prepared.refnrs,)).fetchall()
    assert stored and all(f is not None and "arbeitszeitmodelle" in f and "befristung" in f for (f,) in stored)
    assert not {key for (f,) in stored for key in f} & {"stellenangebotsBeschreibung", "arbeitsorte", "arbeitgeber"}


def test_offline_every_described_posting_gets_an_extractive_summary_once(prepared, asset_metadata):
    first = summarize(prepared)
    assert all(e.passed for e in first.get_asset_check_evaluations())
    meta = asset_metadata(first, "posting_summaries")
    assert meta["llm"].startswith("none") and meta["llm_ok"] == meta["llm_error"] == 0
    assert (meta["extractive_ok"], meta["extractive_skipped"], meta["extractive_error"]) == (
        len(prepared.described), prepared.undescribed, 0)
    assert meta["summarized"] == meta["postings"] == len(prepared.refnrs)
    stored = rows(prepared.db_url, EXTRACTIVE)
    assert stored[prepared.skipped]["status"] == "skipped" and stored[prepared.skipped]["summary"] is None
    ok = [stored[r] for r in prepared.described]
    assert all(r["status"] == "ok" and r["prompt_version"] == EXTRACTIVE_VERSION and r["attempts"] == 0 for r in ok)
    assert sum(bool(r["summary"]["tasks"]) for r in ok) > 0.9 * len(ok)
    assert all(r["summary"]["working_time"] for r in ok)  # from the BA's arbeitszeitmodelle
    assert "| refnr" in meta["preview"]

    again = asset_metadata(summarize(prepared), "posting_summaries")
    assert again["summarized"] == 0 and again["extractive_unchanged"] == len(prepared.refnrs)
    assert rows(prepared.db_url, EXTRACTIVE) == stored  # not even made_at moved


def test_llm_summaries_for_a_day_and_what_the_web_is_shown(prepared, llm, asset_metadata):
    (failed,) = pick_unique(prepared, 1)
    llm.script.bad = {prepared.title_of[failed]: "schema"}
    result = summarize(prepared, llm.url)
    meta = asset_metadata(result, "posting_summaries")
    assert (meta["llm_ok"], meta["llm_error"], meta["llm_skipped"]) == (len(prepared.described) - 1, 1,
                                                                          prepared.undescribed)
    assert meta["extractive_ok"] == len(prepared.described)
    assert meta["llm"] == LLM and meta["llm_prompt_version"] == load_prompt("posting_summary").version
    assert meta["llm_summaries_per_s"] > 0 and "| refnr" in meta["preview"]
    # one request per described posting, two for the one answered outside the schema; none without a description
    assert sum(llm.script.asked.values()) == len(prepared.described) + 1
    assert llm.script.asked[prepared.title_of[failed]] == 2
    stored = rows(prepared.db_url, LLM)
    assert stored[prepared.skipped]["status"] == "skipped"
    good = [r for r in prepared.described if r != failed]
    assert all(stored[r]["status"] == "ok" and stored[r]["prompt_version"] == meta["llm_prompt_version"]
               for r in good)
    assert all(stored[r]["summary"]["tasks"] for r in good)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    check_meta = {k: v.value for k, v in checks["summaries_cover_described_postings"].metadata.items()}
    assert checks["summaries_cover_described_postings"].passed
    assert check_meta["with_llm_summary"] == len(good) and check_meta["with_error"] == 1

    with psycopg.connect(prepared.db_url) as conn:
        shown = shown_summaries(conn, [*prepared.refnrs, "UNKNOWN"], LLM)
        offline = shown_summaries(conn, prepared.refnrs, None)
        assert shown_summaries(conn, [], LLM) == {}
    assert set(shown) == set(offline) == set(prepared.described)  # nothing for the posting without a description
    assert shown[failed].kind == "extractive" and shown[failed].model == EXTRACTIVE  # the LLM's failed: extractive
    assert all(shown[r].kind == "llm" and shown[r].model == LLM for r in good)
    assert shown[good[0]].tasks == stored[good[0]]["summary"]["tasks"]
    assert shown[good[0]].prompt_version == meta["llm_prompt_version"]
    assert all(s.kind == "extractive" and s.prompt_version == EXTRACTIVE_VERSION for s in offline.values())


def test_malformed_answers_are_errors_with_attempts_and_are_retried_next_run(prepared, llm, asset_metadata,
                                                                            monkeypatch):
    monkeypatch.setenv("TY_SUMMARY_MAX_ERROR_RATE", "1")  # the partition's rule is another test's
    get_settings.cache_clear()
    bad = bad_answers(prepared, llm)
    for attempt in (1, 2):  # the answers stay wrong for two runs
        llm.script.asked.clear()
        meta = asset_metadata(summarize(prepared, llm.url), "posting_summaries")
        assert meta["llm_error"] == 3 and meta["errors"] == 3
        stored = rows(prepared.db_url, LLM)
        for refnr, kind in bad.items():
            row = stored[refnr]
            assert (row["status"], row["summary"], row["attempts"]) == ("error", None, attempt)
            expected = {"schema": "invalid answer", "salary": "invented salary", "truncated": "invalid answer"}[kind]
            assert expected in row["last_error"]
        if attempt == 2:  # only the failed ones were asked again
            assert set(llm.script.asked) == {prepared.title_of[r] for r in bad}
    errors = {e["refnr"]: e["error"] for e in meta["error_examples"]}
    assert set(errors) == set(bad) and "4321" in errors[next(r for r, k in bad.items() if k == "salary")]

    llm.script.bad.clear()
    llm.script.asked.clear()
    meta = asset_metadata(summarize(prepared, llm.url), "posting_summaries")
    assert (meta["llm_ok"], meta["llm_error"], meta["extractive_ok"]) == (3, 0, 0)
    assert set(llm.script.asked) == {prepared.title_of[r] for r in bad}
    stored = rows(prepared.db_url, LLM)
    assert all((stored[r]["status"], stored[r]["attempts"], stored[r]["last_error"]) == ("ok", 0, None) for r in bad)
    assert stored[next(r for r, k in bad.items() if k == "salary")]["summary"]["salary"] is None


def test_an_error_is_given_up_after_max_attempts_until_its_input_or_prompt_changes(prepared, llm, asset_metadata,
                                                                                   monkeypatch):
    monkeypatch.setenv("TY_SUMMARY_MAX_ERROR_RATE", "1")
    get_settings.cache_clear()
    bad = bad_answers(prepared, llm)
    for _ in range(summaries_module.MAX_ATTEMPTS):
        meta = asset_metadata(summarize(prepared, llm.url), "posting_summaries")
        assert meta["llm_error"] == 3 and meta["llm_given_up"] == 0
    assert all(row["attempts"] == summaries_module.MAX_ATTEMPTS
               for r, row in rows(prepared.db_url, LLM).items() if r in bad)
    llm.script.asked.clear()
    meta = asset_metadata(summarize(prepared, llm.url), "posting_summaries")  # the answers would still be wrong
    assert not llm.script.asked and (meta["llm_error"], meta["llm_given_up"], meta["max_attempts"]) == (0, 3, 3)
    assert meta["llm_unchanged"] == len(prepared.refnrs)
    changed_text, changed_prompt, _ = bad
    with psycopg.connect(prepared.db_url) as conn:
        conn.execute("UPDATE posting_descriptions SET description = description || %s WHERE refnr = %s",
                     ("\n- Neu: Gabelstapler", changed_text))
        conn.execute("UPDATE posting_summaries SET prompt_version = 'posting_summary@0:00000000'"
                     " WHERE model = %s AND refnr = %s", (LLM, changed_prompt))
    meta = asset_metadata(summarize(prepared, llm.url), "posting_summaries")
    assert set(llm.script.asked) == {prepared.title_of[changed_text], prepared.title_of[changed_prompt]}
    assert (meta["llm_error"], meta["llm_given_up"]) == (2, 1)
    stored = rows(prepared.db_url, LLM)
    assert stored[changed_text]["attempts"] == stored[changed_prompt]["attempts"] == 1  # the count starts over


def test_the_partition_fails_above_the_error_share_and_keeps_what_it_stored(prepared, llm, monkeypatch):
    monkeypatch.setenv("TY_SUMMARY_MAX_ERROR_RATE", "0.05")  # 3 of about 38 is 8%
    get_settings.cache_clear()
    bad = bad_answers(prepared, llm)
    result = summarize(prepared, llm.url, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    data = failure.step_failure_data.user_failure_data
    assert "TY_SUMMARY_MAX_ERROR_RATE" in data.description and f"3 of {len(prepared.described)} {LLM}" in (
        data.description)
    assert data.metadata["llm_error"].value == 3
    stored = rows(prepared.db_url, LLM)
    assert Counter(r["status"] for r in stored.values()) == {"ok": len(prepared.described) - 3, "error": 3,
                                                             "skipped": prepared.undescribed}
    assert {r for r, row in stored.items() if row["status"] == "error"} == set(bad)
    assert len(rows(prepared.db_url, EXTRACTIVE)) == len(prepared.refnrs)


def test_a_killed_run_resumes_without_summarising_again_what_it_committed(prepared, llm, asset_metadata,
                                                                          monkeypatch):
    monkeypatch.setattr(summaries_module, "SUMMARY_CHUNK", 10)
    summarize_chunk = LlmSummarizer.summarize
    calls: list[int] = []

    def killed_in_the_second_chunk(self, items):
        calls.append(len(items))
        if len(calls) == 2:
            raise RuntimeError("killed")
        return summarize_chunk(self, items)

    monkeypatch.setattr(LlmSummarizer, "summarize", killed_in_the_second_chunk)
    failed = summarize(prepared, llm.url, raise_on_error=False)
    assert not failed.success and calls == [10, 10]
    first = rows(prepared.db_url, LLM)
    # the chunks committed are kept: the LLM's first, the extractive ones whole (the last, short one was pending)
    extractive_first = len(rows(prepared.db_url, EXTRACTIVE))
    assert len(first) == 10 and extractive_first == len(prepared.refnrs) // 10 * 10
    asked_first = sum(llm.script.asked.values())
    assert asked_first == len([r for r in first if r in prepared.described])

    monkeypatch.setattr(LlmSummarizer, "summarize", summarize_chunk)
    llm.script.asked.clear()
    meta = asset_metadata(summarize(prepared, llm.url), "posting_summaries")
    assert meta["llm_unchanged"] == 10 and meta["extractive_unchanged"] == extractive_first
    assert sum(llm.script.asked.values()) == len(prepared.described) - asked_first
    assert not set(llm.script.asked) & {prepared.title_of[r] for r in first}
    again = rows(prepared.db_url, LLM)
    assert len(again) == len(prepared.refnrs) and all(again[r]["made_at"] == first[r]["made_at"] for r in first)


def test_a_changed_description_or_prompt_makes_only_those_summaries_again(prepared, llm, asset_metadata):
    summarize(prepared, llm.url)
    before = {EXTRACTIVE: rows(prepared.db_url, EXTRACTIVE), LLM: rows(prepared.db_url, LLM)}
    changed = prepared.described[3]
    with psycopg.connect(prepared.db_url) as conn:
        conn.execute("UPDATE posting_descriptions SET description = description || %s WHERE refnr = %s",
                     ("\nIhre Aufgaben:\n- Gabelstapler fahren", changed))
    llm.script.asked.clear()
    meta = asset_metadata(summarize(prepared, llm.url), "posting_summaries")
    assert (meta["extractive_ok"], meta["llm_ok"], meta["summarized"]) == (1, 1, 2)
    assert dict(llm.script.asked) == {prepared.title_of[changed]: 1}
    after = rows(prepared.db_url, LLM)
    assert after[changed]["source_hash"] != before[LLM][changed]["source_hash"]
    assert all(after[r] == before[LLM][r] for r in prepared.refnrs if r != changed)

    # A new prompt (here: the stored rows were made with an older one) makes only the LLM's summaries again...
    with psycopg.connect(prepared.db_url) as conn:
        conn.execute("UPDATE posting_summaries SET prompt_version = 'posting_summary@0:00000000' WHERE model = %s",
                     (LLM,))
    llm.script.asked.clear()
    meta = asset_metadata(summarize(prepared, llm.url), "posting_summaries")
    assert (meta["llm_ok"], meta["llm_skipped"], meta["extractive_ok"], meta["extractive_unchanged"]) == (
        len(prepared.described), prepared.undescribed, 0, len(prepared.refnrs))
    assert sum(llm.script.asked.values()) == len(prepared.described)
    # ... and new extractive code only the extractive ones, without a request to the LLM.
    with psycopg.connect(prepared.db_url) as conn:
        conn.execute("UPDATE posting_summaries SET prompt_version = 'extractive@0' WHERE model = %s", (EXTRACTIVE,))
    llm.script.asked.clear()
    meta = asset_metadata(summarize(prepared, llm.url), "posting_summaries")
    assert (meta["extractive_ok"], meta["llm_ok"], meta["llm_unchanged"]) == (len(prepared.described), 0, len(prepared.refnrs))
    assert not llm.script.asked
    assert all(r["prompt_version"] == EXTRACTIVE_VERSION for r in rows(prepared.db_url, EXTRACTIVE).values())


def test_the_check_fails_for_a_described_posting_without_a_summary(prepared):
    summarize(prepared)
    with psycopg.connect(prepared.db_url) as conn:
        conn.execute("DELETE FROM posting_summaries WHERE refnr = %s", (prepared.described[0],))
    (check,) = summary_checks
    with build_op_context(partition_key=prepared.day,
                          resources={"database": DatabaseResource(database_url=prepared.db_url)}) as context:
        result = check(context)
    meta = {k: v.value for k, v in result.metadata.items()}
    assert not result.passed
    assert (meta["day"], meta["postings"], meta["described"], meta["without_summary"]) == (
        prepared.day, len(prepared.refnrs), len(prepared.described), 1)

