"""GDPR through the real app: the export holds everything stored about the user and nothing of anyone else;
deleting the account leaves no row that refers to the user, and no session that still works."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from web_support import (
    PASSWORD,
    client_for,
    insert_match,
    insert_posting,
    load_catalogue,
    rows_of_user,
    running_app,
    sign_up,
    user_tables,
)

# Which part of the export shows each table with a user_id column. A new personal table must be added here
# and to GET /account/export, or test_the_export_covers_every_personal_table fails.
EXPORT_KEYS = {
    "profiles": "profile",
    "work_history": "work_history",
    "cv_drafts": "cv_drafts",
    "matches": "matches",
    "suppressions": "suppressions",
    "sessions": "sessions",
    "known_devices": "known_devices",
    "account_tokens": "account_tokens",
    "cover_letters": "cover_letters",
    "match_explanations": "match_explanations",
}


@pytest.fixture
def data_db(db_url: str) -> str:
    """The catalogue and two postings, so that matches can refer to them."""
    load_catalogue(db_url)
    with psycopg.connect(db_url) as conn:
        for refnr, title in (("10000-1000000001-S", "Koch (m/w/d)"), ("10000-1000000002-S", "Lagerhelfer")):
            insert_posting(conn, refnr, title)
    return db_url


def fill(user, db_url: str, marker: str) -> None:
    """A row in every personal table for ``user``; ``marker`` makes them recognisable."""
    assert user.put("/api/v1/profiles/me", json={"display_name": f"Name {marker}", "states": ["Berlin"],
                                          "skills": [f"skill-{marker}"]}).status_code == 200
    assert user.post("/api/v1/profiles/me/work-history",
                     json={"title": "Koch", "employer": f"Employer {marker}", "start_date": "2019-01-01"}
                     ).status_code == 201
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO cv_drafts (id, user_id, filename_kind, anonymised_text, draft)"
                     " VALUES (%s, %s, 'text', %s, %s)",
                     (uuid.uuid4(), user.id, f"CV text {marker} [NAME]", json.dumps({"skills": [marker]})))
        match_id = insert_match(conn, user.id, "10000-1000000001-S", 0.8,
                                components=json.dumps({"similarity": 0.7, "profession_fit": 1.0}), kldb_code="29302",
                                rating=2, feedback=f"feedback {marker}", decision="skip", rated_at=datetime.now(UTC))
        insert_match(conn, user.id, "10000-1000000002-S", 0.5, kldb_code="51311")
        conn.execute("INSERT INTO suppressions (user_id, kldb_code, source_match_id) VALUES (%s, '29302', %s)",
                     (user.id, match_id))
        conn.execute("INSERT INTO cover_letters (match_id, user_id, facts_hash, letter) VALUES (%s, %s, %s, %s)",
                     (match_id, user.id, "0" * 64, json.dumps({"subject": f"Bewerbung {marker}"})))
        conn.execute("INSERT INTO match_explanations (match_id, user_id, input_hash, model, prompt_version, explanation)"
                     " VALUES (%s, %s, %s, 'qwen2.5:7b', 'match_explanation@1:00000000', %s)",
                     (match_id, user.id, "0" * 64, json.dumps({"fits": [f"Passt zu {marker}"]})))
        conn.execute("INSERT INTO account_tokens (token_hash, user_id, purpose, expires_at)"
                     " VALUES (%s, %s, 'reset_password', now() + interval '1 hour')", (uuid.uuid4().hex * 2, user.id))


def test_export_holds_everything_stored_about_the_user_and_nothing_else(data_db):
    with running_app(data_db) as client:
        alice, bob = sign_up(client), sign_up(client)
        token = client.post("/api/v1/auth/token", json={"email": alice.email, "password": PASSWORD}).json()["access_token"]
        fill(alice, data_db, "alice")
        fill(bob, data_db, "bob")
        with psycopg.connect(data_db) as conn:  # someone else, elsewhere, typed alice's address
            conn.execute("INSERT INTO login_attempts (account, address, succeeded) VALUES (lower(%s), '203.0.113.9',"
                         " false)", (alice.email,))
        response = alice.get("/api/v1/account/export")
        cookie = alice.client.cookies["ty_session"]
    assert response.status_code == 200
    export = response.json()
    assert export["account"]["id"] == alice.id and export["account"]["email"] == alice.email
    assert export["account"]["last_login_at"]
    assert export["profile"]["display_name"] == "Name alice" and export["profile"]["skills"] == ["skill-alice"]
    assert [w["employer"] for w in export["work_history"]] == ["Employer alice"]
    assert export["work_history"][0]["kldb_code"] == "29302"
    assert [d["anonymised_text"] for d in export["cv_drafts"]] == ["CV text alice [NAME]"]
    assert export["cv_drafts"][0]["draft"] == {"skills": ["alice"]}
    rated, unrated = export["matches"]
    assert rated["rating"] == 2 and rated["feedback"] == "feedback alice" and rated["decision"] == "skip"
    assert rated["title"] == "Koch (m/w/d)" and rated["components"] == {"similarity": 0.7, "profession_fit": 1.0}
    assert unrated["rating"] is None and unrated["refnr"] == "10000-1000000002-S"
    assert [(e["match_id"], e["explanation"]) for e in export["match_explanations"]] == \
        [(rated["id"], {"fits": ["Passt zu alice"]})]
    assert export["suppressions"] == [{"kldb_code": "29302", "created_at": export["suppressions"][0]["created_at"],
                                       "source_match_id": rated["id"]}]
    assert sorted((s["kind"], s["current"]) for s in export["sessions"]) == [("bearer", False), ("cookie", True)]
    assert [a["succeeded"] for a in export["login_attempts"]] == [True, True, False]
    assert export["login_attempts"][2]["address"] is None and export["login_attempts"][0]["address"]
    assert "203.0.113.9" not in response.text
    text = response.text
    assert "bob" not in text
    assert "$argon2" not in text and PASSWORD not in text  # no password, no hash
    assert cookie not in text and token not in text  # no token ...
    with psycopg.connect(data_db) as conn:
        hashes = [r[0] for r in conn.execute("SELECT token_hash FROM sessions WHERE user_id = %s", (alice.id,))]
    assert hashes and not any(h in text for h in hashes)  # ... nor its hash


def test_the_export_covers_every_personal_table(data_db):
    with running_app(data_db) as client:
        user = sign_up(client)
        fill(user, data_db, "x")
        export = user.get("/api/v1/account/export").json()
    tables = user_tables(data_db)
    assert set(tables) <= set(EXPORT_KEYS), f"personal tables missing from the export: {set(tables) - set(EXPORT_KEYS)}"
    counts = rows_of_user(data_db, user.id)
    for table in tables:
        shown = export[EXPORT_KEYS[table]]
        assert counts[table] >= 1, table
        assert (1 if isinstance(shown, dict) else len(shown)) == counts[table], table


def test_delete_account_removes_every_personal_row_and_session(data_db):
    with running_app(data_db) as client:
        alice, bob = sign_up(client), sign_up(client, bearer=True)
        alice_api = client.post("/api/v1/auth/token", json={"email": alice.email, "password": PASSWORD}).json()
        other_browser = client_for(client)
        other_browser.post("/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD})
        client.post("/api/v1/auth/login", json={"email": alice.email, "password": "a wrong guess"})
        fill(alice, data_db, "alice")
        fill(bob, data_db, "bob")
        bob_before = rows_of_user(data_db, bob.id)
        assert all(rows_of_user(data_db, alice.id).values())

        refused = alice.client.delete("/api/v1/account")  # a cookie without the CSRF header
        assert refused.status_code == 403
        assert all(rows_of_user(data_db, alice.id).values())

        response = alice.delete("/api/v1/account", json={"password": PASSWORD})
        after_cookie = alice.get("/api/v1/auth/session")
        after_other = other_browser.get("/api/v1/auth/session")
        after_token = client_for(client).get("/api/v1/auth/session",
                                             headers={"Authorization": f"Bearer {alice_api['access_token']}"})
        login = client.post("/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD})
        bob_after = rows_of_user(data_db, bob.id)
        bob_export = bob.get("/api/v1/account/export")
        again = client.post("/api/v1/auth/register", json={"email": alice.email, "password": PASSWORD})
    assert response.status_code == 204
    assert "max-age=0" in response.headers["set-cookie"].lower()
    assert rows_of_user(data_db, alice.id) == {table: 0 for table in ["users", *user_tables(data_db)]}
    with psycopg.connect(data_db) as conn:
        attempts = conn.execute("SELECT count(*) FROM login_attempts WHERE account = lower(%s)",
                                (alice.email,)).fetchone()[0]
        found = conn.execute(
            "SELECT count(*) FROM users WHERE lower(email) = lower(%s)", (alice.email,)).fetchone()[0]
    assert found == 1 and attempts == 1  # only what the new registration and the failed login after it left
    assert after_cookie.status_code == after_other.status_code == after_token.status_code == 401
    assert login.status_code == 401
    assert bob_after == bob_before and bob_export.status_code == 200
    assert bob_export.json()["profile"]["display_name"] == "Name bob"
    assert again.status_code == 202  # the address is free again (same answer as always, see test_web_auth)


def test_delete_account_leaves_no_login_attempt_behind(data_db):
    with running_app(data_db) as client:
        user = sign_up(client, bearer=True)
        client.post("/api/v1/auth/login", json={"email": user.email.upper(), "password": "a wrong guess"})
        with psycopg.connect(data_db) as conn:
            before = conn.execute("SELECT count(*) FROM login_attempts").fetchone()[0]
        response = user.delete("/api/v1/account", json={"password": PASSWORD})
        with psycopg.connect(data_db) as conn:
            after = conn.execute("SELECT count(*) FROM login_attempts").fetchone()[0]
    assert before == 2  # the token (succeeded) and the wrong guess
    assert response.status_code == 204 and "set-cookie" in response.headers
    assert after == 0
