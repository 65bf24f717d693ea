"""The market page (``GET /market``) through the real app: the search box, the chart and its table for a
profession and a Land, the similar professions, the overall view, an empty database, invalid parameters and
markup in catalogue names. Public: no sign-in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import psycopg
import pytest
from fastapi.testclient import TestClient
from web_support import insert_posting, load_catalogue, running_app

from ty_assets.market.demand import write_demand_snapshot

D0 = date(2025, 6, 2)
DAYS = [D0 + timedelta(days=i) for i in range(3)]
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'

# refnr: (berufenet_id, state, first_seen)
POSTINGS = {
    "M1": ("43414-102", "Berlin", DAYS[0]),
    "M2": ("43414-102", "Berlin", DAYS[1]),
    "M3": ("43414-102", "Bayern", DAYS[1]),
    "M4": ("43423-100", "Berlin", DAYS[0]),
    "M5": (None, "unbekannt", DAYS[2]),
}


@pytest.fixture(scope="module")
def market_db(module_db_url: str) -> str:
    url = module_db_url
    load_catalogue(url)
    with psycopg.connect(url) as conn:
        for refnr, (berufenet_id, state, first_seen) in POSTINGS.items():
            insert_posting(conn, refnr, f"Stelle {refnr} {SCRIPT}", employer=IMG, state=state, plz="10115",
                           city="Berlin", published_on=first_seen, entry_date=first_seen,
                           first_seen=first_seen, last_seen=DAYS[-1], berufenet_id=berufenet_id,
                           label_source="title" if berufenet_id else None, offer_type=1)
        # Markup in catalogue names: a neighbour's example and a neighbour code's title.
        conn.execute("UPDATE professions SET name = %s WHERE berufenet_id = '43423-100'",
                     (f"Programmierer {SCRIPT}",))
        conn.execute("UPDATE kldb_codes SET title = %s WHERE code = '43104'", (f"Informatik {IMG}",))
        now = datetime.now(UTC)
        for rank, (neighbour, score, basis) in enumerate((("43423", 0.91, "postings"),
                                                         ("43104", 0.83, "catalogue")), start=1):
            conn.execute(
                "INSERT INTO profession_similarity (day, kldb_code, neighbour_code, rank, score, basis,"
                " neighbour_basis, postings, model, computed_at)"
                " VALUES (%s, '43414', %s, %s, %s, 'postings', %s, 25, 'local-test', %s)",
                (DAYS[0], neighbour, rank, score, basis, now))
        conn.commit()
        for day in DAYS:
            write_demand_snapshot(conn, day)
    return url


@pytest.fixture(scope="module")
def client(market_db: str) -> Iterator[TestClient]:
    with running_app(market_db) as app_client:
        yield app_client


def _api_series(client: TestClient, **params: str) -> list[dict]:
    response = client.get("/api/v1/market/demand", params={"from": str(DAYS[0]), "to": str(DAYS[-1]), **params})
    assert response.status_code == 200, response.text
    return response.json()["series"]


def _points(html: str, cls: str) -> list[str]:
    match = re.search(rf'<polyline class="{cls}" points="([^"]*)"', html)
    assert match, f"no {cls} line"
    return match.group(1).split()


def test_a_profession_in_a_land_in_german(client):
    response = client.get("/market", params={"profession": "43414-102", "state": "Berlin", "days": "30"})
    assert response.status_code == 200, response.text
    assert response.headers["content-language"] == "de"
    html = response.text
    assert "<h1>Arbeitsmarkt: Softwareentwickler/in</h1>" in html
    assert "43414" in html and "Stellenangebote pro Tag" in html
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    series = _api_series(client, kldb="43414", state="Berlin")
    assert [p["active_postings"] for p in series] == [1, 2, 2]
    assert [p["new_postings"] for p in series] == [1, 1, 0]
    assert len(_points(html, "open")) == len(_points(html, "new")) == len(series)
    # The table repeats the numbers, days in German format.
    table = html[html.index("<details>"):html.index("</details>")]
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th><td class="number">(\d+)</td><td class="number">(\d+)</td>',
                      table)
    assert rows == [(f"{d.day:02d}.{d.month:02d}.{d.year}", str(p["active_postings"]), str(p["new_postings"]))
                    for d, p in zip(DAYS, series, strict=True)]
    assert '<option value="Berlin" selected>' in html
    # Similar professions link to their market views; markup in catalogue names stays text.
    assert 'href="/market?profession=43423-100&amp;state=Berlin&amp;days=30"' in html
    assert SCRIPT not in html and IMG not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html or "&quot;&gt;&lt;img" in html
    assert "<script>" not in html.replace('<script src="', "")


def test_english_and_all_professions(client):
    client.cookies.set("ty_lang", "en")
    try:
        response = client.get("/market")
    finally:
        client.cookies.delete("ty_lang")
    assert response.status_code == 200, response.text
    html = response.text
    assert "<h1>Job market</h1>" in html and "Postings per day, all professions" in html
    series = _api_series(client)
    assert series[-1]["active_postings"] == len(POSTINGS)
    assert len(_points(html, "open")) == len(series)
    assert "Similar professions" not in html
    assert 'name="q"' in html and "<label for=\"f-q\">" in html


@pytest.mark.parametrize("params, field", [
    ({"profession": "not-an-id"}, "profession"),
    ({"state": "Atlantis"}, "state"),
    ({"days": "7"}, "days"),
    ({"days": "x" * 8}, "days"),
    ({"q": "(m/w/d)"}, "q"),
])
def test_invalid_parameters_are_a_422_page(client, params, field):
    response = client.get("/market", params=params)
    assert response.status_code == 422, response.text
    assert "text/html" in response.headers["content-type"]
    assert 'role="alert"' in response.text
    assert "<svg" in response.text  # the rest of the page still works


def test_too_long_parameters_and_unknown_professions(client):
    response = client.get("/market", params={"q": "x" * 500})
    assert response.status_code == 422 and "text/html" in response.headers["content-type"]
    assert client.get("/market", params={"profession": "99999-999"}).status_code == 404


def test_search_lists_candidates_as_links(client, monkeypatch):
    """The page calls the API's search service; the classifier's answer is replaced here (the classifier has its
    own tests, through the API)."""
    classifier = client.app.state.classifier
    seen = []
    candidate = SimpleNamespace(berufenet_id="43414-102", name=f"Softwareentwickler/in {SCRIPT}", kldb_code="43414",
                                score=0.97)

    def search(db, title):
        seen.append(title)
        return SimpleNamespace(key="softwareentwicklerin", status="matched", berufenet_id=None, kldb_code=None,
                               name=None, score=0.97, confidence=0.97, candidates=[candidate], suggestion=None)
    monkeypatch.setattr(classifier, "search", search)
    response = client.get("/market", params={"q": " Softwareentwicklerin ", "state": "Bayern"})
    assert response.status_code == 200, response.text
    assert seen == ["Softwareentwicklerin"]
    assert "Berufe für „Softwareentwicklerin“" in response.text
    assert 'href="/market?profession=43414-102&amp;state=Bayern&amp;days=90"' in response.text
    assert SCRIPT not in response.text and "Softwareentwickler/in &lt;script&gt;" in response.text

    def nothing(db, title):
        return SimpleNamespace(key="zzz", status="no_match", berufenet_id=None, kldb_code=None, name=None,
                               score=None, confidence=None, candidates=[], suggestion=None)
    monkeypatch.setattr(classifier, "search", nothing)
    response = client.get("/market", params={"q": "Zzz"})
    assert response.status_code == 200 and "Kein Beruf für „Zzz“ gefunden" in response.text


def test_an_empty_market_is_a_friendly_message(db_url):
    with running_app(db_url) as app_client:
        response = app_client.get("/market")
        assert response.status_code == 200, response.text
        assert "Es gibt noch keine Marktzahlen" in response.text and "<svg" not in response.text
