"""Cover letters through the real app: the template without an LLM, the LLM's letter with a local Ollama
server, the fallback when the LLM fails, Markdown and .docx downloads, and hostile text neutralised."""

from __future__ import annotations

import io
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from docx import Document
from web_support import insert_match, insert_posting, running_app, sign_up

from ty_testing.ollama_server import CapacityModel, OllamaFault, OllamaTestServer
from ty_web import cover_letter
from ty_web.cover_letter import (
    DOCX_MEDIA_TYPE,
    LETTER_SCHEMA,
    CoverLetter,
    LetterFacts,
    Position,
    clean_text,
    compose_letter,
    download_name,
    md_escape,
    to_markdown,
)
from ty_web.services import matches as match_services

KOCH = {"refnr": "10000-1234-S", "title": "Koch (m/w/d)", "employer": "Gasthaus Spree", "city": "Berlin",
        "description": "Wir suchen eine Köchin oder einen Koch für unsere regionale Küche."}
HOSTILE = {"refnr": "10000-6666-S", "title": 'Köchin / Koch <script>alert(1)</script> "Küche"',
           "employer": "Müller & Söhne <b>GmbH</b>", "city": "Köln",
           "description": "<p>Wir suchen <b>Köche</b></p> [Klick](javascript:alert(1)) <img src=x onerror=alert(1)>"}
PROFILE = {"display_name": "Alex Beispiel", "skills": ["Regionale Küche", "HACCP", "Teamarbeit"],
           "summary": "Gelernter Koch mit Freude an saisonaler Küche.", "states": ["Berlin"]}
POSITIONS = [{"title": "Beikoch", "employer": "Hotel Adlon", "start_date": "2021-04-01"},
             {"title": "Commis de cuisine", "employer": "Bistro Mitte", "start_date": "2018-08-01",
              "end_date": "2021-03-31"}]
LLM_PARAGRAPHS = ["Mit Begeisterung habe ich Ihre Anzeige für die Stelle als Koch im Gasthaus Spree gelesen, "
                  "denn regionale Küche ist genau mein Schwerpunkt.",
                  "Als Beikoch im Hotel Adlon bereite ich täglich Gerichte nach HACCP-Standards zu und arbeite "
                  "eng im Team.",
                  "Gern überzeuge ich Sie in einem persönlichen Gespräch."]
FAST = CapacityModel(time_scale=0)


def seed_match(db_url: str, user_id: int, posting: dict) -> int:
    """A posting (with its description) and a match of ``user_id`` on it; the match's id."""
    with psycopg.connect(db_url) as conn:
        insert_posting(conn, posting["refnr"], posting["title"], employer=posting["employer"], city=posting["city"])
        conn.execute("INSERT INTO posting_descriptions (refnr, status, description) VALUES (%s, 'ok', %s)"
                     " ON CONFLICT DO NOTHING", (posting["refnr"], posting["description"]))
        return insert_match(conn, user_id, posting["refnr"])


def seed_positions(db_url: str, user_id: int) -> None:
    """Work history without the classifier (as the API stores it without a catalogue)."""
    with psycopg.connect(db_url) as conn:
        for p in POSITIONS:
            conn.execute("INSERT INTO work_history (user_id, title, employer, start_date, end_date, label_status)"
                         " VALUES (%s, %s, %s, %s, %s, 'unclassified')",
                         (user_id, p["title"], p["employer"], p["start_date"], p.get("end_date")))


def prepared_user(client, db_url: str, posting: dict = KOCH, profile: dict = PROFILE):
    user = sign_up(client)
    assert user.put("/api/v1/profiles/me", json=profile).status_code == 200
    seed_positions(db_url, user.id)
    return user, seed_match(db_url, user.id, posting)


def docx_text(content: bytes) -> str:
    return "\n".join(p.text for p in Document(io.BytesIO(content)).paragraphs)


def rendered_html(markdown: str) -> str:
    markdown_it = pytest.importorskip("markdown_it")
    return markdown_it.MarkdownIt("commonmark", {"html": True, "linkify": False}).render(markdown)


# ------------------------------------------------------------------ the template (no LLM configured)


def test_template_letter_in_markdown_from_profile_and_posting(db_url):
    with running_app(db_url) as client:
        user, match_id = prepared_user(client, db_url)
        response = user.get(f"/api/v1/matches/{match_id}/cover-letter")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.headers["x-cover-letter-source"] == "template"
    assert "x-cover-letter-fallback" not in response.headers
    assert response.headers["content-disposition"] == 'inline; filename="Anschreiben_Koch-m-w-d.md"'
    text = response.text
    assert text.startswith("Alex Beispiel\n\nGasthaus Spree\\\nBerlin\n\n")
    assert "**Bewerbung als Koch (m/w/d) (Referenznummer 10000-1234-S)**" in text
    assert "Sehr geehrte Damen und Herren," in text
    assert "Ihre Stellenanzeige „Koch (m/w/d)“ in Berlin" in text and "bei Gasthaus Spree" in text
    assert "Derzeit arbeite ich als Beikoch bei Hotel Adlon." in text
    assert "Zuvor habe ich Erfahrung als Commis de cuisine bei Bistro Mitte gesammelt." in text
    assert "Regionale Küche, HACCP und Teamarbeit" in text
    assert PROFILE["summary"] in text
    assert text.rstrip().endswith("Mit freundlichen Grüßen\\\nAlex Beispiel")
    assert user.email not in text
    assert re.search(r"\n\d{1,2}\\\. (Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November"
                     r"|Dezember) 20\d\d\n", text)


def test_docx_is_a_real_word_download(db_url):
    with running_app(db_url) as client:
        user, match_id = prepared_user(client, db_url, posting={**KOCH, "title": 'Köchin / Koch "Küche" (m/w/d)'})
        response = user.get(f"/api/v1/matches/{match_id}/cover-letter", params={"format": "docx"})
    assert response.status_code == 200
    assert response.headers["content-type"] == DOCX_MEDIA_TYPE
    assert response.headers["content-disposition"] == 'attachment; filename="Anschreiben_Koechin-Koch-Kueche-m-w-d.docx"'
    assert response.headers["x-cover-letter-source"] == "template"
    assert response.content[:2] == b"PK"
    document = Document(io.BytesIO(response.content))
    text = "\n".join(p.text for p in document.paragraphs)
    assert 'Bewerbung als Köchin / Koch "Küche" (m/w/d)' in text
    assert "Sehr geehrte Damen und Herren," in text and "Derzeit arbeite ich als Beikoch" in text
    assert text.rstrip().endswith("Mit freundlichen Grüßen\nAlex Beispiel")
    assert any(run.bold for p in document.paragraphs for run in p.runs if "Bewerbung als" in run.text)
    assert document.core_properties.author == "Alex Beispiel"
    assert "python-docx" not in (document.core_properties.comments or "")


def test_json_format_gives_the_letters_parts(db_url):
    with running_app(db_url) as client:
        user, match_id = prepared_user(client, db_url, profile={"skills": ["Kochen"]})
        response = user.get(f"/api/v1/matches/{match_id}/cover-letter", params={"format": "json"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["source"] == "template" and body["fallback_reason"] is None
    assert body["sender_name"] is None  # no display name: no signature name
    assert body["recipient"] == ["Gasthaus Spree", "Berlin"]
    assert body["salutation"] == "Sehr geehrte Damen und Herren," and body["closing"] == "Mit freundlichen Grüßen"
    assert body["paragraphs"][0].startswith("mit großem Interesse habe ich Ihre Stellenanzeige „Koch (m/w/d)“")
    assert "Zu meinen Stärken zählen insbesondere Kochen." in body["paragraphs"]
    assert body["markdown"].rstrip().endswith("Mit freundlichen Grüßen")


def test_hostile_posting_and_profile_text_never_becomes_markup(db_url):
    hostile_profile = {"display_name": "Alex [Beispiel](javascript:alert(1)) <img src=x onerror=alert(1)>",
                       "skills": ["*fett*", "`code`", "# Titel"], "summary": "<script>alert(2)</script> Koch"}
    with running_app(db_url) as client:
        user, match_id = prepared_user(client, db_url, posting=HOSTILE, profile=hostile_profile)
        md = user.get(f"/api/v1/matches/{match_id}/cover-letter").text
        docx = user.get(f"/api/v1/matches/{match_id}/cover-letter", params={"format": "docx"})
    html = rendered_html(md)
    for tag in ("<script", "<img", "<a ", "<b>", "<em>", "<code>", "<h1"):
        assert tag not in html, (tag, html)
    assert "&lt;script&gt;" not in html  # the tags were dropped, not only escaped
    assert "Müller &amp; Söhne GmbH" in html and "Alex [Beispiel](javascript:alert(1))" in html
    assert "*fett*, `code` und # Titel" in html
    text = docx_text(docx.content)
    assert "<script>" not in text and "<b>" not in text and "Müller & Söhne GmbH" in text
    assert docx.headers["content-disposition"] == ('attachment; filename="Anschreiben_Koechin-Koch-alert-1-Kueche'
                                                   '.docx"')


# ------------------------------------------------------------------ the LLM


def _llm_app(db_url: str, server: OllamaTestServer):
    return running_app(db_url, ollama_host=server.url, ollama_backoff_s=0, llm_model="qwen2.5:7b")


def test_with_an_llm_the_letters_body_comes_from_it(db_url):
    server = OllamaTestServer(capacity=FAST, chat_script=lambda body: {"paragraphs": LLM_PARAGRAPHS})
    with server, _llm_app(db_url, server) as client:
        user, match_id = prepared_user(client, db_url)
        as_json = user.get(f"/api/v1/matches/{match_id}/cover-letter", params={"format": "json"})
        docx = user.get(f"/api/v1/matches/{match_id}/cover-letter", params={"format": "docx"})
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["x-cover-letter-source"] == "llm" and "x-cover-letter-fallback" not in as_json.headers
    body = as_json.json()
    assert body["source"] == "llm" and body["paragraphs"] == LLM_PARAGRAPHS
    assert body["salutation"] == "Sehr geehrte Damen und Herren," and body["sender_name"] == "Alex Beispiel"
    assert LLM_PARAGRAPHS[1] in body["markdown"]
    assert LLM_PARAGRAPHS[0] in docx_text(docx.content)
    request = server.chat_bodies[0]
    assert request["model"] == "qwen2.5:7b" and request["stream"] is False
    assert request["options"]["temperature"] == 0 and request["format"] == LETTER_SCHEMA
    prompt = "\n".join(m["content"] for m in request["messages"])
    assert "Anschreiben" in prompt and "auf Deutsch" in prompt
    for fact in ("Koch (m/w/d)", "Gasthaus Spree", "regionale Küche", "Beikoch bei Hotel Adlon", "HACCP",
                 PROFILE["summary"]):
        assert fact in prompt, fact
    assert "Alex" not in prompt and user.email not in prompt  # no name, no contact data to the model


def test_the_llms_letter_is_kept_until_the_profile_changes_and_new_ones_are_rate_limited(db_url):
    server = OllamaTestServer(capacity=FAST, chat_script=lambda body: {"paragraphs": LLM_PARAGRAPHS})
    with server, running_app(db_url, ollama_host=server.url, ollama_backoff_s=0, llm_model="qwen2.5:7b",
                             rate_limits="cover_letter=2/3600") as client:
        user, match_id = prepared_user(client, db_url)
        first = user.get(f"/api/v1/matches/{match_id}/cover-letter", params={"format": "json"})
        again = [user.get(f"/api/v1/matches/{match_id}/cover-letter", params={"format": f}) for f in ("json", "md", "docx")]
        chats_after_repeats = len(server.chat_bodies)
        assert user.put("/api/v1/profiles/me", json={**PROFILE, "skills": ["Pâtisserie"]}).status_code == 200
        rewritten = user.get(f"/api/v1/matches/{match_id}/cover-letter", params={"format": "json"})
        other_match = seed_match(db_url, user.id, {**KOCH, "refnr": "10000-5678-S"})
        limited = user.get(f"/api/v1/matches/{other_match}/cover-letter")
        still_kept = user.get(f"/api/v1/matches/{match_id}/cover-letter", params={"format": "json"})
    assert first.status_code == 200 and first.headers["x-cover-letter-source"] == "llm"
    assert [r.status_code for r in again] == [200, 200, 200]
    assert again[0].json() == first.json()  # the kept letter, dated today
    assert chats_after_repeats == 1  # asked again: no model call, and not counted against the limit
    assert rewritten.status_code == 200 and len(server.chat_bodies) == 2  # the profile changed: a new letter
    assert "Pâtisserie" in "\n".join(m["content"] for m in server.chat_bodies[1]["messages"])
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert still_kept.status_code == 200 and len(server.chat_bodies) == 2


def test_an_unusable_llm_answer_falls_back_to_the_template_and_says_so(db_url):
    answers = iter(["kein JSON", "immer noch kein JSON",  # twice outside the schema: InvalidAnswer
                    {"paragraphs": ["Sehr geehrte Damen und Herren,", "Mit freundlichen Grüßen"]}])  # no body
    server = OllamaTestServer(capacity=FAST, chat_script=lambda body: next(answers))
    with server, _llm_app(db_url, server) as client:
        user, match_id = prepared_user(client, db_url)
        invalid = user.get(f"/api/v1/matches/{match_id}/cover-letter", params={"format": "json"})
        no_body = user.get(f"/api/v1/matches/{match_id}/cover-letter")
    for response in (invalid, no_body):
        assert response.status_code == 200
        assert response.headers["x-cover-letter-source"] == "template"
        assert response.headers["x-cover-letter-fallback"] == "llm_invalid_answer"
    assert invalid.json()["fallback_reason"] == "llm_invalid_answer"
    assert "Derzeit arbeite ich als Beikoch bei Hotel Adlon." in no_body.text


def test_while_the_llm_writes_a_letter_the_same_match_and_calls_beyond_the_bound_get_the_template(db_url,
                                                                                                  monkeypatch):
    """The LLM blocks until the test lets it answer (an Event, no sleeps): the same letter asked again, and
    another match's letter beyond the bound (1 here), never reach the server: the template at once, ``llm_busy``."""
    monkeypatch.setattr(match_services, "_llm_slots", threading.BoundedSemaphore(1))
    release, arrived = threading.Event(), threading.Event()

    def blocked(body):
        arrived.set()
        assert release.wait(30), "the test never released the LLM"
        return {"paragraphs": LLM_PARAGRAPHS}

    server = OllamaTestServer(capacity=FAST, chat_script=blocked)
    with server, _llm_app(db_url, server) as client, ThreadPoolExecutor(1) as pool:
        user, match_id = prepared_user(client, db_url)
        other_match = seed_match(db_url, user.id, {**KOCH, "refnr": "10000-5678-S"})
        try:
            first = pool.submit(user.get, f"/api/v1/matches/{match_id}/cover-letter", params={"format": "json"})
            assert arrived.wait(30)
            busy = [user.get(f"/api/v1/matches/{m}/cover-letter", params={"format": "json"})
                    for m in (match_id, other_match)]
            chats_while_busy = server.requests["/api/chat"]
        finally:
            release.set()
        written = first.result(timeout=30)
    assert chats_while_busy == 1 and server.requests["/api/chat"] == 1
    for response in busy:
        assert response.status_code == 200
        assert response.headers["x-cover-letter-source"] == "template"
        assert response.headers["x-cover-letter-fallback"] == "llm_busy"
        assert response.json()["fallback_reason"] == "llm_busy"
    assert written.status_code == 200 and written.json()["source"] == "llm"


def test_an_unreachable_llm_falls_back_to_the_template(db_url):
    server = OllamaTestServer(capacity=FAST, chat_script=lambda body: {"paragraphs": LLM_PARAGRAPHS})
    server.add_fault(OllamaFault("500", endpoint="/api/chat", count=2))  # the first try and its one retry
    with server, _llm_app(db_url, server) as client:
        user, match_id = prepared_user(client, db_url)
        failed = user.get(f"/api/v1/matches/{match_id}/cover-letter", params={"format": "json"})
        recovered = user.get(f"/api/v1/matches/{match_id}/cover-letter", params={"format": "json"})
    assert failed.status_code == 200 and failed.json()["source"] == "template"
    assert failed.headers["x-cover-letter-fallback"] == "llm_unavailable"
    assert server.requests["/api/chat"] == 3
    assert recovered.json()["source"] == "llm"


def test_the_llms_answer_is_plain_text_too(db_url):
    hostile = ["<script>alert(1)</script>Ich bewerbe mich gern. [Lebenslauf](javascript:alert(1)) "
               "<img src=x onerror=alert(1)> und **viel** Erfahrung in der Küche, sowie Teamgeist.",
               "# Überschrift\n- Liste"]
    server = OllamaTestServer(capacity=FAST, chat_script=lambda body: {"paragraphs": hostile})
    with server, _llm_app(db_url, server) as client:
        user, match_id = prepared_user(client, db_url)
        md = user.get(f"/api/v1/matches/{match_id}/cover-letter")
    assert md.headers["x-cover-letter-source"] == "llm"
    html = rendered_html(md.text)
    for tag in ("<script", "<img", "<a ", "<h1", "<ul"):
        assert tag not in html, (tag, html)
    assert html.count("<strong>") == 1  # the subject line, the template's own markup
    assert "[Lebenslauf](javascript:alert(1))" in html and "**viel**" in html


def test_another_users_match_never_reaches_the_llm(db_url):
    server = OllamaTestServer(capacity=FAST, chat_script=lambda body: {"paragraphs": LLM_PARAGRAPHS})
    with server, _llm_app(db_url, server) as client:
        _, match_id = prepared_user(client, db_url)
        other = sign_up(client)
        response = other.get(f"/api/v1/matches/{match_id}/cover-letter")
    assert response.status_code == 404 and "Gasthaus" not in response.text
    assert server.requests["/api/chat"] == 0  # nothing about the match went to the LLM


# ------------------------------------------------------------------ the pieces


def test_md_escape_leaves_no_markup():
    escaped = md_escape("# a *b* _c_ [d](e) <f> `g` | h ~i~ &amp; \\ \n1. j\n+ k\n> l\n   - m")
    assert escaped == ("\\# a \\*b\\* \\_c\\_ \\[d\\](e) \\<f\\> \\`g\\` \\| h \\~i\\~ \\&amp; \\\\\n"
                       "1\\. j\n\\+ k\n\\> l\n\\- m")
    assert md_escape("Müller & Söhne (m/w/d) 3.5 Jahre") == "Müller & Söhne (m/w/d) 3.5 Jahre"


def test_clean_text_drops_tags_and_characters_xml_cannot_hold():
    assert clean_text("<p>Hallo&nbsp;<b>Welt</b></p>\x00\x07 \ud800!") == "Hallo Welt !"
    assert clean_text("&lt;script&gt;alert(1)&lt;/script&gt;Text") == "alert(1) Text"
    assert clean_text("a\u202eb\n\n\n\nc") == "ab\n\nc"
    assert clean_text("eins zwei drei vier", 9) == "eins zwei …"
    assert clean_text(None) == ""


def test_download_names_are_plain_ascii():
    assert download_name('Köchin / Koch "Küche"', "docx") == "Anschreiben_Koechin-Koch-Kueche.docx"
    assert download_name("../../etc/passwd\r\nSet-Cookie: x=y", "md") == "Anschreiben_etc-passwd-Set-Cookie-x-y.md"
    assert download_name("日本語", "docx") == "Anschreiben_Stelle.docx"
    assert len(download_name("x" * 500, "docx")) <= len("Anschreiben_.docx") + 60


def test_compose_letter_without_llm_and_with_a_failing_one():
    facts = LetterFacts(refnr="R1", posting_title="Koch", sender_name="Alex",
                        positions=[Position("Beikoch", None)], skills=["Kochen"])

    def broken(messages, schema):
        raise cover_letter.OllamaError("connection refused")

    plain = compose_letter(facts)
    failed = compose_letter(facts, broken)
    assert plain.source == "template" and plain.fallback_reason is None
    assert failed.source == "template" and failed.fallback_reason == "llm_unavailable"
    assert failed.paragraphs == plain.paragraphs
    assert "Zuletzt war ich als Beikoch tätig." not in plain.paragraphs  # no end date: current position
    assert "Derzeit arbeite ich als Beikoch." in plain.paragraphs
    letter = CoverLetter(subject="S", salutation="Hallo,", paragraphs=["x"], closing="Tschüss", sender_name=None,
                         recipient=[], date="1. Januar 2026", source="template")
    assert to_markdown(letter) == "1\\. Januar 2026\n\n**S**\n\nHallo,\n\nx\n\nTschüss\n"
    assert json.dumps(LETTER_SCHEMA)  # a plain JSON schema, as Ollama's `format` takes it
