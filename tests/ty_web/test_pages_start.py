"""The start page and the pages of signing up and in, through the running app: German by default, English by
cookie; the whole way from the sign-up form through the e-mailed link (taken from a real SMTP server) to signing
in, the account page and deleting the account; wrong passwords, throttling and rate limits in words; the same
neutral answers as the API; cross-site posts refused; ``next`` kept on this site; markup shown as text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx2 as httpx
import psycopg
from fastapi.testclient import TestClient
from web_support import PASSWORD, client_for, new_email, register, rows_of_user, running_app, sign_up

from ty_testing.smtp_server import SmtpTestServer
from ty_web.security import csrf_token_for, issue_account_token

PUBLIC_URL = "https://talent.test"
NEW_PASSWORD = "violet tractor under moonlight"
XSS = ('<script>alert(1)</script>', '"><img src=x onerror=alert(1)>')
CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}


@contextmanager
def mailing_app(db_url: str, **settings: Any) -> Iterator[tuple[TestClient, SmtpTestServer]]:
    """The running app sending its mails to a real SMTP server on 127.0.0.1."""
    with SmtpTestServer() as smtp, running_app(db_url, smtp_host="127.0.0.1", smtp_port=smtp.port,
                                               smtp_security="none", public_url=PUBLIC_URL, **settings) as client:
        yield client, smtp


def link_token(smtp: SmtpTestServer, n: int, to: str, path: str) -> str:
    """The token of the link to ``path`` in the ``n``-th mail received (waited for), which went to ``to``."""
    mail = smtp.wait_for(n)
    assert mail.rcpt_tos == (to,)
    tokens = re.findall(rf"{re.escape(PUBLIC_URL + path)}\?token=([A-Za-z0-9_-]+)", mail.message.get_content())
    assert len(tokens) == 1
    return tokens[0]


def english(app_client: TestClient, address: str = "testclient") -> TestClient:
    """A new browser (own cookies) that chose English."""
    browser = client_for(app_client, address=address)
    browser.cookies.set("ty_lang", "en")
    return browser


def post(client: TestClient, url: str, data: dict[str, str], **kwargs: Any) -> httpx.Response:
    return client.post(url, data=data, follow_redirects=False, **kwargs)


def user_id(db_url: str, email: str) -> int | None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT id FROM users WHERE lower(email) = lower(%s)", (email,)).fetchone()
    return row[0] if row else None


def session_count(db_url: str, uid: int) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM sessions WHERE user_id = %s", (uid,)).fetchone()
    assert row is not None
    return row[0]


def assert_no_raw_markup(html: str) -> None:
    for markup in XSS:
        assert markup not in html
    assert "<script>alert" not in html and "<img src=x" not in html


# ------------------------------------------------------------------ the start page


def test_the_start_page_says_what_talent_yoga_does_in_german_and_in_english(db_url):
    with running_app(db_url) as client:
        german = client.get("/")
        english_page = english(client).get("/")
        deleted = client.get("/?done=deleted")
        foreign = client.get("/?done=%3Cscript%3Ealert(1)%3C/script%3E")
        user = sign_up(client)
        signed_in = user.get("/")
    assert german.status_code == 200 and german.headers["content-language"] == "de"
    assert "Finden Sie Arbeit, die zu Ihnen passt" in german.text
    assert "Bundesagentur für Arbeit" in german.text and "Lebenslauf importieren" in german.text
    assert 'href="/register"' in german.text and 'href="/login"' in german.text
    assert german.headers["content-security-policy"].startswith("default-src 'none'")
    assert german.text.count("<h1") == 1
    assert english_page.status_code == 200 and "Find work that fits you" in english_page.text
    assert "Sign up for free" in english_page.text
    assert "wurden gelöscht" in deleted.text and 'role="status"' in deleted.text
    assert foreign.status_code == 200 and "<script>alert" not in foreign.text and 'role="status"' not in foreign.text
    assert 'href="/matches"' in signed_in.text and "Zu Ihren Treffern" in signed_in.text
    assert "Kostenlos registrieren" not in signed_in.text


# ------------------------------------------------------------------ the whole way through the pages


def test_sign_up_confirm_sign_in_see_the_account_and_delete_it_through_the_pages(db_url):
    email = new_email()
    with mailing_app(db_url) as (client, smtp):
        form = client.get("/register")
        registered = post(client, "/register", {"email": email, "password": PASSWORD, "csrf_token": ""})
        notice = client.get(registered.headers["location"])
        token = link_token(smtp, 1, email, "/verify-email")

        unconfirmed = post(client, "/login", {"email": email, "password": PASSWORD})
        link = client.get(f"/verify-email?token={token}")
        wrong = post(client, "/verify-email", {"token": token, "password": "not the password at all"})
        verified = post(client, "/verify-email", {"token": token, "password": PASSWORD})
        again = post(client, "/verify-email", {"token": token, "password": PASSWORD})  # a link works once
        login_page = client.get(verified.headers["location"])

        signed_in = post(client, "/login", {"email": email, "password": PASSWORD, "next": "/account"})
        account = client.get(signed_in.headers["location"])
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', account.text)
        assert csrf is not None
        uid = user_id(db_url, email)
        assert uid is not None
        deleted = post(client, "/account/delete", {"password": PASSWORD, "csrf_token": csrf.group(1)})
        after = client.get("/account", follow_redirects=False)
    assert form.status_code == 200 and "Mindestens 10 Zeichen" in form.text
    assert 'autocomplete="new-password"' in form.text
    assert registered.status_code == 303 and registered.headers["location"] == "/register?done=sent"
    assert "Wir haben eine E-Mail an diese Adresse geschickt" in notice.text
    assert unconfirmed.status_code == 403 and "Bestätigen Sie zuerst Ihre E-Mail-Adresse" in unconfirmed.text
    assert link.status_code == 200 and f'name="token" value="{token}"' in link.text
    assert wrong.status_code == 401 and "nicht das Passwort, mit dem Sie sich registriert haben" in wrong.text
    assert verified.status_code == 303 and verified.headers["location"] == "/login?done=verified"
    assert again.status_code == 400 and "unbekannt, schon benutzt oder abgelaufen" in again.text
    assert "Ihre E-Mail-Adresse ist bestätigt" in login_page.text
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/account"
    cookies = signed_in.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("ty_session="))
    assert all(flag in session_cookie.lower() for flag in ("httponly", "secure", "samesite=lax", "path=/"))
    assert any(c.startswith("ty_device=") for c in cookies)
    assert account.status_code == 200 and email in account.text
    assert deleted.status_code == 303 and deleted.headers["location"] == "/?done=deleted"
    assert any(c.startswith("ty_session=") and "max-age=0" in c.lower() for c in deleted.headers.get_list("set-cookie"))
    assert after.status_code == 303 and after.headers["location"] == "/login?next=/account"
    assert sum(rows_of_user(db_url, uid).values()) == 0


def test_registering_answers_the_same_whatever_the_address_and_checks_the_password(db_url):
    with mailing_app(db_url) as (client, smtp):
        owner = register(client)
        existing = post(client, "/register", {"email": owner["email"], "password": NEW_PASSWORD})
        mail = smtp.wait_for(2)  # the first went to the owner when registering
        fresh = post(client, "/register", {"email": new_email(), "password": NEW_PASSWORD})
        weak = post(client, "/register", {"email": new_email(), "password": "password123"})
        short = post(client, "/register", {"email": new_email(), "password": "short"})
        bad_email = post(client, "/register", {"email": XSS[1], "password": NEW_PASSWORD})
        in_english = post(english(client), "/register", {"email": new_email(), "password": "password123"})
    assert existing.status_code == fresh.status_code == 303
    assert existing.headers["location"] == fresh.headers["location"] == "/register?done=sent"
    assert mail.message["Subject"] == "Sie haben bereits ein Konto bei talent.yoga"
    assert weak.status_code == 422 and "leicht zu erraten" in weak.text and 'aria-invalid="true"' in weak.text
    assert 'aria-describedby="f-password-error f-password-hint"' in weak.text
    assert short.status_code == 422 and "mindestens 10 Zeichen" in short.text
    assert bad_email.status_code == 422 and "gültige E-Mail-Adresse" in bad_email.text
    assert_no_raw_markup(bad_email.text)
    assert "&lt;img src=x onerror=alert(1)&gt;" in bad_email.text  # kept in the field, as text
    assert in_english.status_code == 422 and "easy to guess" in in_english.text


# ------------------------------------------------------------------ signing in and out


def test_a_wrong_password_and_an_unknown_address_get_the_same_german_answer(db_url):
    with running_app(db_url) as client:
        user = register(client)
        wrong = post(client, "/login", {"email": user["email"], "password": "not my password"})
        unknown = post(client, "/login", {"email": new_email(), "password": "not my password"})
        empty = post(client, "/login", {"email": "", "password": ""})
        in_english = post(english(client), "/login", {"email": user["email"], "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert "E-Mail-Adresse oder Passwort ist falsch." in wrong.text and 'role="alert"' in wrong.text
    assert "E-Mail-Adresse oder Passwort ist falsch." in unknown.text
    assert user["email"] in wrong.text  # the address stays in the form
    assert "ty_session" not in wrong.headers.get("set-cookie", "")
    assert empty.status_code == 422 and "Geben Sie Ihre E-Mail-Adresse ein." in empty.text
    assert "Geben Sie Ihr Passwort ein." in empty.text
    assert in_english.status_code == 401 and "Wrong e-mail address or password." in in_english.text


def test_too_many_failed_logins_say_how_long_to_wait(db_url):
    with running_app(db_url, login_first_delay_s=60, login_max_delay_s=3600, login_max_attempts=2) as client:
        user = register(client)
        attacker = client_for(client, address="198.51.100.9")
        failures = [post(attacker, "/login", {"email": user["email"], "password": "guess"}).status_code
                    for _ in range(2)]
        slowed = post(attacker, "/login", {"email": user["email"], "password": "guess"})
    assert failures == [401, 401]
    assert slowed.status_code == 429 and 55 <= int(slowed.headers["retry-after"]) <= 60
    assert re.search(r"Zu viele Versuche\. Bitte versuchen Sie es in (1 Minute|\d+ Sekunden) erneut\.", slowed.text)


def test_signing_in_goes_on_to_a_local_next_only_and_replaces_the_session_this_browser_had(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)  # signed in through the API: a cookie session
        page = user.client.get("/login?next=/profile")
        # signed in, the sign-in form carries the session's CSRF token like every other form (a forged post: 403)
        forged = post(user.client, "/login", {"email": user.email, "password": PASSWORD, "next": "/profile"})

        def again(target: str) -> httpx.Response:
            token = csrf_token_for(user.client.cookies["ty_session"])  # each sign-in gives a new session
            return post(user.client, "/login", {"email": user.email, "password": PASSWORD, "next": target,
                                                "csrf_token": token})

        local = again("/profile")
        sessions_after_local = session_count(db_url, user.id)
        targets = [again(target).headers["location"]
                   for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "")]
        sessions_after_all = session_count(db_url, user.id)
        escaped = client.get("/login?next=" + httpx.QueryParams({"x": '/"><script>alert(1)</script>'})["x"])
    assert 'name="next" value="/profile"' in page.text and user.csrf in page.text
    assert forged.status_code == 403
    assert local.status_code == 303 and local.headers["location"] == "/profile"
    assert targets == ["/matches"] * 4
    assert sessions_after_local == sessions_after_all == 1  # each sign-in replaced the browser's session
    assert escaped.status_code == 200 and "<script>alert" not in escaped.text


def test_signing_out_ends_the_session_and_needs_the_csrf_token(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        forged = post(user.client, "/logout", {})
        cross = post(user.client, "/logout", {"csrf_token": user.csrf or ""}, headers=CROSS_SITE)
        before = session_count(db_url, user.id)
        out = post(user.client, "/logout", {"csrf_token": user.csrf or ""})
        after = session_count(db_url, user.id)
        anonymous = post(client_for(client), "/logout", {})
        api = user.client.get("/api/v1/auth/session")
    assert forged.status_code == 403 and cross.status_code == 403 and before == 1
    assert out.status_code == 303 and out.headers["location"] == "/"
    assert any(c.startswith("ty_session=") and "max-age=0" in c.lower() for c in out.headers.get_list("set-cookie"))
    assert after == 0
    assert anonymous.status_code == 303
    assert api.status_code == 401


def test_the_forms_that_sign_in_or_register_refuse_cross_site_posts(db_url):
    with running_app(db_url) as client:
        user = register(client)
        answers = {
            url: post(client, url, data, headers=CROSS_SITE).status_code
            for url, data in [
                ("/register", {"email": new_email(), "password": NEW_PASSWORD}),
                ("/login", {"email": user["email"], "password": PASSWORD}),
                ("/verify-email", {"token": "x" * 43, "password": PASSWORD}),
                ("/forgot-password", {"email": user["email"]}),
                ("/reset-password", {"token": "x" * 43, "password": NEW_PASSWORD}),
            ]
        }
        page = client.post("/login", data={"email": user["email"], "password": PASSWORD}, headers=CROSS_SITE,
                           follow_redirects=False)
    assert answers == dict.fromkeys(answers, 403)
    assert "Dieses Formular ist veraltet" in page.text or "Nicht erlaubt" in page.text
    assert "ty_session" not in page.headers.get("set-cookie", "")


# ------------------------------------------------------------------ forgotten password


def test_a_forgotten_password_is_set_anew_through_the_pages(db_url):
    with mailing_app(db_url) as (client, smtp):
        user = sign_up(client)  # n=1: the verification mail of register()
        asked = post(client, "/forgot-password", {"email": user.email})
        unknown = post(client, "/forgot-password", {"email": new_email()})
        notice = client.get(asked.headers["location"])
        token = link_token(smtp, 2, user.email, "/reset-password")
        form = client.get(f"/reset-password?token={token}")
        weak = post(client, "/reset-password", {"token": token, "password": "password123"})
        browser = client_for(client, address="192.0.2.44")
        done = post(browser, "/reset-password", {"token": token, "password": NEW_PASSWORD})
        used = post(browser, "/reset-password", {"token": token, "password": NEW_PASSWORD})
        no_token = client.get("/reset-password", follow_redirects=False)
        bad_token = client.get("/reset-password?token=%22%3E%3Cscript%3E")
        old_session = user.get("/api/v1/auth/session")
        signed_in = post(browser, "/login", {"email": user.email, "password": NEW_PASSWORD})
    assert asked.status_code == unknown.status_code == 303
    assert asked.headers["location"] == unknown.headers["location"] == "/forgot-password?done=sent"
    assert "Falls zu dieser Adresse ein Konto gehört" in notice.text
    assert form.status_code == 200 and f'value="{token}"' in form.text
    assert weak.status_code == 422 and "leicht zu erraten" in weak.text
    assert done.status_code == 303 and done.headers["location"] == "/login?done=reset"
    assert any(c.startswith("ty_device=") for c in done.headers.get_list("set-cookie"))
    assert used.status_code == 400 and "unbekannt, schon benutzt oder abgelaufen" in used.text
    assert no_token.status_code == 303 and no_token.headers["location"] == "/forgot-password"
    assert bad_token.status_code == 400 and "<script>" not in bad_token.text
    assert old_session.status_code == 401  # a reset ends every session
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/matches"


def test_a_reset_link_issued_directly_works_once_and_an_invalid_email_is_named(db_url):
    with running_app(db_url) as client:
        user = register(client)
        with client.app.state.db.connection() as conn:
            token = issue_account_token(conn, user["id"], "reset_password", timedelta(hours=1))
        empty = post(client, "/forgot-password", {"email": ""})
        short = post(client, "/reset-password", {"token": token, "password": "short"})
        done = post(client, "/reset-password", {"token": token, "password": NEW_PASSWORD})
        wrong_kind = post(client, "/verify-email", {"token": token, "password": NEW_PASSWORD})
    assert empty.status_code == 422 and "gültige E-Mail-Adresse" in empty.text
    assert short.status_code == 422 and "mindestens 10 Zeichen" in short.text
    assert done.status_code == 303
    assert wrong_kind.status_code == 400


def test_the_mail_limits_of_the_api_hold_on_the_pages_and_the_wait_is_said_in_words(db_url):
    with running_app(db_url, rate_limits="mail_to=2/3600") as client:
        user = register(client)
        answers = [post(client_for(client, address=f"192.0.2.{n}"), "/forgot-password", {"email": user["email"]})
                   for n in range(3)]
        in_english = post(english(client, address="192.0.2.9"), "/forgot-password", {"email": user["email"]})
    assert [a.status_code for a in answers] == [303, 303, 429]
    assert "Zu viele Versuche. Bitte versuchen Sie es in " in answers[2].text
    assert re.search(r"in \d+ Minuten erneut", answers[2].text)
    assert answers[2].headers["retry-after"]
    assert in_english.status_code == 429 and re.search(r"try again in \d+ minutes\.", in_english.text)


def test_the_registration_limit_per_address_holds_on_the_page(db_url):
    with running_app(db_url, rate_limits="register=1/3600") as client:
        first = post(client, "/register", {"email": new_email(), "password": NEW_PASSWORD})
        second = post(client, "/register", {"email": new_email(), "password": NEW_PASSWORD})
    assert first.status_code == 303
    assert second.status_code == 429 and "<h1>" in second.text and second.headers["retry-after"]
