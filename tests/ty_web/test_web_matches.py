"""Matches, the queue, ratings and the negative filter, through the real app on a database holding the bundled
catalogue and a dozen postings embedded with the pipeline's (local) embedder, behind its HNSW index."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector
from web_support import PROFILE, load_catalogue, running_app, seed_postings, sign_up

from ty_resources.embedders import LocalEmbedder
from ty_resources.titles import title_key
from ty_web import matching

EXPECTED = {"SW-1", "SW-2", "SW-3", "BE-1", "FI-1", "LA-1", "LA-2", "KO-1", "KO-2", "UN-1"}  # Berlin + Bayern, active


@pytest.fixture
def match_db(db_url: str) -> str:
    load_catalogue(db_url)
    seed_postings(db_url)
    return db_url


def refnrs(page: dict) -> list[str]:
    return [m["posting"]["refnr"] for m in page["items"]]


def match_of(user, refnr: str) -> dict:
    page = user.get("/api/v1/matches", params={"limit": 100}).json()
    return next(m for m in page["items"] if m["posting"]["refnr"] == refnr)


# ------------------------------------------------------------------ refresh, list, queue, one match


def test_refresh_stores_scored_matches_in_the_profiles_states_best_first(match_db):
    with running_app(match_db) as client:
        user = sign_up(client)
        assert user.put("/api/v1/profiles/me", json=PROFILE).status_code == 200
        refreshed = user.post("/api/v1/matches/refresh")
        page = user.get("/api/v1/matches", params={"limit": 100})
    assert refreshed.status_code == 200, refreshed.text
    summary = refreshed.json()
    assert summary["stored"] == len(EXPECTED) and summary["rated_kept"] == 0
    assert summary["model"] == LocalEmbedder(384).model and summary["took_ms"] >= 0
    assert page.status_code == 200
    body = page.json()
    assert body["total"] == len(EXPECTED) and set(refnrs(body)) == EXPECTED  # no taken-down, no Hamburg posting
    scores = [m["score"] for m in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert set(refnrs(body)[:2]) == {"SW-1", "SW-2"}  # the desired profession, and the nearest texts
    by_refnr = {m["posting"]["refnr"]: m for m in body["items"]}
    for m in body["items"]:
        c = m["components"]
        assert m["score"] == pytest.approx(0.6 * c["similarity"] + 0.4 * c["profession_fit"], abs=1e-4)
        assert c["model"] == summary["model"] and c["weights"] == {"similarity": 0.6, "profession_fit": 0.4}
        assert m["rating"] is None and m["suppressed"] is False
    assert by_refnr["SW-1"]["components"]["fit_reason"] == "same_profession"
    assert by_refnr["SW-1"]["components"]["fit_source"] == "desired"
    assert by_refnr["SW-3"]["components"]["fit_reason"] == "same_kldb5"
    assert by_refnr["BE-1"]["components"]["fit_reason"] == "same_kldb3"
    assert by_refnr["KO-1"]["components"]["profession_fit"] == 0 and by_refnr["KO-1"]["kldb_code"] == "29302"
    assert by_refnr["UN-1"]["kldb_code"] is None and by_refnr["UN-1"]["components"]["fit_reason"] is None
    # The best software match outranks every cook and warehouse match.
    assert by_refnr["SW-3"]["score"] > max(by_refnr[r]["score"] for r in ("KO-1", "KO-2", "LA-1", "LA-2"))
    posting = by_refnr["SW-1"]["posting"]
    assert posting == {"refnr": "SW-1", "title": "Softwareentwickler (m/w/d)", "employer": "Code & Co GmbH",
                       "city": "Berlin", "plz": None, "state": "Berlin", "published_on": "2025-01-01",
                       "external_url": "https://code.example/jobs/1", "active": True, "berufenet_id": "43414-102",
                       "profession_name": "Softwareentwickler/in", "kldb_code": "43414", "level": 4}
    assert by_refnr["SW-2"]["posting"]["external_url"] is None  # a javascript: link never reaches a client


def test_levels_filter_postings_by_their_labels_level_and_leave_out_unlabelled_ones(match_db):
    with running_app(match_db) as client:
        user = sign_up(client, bearer=True)
        user.put("/api/v1/profiles/me", json={**PROFILE, "levels": [4]})
        summary = user.post("/api/v1/matches/refresh").json()
        level4 = refnrs(user.get("/api/v1/matches").json())
        user.put("/api/v1/profiles/me", json={**PROFILE, "states": ["Bayern"], "levels": [2, 3]})
        user.post("/api/v1/matches/refresh")
        bayern = refnrs(user.get("/api/v1/matches").json())
    assert summary["search"] == "exact"  # a dozen postings: fewer than asked, so all filtered ones were compared
    assert set(level4) == {"SW-1", "SW-2", "SW-3"}
    assert set(bayern) == {"LA-2", "KO-2"}


def test_paging_and_the_rated_filter(match_db):
    with running_app(match_db) as client:
        user = sign_up(client)
        user.put("/api/v1/profiles/me", json=PROFILE)
        user.post("/api/v1/matches/refresh")
        everything = user.get("/api/v1/matches", params={"limit": 100}).json()
        page = user.get("/api/v1/matches", params={"limit": 3, "offset": 2}).json()
        user.put(f"/api/v1/matches/{everything['items'][4]['id']}/rate", json={"rating": 4})
        rated = user.get("/api/v1/matches", params={"rated": "true"}).json()
        unrated = user.get("/api/v1/matches", params={"rated": "false", "limit": 100}).json()
    assert page["total"] == len(EXPECTED) and (page["limit"], page["offset"]) == (3, 2)
    assert refnrs(page) == refnrs(everything)[2:5]
    assert refnrs(rated) == [refnrs(everything)[4]] and rated["total"] == 1
    assert unrated["total"] == len(EXPECTED) - 1 and refnrs(everything)[4] not in refnrs(unrated)


def test_the_queue_gives_the_best_unrated_match_then_the_next(match_db):
    with running_app(match_db) as client:
        user = sign_up(client)
        user.put("/api/v1/profiles/me", json=PROFILE)
        empty = user.get("/api/v1/matches/next")
        user.post("/api/v1/matches/refresh")
        ranked = user.get("/api/v1/matches", params={"limit": 100}).json()["items"]
        first = user.get("/api/v1/matches/next")
        user.put(f"/api/v1/matches/{first.json()['id']}/rate", json={"rating": 5, "decision": "apply"})
        second = user.get("/api/v1/matches/next")
    assert empty.status_code == 404
    assert empty.json()["error"]["code"] == "queue_empty"
    assert first.status_code == 200 and first.json() == ranked[0]
    assert second.json() == ranked[1]


def test_one_match_comes_with_the_postings_description(match_db):
    with running_app(match_db) as client:
        user = sign_up(client)
        user.put("/api/v1/profiles/me", json=PROFILE)
        user.post("/api/v1/matches/refresh")
        listed = match_of(user, "SW-1")
        one = user.get(f"/api/v1/matches/{listed['id']}")
        undescribed = user.get(f"/api/v1/matches/{match_of(user, 'KO-1')['id']}")
        missing = user.get("/api/v1/matches/999999")
    assert one.status_code == 200
    assert one.json() == {**listed, "description": "Entwicklung von Webanwendungen mit Python und SQL."}
    assert undescribed.json()["description"] is None
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "match not found"


def test_refresh_keeps_at_most_the_match_limit(match_db):
    with running_app(match_db, match_limit=3) as client:
        user = sign_up(client)
        user.put("/api/v1/profiles/me", json=PROFILE)
        summary = user.post("/api/v1/matches/refresh").json()
        page = user.get("/api/v1/matches").json()
    assert summary["stored"] == 3 and page["total"] == 3
    assert set(refnrs(page)[:2]) == {"SW-1", "SW-2"}


def test_a_profile_with_nothing_to_match_on_is_409(match_db):
    with running_app(match_db) as client:
        user = sign_up(client)
        none_saved = user.post("/api/v1/matches/refresh")
        user.put("/api/v1/profiles/me", json={"display_name": "Nur ein Name", "states": ["Berlin"]})
        name_only = user.post("/api/v1/matches/refresh")
        listed = user.get("/api/v1/matches").json()
    for response in (none_saved, name_only):
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "profile_incomplete"
    assert listed["total"] == 0


def test_work_history_alone_is_enough_to_match(match_db):
    with running_app(match_db) as client:
        user = sign_up(client)
        user.post("/api/v1/profiles/me/work-history", json={"title": "Fachkraft für Lagerlogistik",
                                                      "start_date": "2019-01-01"})
        summary = user.post("/api/v1/matches/refresh").json()
        page = user.get("/api/v1/matches", params={"limit": 100}).json()
    assert summary["search"] == "ann"  # no state or level filter: the index alone
    best = page["items"][0]
    assert best["posting"]["refnr"] in {"LA-1", "LA-2"}
    assert best["components"]["fit_source"] == "work_history"
    assert best["components"]["profession_fit"] == pytest.approx(matching.WORK_HISTORY_FACTOR
                                                                 * matching.FIT_SAME_PROFESSION, abs=1e-6)
    assert "SW-5" in refnrs(page) and "SW-4" not in refnrs(page)  # any state, never a taken-down posting


# ------------------------------------------------------------------ ratings and the negative filter


def test_a_low_rating_suppresses_the_profession_until_the_user_lifts_it(match_db):
    with running_app(match_db) as client:
        user = sign_up(client)
        user.put("/api/v1/profiles/me", json=PROFILE)
        user.post("/api/v1/matches/refresh")
        lager = match_of(user, "LA-1")
        rated = user.put(f"/api/v1/matches/{lager['id']}/rate", json={"rating": 2, "feedback": "Kein Lager mehr.",
                                                              "decision": "skip"})
        listed = user.get("/api/v1/profiles/me/suppressions")
        queue = []
        while (response := user.get("/api/v1/matches/next")).status_code == 200:
            queue.append(response.json()["posting"]["refnr"])
            user.put(f"/api/v1/matches/{response.json()['id']}/rate", json={"rating": 3})
        flagged = match_of(user, "LA-2")
        summary = user.post("/api/v1/matches/refresh").json()
        after_refresh = user.get("/api/v1/matches", params={"limit": 100}).json()
        lifted = user.delete("/api/v1/profiles/me/suppressions/51312")
        again = user.delete("/api/v1/profiles/me/suppressions/51312")
        user.post("/api/v1/matches/refresh")
        restored = user.get("/api/v1/matches/next").json()
        after_lift = user.get("/api/v1/matches", params={"limit": 100, "rated": "false"}).json()
        remaining = user.get("/api/v1/profiles/me/suppressions").json()
    assert rated.status_code == 200, rated.text
    body = rated.json()
    assert body["match"]["rating"] == 2 and body["match"]["decision"] == "skip"
    assert body["match"]["feedback"] == "Kein Lager mehr." and body["match"]["suppressed"] is True
    assert body["suppression"]["kldb_code"] == "51312" and body["suppression"]["source_match_id"] == lager["id"]
    assert body["suppression"]["title"]
    assert [s["kldb_code"] for s in listed.json()] == ["51312"]
    assert listed.json()[0] == body["suppression"]
    assert set(queue) == EXPECTED - {"LA-1", "LA-2"}  # the queue skipped the other warehouse posting
    assert flagged["suppressed"] is True and flagged["rating"] is None
    # The refresh honours it: LA-2's unrated match is gone, LA-1's rated one kept with its rating.
    kept = {m["posting"]["refnr"]: m for m in after_refresh["items"]}
    assert "LA-2" not in kept and kept["LA-1"]["rating"] == 2
    assert summary["stored"] == 0 and summary["rated_kept"] == len(EXPECTED) - 1
    assert lifted.status_code == 204 and again.status_code == 404
    assert restored["posting"]["refnr"] == "LA-2"  # the only unrated posting left, back in the queue
    assert refnrs(after_lift) == ["LA-2"]
    assert remaining == []


def test_ratings_survive_refreshes(match_db):
    with running_app(match_db) as client:
        user = sign_up(client)
        user.put("/api/v1/profiles/me", json=PROFILE)
        user.post("/api/v1/matches/refresh")
        target = match_of(user, "SW-3")
        user.put(f"/api/v1/matches/{target['id']}/rate", json={"rating": 5, "feedback": "Passt genau.", "decision": "apply"})
        before = user.get(f"/api/v1/matches/{target['id']}").json()
        user.put("/api/v1/profiles/me", json={**PROFILE, "desired_berufenet_ids": ["29302-100"], "skills": ["Kochen"]})
        summary = user.post("/api/v1/matches/refresh").json()
        after = user.get(f"/api/v1/matches/{target['id']}").json()
        queue = user.get("/api/v1/matches/next").json()
    assert summary["rated_kept"] == 1
    assert after == before  # rating, feedback, decision, score and components untouched
    assert after["rating"] == 5 and after["feedback"] == "Passt genau." and after["decision"] == "apply"
    assert queue["posting"]["refnr"] in {"KO-1", "KO-2"} and queue["id"] != target["id"]


def test_rating_again_replaces_the_rating_and_lifts_its_own_suppression(match_db):
    with running_app(match_db) as client:
        user = sign_up(client)
        user.put("/api/v1/profiles/me", json=PROFILE)
        user.post("/api/v1/matches/refresh")
        koch1, koch2 = match_of(user, "KO-1"), match_of(user, "KO-2")
        user.put(f"/api/v1/matches/{koch1['id']}/rate", json={"rating": 1})
        second_low = user.put(f"/api/v1/matches/{koch2['id']}/rate", json={"rating": 2}).json()
        by_other = user.put(f"/api/v1/matches/{koch2['id']}/rate", json={"rating": 4}).json()  # did not set it
        still = user.get("/api/v1/profiles/me/suppressions").json()
        by_own = user.put(f"/api/v1/matches/{koch1['id']}/rate", json={"rating": 3, "feedback": "  "}).json()
        gone = user.get("/api/v1/profiles/me/suppressions").json()
        unlabelled = user.put(f"/api/v1/matches/{match_of(user, 'UN-1')['id']}/rate", json={"rating": 1}).json()
    assert second_low["suppression"]["source_match_id"] == koch1["id"]  # the first one set it
    assert by_other["suppression"]["kldb_code"] == "29302" and by_other["match"]["rating"] == 4
    assert [s["kldb_code"] for s in still] == ["29302"]
    assert by_own["suppression"] is None and by_own["match"]["feedback"] is None
    assert by_own["match"]["rating"] == 3 and by_own["match"]["decision"] is None
    assert gone == []
    assert unlabelled["suppression"] is None and unlabelled["match"]["rating"] == 1  # no profession to suppress


def test_a_suppression_set_in_the_database_excludes_its_postings_from_the_next_refresh(match_db):
    with running_app(match_db) as client:
        user = sign_up(client)
        user.put("/api/v1/profiles/me", json=PROFILE)
        with psycopg.connect(match_db) as conn:
            conn.execute("INSERT INTO suppressions (user_id, kldb_code) VALUES (%s, '43414')", (user.id,))
        user.post("/api/v1/matches/refresh")
        page = user.get("/api/v1/matches", params={"limit": 100}).json()
        listed = user.get("/api/v1/profiles/me/suppressions").json()
    assert set(refnrs(page)) == EXPECTED - {"SW-1", "SW-2", "SW-3"}
    assert listed[0]["kldb_code"] == "43414" and listed[0]["source_match_id"] is None


# ------------------------------------------------------------------ ownership, CSRF, validation


def test_another_users_match_is_404_and_tells_nothing(match_db):
    with running_app(match_db) as client:
        alice, bob = sign_up(client), sign_up(client)
        alice.put("/api/v1/profiles/me", json=PROFILE)
        alice.post("/api/v1/matches/refresh")
        theirs = match_of(alice, "SW-1")
        alice.put(f"/api/v1/matches/{theirs['id']}/rate", json={"rating": 1})
        responses = [
            bob.get(f"/api/v1/matches/{theirs['id']}"),
            bob.put(f"/api/v1/matches/{theirs['id']}/rate", json={"rating": 5}),
            bob.get(f"/api/v1/matches/{theirs['id']}/cover-letter"),
            bob.get(f"/api/v1/matches/{theirs['id']}/cover-letter", params={"format": "docx"}),
            bob.delete("/api/v1/profiles/me/suppressions/43414"),
        ]
        bobs = (bob.get("/api/v1/matches").json(), bob.get("/api/v1/profiles/me/suppressions").json(), bob.get("/api/v1/matches/next"))
        alices = (alice.get(f"/api/v1/matches/{theirs['id']}").json(), alice.get("/api/v1/profiles/me/suppressions").json())
    for response in responses:
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"
        assert "Softwareentwickler" not in response.text and "SW-1" not in response.text
    assert bobs[0] == {"items": [], "total": 0, "limit": 20, "offset": 0} and bobs[1] == []
    assert bobs[2].status_code == 404
    assert alices[0]["rating"] == 1  # bob's rating did not land
    assert [s["kldb_code"] for s in alices[1]] == ["43414"]  # nor did his delete


def test_unsafe_match_requests_with_a_cookie_need_the_csrf_header(match_db):
    with running_app(match_db) as client:
        user = sign_up(client)
        user.put("/api/v1/profiles/me", json=PROFILE)
        user.post("/api/v1/matches/refresh")
        match = match_of(user, "KO-1")
        user.put(f"/api/v1/matches/{match['id']}/rate", json={"rating": 1})
        responses = [
            user.client.post("/api/v1/matches/refresh"),
            user.client.put(f"/api/v1/matches/{match['id']}/rate", json={"rating": 5}),
            user.client.delete("/api/v1/profiles/me/suppressions/29302"),
            user.client.put(f"/api/v1/matches/{match['id']}/rate", json={"rating": 5}, headers={"X-CSRF-Token": "wrong"}),
        ]
        after = user.get(f"/api/v1/matches/{match['id']}").json()
        suppressions = user.get("/api/v1/profiles/me/suppressions").json()
    for response in responses:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"
    assert after["rating"] == 1 and [s["kldb_code"] for s in suppressions] == ["29302"]


def test_anonymous_requests_are_401(match_db):
    with running_app(match_db) as client:
        responses = [client.post("/api/v1/matches/refresh"), client.get("/api/v1/matches"), client.get("/api/v1/matches/next"),
                     client.get("/api/v1/matches/1"), client.put("/api/v1/matches/1/rate", json={"rating": 3}),
                     client.get("/api/v1/matches/1/cover-letter"), client.get("/api/v1/profiles/me/suppressions"),
                     client.delete("/api/v1/profiles/me/suppressions/43414")]
    assert [r.status_code for r in responses] == [401] * len(responses)


BAD_RATINGS = [
    ({}, "body.rating"),
    ({"rating": "five"}, "body.rating"),
    ({"rating": 0}, "body.rating"),
    ({"rating": 6}, "body.rating"),
    ({"rating": 3.5}, "body.rating"),
    ({"rating": 3, "decision": "maybe"}, "body.decision"),
    ({"rating": 3, "feedback": "x" * 2001}, "body.feedback"),
    ({"rating": 3, "feedback": "a\x00b"}, "body.feedback"),
    ({"rating": 3, "stars": 5}, "body.stars"),
]


def test_wrong_types_and_missing_fields_are_422_naming_the_field(match_db):
    with running_app(match_db) as client:
        user = sign_up(client)
        user.put("/api/v1/profiles/me", json=PROFILE)
        user.post("/api/v1/matches/refresh")
        match = match_of(user, "SW-1")
        for body, field in BAD_RATINGS:
            response = user.put(f"/api/v1/matches/{match['id']}/rate", json=body)
            assert response.status_code == 422, (body, response.text)
            assert [f["field"] for f in response.json()["error"]["fields"]] == [field], body
        others = {
            "query.limit": user.get("/api/v1/matches", params={"limit": 0}),
            "query.offset": user.get("/api/v1/matches", params={"offset": -1}),
            "query.rated": user.get("/api/v1/matches", params={"rated": "sometimes"}),
            "path.match_id": user.get("/api/v1/matches/abc"),
            "query.format": user.get(f"/api/v1/matches/{match['id']}/cover-letter", params={"format": "pdf"}),
            "path.kldb": user.delete("/api/v1/profiles/me/suppressions/4341"),
        }
        huge = user.put(f"/api/v1/matches/{2**63}/rate", json={"rating": 3})
        after = user.get(f"/api/v1/matches/{match['id']}").json()
    for field, response in others.items():
        assert response.status_code == 422, (field, response.text)
        assert [f["field"] for f in response.json()["error"]["fields"]] == [field]
    assert huge.status_code == 422 and huge.json()["error"]["fields"][0]["field"] == "path.match_id"
    assert after["rating"] is None


# ------------------------------------------------------------------ the query and the scoring


def test_the_nearest_neighbour_query_uses_the_models_hnsw_index(db_url):
    load_catalogue(db_url)
    index = seed_postings(db_url)
    embedder = LocalEmbedder(384)
    vector = embedder.embed(["softwareentwickler python"])[0]
    params = {"query": vector, "model": embedder.model, "limit": 5, "states": ["Berlin"], "levels": [4],
              "suppressed": ["29302"]}
    with psycopg.connect(db_url) as conn:
        register_vector(conn)
        conn.execute("SET enable_seqscan = off")  # a dozen rows: make the planner show what it could use
        plans = {}
        for name, shape in {"plain": {"states": False, "levels": False, "suppressed": False},
                            "filtered": {"states": True, "levels": True, "suppressed": True}}.items():
            query = matching.nearest_sql(384, **shape)
            plans[name] = "\n".join(r[0] for r in conn.execute(psycopg.sql.SQL("EXPLAIN ") + query, params))
        exact = "\n".join(r[0] for r in conn.execute(
            psycopg.sql.SQL("EXPLAIN ") + matching.nearest_sql(384, states=True, levels=True, suppressed=True,
                                                               exact=True), params))
    assert index in plans["plain"] and index in plans["filtered"]
    assert index not in exact


def test_ann_and_exact_search_agree_and_honour_every_filter(db_url):
    load_catalogue(db_url)
    seed_postings(db_url)
    embedder = LocalEmbedder(384)
    vector = embedder.embed(["softwareentwickler python sql"])[0]
    with psycopg.connect(db_url) as conn:
        register_vector(conn)
        params = {"query": vector, "model": embedder.model, "limit": 50, "states": ["Berlin", "Bayern"],
                  "levels": [], "suppressed": ["51312"]}
        shape = {"states": True, "levels": False, "suppressed": True}
        matching.set_search_parameters(conn, 60)
        ann = conn.execute(matching.nearest_sql(384, **shape), params).fetchall()
        exact = conn.execute(matching.nearest_sql(384, exact=True, **shape), params).fetchall()
        found, search = matching.nearest_postings(conn, embedder.model, vector, limit=3, ef_search=80)
        unfiltered = conn.execute(matching.nearest_sql(384, exact=True, states=False, levels=False,
                                                       suppressed=False), {**params, "limit": 3}).fetchall()
        ef_search = conn.execute("SHOW hnsw.ef_search").fetchone()[0]
        conn.rollback()
        outside = conn.execute("SHOW hnsw.iterative_scan").fetchone()[0]
    assert [r[0] for r in ann] == [r[0] for r in exact]
    assert {r[0] for r in ann} == EXPECTED - {"LA-1", "LA-2"}
    similarities = [r[1] for r in exact]
    assert similarities == sorted(similarities, reverse=True)
    assert search == "ann" and [c.refnr for c in found] == [r[0] for r in unfiltered]
    assert "SW-5" in [c.refnr for c in found]  # no state filter: Hamburg too
    assert ef_search == "80"  # SET LOCAL
    assert outside == "off"  # the settings ended with the transaction


def _target(berufenet_id: str, source: str = "desired") -> matching.TargetProfession:
    return matching.TargetProfession(berufenet_id, berufenet_id[:5], source)


def test_profession_fit_ranks_exact_code_group_and_neighbour():
    desired = [_target("43414-102")]
    past = [_target("29302-100", "work_history")]
    neighbours = [matching.Neighbour("43413", 0.9, "43414", "desired"),
                  matching.Neighbour("51312", 1.7, "29302", "work_history")]
    fit = matching.profession_fit
    assert fit("43414-102", "43414", desired) == matching.Fit(1.0, "same_profession", "43414-102", "desired")
    assert fit("43414-114", "43414", desired).value == matching.FIT_SAME_KLDB5
    assert fit("43412-103", "43412", desired).reason == "same_kldb3"
    assert fit("43413-113", "43413", desired, neighbours) == matching.Fit(0.5, "same_kldb3", "43414-102",
                                                                          "desired")
    assert fit("29302-100", "29302", desired + past).value == pytest.approx(matching.WORK_HISTORY_FACTOR)
    neighbour = fit("51312-111", "51312", desired + past, neighbours)
    assert neighbour.reason == "similar_profession" and neighbour.via == "29302"
    assert neighbour.value == pytest.approx(matching.FIT_NEIGHBOUR * 1.0 * matching.WORK_HISTORY_FACTOR)
    assert fit(None, None, desired) == matching.Fit()
    assert fit("01104-101", "01104", desired, neighbours) == matching.Fit()


def test_the_profile_vector_never_holds_the_display_name_and_weights_each_facet():
    facts = matching.ProfileFacts(user_id=1, skills=["Python"], summary="  ", work_titles=["Koch (m/w/d)"],
                                  desired=[matching.TargetProfession("43414-102", "43414", "desired",
                                                                     "Softwareentwickler/in")])
    facets = matching.profile_facets(facts)
    assert [w for _, w in facets] == [2.0, 1.0, 1.0]  # desired, work history, skills; a blank summary dropped
    assert facets[0][0] == title_key("Softwareentwickler/in") and facets[1][0] == title_key("Koch (m/w/d)")
    embedder = LocalEmbedder(64)
    vector = matching.profile_vector(embedder, facts)
    assert vector.shape == (64,) and float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(matching.NothingToMatch):
        matching.profile_vector(embedder, matching.ProfileFacts(user_id=1, summary="   "))
    with pytest.raises(matching.NothingToMatch):  # only punctuation: no features at all
        matching.profile_vector(embedder, matching.ProfileFacts(user_id=1, skills=["--"]))


def test_ranking_leaves_out_rated_and_suppressed_postings():
    facts = matching.ProfileFacts(user_id=1, desired=[_target("43414-102")], suppressed={"29302"})
    candidates = [matching.Candidate("A", 0.2, "43414-102", "43414"), matching.Candidate("B", 0.9, None, None),
                  matching.Candidate("C", 0.95, "29302-100", "29302"), matching.Candidate("D", 0.5, "43414-114",
                                                                                        "43414")]
    ranked = matching.rank_candidates(candidates, facts, limit=10, exclude={"D"})
    assert [s.candidate.refnr for s in ranked] == ["B", "A"]
    assert ranked[1].score == pytest.approx(0.6 * 0.2 + 0.4 * 1.0)
    assert [s.candidate.refnr for s in matching.rank_candidates(candidates, facts, limit=1)] == ["D"]
