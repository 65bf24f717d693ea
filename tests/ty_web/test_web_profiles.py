"""Profiles and work history through the real app, on a database holding the bundled catalogue."""

from __future__ import annotations

import psycopg
import pytest
from web_support import load_catalogue, running_app, sign_up

LAGER = {"title": "Fachkraft für Lagerlogistik (m/w/d)", "employer": "Lager GmbH",
         "start_date": "2018-08-01", "end_date": "2021-06-30", "description": "Wareneingang, Kommissionierung"}
KOCH = {"title": "Köchin", "start_date": "2021-07-01"}


@pytest.fixture
def catalogue_db(db_url: str) -> str:
    load_catalogue(db_url)
    return db_url


# ------------------------------------------------------------------ profile


def test_profile_is_empty_until_saved_then_replaced_as_a_whole(catalogue_db):
    with running_app(catalogue_db) as client:
        user = sign_up(client)
        empty = user.get("/api/v1/profiles/me")
        saved = user.put("/api/v1/profiles/me", json={
            "display_name": "  Alex  ", "desired_berufenet_ids": ["43414-102", "51312-111", "43414-102"],
            "states": ["Berlin", "Brandenburg", "Berlin"], "levels": [2, 4], "skills": ["Python", "SQL"],
            "summary": "Entwicklerin mit Lagererfahrung.", "email_consent": True,
        })
        read = user.get("/api/v1/profiles/me")
        replaced = user.put("/api/v1/profiles/me", json={"states": ["Ausland"]})
    assert empty.status_code == 200
    assert empty.json() == {"display_name": None, "desired_berufenet_ids": [], "desired_professions": [],
                            "states": [], "levels": [], "skills": [], "summary": None, "email_consent": False,
                            "updated_at": None}
    assert saved.status_code == 200
    profile = saved.json()
    assert profile["display_name"] == "Alex"
    assert profile["desired_berufenet_ids"] == ["43414-102", "51312-111"]  # duplicates dropped, order kept
    assert [p["name"] for p in profile["desired_professions"]] == ["Softwareentwickler/in",
                                                                   "Fachkraft - Lagerlogistik"]
    assert profile["desired_professions"][0]["kldb_code"] == "43414"
    assert profile["states"] == ["Berlin", "Brandenburg"] and profile["levels"] == [2, 4]
    assert profile["skills"] == ["Python", "SQL"] and profile["email_consent"] is True
    assert profile["updated_at"]
    assert read.json() == profile
    assert replaced.json()["states"] == ["Ausland"]
    assert replaced.json()["display_name"] is None and replaced.json()["desired_berufenet_ids"] == []


BAD_PROFILES = [
    ({"desired_berufenet_ids": ["99999-999"]}, "body.desired_berufenet_ids"),
    ({"desired_berufenet_ids": ["4341-102"]}, "body.desired_berufenet_ids.0"),
    ({"states": ["Bavaria"]}, "body.states.0"),
    ({"levels": [5]}, "body.levels.0"),
    ({"levels": "2"}, "body.levels"),
    ({"skills": ["x" * 101]}, "body.skills.0"),
    ({"skills": [f"skill {i}" for i in range(51)]}, "body.skills"),
    ({"summary": "x" * 5001}, "body.summary"),
    ({"display_name": "a\x00b"}, "body.display_name"),
    ({"email_consent": "maybe"}, "body.email_consent"),
    ({"photo": "..."}, "body.photo"),
]


def test_profile_rejects_bad_fields_by_name(catalogue_db):
    with running_app(catalogue_db) as client:
        user = sign_up(client)
        for body, field in BAD_PROFILES:
            response = user.put("/api/v1/profiles/me", json=body)
            assert response.status_code == 422, (body, response.text)
            assert [f["field"] for f in response.json()["error"]["fields"]] == [field], body
        after = user.get("/api/v1/profiles/me")
    assert after.json()["updated_at"] is None  # nothing stored


def test_profiles_are_each_users_own(catalogue_db):
    with running_app(catalogue_db) as client:
        alice, bob = sign_up(client), sign_up(client, bearer=True)
        alice.put("/api/v1/profiles/me", json={"display_name": "Alice", "states": ["Bayern"]})
        bob_view = bob.get("/api/v1/profiles/me")
    assert bob_view.json()["display_name"] is None and bob_view.json()["states"] == []


# ------------------------------------------------------------------ work history


def test_work_history_entries_are_classified_and_listed_most_recent_first(catalogue_db):
    with running_app(catalogue_db) as client:
        user = sign_up(client)
        lager = user.post("/api/v1/profiles/me/work-history", json=LAGER)
        koch = user.post("/api/v1/profiles/me/work-history", json=KOCH)
        vague = user.post("/api/v1/profiles/me/work-history", json={"title": "Quxbar Zyklop", "start_date": "2010-01-01",
                                                               "end_date": "2010-12-31"})
        listed = user.get("/api/v1/profiles/me/work-history")
    assert lager.status_code == koch.status_code == vague.status_code == 201
    entry = lager.json()
    assert entry["title"] == LAGER["title"] and entry["employer"] == "Lager GmbH"
    assert entry["start_date"] == "2018-08-01" and entry["end_date"] == "2021-06-30"
    assert entry["source"] == "manual"
    assert entry["label_status"] == "matched"
    assert entry["berufenet_id"].startswith("51312-") and entry["kldb_code"] == "51312"
    assert entry["profession_name"] and entry["label_score"] > 0.8
    assert koch.json()["label_status"] == "matched" and koch.json()["kldb_code"] == "29302"
    assert koch.json()["end_date"] is None
    assert vague.json()["label_status"] != "matched" and vague.json()["berufenet_id"] is None
    assert [e["id"] for e in listed.json()] == [koch.json()["id"], lager.json()["id"], vague.json()["id"]]


def test_work_history_update_reclassifies_and_delete_removes(catalogue_db):
    with running_app(catalogue_db) as client:
        user = sign_up(client)
        created = user.post("/api/v1/profiles/me/work-history", json=KOCH).json()
        updated = user.put(f"/api/v1/profiles/me/work-history/{created['id']}",
                           json={**LAGER, "title": "Softwareentwickler", "employer": ""})
        deleted = user.delete(f"/api/v1/profiles/me/work-history/{created['id']}")
        again = user.delete(f"/api/v1/profiles/me/work-history/{created['id']}")
        listed = user.get("/api/v1/profiles/me/work-history")
    assert updated.status_code == 200
    body = updated.json()
    assert body["id"] == created["id"] and body["title"] == "Softwareentwickler"
    assert body["kldb_code"] == "43414" and body["employer"] is None
    assert body["updated_at"] >= created["updated_at"]
    assert deleted.status_code == 204 and again.status_code == 404
    assert listed.json() == []


BAD_ENTRIES = [
    ({"start_date": "2020-01-01"}, "body.title"),
    ({"title": "Koch"}, "body.start_date"),
    ({"title": "", "start_date": "2020-01-01"}, "body.title"),
    ({"title": "Koch", "start_date": "2020-13-01"}, "body.start_date"),
    ({"title": "Koch", "start_date": "2020-05-01", "end_date": "2020-04-30"}, "body.end_date"),
    ({"title": "Koch", "start_date": "1850-01-01"}, "body.start_date"),
    ({"title": ["Koch"], "start_date": "2020-01-01"}, "body.title"),
    ({"title": "Koch", "start_date": "2020-01-01", "salary": 1}, "body.salary"),
]


def test_work_history_rejects_bad_fields_by_name(catalogue_db):
    with running_app(catalogue_db) as client:
        user = sign_up(client)
        entry = user.post("/api/v1/profiles/me/work-history", json=KOCH).json()
        for body, field in BAD_ENTRIES:
            for response in (user.post("/api/v1/profiles/me/work-history", json=body),
                             user.put(f"/api/v1/profiles/me/work-history/{entry['id']}", json=body)):
                assert response.status_code == 422, (body, response.text)
                assert [f["field"] for f in response.json()["error"]["fields"]] == [field], body
        listed = user.get("/api/v1/profiles/me/work-history")
    assert listed.json() == [entry]


def test_path_ids_are_validated(catalogue_db):
    with running_app(catalogue_db) as client:
        user = sign_up(client)
        huge = user.delete(f"/api/v1/profiles/me/work-history/{2**63}")
        text = user.put("/api/v1/profiles/me/work-history/abc", json=KOCH)
        zero = user.delete("/api/v1/profiles/me/work-history/0")
    for response in (huge, text, zero):
        assert response.status_code == 422
        assert response.json()["error"]["fields"][0]["field"] == "path.entry_id"


def test_another_users_work_history_is_404_and_untouched(catalogue_db):
    with running_app(catalogue_db) as client:
        alice, bob = sign_up(client), sign_up(client)
        entry = alice.post("/api/v1/profiles/me/work-history", json=LAGER).json()
        put = bob.put(f"/api/v1/profiles/me/work-history/{entry['id']}", json=KOCH)
        delete = bob.delete(f"/api/v1/profiles/me/work-history/{entry['id']}")
        bobs = bob.get("/api/v1/profiles/me/work-history")
        alices = alice.get("/api/v1/profiles/me/work-history")
    for response in (put, delete):
        assert response.status_code == 404
        assert response.json() == {"error": {"status": 404, "code": "not_found",
                                             "message": "work-history entry not found"}}
        assert "Lager" not in response.text
    assert bobs.json() == []
    assert alices.json() == [entry]


def test_work_history_writes_need_csrf_with_a_cookie(catalogue_db):
    with running_app(catalogue_db) as client:
        user = sign_up(client)
        entry = user.post("/api/v1/profiles/me/work-history", json=KOCH).json()
        responses = [
            user.client.post("/api/v1/profiles/me/work-history", json=LAGER),
            user.client.put(f"/api/v1/profiles/me/work-history/{entry['id']}", json=LAGER),
            user.client.delete(f"/api/v1/profiles/me/work-history/{entry['id']}"),
        ]
        listed = user.get("/api/v1/profiles/me/work-history")
    assert [r.status_code for r in responses] == [403, 403, 403]
    assert listed.json() == [entry]


def test_without_a_catalogue_titles_are_unclassified(db_url):
    with running_app(db_url) as client:
        user = sign_up(client, bearer=True)
        response = user.post("/api/v1/profiles/me/work-history", json=KOCH)
        unknown_id = user.put("/api/v1/profiles/me", json={"desired_berufenet_ids": ["29302-100"]})
    assert response.status_code == 201
    assert response.json()["label_status"] == "unclassified" and response.json()["berufenet_id"] is None
    assert unknown_id.status_code == 422


def test_classification_uses_the_catalogue_in_the_database(catalogue_db):
    """The label points at a row of professions (the foreign key holds), with the catalogue's code."""
    with running_app(catalogue_db) as client:
        user = sign_up(client)
        entry = user.post("/api/v1/profiles/me/work-history", json={"title": "Bürokauffrau", "start_date": "2015-01-01"})
    with psycopg.connect(catalogue_db) as conn:
        row = conn.execute("SELECT p.kldb_code, p.name FROM work_history w JOIN professions p USING (berufenet_id)"
                           " WHERE w.id = %s", (entry.json()["id"],)).fetchone()
    assert row == (entry.json()["kldb_code"], entry.json()["profession_name"])
    assert row[0] == "71402"
