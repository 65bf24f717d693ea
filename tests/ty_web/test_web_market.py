"""Market views and the catalogue through the real app: demand series, profession search, a profession and its
neighbours, a posting. Public routes: no sign-in, on a database holding the bundled catalogue and a handful of
postings whose demand snapshots the pipeline's own SQL computed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from web_support import insert_posting, load_catalogue, running_app, sign_up

from ty_assets.market.demand import write_demand_snapshot
from ty_testing.ollama_server import CapacityModel, OllamaTestServer

D0 = date(2025, 6, 2)
D1, D2, D3 = D0 + timedelta(days=1), D0 + timedelta(days=2), D0 + timedelta(days=3)
SECRET = "only-in-raw-4711"

# refnr: (berufenet_id, state, first_seen, invalidated_on)
POSTINGS = {
    "P1": ("43414-102", "Berlin", D0, None),        # Softwareentwickler/in, level 4, domain 43
    "P2": ("43414-102", "Bayern", D1, None),
    "P3": ("43423-100", "Berlin", D0, None),        # Organisationsprogrammierer/in, level 3: 434 but not 4341
    "P4": ("43104-100", "Hamburg", D1, None),       # Dipl.-Informatiker/in (FH), level 4: 43 but not 434
    "P5": ("51312-111", "Berlin", D0, D2),          # Fachkraft - Lagerlogistik, level 2: gone on D2
    "P6": (None, "unbekannt", D0, None),            # unlabelled
    "P7": ("29302-100", "Ausland", D2, None),       # Koch/Köchin, level 2
}
URLS = {"P1": "https://jobs.example.org/p1?x=1", "P2": "javascript:alert(document.cookie)"}
OFFER_TYPES = {"P4": 4, "P7": 4, "P6": None}  # apprenticeships; P6's type is not known; the rest are jobs (1)


def _load_market(url: str) -> None:
    with psycopg.connect(url) as conn:
        for refnr, (berufenet_id, state, first_seen, invalidated_on) in POSTINGS.items():
            title = f"Stelle {refnr} (m/w/d)"
            invalidated_at = datetime(invalidated_on.year, invalidated_on.month, invalidated_on.day, 20,
                                      tzinfo=UTC) if invalidated_on else None
            insert_posting(conn, refnr, title, employer=f"Firma {refnr} GmbH", state=state, plz="10115", city="Berlin",
                           published_on=first_seen, entry_date=D3, external_url=URLS.get(refnr),
                           raw=json.dumps({"refnr": refnr, "kontakt": SECRET}), first_seen=first_seen,
                           last_seen=invalidated_on - timedelta(days=1) if invalidated_on else D2,
                           invalidated_at=invalidated_at, invalidated_on=invalidated_on,
                           invalidated_reason="stale" if invalidated_on else None, berufenet_id=berufenet_id,
                           label_source="title" if berufenet_id else None, offer_type=OFFER_TYPES.get(refnr, 1))
        conn.execute("INSERT INTO posting_descriptions (refnr, status, description) VALUES"
                     " ('P1', 'ok', 'Wir entwickeln Software <b>mit</b> Python.'),"
                     " ('P2', 'error', NULL)")
        now = datetime.now(UTC)
        # Two days of similarity: the service reads the latest (D1); D0's neighbours are history.
        for similarity_day, neighbours in ((D0, [("43104", 0.95, "catalogue"), ("43423", 0.7, "postings")]),
                                           (D1, [("43423", 0.91, "postings"), ("43104", 0.83, "catalogue")])):
            for rank, (neighbour, score, basis) in enumerate(neighbours, start=1):
                conn.execute(
                    "INSERT INTO profession_similarity (day, kldb_code, neighbour_code, rank, score, basis,"
                    " neighbour_basis, postings, model, computed_at)"
                    " VALUES (%s, '43414', %s, %s, %s, 'postings', %s, 25, 'local-test', %s)",
                    (similarity_day, neighbour, rank, score, basis, now))
        conn.commit()
        for day in (D0, D1, D2):  # D3 is never computed
            write_demand_snapshot(conn, day)


@pytest.fixture(scope="module")
def market_db(module_db_url: str) -> str:
    """One database for this module's read-only tests: the catalogue and the postings above."""
    load_catalogue(module_db_url)
    _load_market(module_db_url)
    return module_db_url


@pytest.fixture(scope="module")
def client(market_db: str) -> Iterator[TestClient]:
    """The app on ``market_db``, shared by the module's tests (they only read)."""
    with running_app(market_db) as app_client:
        yield app_client


def _code_titles(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT code, title FROM kldb_codes").fetchall())


def _series(response) -> list[tuple[str, int, int, int]]:
    assert response.status_code == 200, response.text
    return [(p["day"], p["active_postings"], p["new_postings"], p["invalidated_postings"])
            for p in response.json()["series"]]


def _fields(response) -> list[str]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return [f["field"] for f in error["fields"]]


RANGE = {"from": D0.isoformat(), "to": D3.isoformat()}
d0, d1, d2 = D0.isoformat(), D1.isoformat(), D2.isoformat()


# ------------------------------------------------------------------ demand


def test_demand_series_unfiltered_counts_every_posting_and_leaves_out_days_never_computed(client):
    response = client.get("/api/v1/market/demand", params=RANGE)
    body = response.json()
    assert body["from"] == d0 and body["to"] == D3.isoformat()
    assert body["filters"] == {"kldb": None, "kldb_title": None, "domain": None, "domain_title": None,
                               "state": None, "level": None, "offer_type": None}
    # D3 has no snapshot: left out, not reported as zero. The unlabelled P6 counts without a profession filter.
    assert _series(response) == [(d0, 4, 4, 0), (d1, 6, 2, 0), (d2, 6, 1, 1)]


@pytest.mark.parametrize(("filters", "expected"), [
    ({"kldb": "43414"}, [(d0, 1, 1, 0), (d1, 2, 1, 0), (d2, 2, 0, 0)]),
    ({"kldb": "434"}, [(d0, 2, 2, 0), (d1, 3, 1, 0), (d2, 3, 0, 0)]),
    ({"kldb": "4341"}, [(d0, 1, 1, 0), (d1, 2, 1, 0), (d2, 2, 0, 0)]),
    ({"kldb": "43"}, [(d0, 2, 2, 0), (d1, 4, 2, 0), (d2, 4, 0, 0)]),
    ({"kldb": "5"}, [(d0, 1, 1, 0), (d1, 1, 0, 0), (d2, 0, 0, 1)]),
    ({"domain": "51"}, [(d0, 1, 1, 0), (d1, 1, 0, 0), (d2, 0, 0, 1)]),
    ({"domain": "43", "kldb": "434"}, [(d0, 2, 2, 0), (d1, 3, 1, 0), (d2, 3, 0, 0)]),
    ({"domain": "43", "kldb": "4"}, [(d0, 2, 2, 0), (d1, 4, 2, 0), (d2, 4, 0, 0)]),
    ({"state": "Berlin"}, [(d0, 3, 3, 0), (d1, 3, 0, 0), (d2, 2, 0, 1)]),
    ({"state": "unbekannt"}, [(d0, 1, 1, 0), (d1, 1, 0, 0), (d2, 1, 0, 0)]),
    ({"level": 4}, [(d0, 1, 1, 0), (d1, 3, 2, 0), (d2, 3, 0, 0)]),
    ({"level": 4, "state": "Berlin", "domain": "43"}, [(d0, 1, 1, 0), (d1, 1, 0, 0), (d2, 1, 0, 0)]),
    ({"state": "Bremen"}, [(d0, 0, 0, 0), (d1, 0, 0, 0), (d2, 0, 0, 0)]),  # computed days, nothing there
    ({"offer_type": 4}, [(d0, 0, 0, 0), (d1, 1, 1, 0), (d2, 2, 1, 0)]),
    ({"offer_type": 1}, [(d0, 3, 3, 0), (d1, 4, 1, 0), (d2, 3, 0, 1)]),
    ({"offer_type": 4, "state": "Ausland"}, [(d0, 0, 0, 0), (d1, 0, 0, 0), (d2, 1, 1, 0)]),
])
def test_demand_filters(client, filters, expected):
    response = client.get("/api/v1/market/demand", params={**RANGE, **filters})
    assert _series(response) == expected
    echoed = response.json()["filters"]
    for name, value in filters.items():
        assert echoed[name] == value


def test_demand_names_the_codes_and_defaults_to_the_30_days_up_to_the_latest_snapshot(client, market_db):
    default = client.get("/api/v1/market/demand", params={"kldb": "43414", "domain": "43"})
    only_to = client.get("/api/v1/market/demand", params={"to": d1})
    only_from = client.get("/api/v1/market/demand", params={"from": d1})
    body = default.json()
    assert body["to"] == d2 and body["from"] == (D2 - timedelta(days=29)).isoformat()
    titles = _code_titles(market_db)
    assert body["filters"]["kldb_title"] == titles["43414"] == "Berufe in der Softwareentwicklung – hoch komplexe Tätigkeiten"
    assert body["filters"]["domain_title"] == titles["43"]
    assert _series(default) == [(d0, 1, 1, 0), (d1, 2, 1, 0), (d2, 2, 0, 0)]
    assert _series(only_to) == [(d0, 4, 4, 0), (d1, 6, 2, 0)]
    assert _series(only_from) == [(d1, 6, 2, 0), (d2, 6, 1, 1)]


def test_demand_without_any_snapshot_is_an_empty_series_ending_today(db_url):
    with running_app(db_url) as client:
        response = client.get("/api/v1/market/demand")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["series"] == []
    assert date.fromisoformat(body["to"]) - date.fromisoformat(body["from"]) == timedelta(days=29)
    assert abs((date.fromisoformat(body["to"]) - date.today()).days) <= 1  # Europe/Berlin's today


@pytest.mark.parametrize(("params", "field"), [
    ({"kldb": "4341x"}, "query.kldb"),
    ({"kldb": "434145"}, "query.kldb"),
    ({"kldb": "99999"}, "query.kldb"),          # well-formed, but no such code
    ({"domain": "4"}, "query.domain"),
    ({"domain": "00"}, "query.domain"),
    ({"domain": "51", "kldb": "43414"}, "query.domain"),  # contradicts kldb
    ({"state": "Bavaria"}, "query.state"),
    ({"level": 5}, "query.level"),
    ({"level": "zwei"}, "query.level"),
    ({"offer_type": 3}, "query.offer_type"),
    ({"offer_type": "ARBEIT"}, "query.offer_type"),
    ({"from": "2025-13-01"}, "query.from"),
    ({"to": "gestern"}, "query.to"),
    ({"from": "2025-06-05", "to": "2025-06-04"}, "query.from"),
    ({"from": "2024-01-01", "to": "2025-01-01"}, "query.to"),   # 367 days
    ({"from": "0001-01-01", "to": "0001-01-02"}, "query.from"),
    ({"to": "9999-12-31"}, "query.to"),
])
def test_demand_rejects_bad_filters_naming_the_field(client, params, field):
    response = client.get("/api/v1/market/demand", params=params)
    assert _fields(response) == [field]


def test_demand_accepts_a_full_year(client):
    # 366 days, the most allowed
    response = client.get("/api/v1/market/demand", params={"from": (D2 - timedelta(days=365)).isoformat(), "to": d2})
    assert _series(response) == [(d0, 4, 4, 0), (d1, 6, 2, 0), (d2, 6, 1, 1)]


# ------------------------------------------------------------------ professions


def test_profession_detail(client, market_db):
    software = client.get("/api/v1/professions/43414-102")
    lager = client.get("/api/v1/professions/51312-111")
    titles = _code_titles(market_db)
    assert software.status_code == 200, software.text
    assert software.json() == {
        "berufenet_id": "43414-102", "name": "Softwareentwickler/in", "name_male": "Softwareentwickler",
        "name_female": "Softwareentwicklerin", "kldb_code": "43414",
        "kldb_title": titles["43414"], "level": 4, "level_name": "Experte", "is_supervisor": False,
        "domain_code": "43", "domain_title": titles["43"], "active": True,
        "active_postings": 2,
    }
    assert lager.json()["active_postings"] == 0  # its one posting was invalidated
    assert lager.json()["level_name"] == "Fachkraft"


def test_profession_unknown_is_404_and_a_malformed_id_is_422(client):
    unknown = client.get("/api/v1/professions/99999-999")
    unknown_similar = client.get("/api/v1/professions/99999-999/similar")
    malformed = [client.get(f"/api/v1/professions/{bad}") for bad in ("4341-102", "43414102", "43414-10a")]
    malformed_similar = client.get("/api/v1/professions/43414_102/similar")
    for response in (unknown, unknown_similar):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
    for response in (*malformed, malformed_similar):
        assert _fields(response) == ["path.berufenet_id"]


def test_similar_professions_best_first_with_names_and_examples(client, market_db):
    similar = client.get("/api/v1/professions/43414-102/similar")
    none_yet = client.get("/api/v1/professions/51312-111/similar")
    assert similar.status_code == 200, similar.text
    body = similar.json()
    assert body["kldb_code"] == "43414" and body["model"] == "local-test" and body["computed_at"]
    assert body["day"] == D1.isoformat()  # the latest day computed
    neighbours = body["neighbours"]
    assert [(n["rank"], n["kldb_code"], n["score"], n["basis"]) for n in neighbours] == [
        (1, "43423", 0.91, "postings"), (2, "43104", 0.83, "catalogue")]
    titles = _code_titles(market_db)
    assert [n["title"] for n in neighbours] == [titles["43423"], titles["43104"]]
    assert body["kldb_title"] == titles["43414"]
    with psycopg.connect(market_db) as conn:
        expected = conn.execute("SELECT count(*) FROM professions WHERE kldb_code = '43423' AND active").fetchone()[0]
    assert neighbours[0]["professions"] == expected
    examples = neighbours[0]["examples"]
    assert 1 <= len(examples) <= 5 and len(examples) == min(5, expected)
    assert {"berufenet_id": "43423-100", "name": "Organisationsprogrammierer/in", "level": 3} in examples
    assert none_yet.status_code == 200
    assert none_yet.json()["neighbours"] == [] and none_yet.json()["model"] is None


def test_profession_search_through_the_classifier(client):
    exact = client.get("/api/v1/professions/search", params={"q": "  Softwareentwicklerin (m/w/d) "})
    fuzzy = client.get("/api/v1/professions/search", params={"q": "Lagerlogistik Fachkraft", "limit": 3})
    assert exact.status_code == 200, exact.text
    body = exact.json()
    assert body["query"] == "Softwareentwicklerin (m/w/d)"
    assert body["status"] == "matched" and body["score"] == 1.0
    assert body["profession"] == {"berufenet_id": "43414-102", "name": "Softwareentwickler/in",
                                  "kldb_code": "43414", "level": 4}
    assert body["candidates"][0]["berufenet_id"] == "43414-102"
    assert fuzzy.status_code == 200, fuzzy.text
    candidates = fuzzy.json()["candidates"]
    assert 1 <= len(candidates) <= 3
    assert candidates[0]["kldb_code"] == "51312"
    assert all(0.0 <= c["score"] <= 1.0 for c in candidates)  # in the classifier's ranking, not by score
    assert all(c["level"] == int(c["kldb_code"][4]) for c in candidates)
    assert body["confidence"] == 1.0 and body["suggestion"] is None


def test_an_unsettled_search_offers_its_first_candidate_as_a_suggestion(client):
    """A title the cascade does not settle offline still says what it most likely is, and how likely."""
    body = client.get("/api/v1/professions/search", params={"q": "Allrounder Lager und Büro"}).json()
    assert body["status"] in {"pending_llm", "no_match"} and body["profession"] is None
    first = body["candidates"][0]
    assert body["suggestion"] == {key: first[key] for key in ("berufenet_id", "name", "kldb_code", "level")}
    assert 0.0 < body["confidence"] < 0.9


def test_the_public_search_never_asks_the_llm(market_db):
    """Anyone may search: with an LLM configured and thresholds that send every inexact title to it, the public
    search still answers from retrieval (pending_llm with a suggestion) and asks nothing; the same title in a
    signed-in user's work history does go to the LLM."""
    def pick_first(body):
        return {"choice": body["format"]["properties"]["choice"]["enum"][0], "reason": "first candidate"}

    title = "Mitarbeiter Produktion Kunststoff (m/w/d)"
    with OllamaTestServer(dimension=16, capacity=CapacityModel(time_scale=0), chat_script=pick_first) as server, \
            running_app(market_db, ollama_host=server.url, ollama_backoff_s=0, accept_score=1.0,
                        reject_score=0.0) as client:
        body = client.get("/api/v1/professions/search", params={"q": title}).json()
        public_chats = server.requests["/api/chat"]
        user = sign_up(client)
        entry = user.post("/api/v1/profiles/me/work-history", json={"title": title, "start_date": "2020-01-01"})
        user_chats = server.requests["/api/chat"]
    assert body["status"] == "pending_llm" and body["suggestion"] is not None
    assert public_chats == 0
    assert entry.status_code == 201, entry.text
    assert user_chats >= 1


def test_profession_search_without_a_catalogue_is_unclassified(db_url):
    with running_app(db_url) as client:
        response = client.get("/api/v1/professions/search", params={"q": "Koch"})
    assert response.status_code == 200, response.text
    assert response.json() == {"query": "Koch", "key": "koch", "status": "unclassified", "profession": None,
                               "suggestion": None, "score": None, "confidence": None, "candidates": []}


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"q": "x" * 201}, {"q": "(m/w/d)"},
                                    {"q": "Koch\x00"}, {"q": "Koch", "limit": 0}, {"q": "Koch", "limit": 51}])
def test_profession_search_rejects_bad_queries_naming_the_field(client, params):
    response = client.get("/api/v1/professions/search", params=params)
    assert _fields(response) == ["query.limit" if "limit" in params else "query.q"]


# ------------------------------------------------------------------ postings


def test_posting_shows_public_fields_only(client):
    response = client.get("/api/v1/postings/P1")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "refnr": "P1", "title": "Stelle P1 (m/w/d)", "employer": "Firma P1 GmbH", "beruf": None, "plz": "10115",
        "city": "Berlin", "state": "Berlin", "offer_type": 1, "published_on": d0, "entry_date": D3.isoformat(), "first_seen": d0,
        "last_seen": d2, "active": True, "invalidated_on": None,
        "label": {"berufenet_id": "43414-102", "name": "Softwareentwickler/in", "kldb_code": "43414", "level": 4,
                  "source": "title"},
        "description": "Wir entwickeln Software <b>mit</b> Python.",
        "external_url": "https://jobs.example.org/p1?x=1",
        "summary": None,  # none was made for it (tests/ty_web/test_web_explanations.py: with one)
    }
    assert SECRET not in response.text  # the raw source record is never exposed


def test_posting_withholds_unsafe_urls_and_failed_descriptions(client):
    p2 = client.get("/api/v1/postings/P2")
    p5 = client.get("/api/v1/postings/P5")
    p6 = client.get("/api/v1/postings/P6")
    assert p2.json()["external_url"] is None  # javascript: is never handed to a client as a link
    assert p2.json()["description"] is None  # the fetch failed
    assert p5.json()["active"] is False and p5.json()["invalidated_on"] == d2
    assert p6.json()["label"] is None and p6.json()["state"] == "unbekannt"


def test_posting_unknown_is_404_and_a_malformed_refnr_is_422(client):
    unknown = client.get("/api/v1/postings/10000-1234567890-S")
    malformed = [client.get(f"/api/v1/postings/{bad}") for bad in ("%3Cscript%3E", "-P1", "P" * 101, "P1%20x")]
    assert unknown.status_code == 404 and unknown.json()["error"]["message"] == "posting not found"
    for response in malformed:
        assert _fields(response) == ["path.refnr"]


# ------------------------------------------------------------------ public access


def test_market_routes_are_public_and_need_no_csrf(client):
    paths = ["/api/v1/market/demand", "/api/v1/professions/search?q=Koch", "/api/v1/professions/43414-102",
             "/api/v1/professions/43414-102/similar", "/api/v1/postings/P1"]
    anonymous = [client.get(p) for p in paths]
    user = sign_up(client)  # a cookie session: GET needs no X-CSRF-Token
    signed_in = [user.client.get(p) for p in paths]
    spec = client.get("/openapi.json").json()
    for response in (*anonymous, *signed_in):
        assert response.status_code == 200, (response.url, response.text)
    for path in ("/api/v1/market/demand", "/api/v1/professions/search", "/api/v1/professions/{berufenet_id}",
                 "/api/v1/professions/{berufenet_id}/similar", "/api/v1/postings/{refnr}"):
        operation = spec["paths"][path]["get"]
        assert operation["tags"] == ["market"] and not operation.get("security"), path
        assert "422" in operation["responses"], path
