"""The account lifecycle through the real app, database and a real SMTP server on 127.0.0.1: the address verified
by the e-mailed link, registering an address that has an account, the squatted address won back by a password
reset, resets and password changes ending sessions, the session list, the idle timeout, deleting the account,
guessable passwords, housekeeping, and what the GDPR export says about sessions and devices.

Time is moved by UPDATE-ing timestamps, never waited for; mails are taken from the SMTP server (the app sends
them in background tasks, which the TestClient runs before a call returns; ``Mailbox.next`` waits anyway)."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2 as httpx
import psycopg
from fastapi.testclient import TestClient
from web_support import PASSWORD, UserClient, client_for, new_email, register, rows_of_user, running_app, sign_up

from ty_resources.settings import Settings
from ty_testing.smtp_server import ReceivedMail, SmtpTestServer
from ty_web.housekeeping import prune
from ty_web.security import verify_password

PUBLIC_URL = "https://talent.test"
NEW_PASSWORD = "violet tractor under moonlight"
OTHER_PASSWORD = "seven lanterns drift eastward"

SUBJECT_VERIFY = "Bitte bestätigen Sie Ihre E-Mail-Adresse"
SUBJECT_EXISTS = "Sie haben bereits ein Konto bei talent.yoga"
SUBJECT_RESET = "Ihr Passwort bei talent.yoga neu setzen"
SUBJECT_CHANGED = "Ihr Passwort bei talent.yoga wurde geändert"


# ------------------------------------------------------------------ helpers


class Mailbox:
    """The mails the SMTP server received, taken one after the other."""

    def __init__(self, smtp: SmtpTestServer):
        self.smtp = smtp
        self.taken = 0

    def next(self, to: str, subject: str) -> ReceivedMail:
        """The next mail (waiting for it): to ``to``, about ``subject``."""
        self.taken += 1
        mail = self.smtp.wait_for(self.taken)
        assert mail.rcpt_tos == (to,), mail.rcpt_tos
        assert mail.message["To"].addresses[0].addr_spec == to
        assert mail.message["Subject"] == subject
        return mail

    def nothing_more(self) -> None:
        assert [m.message["Subject"] for m in self.smtp.messages[self.taken:]] == []


def text_of(mail: ReceivedMail) -> str:
    return mail.message.get_content()


def link_token(mail: ReceivedMail, path: str) -> str:
    """The token of the one link to ``path`` in the mail's text."""
    tokens = re.findall(rf"{re.escape(PUBLIC_URL + path)}\?token=([A-Za-z0-9_-]+)", text_of(mail))
    assert len(tokens) == 1, text_of(mail)
    assert len(tokens[0]) >= 43  # 32 random bytes
    return tokens[0]


@contextmanager
def mailing_app(db_url: str, **settings: Any) -> Iterator[tuple[TestClient, Mailbox]]:
    """The running app sending its mails to a real SMTP server on 127.0.0.1, and that server's mailbox."""
    with SmtpTestServer() as smtp, running_app(db_url, smtp_host="127.0.0.1", smtp_port=smtp.port,
                                               smtp_security="none", public_url=PUBLIC_URL, **settings) as client:
        yield client, Mailbox(smtp)


def register_by_mail(client: TestClient, box: Mailbox, email: str, password: str = PASSWORD) -> str:
    """Register ``email`` (202): the token of the verification link mailed to it."""
    response = client.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert response.status_code == 202, response.text
    return link_token(box.next(email, SUBJECT_VERIFY), "/verify-email")


def login(app_client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """A login from a new client (no cookies)."""
    return client_for(app_client).post("/api/v1/auth/login", json={"email": email, "password": password})


def sign_in(app_client: TestClient, user_id: int, email: str, password: str = PASSWORD, *,
            user_agent: str | None = None, bearer: bool = False) -> UserClient:
    """Another session (a new client with a cookie session, or a bearer token) of a registered user."""
    client = client_for(app_client)
    headers = {"User-Agent": user_agent} if user_agent else {}
    response = client.post("/api/v1/auth/token" if bearer else "/api/v1/auth/login",
                           json={"email": email, "password": password}, headers=headers)
    assert response.status_code == 200, response.text
    if bearer:
        return UserClient(client, user_id, email, password, token=response.json()["access_token"])
    return UserClient(client, user_id, email, password, csrf=response.json()["csrf_token"])


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


def error_fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [f["field"] for f in response.json()["error"]["fields"]]


def user_row(db_url: str, email: str) -> tuple | None:
    """``id, password_hash, email_verified_at`` of the account of ``email``."""
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT id, password_hash, email_verified_at FROM users WHERE lower(email) = lower(%s)",
                            (email,)).fetchone()


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# ------------------------------------------------------------------ registration and verification


def test_the_mailed_link_verifies_the_address_once_and_then_login_works(db_url):
    email = new_email()
    with mailing_app(db_url) as (client, box):
        response = client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert response.status_code == 202, response.text
        mail = box.next(email, SUBJECT_VERIFY)
        token = link_token(mail, "/verify-email")
        assert mail.message.get_content_type() == "text/plain"
        assert "Bitte bestätigen Sie die Adresse" in text_of(mail)

        guessed = login(client, email, "not my password at all")  # no hint that the address is pending
        assert guessed.status_code == 401, guessed.text
        assert error_code(guessed) == "invalid_credentials"
        unverified = login(client, email)
        assert unverified.status_code == 403, unverified.text
        assert error_code(unverified) == "email_unverified"
        assert "set-cookie" not in unverified.headers

        wrong = client.post("/api/v1/auth/verify-email", json={"token": token, "password": "not my password at all"})
        assert wrong.status_code == 401, wrong.text
        assert user_row(db_url, email)[2] is None  # still unverified, and the token was not spent:
        verified = client.post("/api/v1/auth/verify-email", json={"token": token, "password": PASSWORD})
        assert verified.status_code == 200, verified.text
        body = verified.json()
        assert body["email"] == email and body["email_verified_at"]
        assert user_row(db_url, email)[2] is not None

        again = client.post("/api/v1/auth/verify-email", json={"token": token, "password": PASSWORD})
        assert again.status_code == 400, again.text
        assert error_code(again) == "invalid_token"

        signed_in = login(client, email)
        assert signed_in.status_code == 200, signed_in.text
        assert "ty_session" in signed_in.cookies

        # an expired link: refused, and the address stays unverified
        late = new_email()
        late_token = register_by_mail(client, box, late)
        with psycopg.connect(db_url) as conn:
            moved = conn.execute("UPDATE account_tokens SET created_at = now() - interval '3 days',"
                                 " expires_at = now() - interval '1 second' WHERE token_hash = %s",
                                 (sha256(late_token),)).rowcount
        assert moved == 1
        expired = client.post("/api/v1/auth/verify-email", json={"token": late_token, "password": PASSWORD})
        assert expired.status_code == 400, expired.text
        assert error_code(expired) == "invalid_token"
        assert user_row(db_url, late)[2] is None
        box.nothing_more()


def test_registering_an_address_with_an_account_mails_its_owner_and_changes_nothing(db_url):
    with mailing_app(db_url) as (client, box):
        fresh = new_email()
        new = client.post("/api/v1/auth/register", json={"email": fresh, "password": PASSWORD})
        box.next(fresh, SUBJECT_VERIFY)

        # a verified address
        owner = register(client)  # verified as the link would
        box.next(owner["email"], SUBJECT_VERIFY)
        _, hash_before, verified_at = user_row(db_url, owner["email"])
        with psycopg.connect(db_url) as conn:
            tokens_before = conn.execute("SELECT token_hash FROM account_tokens WHERE user_id = %s",
                                         (owner["id"],)).fetchall()
        existing = client.post("/api/v1/auth/register", json={"email": owner["email"], "password": OTHER_PASSWORD})
        assert existing.status_code == new.status_code == 202
        assert existing.json() == new.json()
        notice = box.next(owner["email"], SUBJECT_EXISTS)
        assert "token=" not in text_of(notice)
        assert f"{PUBLIC_URL}/reset-password" in text_of(notice)
        assert user_row(db_url, owner["email"]) == (owner["id"], hash_before, verified_at)
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT token_hash FROM account_tokens WHERE user_id = %s",
                                (owner["id"],)).fetchall() == tokens_before

        # an unverified address: a new link, and the older one stops working
        pending = new_email()
        first = register_by_mail(client, box, pending)
        second = register_by_mail(client, box, pending)
        assert second != first
        old_link = client.post("/api/v1/auth/verify-email", json={"token": first, "password": PASSWORD})
        assert old_link.status_code == 400, old_link.text
        assert error_code(old_link) == "invalid_token"
        new_link = client.post("/api/v1/auth/verify-email", json={"token": second, "password": PASSWORD})
        assert new_link.status_code == 200, new_link.text
        box.nothing_more()


def test_a_squatted_address_goes_to_whoever_follows_the_mailed_link(db_url):
    victim = new_email()
    attacker_password = "mallory owns this mailbox now"
    with mailing_app(db_url) as (client, box):
        first = register_by_mail(client, box, victim, attacker_password)  # the link goes to the victim's mailbox
        link = register_by_mail(client, box, victim, PASSWORD)  # the victim registers too: a link for their password
        stale = client.post("/api/v1/auth/verify-email", json={"token": first, "password": attacker_password})
        wrong = client.post("/api/v1/auth/verify-email", json={"token": link, "password": attacker_password})
        # a verification link does not set a password through the reset route
        wrong_kind = client.post("/api/v1/auth/password-reset/confirm", json={"token": link, "password": NEW_PASSWORD})
        assert user_row(db_url, victim)[2] is None
        verified = client.post("/api/v1/auth/verify-email", json={"token": link, "password": PASSWORD})
        owner = login(client, victim, PASSWORD)
        attacker = login(client, victim, attacker_password)
        box.nothing_more()
    assert stale.status_code == 400 and error_code(stale) == "invalid_token"  # the newer link voided it
    assert wrong.status_code == 401, wrong.text  # the link is for the password of its registration
    assert wrong_kind.status_code == 400, wrong_kind.text
    assert verified.status_code == 200, verified.text
    assert owner.status_code == 200, owner.text
    assert attacker.status_code == 401 and error_code(attacker) == "invalid_credentials"
    assert user_row(db_url, victim)[2] is not None


# ------------------------------------------------------------------ password reset


def test_a_password_reset_ends_every_session_and_its_link_works_once(db_url):
    with mailing_app(db_url) as (client, box):
        user = sign_up(client)
        box.next(user.email, SUBJECT_VERIFY)
        api = sign_in(client, user.id, user.email, bearer=True)
        assert user.get("/api/v1/auth/session").status_code == api.get("/api/v1/auth/session").status_code == 200

        unknown = client.post("/api/v1/auth/password-reset", json={"email": new_email()})
        known = client.post("/api/v1/auth/password-reset", json={"email": user.email.upper()})
        assert unknown.status_code == known.status_code == 202
        assert unknown.json() == known.json()
        first = link_token(box.next(user.email, SUBJECT_RESET), "/reset-password")
        box.nothing_more()  # the unknown address got nothing (its request came first, and a mail arrives)

        client.post("/api/v1/auth/password-reset", json={"email": user.email})
        second = link_token(box.next(user.email, SUBJECT_RESET), "/reset-password")
        stale = client.post("/api/v1/auth/password-reset/confirm", json={"token": first, "password": NEW_PASSWORD})
        assert stale.status_code == 400, stale.text  # asking again replaced the first link
        assert error_code(stale) == "invalid_token"

        for guessable in ("aaaaaaaaaa", "password123"):
            weak = client.post("/api/v1/auth/password-reset/confirm", json={"token": second, "password": guessable})
            assert error_fields(weak) == ["body.password"], guessable
        confirmed = client.post("/api/v1/auth/password-reset/confirm", json={"token": second, "password": NEW_PASSWORD})
        assert confirmed.status_code == 204, confirmed.text
        box.next(user.email, SUBJECT_CHANGED)

        assert user.get("/api/v1/auth/session").status_code == 401
        assert api.get("/api/v1/auth/session").status_code == 401
        assert login(client, user.email, PASSWORD).status_code == 401
        assert login(client, user.email, NEW_PASSWORD).status_code == 200
        again = client.post("/api/v1/auth/password-reset/confirm", json={"token": second, "password": OTHER_PASSWORD})
        assert again.status_code == 400, again.text

        client.post("/api/v1/auth/password-reset", json={"email": user.email})
        late = link_token(box.next(user.email, SUBJECT_RESET), "/reset-password")
        with psycopg.connect(db_url) as conn:
            conn.execute("UPDATE account_tokens SET created_at = now() - interval '2 hours',"
                         " expires_at = now() - interval '1 second' WHERE token_hash = %s", (sha256(late),))
        expired = client.post("/api/v1/auth/password-reset/confirm", json={"token": late, "password": OTHER_PASSWORD})
        assert expired.status_code == 400, expired.text
        assert error_code(expired) == "invalid_token"
        box.nothing_more()
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT password_hash FROM users WHERE id = %s", (user.id,)).fetchone()[0]
    assert verify_password(stored, NEW_PASSWORD)  # the used and the expired link set nothing
    assert not verify_password(stored, OTHER_PASSWORD)


# ------------------------------------------------------------------ password change


def test_changing_the_password_keeps_this_session_and_ends_the_others(db_url):
    with mailing_app(db_url) as (client, box):
        user = sign_up(client)
        box.next(user.email, SUBJECT_VERIFY)
        other = sign_in(client, user.id, user.email)

        wrong = user.post("/api/v1/account/password", json={"current_password": "not the password", "new_password":
                                                     NEW_PASSWORD})
        assert wrong.status_code == 403, wrong.text
        assert error_code(wrong) == "wrong_password"
        weak = user.post("/api/v1/account/password", json={"current_password": PASSWORD, "new_password": "password123"})
        assert error_fields(weak) == ["body.new_password"]
        box.nothing_more()

        changed = user.post("/api/v1/account/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
        assert changed.status_code == 204, changed.text
        box.next(user.email, SUBJECT_CHANGED)

        assert user.get("/api/v1/auth/session").status_code == 200
        assert user.put("/api/v1/profiles/me", json={"display_name": "Alice"}).status_code == 200  # CSRF token still good
        assert other.get("/api/v1/auth/session").status_code == 401
        assert login(client, user.email, PASSWORD).status_code == 401
        assert login(client, user.email, NEW_PASSWORD).status_code == 200
        box.nothing_more()


# ------------------------------------------------------------------ sessions


def test_sessions_are_listed_and_ended_one_by_one_or_all_but_this_one(db_url):
    with running_app(db_url) as client:
        alice = register(client)
        laptop = sign_in(client, alice["id"], alice["email"], user_agent="Firefox/128 laptop")
        phone = sign_in(client, alice["id"], alice["email"], user_agent="Safari phone")
        script = sign_in(client, alice["id"], alice["email"], user_agent="curl/8.5", bearer=True)
        bob = sign_up(client)

        listed = laptop.get("/api/v1/auth/sessions")
        assert listed.status_code == 200, listed.text
        sessions = listed.json()
        assert [(s["kind"], s["user_agent"], s["current"]) for s in sessions] == [
            ("cookie", "Firefox/128 laptop", True), ("cookie", "Safari phone", False), ("bearer", "curl/8.5", False)]
        assert {key for s in sessions for key in s} == {"id", "kind", "user_agent", "created_at", "expires_at",
                                                        "last_used_at", "current"}
        secrets = [laptop.client.cookies["ty_session"], laptop.csrf, phone.client.cookies["ty_session"], script.token]
        for secret in secrets:
            assert secret not in listed.text and sha256(secret) not in listed.text
        by_agent = {s["user_agent"]: s["id"] for s in sessions}
        from_phone = phone.get("/api/v1/auth/sessions").json()
        assert [s["current"] for s in from_phone] == [False, True, False]

        ended = laptop.delete(f"/api/v1/auth/sessions/{by_agent['Safari phone']}")
        assert ended.status_code == 204, ended.text
        assert phone.get("/api/v1/auth/session").status_code == 401

        bobs = bob.get("/api/v1/auth/sessions").json()
        assert len(bobs) == 1
        foreign = laptop.delete(f"/api/v1/auth/sessions/{bobs[0]['id']}")
        assert foreign.status_code == 404, foreign.text
        assert bob.get("/api/v1/auth/session").status_code == 200

        assert script.get("/api/v1/auth/session").status_code == 200
        others = laptop.delete("/api/v1/auth/sessions")
        assert others.status_code == 204, others.text
        assert script.get("/api/v1/auth/session").status_code == 401
        assert laptop.get("/api/v1/auth/session").status_code == 200
        assert [s["user_agent"] for s in laptop.get("/api/v1/auth/sessions").json()] == ["Firefox/128 laptop"]
        assert bob.get("/api/v1/auth/session").status_code == 200


def test_a_cookie_session_unused_past_the_idle_timeout_ends_but_a_bearer_token_does_not(db_url):
    with running_app(db_url, session_idle_hours=1) as client:
        account = register(client)
        idle = sign_in(client, account["id"], account["email"], user_agent="idle browser")
        recent = sign_in(client, account["id"], account["email"], user_agent="recent browser")
        api = sign_in(client, account["id"], account["email"], user_agent="api client", bearer=True)
        with psycopg.connect(db_url) as conn:
            conn.execute("UPDATE sessions SET created_at = now() - interval '3 hours',"
                         " last_used_at = now() - interval '2 hours' WHERE user_agent IN ('idle browser', 'api client')")
            conn.execute("UPDATE sessions SET created_at = now() - interval '3 hours',"
                         " last_used_at = now() - interval '50 minutes' WHERE user_agent = 'recent browser'")
        assert idle.get("/api/v1/auth/session").status_code == 401
        assert api.get("/api/v1/auth/session").status_code == 200
        assert recent.get("/api/v1/auth/session").status_code == 200
        assert recent.put("/api/v1/profiles/me", json={"display_name": "Still here"}).status_code == 200


def test_the_session_list_leaves_out_cookie_sessions_past_the_idle_timeout(db_url):
    with running_app(db_url, session_idle_hours=1) as client:
        account = register(client)
        idle = sign_in(client, account["id"], account["email"], user_agent="idle browser")
        recent = sign_in(client, account["id"], account["email"], user_agent="recent browser")
        with psycopg.connect(db_url) as conn:
            conn.execute("UPDATE sessions SET created_at = now() - interval '3 hours',"
                         " last_used_at = now() - interval '2 hours' WHERE user_agent = 'idle browser'")
        assert idle.get("/api/v1/auth/session").status_code == 401
        listed = recent.get("/api/v1/auth/sessions")
        assert listed.status_code == 200, listed.text
        # the idle session signs nobody in any more: it is not one of the user's live sessions
        assert [s["user_agent"] for s in listed.json()] == ["recent browser"]


# ------------------------------------------------------------------ deleting the account


def test_deleting_the_account_needs_the_password(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        bystander = register(client)
        before = rows_of_user(db_url, user.id)
        assert before["users"] == before["known_devices"] == before["sessions"] == 1

        no_body = user.delete("/api/v1/account")
        assert error_fields(no_body) == ["body"]
        wrong = user.delete("/api/v1/account", json={"password": "not the password"})
        assert wrong.status_code == 403, wrong.text
        assert error_code(wrong) == "wrong_password"
        assert rows_of_user(db_url, user.id) == before
        assert user.get("/api/v1/auth/session").status_code == 200

        deleted = user.delete("/api/v1/account", json={"password": PASSWORD})
        assert deleted.status_code == 204, deleted.text
        assert any(h.startswith("ty_session=") for h in deleted.headers.get_list("set-cookie"))
        assert set(rows_of_user(db_url, user.id).values()) == {0}
        assert user.get("/api/v1/auth/session").status_code == 401
        assert rows_of_user(db_url, bystander["id"])["users"] == 1


# ------------------------------------------------------------------ guessable passwords


def test_guessable_passwords_are_refused_at_registration(db_url):
    email = "anna.schmidt@example.org"
    with running_app(db_url) as client:
        for guessable in ("aaaaaaaaaa", "password1234", "qwertzuiop", "anna.schmidt1"):
            response = client.post("/api/v1/auth/register", json={"email": email, "password": guessable})
            assert error_fields(response) == ["body.password"], guessable
            assert response.json()["error"]["fields"][0]["message"]
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0
        accepted = client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert accepted.status_code == 202, accepted.text
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT email FROM users").fetchall() == [(email,)]


# ------------------------------------------------------------------ housekeeping


def test_housekeeping_deletes_exactly_what_no_longer_counts(db_url):
    settings = Settings(database_url=db_url, session_idle_hours=1, login_window_s=600, unverified_account_days=2)
    h = iter(range(1, 100))

    def digest() -> str:
        return sha256(f"token-{next(h)}")

    with psycopg.connect(db_url) as conn:
        def user(email: str, created: str, verified: bool) -> int:
            return conn.execute("INSERT INTO users (email, password_hash, created_at, email_verified_at)"
                                " VALUES (%s, 'x', now() - %s::interval,"
                                " CASE WHEN %s THEN now() - %s::interval END) RETURNING id",
                                (email, created, verified, created)).fetchone()[0]

        old_verified = user("old-verified@example.org", "30 days", True)
        user("old-unverified@example.org", "3 days", False)
        new_unverified = user("new-unverified@example.org", "1 day", False)

        def session(name: str, kind: str, created: str, expires: str, last_used: str) -> None:
            conn.execute("INSERT INTO sessions (token_hash, user_id, kind, csrf_token_hash, created_at, expires_at,"
                         " last_used_at, user_agent) VALUES (%s, %s, %s, %s, now() - %s::interval,"
                         " now() + %s::interval, now() - %s::interval, %s)",
                         (digest(), old_verified, kind, digest() if kind == "cookie" else None, created, expires,
                          last_used, name))

        session("expired bearer", "bearer", "2 days", "-1 second", "1 day")
        session("idle cookie", "cookie", "3 hours", "10 days", "2 hours")
        session("idle bearer", "bearer", "3 hours", "10 days", "2 hours")
        session("recent cookie", "cookie", "3 hours", "10 days", "50 minutes")

        conn.execute("INSERT INTO login_attempts (account, address, attempted_at) VALUES"
                     " ('a@example.org', 'old', now() - interval '20 minutes'),"
                     " ('a@example.org', 'recent', now() - interval '5 minutes')")
        conn.execute("INSERT INTO rate_limits (bucket, key, tat) VALUES ('mail', 'past', now() - interval '1 second'),"
                     " ('mail', 'future', now() + interval '1 minute')")

        def token(purpose: str, created: str, expires: str, used: bool) -> str:
            value = digest()
            conn.execute("INSERT INTO account_tokens (token_hash, user_id, purpose, created_at, expires_at, used_at)"
                         " VALUES (%s, %s, %s, now() - %s::interval, now() + %s::interval,"
                         " CASE WHEN %s THEN now() END)", (value, old_verified, purpose, created, expires, used))
            return value

        token("reset_password", "10 minutes", "50 minutes", True)  # used
        token("verify_email", "3 days", "-1 hour", False)  # expired
        live = token("reset_password", "10 minutes", "50 minutes", False)
        conn.commit()

        pruned = prune(conn, settings)
        conn.commit()
        expected = {"sessions": 2, "login_attempts": 1, "rate_limits": 1, "account_tokens": 2, "unverified_accounts": 1}
        assert pruned == {**dict.fromkeys(pruned, 0), **expected}
        assert conn.execute("SELECT user_agent FROM sessions ORDER BY user_agent").fetchall() == [
            ("idle bearer",), ("recent cookie",)]
        assert conn.execute("SELECT address FROM login_attempts").fetchall() == [("recent",)]
        assert conn.execute("SELECT key FROM rate_limits").fetchall() == [("future",)]
        assert conn.execute("SELECT token_hash FROM account_tokens").fetchall() == [(live,)]
        assert conn.execute("SELECT id FROM users ORDER BY id").fetchall() == [(old_verified,), (new_unverified,)]
        assert prune(conn, settings) == dict.fromkeys(pruned, 0)  # nothing more goes


def test_the_running_app_prunes_once_at_start(db_url):
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO login_attempts (account, address, attempted_at)"
                     " VALUES ('a@example.org', 'stale', now() - interval '2 hours')")
        conn.execute("INSERT INTO rate_limits (bucket, key, tat) VALUES ('mail', 'stale', now() - interval '1 minute')")
    with running_app(db_url, login_window_s=3600) as client:
        housekeeper = client.app.state.housekeeper
        ticks = threading.Event()
        deadline = time.monotonic() + 15
        while housekeeper.runs < 1:
            assert time.monotonic() < deadline, "the housekeeper did not run within 15 s of start"
            ticks.wait(0.02)
        assert housekeeper.runs >= 1
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT count(*) FROM login_attempts").fetchone()[0] == 0
            assert conn.execute("SELECT count(*) FROM rate_limits WHERE key = 'stale'").fetchone()[0] == 0


# ------------------------------------------------------------------ GDPR export


def test_the_export_shows_verification_sessions_and_known_devices(db_url):
    with running_app(db_url) as client:
        account = register(client)
        user = sign_in(client, account["id"], account["email"], user_agent="Firefox/128 export")
        response = user.get("/api/v1/account/export")
    assert response.status_code == 200, response.text
    export = response.json()
    assert export["account"]["email_verified_at"]
    assert [(s["kind"], s["user_agent"], s["current"]) for s in export["sessions"]] == [
        ("cookie", "Firefox/128 export", True)]
    assert isinstance(export["sessions"][0]["id"], int)
    assert len(export["known_devices"]) == 1
    assert set(export["known_devices"][0]) == {"created_at", "last_used_at"}
    device = user.client.cookies["ty_device"]
    with psycopg.connect(db_url) as conn:
        stored = [r[0] for r in conn.execute("SELECT token_hash FROM sessions UNION ALL"
                                             " SELECT token_hash FROM known_devices").fetchall()]
    assert len(stored) == 2
    for secret in (device, sha256(device), user.client.cookies["ty_session"], *stored):
        assert secret not in response.text
    assert "hash" not in response.text
