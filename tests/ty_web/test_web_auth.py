"""Accounts and sign-in through the real app and database: registration, cookie sessions with CSRF,
bearer tokens, logout, expiry, and the login rate limit."""

from __future__ import annotations

import hashlib
from http.cookies import SimpleCookie

import psycopg
import pytest
from web_support import PASSWORD, client_for, new_email, register, running_app, sign_up

from ty_web.security import verify_password


def _set_cookie(response, name: str = "ty_session") -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, f"{name}: {response.headers.get_list('set-cookie')}"
    return headers[0]


def _cookie(response, name: str = "ty_session") -> SimpleCookie:
    jar = SimpleCookie()
    jar.load(_set_cookie(response, name))
    return jar


def _attrs(response, name: str = "ty_session") -> dict[str, str]:
    """The Set-Cookie attributes of cookie ``name``, lower-cased names (flags map to '')."""
    parts = [p.strip() for p in _set_cookie(response, name).split(";")]
    out = {}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        out[key.lower()] = value
    return out


# ------------------------------------------------------------------ register


@pytest.mark.real_argon2
def test_passwords_are_hashed_with_argon2id_at_rfc_9106s_low_memory_cost(db_url):
    with running_app(db_url) as client:
        account = register(client)
        login = client.post("/api/v1/auth/login", json={"email": account["email"], "password": PASSWORD})
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert login.status_code == 200


def test_register_answers_the_same_for_a_new_and_an_existing_address(db_url):
    email = new_email()
    with running_app(db_url) as client:
        response = client.post("/api/v1/auth/register", json={"email": f"  {email} ", "password": PASSWORD})
        again = client.post("/api/v1/auth/register", json={"email": email.upper(), "password": PASSWORD + "!"})
    assert response.status_code == again.status_code == 202
    assert response.json() == again.json()  # nothing says whether the address had an account
    assert "set-cookie" not in response.headers  # registering does not sign in
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT email, password_hash, email_verified_at FROM users").fetchall()
    assert len(rows) == 1
    email_stored, password_hash, verified = rows[0]
    assert email_stored == email and verified is None
    assert password_hash.startswith("$argon2id$") and PASSWORD not in password_hash
    # registering again did not replace the password: only a reset, which proves the mailbox, does
    assert verify_password(password_hash, PASSWORD)


def test_register_validates_each_field(db_url):
    with running_app(db_url) as client:
        short = client.post("/api/v1/auth/register", json={"email": new_email(), "password": "123456789"})
        bad_email = client.post("/api/v1/auth/register", json={"email": "not-an-address", "password": PASSWORD})
        missing = client.post("/api/v1/auth/register", json={"password": PASSWORD})
        wrong_type = client.post("/api/v1/auth/register", json={"email": new_email(), "password": 1234567890123})
        extra = client.post("/api/v1/auth/register", json={"email": new_email(), "password": PASSWORD, "role": "admin"})
        no_body = client.post("/api/v1/auth/register")
    for response, field in ((short, "body.password"), (bad_email, "body.email"), (missing, "body.email"),
                            (wrong_type, "body.password"), (extra, "body.role"), (no_body, "body")):
        assert response.status_code == 422, response.text
        assert [f["field"] for f in response.json()["error"]["fields"]] == [field]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0


# ------------------------------------------------------------------ login and cookie


def test_login_sets_a_secure_httponly_lax_cookie_and_returns_a_csrf_token(db_url):
    with running_app(db_url) as client:
        account = register(client)
        response = client.post("/api/v1/auth/login", json={"email": account["email"].upper(), "password": PASSWORD})
        me = client.get("/api/v1/auth/session")
    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == account["id"] and len(body["csrf_token"]) >= 43 and body["expires_at"]
    attrs = _attrs(response)
    assert "httponly" in attrs and "secure" in attrs
    assert attrs["samesite"].lower() == "lax"
    assert attrs["path"] == "/"
    assert attrs["max-age"] == str(336 * 3600)
    token = _cookie(response)["ty_session"].value
    assert len(token) >= 43  # 32 random bytes
    assert me.status_code == 200
    assert me.json() == {"user_id": account["id"], "email": account["email"], "kind": "cookie",
                         "expires_at": me.json()["expires_at"]}
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT token_hash, csrf_token_hash, kind FROM sessions").fetchall()
    # Only hashes are stored: neither token itself.
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(),
                       hashlib.sha256(body["csrf_token"].encode()).hexdigest(), "cookie")]


def test_the_cookie_is_not_secure_in_debug(db_url):
    with running_app(db_url, debug=True, session_ttl_hours=2) as client:
        account = register(client)
        response = client.post("/api/v1/auth/login", json={"email": account["email"], "password": PASSWORD})
    attrs = _attrs(response)
    assert "secure" not in attrs and "httponly" in attrs and attrs["samesite"].lower() == "lax"
    assert attrs["max-age"] == "7200"


def test_a_failed_login_never_says_whether_the_account_exists(db_url):
    with running_app(db_url) as client:
        account = register(client)
        wrong = client.post("/api/v1/auth/login", json={"email": account["email"], "password": "wrong password!"})
        unknown = client.post("/api/v1/auth/login", json={"email": new_email(), "password": "wrong password!"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    assert "set-cookie" not in wrong.headers


def test_login_replaces_the_session_this_browser_had(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        first = user.client.cookies["ty_session"]
        again = user.client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        second = user.client.cookies["ty_session"]
        other = client_for(client)
        old = other.get("/api/v1/auth/session", headers={"Cookie": f"ty_session={first}"})
        new = other.get("/api/v1/auth/session", headers={"Cookie": f"ty_session={second}"})
    assert again.status_code == 200 and second != first
    assert old.status_code == 401 and new.status_code == 200
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1


# ------------------------------------------------------------------ CSRF and authentication


def test_unsafe_requests_with_a_cookie_need_the_csrf_header(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        no_header = user.client.put("/api/v1/profiles/me", json={"display_name": "Mallory"})
        wrong = user.client.put("/api/v1/profiles/me", json={"display_name": "Mallory"},
                                headers={"X-CSRF-Token": "x" * 43})
        cross_site = user.put("/api/v1/profiles/me", json={"display_name": "Mallory"},
                              headers={"Sec-Fetch-Site": "cross-site"})
        safe = user.client.get("/api/v1/profiles/me")  # reading needs no CSRF token
        ok = user.put("/api/v1/profiles/me", json={"display_name": "Alice"})
    for response in (no_header, wrong, cross_site):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "csrf_failed"
    assert safe.status_code == 200 and safe.json()["display_name"] is None
    assert ok.status_code == 200 and ok.json()["display_name"] == "Alice"


def test_a_cross_site_login_is_refused(db_url):
    with running_app(db_url) as client:
        account = register(client)
        response = client.post("/api/v1/auth/login", json={"email": account["email"], "password": PASSWORD},
                               headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403 and "set-cookie" not in response.headers


def test_without_credentials_every_personal_route_is_401(db_url):
    with running_app(db_url) as client:
        responses = [
            client.get("/api/v1/auth/session"), client.post("/api/v1/auth/logout"), client.get("/api/v1/profiles/me"),
            client.put("/api/v1/profiles/me", json={}), client.get("/api/v1/profiles/me/work-history"),
            client.post("/api/v1/profiles/me/work-history", json={"title": "Koch", "start_date": "2020-01-01"}),
            client.put("/api/v1/profiles/me/work-history/1", json={"title": "Koch", "start_date": "2020-01-01"}),
            client.delete("/api/v1/profiles/me/work-history/1"), client.get("/api/v1/account/export"), client.delete("/api/v1/account"),
            client.get("/api/v1/profiles/me", headers={"Authorization": "Bearer " + "x" * 43}),
            client.get("/api/v1/profiles/me", headers={"Authorization": "Basic dXNlcjpwYXNz"}),
            client.get("/api/v1/profiles/me", headers={"Cookie": "ty_session=forged"}),
        ]
    for response in responses:
        assert response.status_code == 401, (response.request.url, response.text)
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"


def test_an_expired_session_is_401(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        assert user.get("/api/v1/auth/session").status_code == 200
        with psycopg.connect(db_url) as conn:
            conn.execute("UPDATE sessions SET created_at = now() - interval '2 days',"
                         " expires_at = now() - interval '1 second'")
        response = user.get("/api/v1/auth/session")
    assert response.status_code == 401


# ------------------------------------------------------------------ bearer tokens


def test_a_bearer_token_works_without_cookie_or_csrf(db_url):
    with running_app(db_url, token_ttl_days=30) as client:
        account = register(client)
        issued = client.post("/api/v1/auth/token", json={"email": account["email"], "password": PASSWORD})
        token = issued.json()["access_token"]
        fresh = client_for(client)  # no cookies at all
        put = fresh.put("/api/v1/profiles/me", json={"display_name": "API"}, headers={"Authorization": f"Bearer {token}"})
        me = fresh.get("/api/v1/auth/session", headers={"Authorization": f"Bearer {token}"})
        # A bad Authorization header never falls back to a cookie session.
        user = sign_up(client)
        mixed = user.client.get("/api/v1/auth/session", headers={"Authorization": "Bearer wrong"})
    assert issued.status_code == 200
    assert "ty_session=" not in issued.headers.get("set-cookie", "")  # no session cookie (a device cookie only)
    assert issued.json()["token_type"] == "bearer"
    assert put.status_code == 200 and put.json()["display_name"] == "API"
    assert me.json()["kind"] == "bearer"
    with psycopg.connect(db_url) as conn:
        expires = conn.execute("SELECT expires_at - created_at FROM sessions WHERE kind = 'bearer'").fetchone()[0]
    assert expires.days == 30
    assert mixed.status_code == 401


def test_token_needs_the_right_password(db_url):
    with running_app(db_url) as client:
        account = register(client)
        response = client.post("/api/v1/auth/token", json={"email": account["email"], "password": "not the password"})
    assert response.status_code == 401 and "access_token" not in response.text


# ------------------------------------------------------------------ logout


def test_logout_ends_the_session_and_clears_the_cookie(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        token = user.client.cookies["ty_session"]
        without_csrf = user.client.post("/api/v1/auth/logout")
        response = user.post("/api/v1/auth/logout")
        after = user.get("/api/v1/auth/session")
        replay = client_for(client).get("/api/v1/auth/session", headers={"Cookie": f"ty_session={token}"})
    assert without_csrf.status_code == 403
    assert response.status_code == 204
    attrs = _attrs(response)
    assert attrs["max-age"] == "0" and "secure" in attrs and "httponly" in attrs
    assert after.status_code == 401 and replay.status_code == 401
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0


def test_logout_with_a_bearer_token_revokes_only_that_token(db_url):
    with running_app(db_url) as client:
        api = sign_up(client, bearer=True)
        browser = client_for(client)
        login = browser.post("/api/v1/auth/login", json={"email": api.email, "password": PASSWORD})
        response = api.post("/api/v1/auth/logout")
        revoked = api.get("/api/v1/auth/session")
        still = browser.get("/api/v1/auth/session")
    assert login.status_code == 200
    assert response.status_code == 204 and "set-cookie" not in response.headers
    assert revoked.status_code == 401 and still.status_code == 200


# ------------------------------------------------------------------ rate limit


def test_successful_logins_do_not_count(db_url):
    with running_app(db_url, login_max_attempts=2) as client:
        account = register(client)
        statuses = [client.post("/api/v1/auth/login", json={"email": account["email"], "password": PASSWORD}).status_code
                    for _ in range(4)]
    assert statuses == [200, 200, 200, 200]
