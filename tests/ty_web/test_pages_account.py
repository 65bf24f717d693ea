"""The account page through the running app: the e-mail address, the data download (the API's export as a
file), the sessions (ended one by one or all but this one), the password changed and the account deleted with
the password; CSRF on every form; another user's session; markup in the e-mail address and a session's user agent
shown as text."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx2 as httpx
import psycopg
from fastapi.testclient import TestClient
from web_support import PASSWORD, UserClient, client_for, rows_of_user, running_app, sign_up

XSS = ('<script>alert(1)</script>', '"><img src=x onerror=alert(1)>')
NEW_PASSWORD = "violet tractor under moonlight"
CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}


def form_post(user: UserClient, url: str, data: dict[str, str] | None = None, *, csrf: bool = True,
              **kwargs: Any) -> httpx.Response:
    """A form post as a browser without JavaScript sends it: the CSRF token as a field, no header."""
    fields = {"csrf_token": user.csrf or ""} if csrf else {}
    return user.client.post(url, data={**fields, **(data or {})}, follow_redirects=False, **kwargs)


def api_login(client: TestClient, email: str, password: str = PASSWORD, user_agent: str = "testclient"
              ) -> httpx.Response:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password},
                           headers={"User-Agent": user_agent})
    assert response.status_code == 200, response.text
    return response


def session_ids(db_url: str, user_id: int) -> list[int]:
    with psycopg.connect(db_url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM sessions WHERE user_id = %s ORDER BY id", (user_id,))]


def test_the_account_page_shows_the_address_the_sessions_and_the_forms_in_german_and_english(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        api_login(client_for(client), user.email, user_agent="Firefox on the laptop")
        page = user.get("/account")
        user.client.cookies.set("ty_lang", "en")
        english = user.get("/account")
        user.client.cookies.delete("ty_lang")
        done = user.get("/account?done=password")
        foreign = user.get("/account?done=%3Cb%3Ehi%3C/b%3E")
    assert page.status_code == 200 and page.headers["content-language"] == "de"
    assert "<h1>Ihr Konto</h1>" in page.text and user.email in page.text
    assert re.search(r'<a [^>]*href="/account/export"[^>]*hx-boost="false"', page.text)
    assert "Firefox on the laptop" in page.text and "(diese Sitzung)" in page.text
    assert page.text.count('action="/account/sessions/') == 2  # the other session and "everywhere else"
    assert 'data-confirm="Ihr Konto und alle Ihre Daten endgültig löschen?"' in page.text
    assert page.text.count(f'name="csrf_token" value="{user.csrf}"') >= 5
    assert '<th scope="col">' in page.text and 'class="table-wrap"' in page.text
    assert english.status_code == 200 and "<h1>Your account</h1>" in english.text
    assert "Sign out everywhere else" in english.text
    assert "Ihr Passwort wurde geändert" in done.text and 'role="status"' in done.text
    assert 'role="status"' not in foreign.text and "<b>hi" not in foreign.text


def test_the_account_pages_send_an_anonymous_visitor_to_sign_in(db_url):
    with running_app(db_url) as client:
        page = client.get("/account", follow_redirects=False)
        export = client.get("/account/export", follow_redirects=False)
        delete = client.post("/account/delete", data={"password": PASSWORD}, follow_redirects=False)
        htmx = client.get("/account", headers={"HX-Request": "true"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/account"
    assert export.status_code == 303 and export.headers["location"] == "/login?next=/account/export"
    assert delete.status_code == 303 and delete.headers["location"].startswith("/login?next=")
    assert htmx.headers.get("hx-redirect") == "/login?next=/account"


def test_the_download_is_the_api_export_as_a_file(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        user.put("/api/v1/profiles/me", json={"summary": XSS[0]})
        download = user.get("/account/export")
        api = user.get("/api/v1/account/export")
    assert download.status_code == 200 and download.headers["content-type"].startswith("application/json")
    assert download.headers["content-disposition"] == 'attachment; filename="talent-yoga-export.json"'
    assert download.headers["cache-control"] == "no-store"
    page_doc, api_doc = download.json(), api.json()
    for doc in (page_doc, api_doc):
        doc.pop("exported_at")
        for session in doc["sessions"]:
            session.pop("last_used_at")
    assert page_doc == api_doc
    assert page_doc["account"]["email"] == user.email and page_doc["profile"]["summary"] == XSS[0]
    assert json.loads(download.text)["sessions"][0]["current"] is True


def test_sessions_are_ended_one_by_one_or_all_but_this_one(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        phone = client_for(client)
        api_login(phone, user.email, user_agent="phone")
        tablet = client_for(client)
        api_login(tablet, user.email, user_agent="tablet")
        mine, phone_id, tablet_id = session_ids(db_url, user.id)
        stranger = sign_up(client)
        foreign = form_post(stranger, f"/account/sessions/{phone_id}/end")
        no_token = form_post(user, f"/account/sessions/{phone_id}/end", csrf=False)
        cross = form_post(user, f"/account/sessions/{phone_id}/end", headers=CROSS_SITE)
        wrong_token = user.client.post(f"/account/sessions/{phone_id}/end", data={"csrf_token": "x" * 43},
                                       follow_redirects=False)
        ended = form_post(user, f"/account/sessions/{phone_id}/end")
        again = form_post(user, f"/account/sessions/{phone_id}/end")
        after_one = session_ids(db_url, user.id)
        notice = user.get(ended.headers["location"])
        others = form_post(user, "/account/sessions/end-others")
        after_all = session_ids(db_url, user.id)
        phone_api = phone.get("/api/v1/auth/session")
    assert foreign.status_code == 404 and "Nicht gefunden" in foreign.text
    assert no_token.status_code == cross.status_code == wrong_token.status_code == 403
    assert "Dieses Formular ist veraltet" in no_token.text
    assert ended.status_code == 303 and ended.headers["location"] == "/account?done=ended"
    assert again.status_code == 404
    assert after_one == [mine, tablet_id]
    assert "Die Sitzung wurde beendet." in notice.text
    assert others.status_code == 303 and others.headers["location"] == "/account?done=others_ended"
    assert after_all == [mine]
    assert phone_api.status_code == 401


def test_the_password_is_changed_with_the_current_one(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        other = client_for(client)
        api_login(other, user.email)
        no_token = form_post(user, "/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                             csrf=False)
        wrong = form_post(user, "/account/password", {"current_password": "not it at all",
                                                      "new_password": NEW_PASSWORD})
        weak = form_post(user, "/account/password", {"current_password": PASSWORD, "new_password": "password123"})
        short = form_post(user, "/account/password", {"current_password": "", "new_password": "short"})
        changed = form_post(user, "/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
        still_here = user.get("/account")
        other_api = other.get("/api/v1/auth/session")
        new_login = client_for(client).post("/api/v1/auth/login", json={"email": user.email,
                                                                         "password": NEW_PASSWORD})
    assert no_token.status_code == 403
    assert wrong.status_code == 403 and "Das ist nicht Ihr aktuelles Passwort." in wrong.text
    assert 'id="f-current_password-error"' in wrong.text
    assert weak.status_code == 422 and "leicht zu erraten" in weak.text
    assert short.status_code == 422 and "Geben Sie Ihr aktuelles Passwort ein." in short.text
    assert "mindestens 10 Zeichen" in short.text
    assert changed.status_code == 303 and changed.headers["location"] == "/account?done=password"
    assert still_here.status_code == 200 and "Ihr Passwort wurde geändert" not in still_here.text
    assert other_api.status_code == 401  # every other session ended
    assert new_login.status_code == 200


def test_the_account_is_deleted_only_with_the_password_and_the_csrf_token(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        no_token = form_post(user, "/account/delete", {"password": PASSWORD}, csrf=False)
        cross = form_post(user, "/account/delete", {"password": PASSWORD}, headers=CROSS_SITE)
        wrong = form_post(user, "/account/delete", {"password": "not it at all"})
        empty = form_post(user, "/account/delete", {"password": ""})
        kept = rows_of_user(db_url, user.id)["users"]
        deleted = form_post(user, "/account/delete", {"password": PASSWORD})
        start = user.client.get(deleted.headers["location"])
    assert no_token.status_code == cross.status_code == 403
    assert wrong.status_code == 403 and "Das ist nicht Ihr aktuelles Passwort." in wrong.text
    assert 'id="f-password-error"' in wrong.text
    assert empty.status_code == 422 and "Geben Sie Ihr Passwort ein." in empty.text
    assert kept == 1
    assert deleted.status_code == 303 and deleted.headers["location"] == "/?done=deleted"
    assert any(c.startswith("ty_session=") and "max-age=0" in c.lower() for c in deleted.headers.get_list("set-cookie"))
    assert sum(rows_of_user(db_url, user.id).values()) == 0
    assert "Ihr Konto und alles, was über Sie gespeichert war, wurden gelöscht." in start.text


def test_markup_in_the_address_and_in_a_user_agent_is_shown_as_text(db_url):
    email = "x'&{{7*7}}`=@example.org"  # what the address pattern lets through of HTML's specials
    with running_app(db_url) as client:
        user = sign_up(client, email=email)
        for agent in XSS:
            api_login(client_for(client), user.email, user_agent=agent)
        page = user.get("/account")
    assert page.status_code == 200
    for agent in XSS:
        assert agent not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "x&#39;&amp;{{7*7}}`=@example.org" in page.text and "49" not in page.text.split("@example.org")[0][-20:]
