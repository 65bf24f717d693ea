"""Login throttling (a growing delay, known devices spared, a hard stop per address), client addresses behind
trusted proxies, and the rate limits every web worker shares in PostgreSQL.

Time is moved by moving the stored timestamps back, never by sleeping."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest
from web_support import PASSWORD, client_for, load_catalogue, new_email, register, running_app, sign_up

from ty_resources.database import Database
from ty_testing.smtp_server import SmtpTestServer
from ty_web import classify, security
from ty_web.clients import parse_trusted_proxies, resolve_client
from ty_web.ratelimit import DEFAULT_LIMITS, Limit, RateLimiter, parse_limits
from ty_web.security import throttle_delay

WRONG = "wrong password, sorry"
# The first delay a minute, not a second: "too soon" must not depend on how fast this machine answers.
SLOW = {"login_first_delay_s": 60, "login_max_delay_s": 3600}


def _login(client, email: str, password: str = PASSWORD, **kwargs):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password}, **kwargs)


def _age_attempts(client, db_url: str, seconds: float) -> None:
    """``seconds`` pass: the stored attempts move back, and the app forgets the refusals it remembers (its own
    clock did not move)."""
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE login_attempts SET attempted_at = attempted_at - make_interval(secs => %s)", (seconds,))
    client.app.state.login_throttle.refusals.forget()


# ------------------------------------------------------------------ the delay


def test_the_delay_grows_from_one_second_to_its_cap():
    assert [throttle_delay(n, free=3, max_delay_s=300) for n in range(0, 13)] == \
        [0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert throttle_delay(10_000, free=3, max_delay_s=300) == 300  # no overflow


def test_failed_logins_delay_the_next_attempt_instead_of_locking_the_account(db_url):
    with running_app(db_url, **SLOW, login_max_attempts=3) as client:
        account = register(client)
        email = account["email"]
        mallory = client_for(client, address="198.51.100.9")
        failures = [_login(mallory, email, WRONG).status_code for _ in range(3)]
        too_soon = _login(mallory, email, WRONG)
        owner_new_device = _login(client_for(client, address="192.0.2.7"), email)  # the account is slowed for all
        _age_attempts(client, db_url, 61)  # the 60 s delay after the third failure has passed
        fourth = _login(mallory, email, WRONG)
        again = _login(mallory, email, WRONG)
        _age_attempts(client, db_url, 121)  # ... and the 120 s delay after the fourth
        owner_later = _login(client_for(client, address="192.0.2.7"), email)
        with psycopg.connect(db_url) as conn:
            recorded = conn.execute("SELECT count(*) FROM login_attempts WHERE NOT succeeded").fetchone()[0]
    assert failures == [401, 401, 401]
    assert too_soon.status_code == 429 and too_soon.json()["error"]["code"] == "rate_limited"
    assert 55 <= int(too_soon.headers["retry-after"]) <= 60
    assert owner_new_device.status_code == 429
    assert fourth.status_code == 401
    assert again.status_code == 429 and 115 <= int(again.headers["retry-after"]) <= 120
    assert owner_later.status_code == 200  # never locked: the right password works once the delay has passed
    assert recorded == 4  # refused attempts are not recorded: hammering does not extend the delay


def test_a_device_that_signed_in_before_is_not_slowed_by_someone_elses_failures(db_url):
    with running_app(db_url, **SLOW, login_max_attempts=3) as client:
        owner = sign_up(client)  # signs in: its client now holds the ty_device cookie
        assert owner.client.cookies.get("ty_device")
        mallory = client_for(client, address="198.51.100.9")
        attack = [_login(mallory, owner.email, WRONG).status_code for _ in range(6)]
        same_address = client_for(client, address="198.51.100.9")  # e.g. behind the same NAT, new device
        stranger = _login(same_address, owner.email)
        owner_again = _login(owner.client, owner.email)
        # The device's own failures slow it down (a stolen laptop is not a free pass).
        own = [_login(owner.client, owner.email, WRONG).status_code for _ in range(4)]
    assert attack[:3] == [401, 401, 401] and set(attack[3:]) == {429}
    assert stranger.status_code == 429
    assert owner_again.status_code == 200
    assert own == [401, 401, 401, 429]


def test_a_device_cookie_of_another_account_is_no_pass(db_url):
    with running_app(db_url, **SLOW, login_max_attempts=2) as client:
        mallory = sign_up(client)  # a known device, of mallory's own account
        victim = register(client)
        attempts = [_login(mallory.client, victim["email"], WRONG).status_code for _ in range(3)]
    assert attempts == [401, 401, 429]


def test_an_address_is_stopped_outright_at_an_extreme_rate(db_url):
    with running_app(db_url, login_max_attempts=1000, login_hard_limit=5, login_window_s=3600) as client:
        bot = client_for(client, address="203.0.113.5")
        statuses = [_login(bot, new_email(), WRONG).status_code for _ in range(5)]
        stopped = _login(bot, new_email(), WRONG)
        other = _login(client_for(client, address="203.0.113.6"), new_email(), WRONG)
    assert statuses == [401] * 5
    assert stopped.status_code == 429 and 3500 < int(stopped.headers["retry-after"]) <= 3600  # until they age out
    assert other.status_code == 401


def test_the_owner_is_told_once_when_logins_are_slowed(db_url):
    with SmtpTestServer() as smtp, running_app(db_url, login_max_attempts=2, smtp_host="127.0.0.1",
                                               smtp_port=smtp.port, smtp_security="none") as client:
        account = register(client)
        mallory = client_for(client, address="198.51.100.9")
        for _ in range(2):
            _login(mallory, account["email"], WRONG)
        _age_attempts(client, db_url, 10)
        _login(mallory, account["email"], WRONG)  # a third failure, still within the window: no second mail
        smtp.wait_for(2)  # registration's verification e-mail, then the notice
        told = [m for m in smtp.messages if "Fehlgeschlagene Anmeldungen" in str(m.message["Subject"])]
    assert len(told) == 1
    assert told[0].rcpt_tos == (account["email"],)
    assert "2 Anmeldungen" in told[0].message.get_content()


# ------------------------------------------------------------------ client addresses


PROXIES = parse_trusted_proxies("10.0.0.1, 10.1.0.0/16, fd00::/8")


@pytest.mark.parametrize(("peer", "forwarded", "proxies", "client"), [
    ("192.0.2.1", [], (), "192.0.2.1"),
    ("192.0.2.1", ["198.51.100.1"], (), "192.0.2.1"),  # no trusted proxy: the header is not believed
    ("192.0.2.1", ["198.51.100.1"], PROXIES, "192.0.2.1"),  # the peer is not a trusted proxy
    ("10.0.0.1", ["198.51.100.1"], PROXIES, "198.51.100.1"),
    ("10.0.0.1", ["1.1.1.1, 198.51.100.1"], PROXIES, "198.51.100.1"),  # what the client wrote itself is ignored
    ("10.0.0.1", ["198.51.100.1, 10.1.2.3"], PROXIES, "198.51.100.1"),  # through two trusted proxies
    ("10.0.0.1", ["1.1.1.1", "198.51.100.1"], PROXIES, "198.51.100.1"),  # two headers: the last is the proxy's
    ("10.0.0.1", ["198.51.100.1:5000"], PROXIES, "198.51.100.1"),
    ("10.0.0.1", ["garbage"], PROXIES, "10.0.0.1"),
    ("10.0.0.1", ["10.1.0.9"], PROXIES, "10.0.0.1"),  # only proxies: the peer
    ("10.0.0.1", [], PROXIES, "10.0.0.1"),
    ("2001:db8:1:2:aaaa::1", [], (), "2001:db8:1:2::/64"),  # IPv6 keyed on its /64
    ("2001:db8:1:2:ffff::9", [], (), "2001:db8:1:2::/64"),
    ("fd00::1", ["[2001:db8:5:6::7]:443"], PROXIES, "2001:db8:5:6::/64"),
    ("::ffff:192.0.2.9", [], (), "192.0.2.9"),  # IPv4-mapped
    ("testclient", [], (), "testclient"),
])
def test_the_client_address(peer, forwarded, proxies, client):
    assert resolve_client(peer, forwarded, proxies) == client


def test_trusted_proxies_that_do_not_parse_fail_at_start(db_url):
    with pytest.raises(ValueError, match="TY_TRUSTED_PROXIES"):
        running_app(db_url, trusted_proxies="10.0.0.1, proxy.local").__enter__()


def test_behind_a_trusted_proxy_one_clients_failures_do_not_slow_another(db_url):
    with running_app(db_url, **SLOW, login_max_attempts=2, trusted_proxies="10.0.0.1") as client:
        account = register(client)
        proxy = client_for(client, address="10.0.0.1")
        for _ in range(2):
            _login(proxy, new_email(), WRONG, headers={"X-Forwarded-For": "198.51.100.9"})
        attacker = _login(proxy, new_email(), WRONG, headers={"X-Forwarded-For": "198.51.100.9"})
        spoofed = _login(proxy, new_email(), WRONG, headers={"X-Forwarded-For": "192.0.2.50, 198.51.100.9"})
        user = _login(client_for(client, address="10.0.0.1"), account["email"],
                      headers={"X-Forwarded-For": "192.0.2.50"})
    assert attacker.status_code == 429 and spoofed.status_code == 429  # a forged entry changes nothing
    assert user.status_code == 200


def test_without_trusted_proxies_forwarded_headers_are_ignored(db_url):
    with running_app(db_url, **SLOW, login_max_attempts=2) as client:
        proxy = client_for(client, address="10.0.0.1")
        statuses = [_login(proxy, new_email(), WRONG, headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code
                    for i in range(3)]
    assert statuses == [401, 401, 429]


# ------------------------------------------------------------------ rate limits


def test_limits_parse_and_refuse_what_does_not():
    limits = parse_limits("cv_upload=5/3600, search=30/60")
    assert limits["cv_upload"] == Limit("cv_upload", 5, 3600) and limits["search"] == Limit("search", 30, 60)
    assert limits["register"] == DEFAULT_LIMITS["register"]
    for bad in ("nope=1/1", "search=ten/60", "search=0/60", "search=5", "search=5/0"):
        with pytest.raises(ValueError):
            parse_limits(bad)


def test_concurrent_workers_never_take_more_than_the_limit(db_url):
    """Two limiters (two web workers) on one database, 24 requests at once: exactly the burst gets through."""
    db = Database(db_url, max_size=12).open()
    try:
        limits = {"cv_upload": Limit("cv_upload", 5, 3600)}
        workers = [RateLimiter(db, limits), RateLimiter(db, limits)]
        start = threading.Barrier(24)

        def hit(i: int) -> int | None:
            start.wait()
            return workers[i % 2].retry_after("cv_upload", "user:1")

        with ThreadPoolExecutor(24) as pool:
            results = list(pool.map(hit, range(24)))
        other_key = workers[0].retry_after("cv_upload", "user:2")
    finally:
        db.close()
    assert results.count(None) == 5
    assert all(720 - 5 <= wait <= 720 + 1 for wait in results if wait is not None)  # one slot per 720 s
    assert other_key is None


def test_a_refused_request_does_not_extend_the_wait(db_url):
    db = Database(db_url, max_size=2).open()
    try:
        limiter = RateLimiter(db, {"search": Limit("search", 2, 60)})
        assert [limiter.retry_after("search", "addr:x") for _ in range(2)] == [None, None]
        waits = [limiter.retry_after("search", "addr:x") for _ in range(5)]
        with db.connection() as conn:  # 30 s pass
            conn.execute("UPDATE rate_limits SET tat = tat - interval '30 seconds'")
        limiter.refusals.forget()  # ... for the process's clock too
        after = limiter.retry_after("search", "addr:x")
    finally:
        db.close()
    assert all(w is not None and 29 <= w <= 31 for w in waits)
    assert after is None  # one slot came back after 60/2 s, however often it was asked meanwhile


def test_a_refusal_is_remembered_in_the_process_until_it_ends(db_url):
    """Hammering past a limit costs no database round trip, and the answer stays exact."""
    db = Database(db_url, max_size=2).open()
    try:
        limiter = RateLimiter(db, {"search": Limit("search", 1, 60)})
        assert limiter.retry_after("search", "addr:x") is None
        first = limiter.retry_after("search", "addr:x")
        with db.connection() as conn:  # the row goes: only the remembered refusal can still answer
            conn.execute("DELETE FROM rate_limits")
        remembered = limiter.retry_after("search", "addr:x")
        other = limiter.retry_after("search", "addr:y")
        limiter.refusals.forget()
        asked_again = limiter.retry_after("search", "addr:x")
    finally:
        db.close()
    assert first is not None and remembered is not None and remembered <= first
    assert other is None and asked_again is None


def test_uploads_are_limited_per_user(db_url):
    with running_app(db_url, rate_limits="cv_upload=2/3600") as client:
        alice, bob = sign_up(client), sign_up(client)
        cv = {"file": ("cv.txt", b"Lebenslauf\nLagerist bei Logistik GmbH\n", "text/plain")}
        statuses = [alice.post("/api/v1/profiles/me/cv", files=cv).status_code for _ in range(3)]
        refused = alice.post("/api/v1/profiles/me/cv", files=cv)
        bob_upload = bob.post("/api/v1/profiles/me/cv", files=cv)
    assert statuses == [201, 201, 429]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1700 <= int(refused.headers["retry-after"]) <= 1800
    assert bob_upload.status_code == 201


def test_registrations_and_searches_are_limited_per_address(db_url):
    with running_app(db_url, rate_limits="register=2/3600,search=3/60") as client:
        here, there = client_for(client, address="192.0.2.1"), client_for(client, address="192.0.2.2")
        registered = [here.post("/api/v1/auth/register", json={"email": new_email(), "password": PASSWORD}).status_code
                      for _ in range(3)]
        elsewhere = there.post("/api/v1/auth/register", json={"email": new_email(), "password": PASSWORD})
        searches = [here.get("/api/v1/professions/search", params={"q": "Lagerist"}).status_code for _ in range(4)]
        search_elsewhere = there.get("/api/v1/professions/search", params={"q": "Lagerist"})
    assert registered == [202, 202, 429]
    assert elsewhere.status_code == 202
    assert searches == [200, 200, 200, 429]
    assert search_elsewhere.status_code == 200


def test_mails_to_one_address_are_limited_whoever_asks(db_url):
    with running_app(db_url, rate_limits="mail_to=2/3600") as client:
        account = register(client)  # the registration's mail has a budget of its own
        asks = [client_for(client, address=f"192.0.2.{i}").post("/api/v1/auth/password-reset",
                                                                 json={"email": account["email"]}).status_code
                for i in range(3)]
        again = [client_for(client, address=f"192.0.2.{i}").post(
            "/api/v1/auth/register", json={"email": account["email"], "password": PASSWORD}).status_code for i in range(3)]
    assert asks == [202, 202, 429]
    assert again == [202, 429, 429]  # the first registration's mail and one more


def test_the_production_defaults_apply_when_nothing_is_set(db_url):
    with running_app(db_url, rate_limits="") as client:
        here = client_for(client, address="192.0.2.1")
        statuses = [here.post("/api/v1/auth/register", json={"email": new_email(), "password": PASSWORD}).status_code
                    for _ in range(DEFAULT_LIMITS["register"].count + 1)]
    assert statuses == [202] * DEFAULT_LIMITS["register"].count + [429]


def test_uncached_searches_beyond_the_process_slots_answer_429_cached_ones_still_200(db_url, monkeypatch):
    load_catalogue(db_url)
    monkeypatch.setattr(classify, "SEARCH_WAIT_S", 0.05)
    with running_app(db_url) as client:
        cached = client.get("/api/v1/professions/search", params={"q": "Lagerist"})
        slots = client.app.state.classifier._search_slots  # type: ignore[attr-defined]
        assert slots.acquire(timeout=5)  # another search holds the only slot
        try:
            busy = client.get("/api/v1/professions/search", params={"q": "Koch"})
            again = client.get("/api/v1/professions/search", params={"q": "lagerist"})  # the same key: from the cache
        finally:
            slots.release()
        later = client.get("/api/v1/professions/search", params={"q": "Koch"})
    assert cached.status_code == 200 and again.status_code == 200
    assert again.json()["candidates"] == cached.json()["candidates"]
    assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
    assert later.status_code == 200


def test_registrations_hash_in_their_own_slot_and_never_hold_up_logins():
    stored = security.hash_password(PASSWORD)
    assert security._registration_slot.acquire(timeout=5)  # a registration is hashing
    registered = threading.Event()
    try:
        waiting = threading.Thread(target=lambda: (security.hash_password(PASSWORD, registration=True),
                                                   registered.set()))
        waiting.start()
        assert security.verify_password(stored, PASSWORD)  # a login is not held up ...
        assert not registered.wait(0.2)  # ... while the next registration waits for the slot
    finally:
        security._registration_slot.release()
    waiting.join(timeout=30)
    assert registered.is_set()


def test_after_a_password_change_or_reset_the_owners_browser_is_still_spared(db_url):
    newer, newest = "a much newer battery staple", "the newest battery staple yet"
    with running_app(db_url, **SLOW, login_max_attempts=2) as client:
        owner = sign_up(client)
        changed = owner.post("/api/v1/account/password", json={"current_password": PASSWORD, "new_password": newer})
        mallory = client_for(client, address="198.51.100.9")
        attack = [_login(mallory, owner.email, WRONG).status_code for _ in range(3)]
        stranger = _login(client_for(client, address="192.0.2.77"), owner.email, newer)
        owner_again = _login(owner.client, owner.email, newer)  # the browser that changed it is still known
        with client.app.state.db.connection() as conn:  # a reset link, as the mail would carry it
            token = security.issue_account_token(conn, owner.id, "reset_password", timedelta(hours=1))
        browser = client_for(client, address="192.0.2.78")
        reset = browser.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": newest})
        after_reset = _login(browser, owner.email, newest)  # the browser that followed the link is known now
        old_browser = _login(owner.client, owner.email, newest)  # a reset forgets every other device
    assert changed.status_code == 204
    assert attack == [401, 401, 429] and stranger.status_code == 429
    assert owner_again.status_code == 200
    assert reset.status_code == 204 and reset.cookies.get("ty_device")
    assert after_reset.status_code == 200
    assert old_browser.status_code == 429


def test_a_password_reset_during_the_password_check_wins(db_url, monkeypatch):
    """The password is checked without a connection (argon2 takes a while); a reset that lands meanwhile must not
    be outlived by the session the login then issues."""
    from ty_web.services import accounts as auth

    with running_app(db_url) as client:
        account = register(client)
        checked = auth.verify_password

        def reset_meanwhile(stored: str, password: str) -> bool:
            ok = checked(stored, password)
            with psycopg.connect(db_url) as conn:
                conn.execute("UPDATE users SET password_hash = %s WHERE id = %s",
                             (security.hash_password("the owner's new battery staple"), account["id"]))
            return ok

        monkeypatch.setattr(auth, "verify_password", reset_meanwhile)
        response = _login(client, account["email"])
        with psycopg.connect(db_url) as conn:
            sessions = conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
    assert response.status_code == 401
    assert sessions == 0


def test_searches_waiting_for_the_catalogue_hold_at_most_two_connections(db_url, monkeypatch):
    """While the index is (re)built, searches would each wait on a pooled connection: two may, the rest are told
    to come back."""
    monkeypatch.setattr(classify, "SEARCH_WAIT_S", 0.05)
    with running_app(db_url, db_pool_max_size=4) as client:
        loaders = client.app.state.classifier._search_loaders  # type: ignore[attr-defined]
        held = [loaders.acquire(timeout=5) for _ in range(classify.SEARCH_LOADERS)]  # two searches are waiting
        try:
            busy = client.get("/api/v1/professions/search", params={"q": "Koch"})
            in_use = client.app.state.db.pool.get_stats().get("pool_size", 0) - \
                client.app.state.db.pool.get_stats().get("pool_available", 0)  # type: ignore[attr-defined]
        finally:
            for _ in held:
                loaders.release()
        later = client.get("/api/v1/professions/search", params={"q": "Koch"})
    assert all(held)
    assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
    assert in_use == 0
    assert later.status_code == 200
