"""The matches pages through the real app: the queue's card and its reasons, rating (no-JS 303 and the htmx
fragment), skip, the rated list, one match, the posting's summary and the match's explanation, the cover letter
and its downloads, the suppressions with undo, the public posting page; German by default, English by cookie;
CSRF, sign-in, ownership and escaping."""

from __future__ import annotations

import io
import re

import psycopg
from docx import Document
from psycopg.types.json import Jsonb
from web_support import insert_match, insert_posting, load_catalogue, running_app, sign_up

from ty_resources.ollama import OllamaError
from ty_testing.ollama_server import CapacityModel, OllamaFault, OllamaTestServer
from ty_web.cover_letter import DOCX_MEDIA_TYPE

XSS = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
FIT = {"similarity": 0.73, "profession_fit": 1.0, "fit_reason": "same_profession", "fit_via": "43414-102",
       "fit_source": "desired", "weights": {"similarity": 0.6, "profession_fit": 0.4}}
PROFILE = {"display_name": "Alex Beispiel", "desired_berufenet_ids": ["43414-102"], "states": ["Berlin"],
           "skills": ["Python"]}
HTMX = {"HX-Request": "true", "HX-Target": "match-card", "HX-Current-URL": "https://testserver/matches"}


def seed(db_url: str, user_id: int, *, hostile: bool = False) -> dict[str, int]:
    """Three postings (two labelled Softwareentwickler/in in Berlin, one Koch in Bayern) and a match of each;
    the match ids by refnr, best first: SW-1, KO-1, SW-2."""
    title = ("Softwareentwickler " + XSS) if hostile else "Softwareentwickler (m/w/d)"
    extra = {"employer": "Code " + XSS, "city": "Berlin" + XSS, "external_url": "javascript:alert(1)"} if hostile \
        else {"employer": "Code & Co GmbH", "city": "Berlin", "external_url": "https://code.example/jobs/1"}
    with psycopg.connect(db_url) as conn:
        insert_posting(conn, "SW-1", title, berufenet_id="43414-102", plz="10115", **extra)
        conn.execute("INSERT INTO posting_descriptions (refnr, status, description) VALUES ('SW-1', 'ok', %s)",
                     ("Python und SQL.\n" + (XSS if hostile else "Webanwendungen."),))
        insert_posting(conn, "KO-1", "Koch (m/w/d)", berufenet_id="29302-100", state="Bayern", employer="Wirtshaus",
                       city="München")
        insert_posting(conn, "SW-2", "Backend-Entwicklerin", berufenet_id="43414-102", employer="Byte AG")
        ids = {"SW-1": insert_match(conn, user_id, "SW-1", 0.9, kldb_code="43414", components=Jsonb(FIT)),
               "KO-1": insert_match(conn, user_id, "KO-1", 0.5, kldb_code="29302",
                                    components=Jsonb({"similarity": 0.31})),
               "SW-2": insert_match(conn, user_id, "SW-2", 0.4, kldb_code="43414",
                                    components=Jsonb({**FIT, "fit_reason": "same_kldb5"}))}
    return ids


def prepared(client, db_url: str, *, hostile: bool = False):
    user = sign_up(client)
    assert user.put("/api/v1/profiles/me", json=PROFILE).status_code == 200
    return user, seed(db_url, user.id, hostile=hostile)


def add_summary(db_url: str, refnr: str, summary: dict) -> None:
    """An extractive summary of the posting ``refnr``, as the pipeline stores it."""
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO posting_summaries (refnr, model, status, summary, prompt_version, source_hash)"
                     " VALUES (%s, 'extractive', 'ok', %s, 'extractive@1', 'h')", (refnr, Jsonb(summary)))


SUMMARY = {"tasks": ["Webanwendungen entwickeln", "Code prüfen"], "requirements": ["Python", "Kubernetes"],
           "working_time": "Vollzeit", "contract": "unbefristet", "salary": None, "remote": "teilweise Homeoffice"}


def form(user, **fields) -> dict:
    return {"csrf_token": user.csrf, **fields}


def stored(db_url: str, match_id: int) -> tuple:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT rating, feedback, decision FROM matches WHERE id = %s", (match_id,)).fetchone()


def suppressed(db_url: str, user_id: int) -> list[str]:
    with psycopg.connect(db_url) as conn:
        return [r[0] for r in conn.execute("SELECT kldb_code FROM suppressions WHERE user_id = %s ORDER BY 1",
                                           (user_id,))]


def card_title(html: str) -> str:
    return re.search(r'<section id="match-card".*?<h3>(.*?)</h3>', html, re.S).group(1)


# ------------------------------------------------------------------ the queue, rating, skip


def test_the_card_shows_the_next_match_with_its_reasons_in_german_and_english(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user, ids = prepared(client, db_url)
        german = user.get("/matches")
        english = user.get("/matches", cookies={"ty_lang": "en"})
    assert german.status_code == 200 and german.headers["content-language"] == "de"
    html = german.text
    assert card_title(html) == "Softwareentwickler (m/w/d)"
    assert "Ihr nächster Treffer" in html and "Code &amp; Co GmbH" in html and "Berlin (10115), Berlin" in html
    assert "Softwareentwickler/in (KldB 43414)" in html
    assert "Beruf: derselbe Beruf wie Softwareentwickler/in (Ihr Wunschberuf)." in html
    assert re.search(r"Ähnlichkeit mit Ihrem Profil: 73\s?%", html)
    assert "Region: in Berlin, einem Ihrer Bundesländer." in html
    assert "Anforderungsniveau" in html and "Experte" in html  # 43414-102: level 4
    assert f'hx-post="/matches/{ids["SW-1"]}/rate" hx-target="#match-card"' in html
    assert "<legend>Wie gut passt diese Stelle zu Ihnen?</legend>" in html and "5 – passt genau" in html
    assert "Sie haben noch keinen Treffer bewertet." in html
    assert english.status_code == 200 and "Your next match" in english.text
    assert "Profession: the same profession as Softwareentwickler/in (your desired profession)." in english.text
    assert "Content-Security-Policy" in german.headers and "unsafe-inline" not in german.headers["content-security-policy"]


def test_rating_without_javascript_stores_suppresses_and_redirects(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user, ids = prepared(client, db_url)
        low = user.client.post(f"/matches/{ids['SW-1']}/rate", data=form(user, rating="2", feedback="Zu weit weg",
                                                                       decision="save", **{"from": "queue"}),
                               follow_redirects=False)
        page = user.get("/matches?done=rated")
        api = user.get("/api/v1/profiles/me/suppressions").json()
        # SW-2 has the same profession: suppressed with SW-1, so the queue's next is KO-1; rated again above 2
        # SW-1 lifts its own suppression
        again = user.client.post(f"/matches/{ids['SW-1']}/rate", data=form(user, rating="4", **{"from": "detail"}),
                                 follow_redirects=False)
        detail = user.get(f"/matches/{ids['SW-1']}?done=rated")
    assert low.status_code == 303 and low.headers["location"] == "/matches?done=rated"
    assert [k["kldb_code"] for k in api] == ["43414"] and api[0]["source_match_id"] == ids["SW-1"]
    assert "Ihre Bewertung ist gespeichert." in page.text and card_title(page.text) == "Koch (m/w/d)"
    assert f'href="/matches/{ids["SW-1"]}"' in page.text and "Ihre Bewertung: 2 von 5" in page.text
    assert again.status_code == 303 and again.headers["location"] == f"/matches/{ids['SW-1']}?done=rated"
    assert stored(db_url, ids["SW-1"]) == (4, None, None)
    assert suppressed(db_url, user.id) == []
    assert "Ihre Bewertung: 4 von 5" in detail.text and 'value="4" checked' in detail.text


def test_htmx_gets_the_next_card_and_skip_stores_a_neutral_skip(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user, ids = prepared(client, db_url)
        rated = user.post(f"/matches/{ids['SW-1']}/rate", data={"rating": "5", "decision": "apply", "from": "queue"},
                          headers=HTMX)
        skipped = user.post(f"/matches/{ids['KO-1']}/rate", data={"action": "skip", "from": "queue"}, headers=HTMX)
        skipped_rated = user.post(f"/matches/{ids['SW-2']}/rate",
                                  data={"action": "skip", "rating": "1", "from": "queue"}, headers=HTMX)
    assert rated.status_code == 200 and not rated.text.lstrip().startswith("<!doctype")
    assert rated.text.lstrip().startswith("<section id=\"match-card\"") and "<html" not in rated.text
    assert "Ihre Bewertung ist gespeichert." in rated.text and card_title(rated.text) == "Koch (m/w/d)"
    assert stored(db_url, ids["SW-1"]) == (5, None, "apply")
    assert skipped.status_code == 200 and "Übersprungen. Hier ist der nächste Treffer." in skipped.text
    assert card_title(skipped.text) == "Backend-Entwicklerin"
    assert stored(db_url, ids["KO-1"]) == (3, None, "skip")
    assert "Kein Treffer offen" in skipped_rated.text and 'action="/matches/refresh"' in skipped_rated.text
    assert stored(db_url, ids["SW-2"]) == (1, None, "skip") and suppressed(db_url, user.id) == ["43414"]


def test_invalid_ratings_are_422_with_the_fields_message(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user, ids = prepared(client, db_url)
        target = f"/matches/{ids['SW-1']}/rate"
        no_rating = user.client.post(target, data=form(user, feedback="gut"))
        out_of_range = user.client.post(target, data=form(user, rating="6"))
        too_long = user.client.post(target, data=form(user, rating="3", feedback="x" * 2001, **{"from": "detail"}))
        bad_decision = user.client.post(target, data=form(user, rating="3", decision="maybe"))
        htmx = user.post(target, data={"feedback": XSS}, headers=HTMX)
    for response in (no_rating, out_of_range):
        assert response.status_code == 422
        assert "Wählen Sie eine Bewertung von 1 bis 5." in response.text and 'aria-describedby="r' in response.text
    assert "gut</textarea>" in no_rating.text  # what was sent stays in the form
    assert too_long.status_code == 422 and "Höchstens 2.000 Zeichen, ohne Steuerzeichen." in too_long.text
    assert bad_decision.status_code == 422 and "Wählen Sie eine der angebotenen Möglichkeiten." in bad_decision.text
    assert htmx.status_code == 200 and "Wählen Sie eine Bewertung von 1 bis 5." in htmx.text
    assert XSS not in htmx.text and "&lt;script&gt;" in htmx.text
    assert stored(db_url, ids["SW-1"]) == (None, None, None)


def test_the_rated_list_is_paged(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        with psycopg.connect(db_url) as conn:
            for i in range(25):
                insert_posting(conn, f"R-{i:02d}", f"Stelle Nummer {i:02d}")
                insert_match(conn, user.id, f"R-{i:02d}", 1 - i / 100, rating=3, rated_at="2025-01-03")
        first = user.get("/matches")
        second = user.get("/matches?page=2")
        beyond = user.get("/matches?page=9")
        invalid = user.get("/matches?page=0")
    assert "Stelle Nummer 00" in first.text and "Stelle Nummer 19" in first.text
    assert "Stelle Nummer 20" not in first.text and "Seite 1 von 2" in first.text
    assert 'href="/matches?page=2"' in first.text and "Kein Treffer offen" in first.text
    assert "Stelle Nummer 24" in second.text and "Stelle Nummer 00" not in second.text
    assert "Seite 2 von 2" in beyond.text
    assert invalid.status_code == 422


# ------------------------------------------------------------------ refresh


class FailingEmbedder:
    model = "broken"
    dimension = 384

    def embed(self, texts):
        raise OllamaError("connection refused")


def test_refresh_explains_an_empty_profile_and_a_broken_embedder_and_is_rate_limited(db_url):
    load_catalogue(db_url)
    with running_app(db_url, rate_limits="refresh=2/3600") as client:
        user = sign_up(client)
        empty = user.client.post("/matches/refresh", data=form(user))
        user.put("/api/v1/profiles/me", json=PROFILE)
        client.app.state.classifier._embedder = FailingEmbedder()
        broken = user.client.post("/matches/refresh", data=form(user))
        limited = user.client.post("/matches/refresh", data=form(user))
    assert empty.status_code == 409
    assert "Ihr Profil enthält noch nichts, wonach gesucht werden kann." in empty.text
    assert '<a href="/profile">Profil ausfüllen</a>' in empty.text
    assert broken.status_code == 502 and "Der Abgleich ist gerade nicht verfügbar." in broken.text
    assert limited.status_code == 429 and "Zu viele Anfragen" in limited.text


def test_refresh_fills_the_queue_and_redirects(db_url):
    from test_web_matches import PROFILE as MATCH_PROFILE
    from test_web_matches import seed_postings

    load_catalogue(db_url)
    seed_postings(db_url)
    with running_app(db_url) as client:
        user = sign_up(client)
        user.put("/api/v1/profiles/me", json=MATCH_PROFILE)
        before = user.get("/matches")
        refreshed = user.client.post("/matches/refresh", data=form(user), follow_redirects=False)
        page = user.get("/matches?done=refreshed")
        api_next = user.get("/api/v1/matches/next").json()
    assert "Kein Treffer offen" in before.text
    assert refreshed.status_code == 303 and refreshed.headers["location"] == "/matches?done=refreshed"
    assert "Ihre Treffer sind aktualisiert." in page.text
    assert card_title(page.text) == api_next["posting"]["title"].replace("&", "&amp;")


# ------------------------------------------------------------------ one match, its cover letter


def test_the_match_page_links_the_ba_and_the_employer(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user, ids = prepared(client, db_url)
        with psycopg.connect(db_url) as conn:
            insert_posting(conn, "10000 1/2", "Odd refnr")
            odd = insert_match(conn, user.id, "10000 1/2")
        page = user.get(f"/matches/{ids['SW-1']}")
        odd_page = user.get(f"/matches/{odd}")
        english = user.get(f"/matches/{ids['SW-1']}", cookies={"ty_lang": "en"})
    assert page.status_code == 200 and "<h1>Softwareentwickler (m/w/d)</h1>" in page.text
    assert 'href="https://www.arbeitsagentur.de/jobsuche/jobdetail/SW-1"' in page.text
    assert 'href="https://code.example/jobs/1"' in page.text
    assert '<pre class="text">Python und SQL.\nWebanwendungen.</pre>' in page.text
    assert f'href="/matches/{ids["SW-1"]}/cover-letter"' in page.text and 'name="from" value="detail"' in page.text
    assert 'href="https://www.arbeitsagentur.de/jobsuche/jobdetail/10000%201%2F2"' in odd_page.text
    assert "The employer's own page" not in odd_page.text and "Die Seite des Arbeitgebers" not in odd_page.text
    assert "This posting at the Bundesagentur für Arbeit" in english.text


def test_cover_letter_page_and_downloads(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user, ids = prepared(client, db_url)
        page = user.get(f"/matches/{ids['SW-1']}/cover-letter")
        md = user.get(f"/matches/{ids['SW-1']}/cover-letter.md")
        docx = user.get(f"/matches/{ids['SW-1']}/cover-letter.docx")
        api = user.get(f"/api/v1/matches/{ids['SW-1']}/cover-letter")
    assert page.status_code == 200
    assert "Anschreiben: Softwareentwickler (m/w/d)" in page.text
    assert "Aus einer Vorlage mit Ihrem Profil" in page.text and "Sehr geehrte Damen und Herren," in page.text
    assert "Zu meinen Stärken zählen insbesondere Python." in page.text
    assert f'href="/matches/{ids["SW-1"]}/cover-letter.docx" hx-boost="false"' in page.text
    assert md.status_code == 200 and md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert md.headers["content-disposition"] == 'attachment; filename="Anschreiben_Softwareentwickler-m-w-d.md"'
    assert md.headers["x-cover-letter-source"] == "template" and md.text == api.text
    assert docx.status_code == 200 and docx.headers["content-type"] == DOCX_MEDIA_TYPE
    assert docx.headers["content-disposition"] == ('attachment; filename="Anschreiben_Softwareentwickler-m-w-d'
                                                   '.docx"')
    text = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    assert "Sehr geehrte Damen und Herren," in text


# ------------------------------------------------------------------ the summary and the explanation


def test_the_card_and_the_pages_show_the_summary_and_the_explanation_link(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user, ids = prepared(client, db_url)
        add_summary(db_url, "SW-1", SUMMARY)
        card = user.get("/matches").text
        detail = user.get(f"/matches/{ids['SW-1']}").text
        english = user.get(f"/matches/{ids['SW-1']}", cookies={"ty_lang": "en"}).text
        posting = client.get("/postings/SW-1").text
        without = user.get(f"/matches/{ids['KO-1']}").text
    sw1 = ids["SW-1"]
    for html in (card, detail, posting):
        assert "Kurz gefasst" in html and "<li>Webanwendungen entwickeln</li>" in html and "<li>Kubernetes</li>" in html
        assert "<dt>Arbeitszeit</dt><dd>Vollzeit</dd>" in html and "<dt>Vertrag</dt><dd>unbefristet</dd>" in html
        assert "<dt>Homeoffice</dt><dd>teilweise Homeoffice</dd>" in html and "Gehalt" not in html
        assert "Sätze aus der Anzeige; maßgeblich ist die Anzeige selbst." in html
    assert f'hx-get="/matches/{sw1}/explanation" hx-target="#explanation-{sw1}"' in card
    assert f'<a href="/matches/{sw1}/explanation"' in card and "Warum passt das?" in card
    assert f'id="explanation-{sw1}"' in detail and "Python und SQL." not in card  # the card: no description
    assert '<details class="description"><summary>Vollständige Beschreibung anzeigen</summary>' in detail
    assert "In short" in english and "Working time" in english and "Why does this fit?" in english
    assert "Kurz gefasst" not in without and '<details class="description">' not in without


def test_the_explanation_as_htmx_fragment_and_as_a_page(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user, ids = prepared(client, db_url)
        add_summary(db_url, "SW-1", SUMMARY)
        sw1 = ids["SW-1"]
        fragment = user.get(f"/matches/{sw1}/explanation",
                            headers={"HX-Request": "true", "HX-Target": f"explanation-{sw1}"})
        page = user.get(f"/matches/{sw1}/explanation")
        english = user.get(f"/matches/{ids['KO-1']}/explanation", cookies={"ty_lang": "en"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "<strong>Warum passt das?</strong>" in fragment.text
    assert "<li>Die Stelle gehört zum Beruf Softwareentwickler/in, den Sie suchen.</li>" in fragment.text
    assert "<strong>Was fehlt</strong>" in fragment.text and "„Kubernetes“" in fragment.text
    assert "Aus Ihrem Profil und der Anzeige zusammengestellt." in fragment.text
    assert page.status_code == 200 and "<html" in page.text and "<h1>Softwareentwickler (m/w/d)</h1>" in page.text
    assert f'href="/matches/{sw1}"' in page.text and "Zurück zum Treffer" in page.text
    assert "Die Stelle gehört zum Beruf Softwareentwickler/in" in page.text
    assert english.status_code == 200 and "What is missing" in english.text
    assert "Sie liegt in Bayern, außerhalb der Bundesländer Ihres Profils." in english.text  # the sentences: German


def test_the_explanation_page_with_the_llm_and_its_fallback(db_url):
    load_catalogue(db_url)
    answer = {"fits": ["Die Stelle passt zu Ihrem Wunschberuf und Ihren Python-Kenntnissen. <b>XSS</b>"],
              "missing": []}
    server = OllamaTestServer(capacity=CapacityModel(time_scale=0), chat_script=lambda body: answer)
    with server, running_app(db_url, ollama_host=server.url, ollama_backoff_s=0, llm_model="qwen2.5:7b",
                             rate_limits="explanation=2/3600") as client:
        user, ids = prepared(client, db_url)
        htmx = {"HX-Request": "true", "HX-Target": f"explanation-{ids['SW-1']}"}
        llm = user.get(f"/matches/{ids['SW-1']}/explanation", headers=htmx)
        server.add_fault(OllamaFault("500", endpoint="/api/chat", count=2))
        fallback = user.get(f"/matches/{ids['KO-1']}/explanation")
        sw2 = ids["SW-2"]
        limited = user.get(f"/matches/{sw2}/explanation", headers={**htmx, "HX-Target": f"explanation-{sw2}"})
        limited_page = user.get(f"/matches/{sw2}/explanation")
        kept = user.get(f"/matches/{ids['SW-1']}/explanation", headers=htmx)
    assert "Die Stelle passt zu Ihrem Wunschberuf und Ihren Python-Kenntnissen. XSS" in llm.text
    assert "<b>" not in llm.text and "Vom KI-Modell qwen2.5:7b aus Ihrem Profil und der Anzeige geschrieben." in llm.text
    assert "Das KI-Modell war nicht verfügbar; dies ist die Standard-Erklärung." in fallback.text
    assert limited.status_code == 200  # htmx swaps only a 2xx answer: the block says it
    assert "Sie haben viele Erklärungen angefordert." in limited.text
    assert f'hx-get="/matches/{sw2}/explanation"' in limited.text  # and offers the link again
    assert limited_page.status_code == 429
    assert kept.status_code == 200 and "Python-Kenntnissen" in kept.text  # a kept one is free
    assert server.requests["/api/chat"] == 3  # the LLM's, and the failed try with its retry


# ------------------------------------------------------------------ suppressions


def test_suppressions_are_listed_and_undone(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user, ids = prepared(client, db_url)
        user.put(f"/api/v1/matches/{ids['KO-1']}/rate", json={"rating": 1})
        page = user.get("/matches/suppressions")
        english = user.get("/matches/suppressions", cookies={"ty_lang": "en"})
        undone = user.client.post("/matches/suppressions/29302/delete", data=form(user), follow_redirects=False)
        after = user.get("/matches/suppressions?done=undone")
        again = user.client.post("/matches/suppressions/29302/delete", data=form(user))
        bad = user.client.post("/matches/suppressions/293/delete", data=form(user))
    assert page.status_code == 200 and "<h1>Abgelehnte Berufe</h1>" in page.text
    assert "(KldB 29302)" in page.text and f'href="/matches/{ids["KO-1"]}"' in page.text
    assert 'action="/matches/suppressions/29302/delete"' in page.text
    assert "<h1>Professions you rated down</h1>" in english.text
    assert undone.status_code == 303 and undone.headers["location"] == "/matches/suppressions?done=undone"
    assert "Der Beruf ist wieder dabei" in after.text and "Sie haben keinen Beruf abgelehnt." in after.text
    assert suppressed(db_url, user.id) == []
    assert again.status_code == 404 and "Nicht gefunden" in again.text
    assert bad.status_code == 422


# ------------------------------------------------------------------ the public posting page


def test_the_public_posting_page(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user, _ = prepared(client, db_url)
        anonymous = client.get("/postings/SW-1")
        signed_in = user.get("/postings/KO-1", cookies={"ty_lang": "en"})
        unknown = client.get("/postings/NOPE-1")
    assert anonymous.status_code == 200 and "<h1>Softwareentwickler (m/w/d)</h1>" in anonymous.text
    assert 'href="https://www.arbeitsagentur.de/jobsuche/jobdetail/SW-1"' in anonymous.text
    assert 'href="https://code.example/jobs/1"' in anonymous.text and "Anmelden" in anonymous.text
    assert signed_in.status_code == 200 and "Koch (m/w/d)" in signed_in.text and "Sign out" in signed_in.text
    assert unknown.status_code == 404 and "Nicht gefunden" in unknown.text


def test_the_public_posting_page_is_rate_limited_per_address(db_url):
    with running_app(db_url, rate_limits="public=2/60") as client:
        with psycopg.connect(db_url) as conn:
            insert_posting(conn, "P-1", "Stelle")
        codes = [client.get("/postings/P-1").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


# ------------------------------------------------------------------ escaping, CSRF, sign-in, ownership


def test_markup_from_postings_and_feedback_is_shown_as_text(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user, ids = prepared(client, db_url, hostile=True)
        add_summary(db_url, "SW-1", {"tasks": [XSS], "requirements": [f"Python {XSS}"], "working_time": XSS,
                                     "contract": None, "salary": None, "remote": None})
        user.put(f"/api/v1/matches/{ids['SW-2']}/rate", json={"rating": 4, "feedback": XSS})
        pages = [user.get("/matches"), user.get(f"/matches/{ids['SW-1']}"), user.get(f"/matches/{ids['SW-2']}"),
                 user.get(f"/matches/{ids['SW-1']}/cover-letter"), client.get("/postings/SW-1"),
                 user.get(f"/matches/{ids['SW-1']}/explanation"),
                 user.post(f"/matches/{ids['SW-1']}/rate", data={"feedback": XSS}, headers=HTMX)]
    for page in pages:
        assert page.status_code == 200, page.text
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "javascript:" not in page.text  # the employer's URL is not a link, nor shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0].text  # title, employer, city on the card
    assert "Code &lt;script&gt;" in pages[1].text and "Berlin&lt;script&gt;" in pages[1].text
    assert "Python und SQL.\n&lt;script&gt;" in pages[1].text  # the description
    assert "&lt;img src=x onerror=alert(1)&gt;</textarea>" in pages[2].text  # the feedback in its field
    assert "Die Seite des Arbeitgebers" not in pages[1].text and "Die Seite des Arbeitgebers" not in pages[4].text


def test_forms_need_the_csrf_token_and_a_same_site_request(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user, ids = prepared(client, db_url)
        user.put(f"/api/v1/matches/{ids['KO-1']}/rate", json={"rating": 1})
        posts = [(f"/matches/{ids['SW-1']}/rate", {"rating": "1"}), ("/matches/refresh", {}),
                 ("/matches/suppressions/29302/delete", {})]
        refused = []
        for path, data in posts:
            refused.append(user.client.post(path, data=data))
            refused.append(user.client.post(path, data={**data, "csrf_token": "wrong"}))
            refused.append(user.client.post(path, data=form(user, **data), headers={"Sec-Fetch-Site": "cross-site"}))
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert "Dieses Formular ist veraltet" in refused[0].text or "veraltet" in refused[0].text
    assert stored(db_url, ids["SW-1"]) == (None, None, None) and suppressed(db_url, user.id) == ["29302"]


def test_anonymous_visitors_are_sent_to_sign_in(db_url):
    with running_app(db_url) as client:
        responses = {path: client.get(path, follow_redirects=False)
                     for path in ("/matches", "/matches/1", "/matches/1/cover-letter", "/matches/1/cover-letter.docx",
                                  "/matches/1/explanation", "/matches/suppressions", "/matches?page=2")}
        post = client.post("/matches/1/rate", data={"rating": "3"}, follow_redirects=False)
    for path, response in responses.items():
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=/matches"), path
    assert responses["/matches/1"].headers["location"] == "/login?next=/matches/1"
    assert post.status_code == 303 and post.headers["location"] == "/login?next=/matches/1/rate"


def test_another_users_match_is_a_404_page(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        alice, ids = prepared(client, db_url)
        alice.put(f"/api/v1/matches/{ids['KO-1']}/rate", json={"rating": 1})
        bob = sign_up(client)
        theirs = ids["SW-1"]
        responses = [bob.get(f"/matches/{theirs}"), bob.get(f"/matches/{theirs}/cover-letter"),
                     bob.get(f"/matches/{theirs}/cover-letter.md"), bob.get(f"/matches/{theirs}/cover-letter.docx"),
                     bob.get(f"/matches/{theirs}/explanation"),
                     bob.get(f"/matches/{theirs}/explanation", headers={"HX-Request": "true",
                                                                        "HX-Target": f"explanation-{theirs}"}),
                     bob.client.post(f"/matches/{theirs}/rate", data=form(bob, rating="1")),
                     bob.client.post(f"/matches/{theirs}/rate", data=form(bob)),
                     bob.post(f"/matches/{theirs}/rate", data={"rating": "1"}, headers=HTMX),
                     bob.client.post("/matches/suppressions/29302/delete", data=form(bob))]
        bobs = bob.get("/matches")
    for response in responses:
        assert response.status_code == 404, response.text
        assert "Nicht gefunden" in response.text
        assert "Softwareentwickler" not in response.text and "Code &amp; Co" not in response.text
    assert stored(db_url, theirs) == (None, None, None) and suppressed(db_url, alice.id) == ["29302"]
    assert "Kein Treffer offen" in bobs.text and "Softwareentwickler" not in bobs.text
