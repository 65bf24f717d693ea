"""Posting summaries in the API (matches and postings) and match explanations through the real app: the template
without an LLM, the LLM's with a local Ollama server, kept per match until the profile, the posting, the model or
the prompt changes, rate limited, another user's match 404, and markup from postings, profiles and the LLM's
answer stripped to plain text."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
from psycopg.types.json import Jsonb
from web_support import UserClient, client_for, insert_match, insert_posting, load_catalogue, running_app, sign_up

from ty_resources.prompts import load_prompt
from ty_testing.ollama_server import CapacityModel, OllamaFault, OllamaTestServer
from ty_web import cover_letter, explanations
from ty_web.explanations import EXPLANATION_SCHEMA, TEMPLATE_VERSION, ExplanationFacts, template_sentences
from ty_web.services import matches as match_services

MODEL = "qwen2.5:7b"
FAST = CapacityModel(time_scale=0)
XSS = '<script>alert(1)</script><img src=x onerror=alert(1)>'
FIT = {"similarity": 0.73, "profession_fit": 1.0, "fit_reason": "same_profession", "fit_via": "43414-102",
       "fit_source": "desired", "weights": {"similarity": 0.6, "profession_fit": 0.4}}
PROFILE = {"display_name": "Alex Beispiel", "desired_berufenet_ids": ["43414-102"], "states": ["Berlin"],
           "levels": [4], "skills": ["Python", "SQL"], "summary": "Entwickle seit Jahren Webanwendungen."}
LLM_SUMMARY = {"tasks": ["Webanwendungen mit Python entwickeln"], "requirements": ["Python", "Kubernetes"],
               "working_time": "Vollzeit", "contract": "unbefristet", "salary": "4.500 € brutto im Monat",
               "remote": "teilweise Homeoffice"}
EXTRACTIVE_SUMMARY = {"tasks": ["Wir entwickeln Software."], "requirements": ["Erfahrung mit Python", "Kubernetes"],
                      "working_time": "Vollzeit",
                      "contract": None, "salary": None, "remote": None}
ANSWER = {"fits": ["Die Stelle passt zu Ihrem Wunschberuf Softwareentwickler/in und Ihren Python-Kenntnissen."],
          "missing": ["Kubernetes nennt Ihr Profil nicht."]}


def add_summary(conn: psycopg.Connection, refnr: str, model: str, summary: dict | None, status: str = "ok",
                version: str = "posting_summary@1:abcdef12") -> None:
    conn.execute("INSERT INTO posting_summaries (refnr, model, status, summary, prompt_version, source_hash)"
                 " VALUES (%s, %s, %s, %s, %s, 'h')",
                 (refnr, model, status, Jsonb(summary) if summary is not None else None,
                  "extractive@1" if model == "extractive" else version))


def seed(db_url: str, user_id: int, *, title: str = "Softwareentwickler (m/w/d)") -> dict[str, int]:
    """Three postings with a match each: SW-1 (labelled, Berlin; an LLM summary and an extractive one), KO-1 (in
    Bayern; the extractive summary only, and a failed LLM one), SW-2 (no summary)."""
    with psycopg.connect(db_url) as conn:
        insert_posting(conn, "SW-1", title, berufenet_id="43414-102", employer="Code & Co GmbH", city="Berlin")
        insert_posting(conn, "KO-1", "Koch (m/w/d)", berufenet_id="29302-100", state="Bayern", city="München")
        insert_posting(conn, "SW-2", "Backend-Entwicklerin", berufenet_id="43414-102")
        add_summary(conn, "SW-1", MODEL, LLM_SUMMARY)
        add_summary(conn, "SW-1", "extractive", EXTRACTIVE_SUMMARY)
        add_summary(conn, "KO-1", "extractive", {**EXTRACTIVE_SUMMARY, "tasks": ["Kochen für Gäste."],
                                                  "requirements": ["Ausbildung als Koch"]})
        add_summary(conn, "KO-1", MODEL, None, status="error")
        return {"SW-1": insert_match(conn, user_id, "SW-1", 0.9, kldb_code="43414", components=Jsonb(FIT)),
                "KO-1": insert_match(conn, user_id, "KO-1", 0.5, kldb_code="29302",
                                     components=Jsonb({"similarity": 0.31})),
                "SW-2": insert_match(conn, user_id, "SW-2", 0.4, kldb_code="43414",
                                     components=Jsonb({**FIT, "fit_reason": "same_kldb5"}))}


def prepared(client, db_url: str, profile: dict = PROFILE, **seed_args):
    user = sign_up(client)
    assert user.put("/api/v1/profiles/me", json=profile).status_code == 200, "profile"
    return user, seed(db_url, user.id, **seed_args)


def llm_app(db_url: str, server: OllamaTestServer, **settings):
    return running_app(db_url, ollama_host=server.url, ollama_backoff_s=0, llm_model=MODEL, **settings)


def signed_in_to(client, user: UserClient) -> UserClient:
    """``user`` signed in to another running app (on the same database)."""
    browser = client_for(client)
    response = browser.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
    assert response.status_code == 200, response.text
    return UserClient(browser, user.id, user.email, user.password, csrf=response.json()["csrf_token"])


def prompt_of(body: dict) -> str:
    return "\n".join(m["content"] for m in body["messages"])


# ------------------------------------------------------------------ summaries in the API


def test_matches_and_postings_carry_the_summary_the_llms_first(db_url):
    load_catalogue(db_url)
    server = OllamaTestServer(capacity=FAST)
    with running_app(db_url) as offline:
        user, ids = prepared(offline, db_url)
        listed = {m["posting"]["refnr"]: m["summary"] for m in user.get("/api/v1/matches").json()["items"]}
        posting = offline.get("/api/v1/postings/SW-1").json()
    with server, llm_app(db_url, server) as client:
        user = signed_in_to(client, user)
        with_llm = {m["posting"]["refnr"]: m["summary"] for m in user.get("/api/v1/matches").json()["items"]}
        detail = user.get(f"/api/v1/matches/{ids['SW-1']}").json()
        queue = user.get("/api/v1/matches/next").json()
        rated = user.put(f"/api/v1/matches/{ids['SW-1']}/rate", json={"rating": 4}).json()
        posting_llm = client.get("/api/v1/postings/SW-1").json()
        without = client.get("/api/v1/postings/SW-2").json()
    # no LLM configured: the extractive summaries
    assert listed["SW-1"]["kind"] == "extractive" and listed["SW-1"]["tasks"] == ["Wir entwickeln Software."]
    assert listed["SW-1"]["model"] == "extractive" and listed["SW-1"]["prompt_version"] == "extractive@1"
    assert listed["KO-1"]["tasks"] == ["Kochen für Gäste."] and listed["SW-2"] is None
    assert posting["summary"]["kind"] == "extractive"
    # an LLM configured: its ok summary where there is one, else the extractive one (a failed one is not shown)
    assert with_llm["SW-1"] == {**LLM_SUMMARY, "kind": "llm", "model": MODEL,
                                "prompt_version": "posting_summary@1:abcdef12", "made_at": with_llm["SW-1"]["made_at"]}
    assert with_llm["KO-1"]["kind"] == "extractive" and with_llm["SW-2"] is None
    assert detail["summary"]["kind"] == "llm" and detail["summary"]["salary"] == "4.500 € brutto im Monat"
    assert queue["summary"]["kind"] == "llm" and rated["match"]["summary"]["kind"] == "llm"
    assert posting_llm["summary"]["kind"] == "llm" and posting_llm["summary"]["remote"] == "teilweise Homeoffice"
    assert without["summary"] is None
    assert server.requests["/api/chat"] == 0  # showing a summary never asks the LLM


def test_markup_in_a_summary_is_plain_text(db_url):
    with psycopg.connect(db_url) as conn:
        insert_posting(conn, "X-1", "Stelle")
        add_summary(conn, "X-1", "extractive", {"tasks": [f"<b>Kochen</b> {XSS}", "<p></p>"], "requirements": [],
                                                "working_time": "<i>Vollzeit</i>\x07", "contract": None,
                                                "salary": None, "remote": None})
    with running_app(db_url) as client:
        summary = client.get("/api/v1/postings/X-1").json()["summary"]
    assert summary["tasks"] == ["Kochen alert(1)"] and summary["working_time"] == "Vollzeit"


# ------------------------------------------------------------------ explanations: the template


def test_without_an_llm_the_template_explains_fit_and_gaps(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user, ids = prepared(client, db_url)
        fits = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation")
        gaps = user.get(f"/api/v1/matches/{ids['KO-1']}/explanation")
        again = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation")
    assert fits.status_code == 200, fits.text
    body = fits.json()
    assert body["kind"] == "template" and body["model"] is None and body["fallback_reason"] is None
    assert body["prompt_version"] == TEMPLATE_VERSION and body["match_id"] == ids["SW-1"] and not body["cached"]
    assert "Die Stelle gehört zum Beruf Softwareentwickler/in, den Sie suchen." in body["fits"]
    assert "Die Anzeige nennt Kenntnisse, die Sie mitbringen: Python." in body["fits"]
    assert "Sie liegt in Berlin, einem der Bundesländer Ihres Profils." in body["fits"]
    assert body["missing"] == ["Die Anzeige verlangt außerdem „Kubernetes“; Ihr Profil nennt das nicht."]
    assert body["text"] == " ".join(body["fits"] + body["missing"])
    other = gaps.json()
    assert "Sie liegt in Bayern, außerhalb der Bundesländer Ihres Profils." in other["missing"]
    assert any("Koch" in s and "keinem Ihrer Berufe" in s for s in other["missing"])
    assert other["fits"] and "31 %" in other["fits"][0]  # nothing fits but the text: the similarity says so
    assert "Die Anzeige verlangt außerdem „Ausbildung als Koch“; Ihr Profil nennt das nicht." in other["missing"]
    assert again.json()["cached"] is False  # templates are made anew, not kept
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM match_explanations").fetchone()[0] == 0


def test_the_template_without_profile_or_summary_still_says_something():
    fits, missing = template_sentences(ExplanationFacts(posting_title="Stelle", state="Berlin"))
    assert fits == ["Die Anzeige ähnelt Ihrem Profil: Ihre Berufe, Erfahrungen und Kenntnisse kommen ihr am "
                    "nächsten."]
    assert missing == ["Die Stelle ist noch keinem Beruf zugeordnet."]


# ------------------------------------------------------------------ explanations: the LLM


def test_with_an_llm_the_explanation_comes_from_it_without_name_or_email(db_url):
    load_catalogue(db_url)
    server = OllamaTestServer(capacity=FAST, chat_script=lambda body: ANSWER)
    with server, llm_app(db_url, server) as client:
        user, ids = prepared(client, db_url)
        response = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "llm" and body["model"] == MODEL and body["fallback_reason"] is None
    assert body["prompt_version"] == load_prompt("match_explanation").version
    assert body["fits"] == ANSWER["fits"] and body["missing"] == ANSWER["missing"]
    request = server.chat_bodies[0]
    assert request["model"] == MODEL and request["options"]["temperature"] == 0
    assert request["format"] == EXPLANATION_SCHEMA
    prompt = prompt_of(request)
    for fact in ("Softwareentwickler (m/w/d)", "Softwareentwickler/in", "Python, SQL", "Kubernetes", "Vollzeit",
                 "4.500 € brutto im Monat", PROFILE["summary"], "Gewünschte Bundesländer: Berlin",
                 "Ähnlichkeit von Profil und Anzeige: 73 %", "derselbe Beruf wie Softwareentwickler/in"):
        assert fact in prompt, fact
    assert "Alex" not in prompt and "Beispiel" not in prompt and user.email not in prompt


def test_the_llms_explanation_is_kept_until_the_profile_or_prompt_changes_and_new_ones_are_rate_limited(
        db_url, monkeypatch):
    load_catalogue(db_url)
    server = OllamaTestServer(capacity=FAST, chat_script=lambda body: ANSWER)
    with server, llm_app(db_url, server, rate_limits="explanation=3/3600") as client:
        user, ids = prepared(client, db_url)
        first = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation")
        again = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation")
        chats_after_repeat = len(server.chat_bodies)
        assert user.put("/api/v1/profiles/me", json={**PROFILE, "skills": ["Go"]}).status_code == 200
        remade = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation")
        chats_after_profile = len(server.chat_bodies)
        changed = dataclasses.replace(explanations.EXPLANATION_PROMPT, digest="0" * 64)
        monkeypatch.setattr(explanations, "EXPLANATION_PROMPT", changed)
        new_prompt = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation")
        limited = user.get(f"/api/v1/matches/{ids['KO-1']}/explanation")
        still_kept = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation")
    assert first.status_code == 200 and first.json()["cached"] is False
    assert again.status_code == 200 and again.json()["cached"] is True
    assert {k: v for k, v in again.json().items() if k != "cached"} == \
        {k: v for k, v in first.json().items() if k != "cached"}
    assert chats_after_repeat == 1  # asked again: no model call, and not counted
    assert remade.json()["cached"] is False and chats_after_profile == 2
    assert "Kenntnisse: Go" in prompt_of(server.chat_bodies[1])
    assert new_prompt.json()["prompt_version"] == changed.version and len(server.chat_bodies) == 3
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert "retry-after" in limited.headers
    assert still_kept.status_code == 200 and still_kept.json()["cached"] is True and len(server.chat_bodies) == 3
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT match_id, model, prompt_version FROM match_explanations").fetchall()
    assert rows == [(ids["SW-1"], MODEL, changed.version)]  # one kept per match: the newest


def test_while_the_llm_writes_the_same_match_and_calls_beyond_the_bound_get_the_template_at_once(
        db_url, monkeypatch):
    """The LLM blocks until the test lets it answer (an Event, no sleeps): a second request for the same match and
    a request beyond the bound of LLM calls in flight never reach the server and answer the template with
    ``llm_busy``, uncounted (the limit of 2 is still free for the two real calls) and not kept."""
    load_catalogue(db_url)
    monkeypatch.setattr(match_services, "_llm_slots", threading.BoundedSemaphore(2))
    release, arrived = threading.Event(), threading.Semaphore(0)

    def blocked(body):
        arrived.release()
        assert release.wait(30), "the test never released the LLM"
        return ANSWER

    server = OllamaTestServer(capacity=FAST, chat_script=blocked)
    with server, llm_app(db_url, server, rate_limits="explanation=2/3600") as client, \
            ThreadPoolExecutor(2) as pool:
        user, ids = prepared(client, db_url)
        try:
            first = pool.submit(user.get, f"/api/v1/matches/{ids['SW-1']}/explanation")
            assert arrived.acquire(timeout=30)
            same_match = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation")
            chats_during_same = server.requests["/api/chat"]
            other = pool.submit(user.get, f"/api/v1/matches/{ids['KO-1']}/explanation")
            assert arrived.acquire(timeout=30)
            beyond = user.get(f"/api/v1/matches/{ids['SW-2']}/explanation")
            chats_during_beyond = server.requests["/api/chat"]
        finally:
            release.set()
        first_done, other_done = first.result(timeout=30), other.result(timeout=30)
        kept = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation")
        with psycopg.connect(db_url) as conn:
            stored = {m for (m,) in conn.execute("SELECT match_id FROM match_explanations").fetchall()}
    assert chats_during_same == 1 and chats_during_beyond == 2 and server.requests["/api/chat"] == 2
    for busy in (same_match, beyond):
        assert busy.status_code == 200, busy.text
        body = busy.json()
        assert (body["kind"], body["fallback_reason"], body["cached"]) == ("template", "llm_busy", False)
        assert body["fits"]
    assert first_done.status_code == other_done.status_code == 200  # the busy answers were not counted
    assert first_done.json()["kind"] == other_done.json()["kind"] == "llm"
    assert kept.json()["cached"] is True and stored == {ids["SW-1"], ids["KO-1"]}  # the template is not kept


def test_the_explanation_schema_allows_no_other_keys():
    assert EXPLANATION_SCHEMA["additionalProperties"] is False


def test_a_changed_prompt_writes_the_cover_letter_anew(db_url, monkeypatch):
    load_catalogue(db_url)
    paragraphs = ["Mit Freude bewerbe ich mich auf Ihre Stelle als Softwareentwickler, denn Python ist mein "
                  "Schwerpunkt."]
    server = OllamaTestServer(capacity=FAST, chat_script=lambda body: {"paragraphs": paragraphs}
                              if "paragraphs" in body["format"]["properties"] else ANSWER)
    with server, llm_app(db_url, server) as client:
        user, ids = prepared(client, db_url)
        first = user.get(f"/api/v1/matches/{ids['SW-1']}/cover-letter", params={"format": "json"}).json()
        kept = user.get(f"/api/v1/matches/{ids['SW-1']}/cover-letter", params={"format": "json"}).json()
        chats_before = len(server.chat_bodies)
        explained = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation")
        changed = dataclasses.replace(cover_letter.LETTER_PROMPT, digest="f" * 64)
        monkeypatch.setattr(cover_letter, "LETTER_PROMPT", changed)
        rewritten = user.get(f"/api/v1/matches/{ids['SW-1']}/cover-letter", params={"format": "json"}).json()
        chats_after_letter = len(server.chat_bodies)
        explained_again = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation")
    assert first["source"] == "llm" and first["model"] == MODEL
    assert first["prompt_version"] == load_prompt("cover_letter").version and kept == first and chats_before == 1
    assert explained.json()["cached"] is False  # the explanation's own request (chat 2)
    assert rewritten["prompt_version"] == changed.version and chats_after_letter == 3
    assert explained_again.json()["cached"] is True and len(server.chat_bodies) == 3  # only letters were re-made


def test_an_unusable_or_failing_llm_falls_back_to_the_template_and_is_not_kept(db_url):
    load_catalogue(db_url)
    answers = iter(["kein JSON", "noch immer kein JSON",  # twice outside the schema: InvalidAnswer
                    {"fits": ["Gut."], "missing": []},  # in the schema, yet says nothing
                    ANSWER])
    server = OllamaTestServer(capacity=FAST, chat_script=lambda body: next(answers))
    with server, llm_app(db_url, server) as client:
        user, ids = prepared(client, db_url)
        invalid = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation").json()
        empty = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation").json()
        server.add_fault(OllamaFault("500", endpoint="/api/chat", count=2))  # the try and its one retry
        unavailable = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation").json()
        recovered = user.get(f"/api/v1/matches/{ids['SW-1']}/explanation").json()
    for body in (invalid, empty):
        assert body["kind"] == "template" and body["fallback_reason"] == "llm_invalid_answer"
        assert body["model"] is None and body["prompt_version"] == TEMPLATE_VERSION
        assert "Die Stelle gehört zum Beruf Softwareentwickler/in, den Sie suchen." in body["fits"]
    assert unavailable["kind"] == "template" and unavailable["fallback_reason"] == "llm_unavailable"
    assert recovered["kind"] == "llm" and recovered["cached"] is False  # nothing failed was kept


def test_another_users_match_is_404_and_never_reaches_the_llm(db_url):
    load_catalogue(db_url)
    server = OllamaTestServer(capacity=FAST, chat_script=lambda body: ANSWER)
    with server, llm_app(db_url, server) as client:
        _, ids = prepared(client, db_url)
        other = sign_up(client)
        theirs = other.get(f"/api/v1/matches/{ids['SW-1']}/explanation")
        unknown = other.get("/api/v1/matches/999999/explanation")
        anonymous = client.get(f"/api/v1/matches/{ids['SW-1']}/explanation")
    assert theirs.status_code == 404 and unknown.status_code == 404
    assert "Softwareentwickler" not in theirs.text
    assert anonymous.status_code == 401
    assert server.requests["/api/chat"] == 0


def test_markup_from_posting_profile_and_llm_answer_is_plain_text(db_url):
    load_catalogue(db_url)
    hostile_answer = {"fits": [f"{XSS}Die Stelle passt gut zu Ihren Kenntnissen in Python und SQL. "
                               "[Klick](javascript:alert(1))"],
                      "missing": ["<b>Kubernetes</b>\x07 fehlt."]}
    server = OllamaTestServer(capacity=FAST, chat_script=lambda body: hostile_answer)
    hostile_profile = {**PROFILE, "skills": ["<b>Python</b>", XSS], "summary": f"{XSS} Entwickler"}
    with psycopg.connect(db_url) as conn:
        insert_posting(conn, "XSS-1", f"Entwickler {XSS}", berufenet_id="43414-102")
        add_summary(conn, "XSS-1", "extractive", {**EXTRACTIVE_SUMMARY, "requirements": [f"Python {XSS}"]})
    with running_app(db_url) as offline:
        user = sign_up(offline)
        assert user.put("/api/v1/profiles/me", json=hostile_profile).status_code == 200
        with psycopg.connect(db_url) as conn:
            match_id = insert_match(conn, user.id, "XSS-1", 0.9, components=Jsonb(FIT))
        template = user.get(f"/api/v1/matches/{match_id}/explanation").json()
    with server, llm_app(db_url, server) as client:
        user = signed_in_to(client, user)
        llm = user.get(f"/api/v1/matches/{match_id}/explanation").json()
    for body in (template, llm):
        assert "<" not in body["text"] and ">" not in body["text"] and "\x07" not in body["text"], body["text"]
    assert template["kind"] == "template" and llm["kind"] == "llm"
    assert llm["fits"] == ["alert(1) Die Stelle passt gut zu Ihren Kenntnissen in Python und SQL. "
                           "[Klick](javascript:alert(1))"]  # plain text: the page escapes it, nothing renders it
    assert llm["missing"] == ["Kubernetes fehlt."]
    prompt = prompt_of(server.chat_bodies[0])
    assert "<script>" not in prompt and "<b>" not in prompt and "Python" in prompt


def test_another_sites_page_cannot_spend_a_users_llm_work(db_url):
    """A page of another site that the user's browser opens (a top-level GET carries the Lax session cookie) gets
    403 for the explanation and the cover letter before any LLM call or rate-limit count; the same request from
    this site, or from a client that sends no browser headers, is answered."""
    load_catalogue(db_url)
    server = OllamaTestServer(capacity=FAST, chat_script=lambda body: ANSWER)
    with server, llm_app(db_url, server) as client:
        user, ids = prepared(client, db_url)
        match = ids["SW-1"]
        refused = [user.get(f"/api/v1/matches/{match}/{path}", headers=headers)
                   for path in ("explanation", "cover-letter?format=json")
                   for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"},
                                   {"Origin": "null"})]
        asked_before = server.requests["/api/chat"]
        same_site = user.get(f"/api/v1/matches/{match}/explanation", headers={"Sec-Fetch-Site": "same-origin"})
        plain = user.get(f"/api/v1/matches/{match}/cover-letter?format=json")
    assert [r.status_code for r in refused] == [403] * 6
    assert all(r.json()["error"]["code"] == "csrf_failed" for r in refused)
    assert asked_before == 0
    assert same_site.status_code == 200 and plain.status_code == 200
