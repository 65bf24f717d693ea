"""Passwords, session and bearer tokens, CSRF tokens, and login throttling.

- Passwords: argon2id (argon2-cffi's RFC 9106 low-memory profile), rehashed on login when the parameters
  change. A login for an unknown e-mail verifies a dummy hash, so both failures take about as long. A new
  password must not be guessable: zxcvbn (its lists of common passwords, names and words, keyboard patterns,
  repeats and dates, and the account's own e-mail) must rate it at least :data:`MIN_PASSWORD_SCORE`.
- Tokens (cookie sessions, bearer tokens, CSRF tokens, known devices, e-mail links): 32 random bytes, urlsafe
  base64 (256 bits). Only their sha256 is stored; a stolen copy of the tables signs nobody in.
- Login throttling (:class:`LoginThrottle`), not a lock-out: after a few failures per account or per client
  address, each further attempt waits a growing delay; a device that signed in to the account before is slowed
  only by its own failures, so nobody can keep an owner out by failing on purpose. An attempt is recorded
  before the password is checked, so concurrent guesses count too; a refused attempt is not recorded.

No password or token is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from ty_resources.settings import Settings
from ty_resources.sqlfiles import sql_file
from ty_web.errors import ApiError
from ty_web.queries import Row, fetch_one
from ty_web.ratelimit import Refusals

SESSION_COOKIE = "ty_session"
CSRF_HEADER = "X-CSRF-Token"

_hasher = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4
_dummy_hash: str | None = None
_dummy_lock = threading.Lock()
# Each hash or verification holds 64 MiB: a burst of logins must not take the process's memory (40 threads
# of FastAPI's pool would want 2.5 GiB). More at once would not finish sooner on these cores anyway.
_argon2_slots = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
# Registrations hash in a slot of their own: however many arrive (from however many addresses), logins keep
# theirs. More registrations at once wait here, not in the login slots.
_registration_slot = threading.BoundedSemaphore(1)


# How long a request waits for an argon2 slot before it is told to come back (429): waiting requests hold one
# of the server's threads each, and a flood of them must not take them all.
ARGON2_WAIT_S = 10.0


@contextmanager
def _slot(semaphore: threading.BoundedSemaphore) -> Iterator[None]:
    if not semaphore.acquire(timeout=ARGON2_WAIT_S):
        raise ApiError(429, "too many sign-ins at this moment: try again in a few seconds",
                       headers={"Retry-After": "5"})
    try:
        yield
    finally:
        semaphore.release()


def hash_password(password: str, *, registration: bool = False) -> str:
    """The argon2id hash of ``password``; ``registration``: in the registrations' own slot."""
    with _slot(_registration_slot if registration else _argon2_slots):
        return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    with _slot(_argon2_slots):
        try:
            return _hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


# zxcvbn's scale: 0 too guessable, 1 very guessable, 2 somewhat guessable (a throttled online attacker does not
# get there), 3 safely unguessable, 4 very unguessable.
MIN_PASSWORD_SCORE = 2
# zxcvbn's matching grows fast with the length (0.03 s at 24 characters, 0.5 s at 40 on this project's machine,
# all of it holding the GIL): the start of a longer password is what it rates.
PASSWORD_RATED_CHARS = 24


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why ``password`` is refused (a sentence for the user), or None when it will do."""
    inputs = ["talent", "yoga", "talentyoga", "talent.yoga"]
    if email:
        local, _, domain = email.lower().partition("@")
        inputs += [local, *local.replace("_", ".").replace("-", ".").split("."), domain.split(".")[0]]
    result = zxcvbn(password[:PASSWORD_RATED_CHARS], user_inputs=[i for i in inputs if i])
    if result["score"] >= MIN_PASSWORD_SCORE:
        return None
    warning = result["feedback"]["warning"] or "This password is easy to guess."
    return f"{warning.rstrip('.')}: choose a longer or less common password."


def password_needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def verify_dummy(password: str) -> None:
    """Spend what a real verification costs, for an account that does not exist."""
    global _dummy_hash
    with _dummy_lock:
        if _dummy_hash is None:
            _dummy_hash = hash_password(secrets.token_urlsafe(16))
    verify_password(_dummy_hash, password)


def new_token() -> str:
    """A fresh random token: 32 bytes, urlsafe base64 without padding (43 characters)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def csrf_token_for(session_token: str) -> str:
    """A cookie session's CSRF token, derived from the session's own token: the pages compute it from the cookie
    they are sent (the database keeps only hashes), and only who holds the session cookie can know it."""
    return hmac.new(session_token.encode("utf-8", "surrogatepass"), b"ty-csrf-v1", hashlib.sha256).hexdigest()


def token_matches(token: str | None, expected_hash: str | None) -> bool:
    """Whether ``token`` hashes to ``expected_hash``, compared in constant time."""
    if not token or not expected_hash:
        return False
    return hmac.compare_digest(token_hash(token), expected_hash)


# ------------------------------------------------------------------ sessions


@dataclass(frozen=True)
class IssuedSession:
    """What the client gets once: the tokens themselves (the database keeps their hashes)."""

    token: str
    kind: str
    expires_at: datetime
    csrf_token: str | None = None


@dataclass(frozen=True)
class SessionInfo:
    """A valid (unexpired) session as found by its token."""

    token_hash: str
    user_id: int
    email: str
    kind: str
    csrf_token_hash: str | None
    expires_at: datetime


USER_AGENT_CHARS = 200


def issue_session(conn: psycopg.Connection, user_id: int, kind: str, ttl: timedelta,
                  user_agent: str | None = None) -> IssuedSession:
    """A new cookie session (with a CSRF token) or bearer token for ``user_id``, inside the caller's transaction;
    ``user_agent`` (cut short, control characters dropped) helps its owner recognise it in the session list."""
    if kind not in {"cookie", "bearer"}:
        raise ValueError(f"unknown session kind {kind!r}")
    token = new_token()
    csrf = csrf_token_for(token) if kind == "cookie" else None
    agent = "".join(ch for ch in (user_agent or "")[:USER_AGENT_CHARS] if ch.isprintable()).strip() or None
    row = fetch_one(
        conn,
        "INSERT INTO sessions (token_hash, user_id, kind, csrf_token_hash, expires_at, user_agent)"
        " VALUES (%(hash)s, %(user_id)s, %(kind)s, %(csrf_hash)s, now() + make_interval(secs => %(ttl)s),"
        " %(agent)s) RETURNING expires_at",
        {"hash": token_hash(token), "user_id": user_id, "kind": kind,
         "csrf_hash": token_hash(csrf) if csrf else None, "ttl": ttl.total_seconds(), "agent": agent},
    )
    return IssuedSession(token=token, kind=kind, expires_at=row["expires_at"], csrf_token=csrf)


# last_used_at is written at most this often per session, not on every request.
TOUCH_INTERVAL_S = 300
FIND_SESSION_SQL = sql_file(__file__, "security_find_session.sql")
FAILED_LOGINS_SQL = sql_file(__file__, "security_failed_logins.sql")
FIND_ACCOUNT_TOKEN_SQL = sql_file(__file__, "security_find_account_token.sql")


def find_session(conn: psycopg.Connection, token: str, idle_s: float) -> SessionInfo | None:
    """The live session of ``token`` (unexpired; a cookie session used within ``idle_s``); marks it used (at
    most every few minutes)."""
    digest = token_hash(token)
    row = fetch_one(conn, FIND_SESSION_SQL, {"h": digest, "touch": TOUCH_INTERVAL_S, "idle": idle_s})
    if row is None:
        return None
    return SessionInfo(token_hash=digest, user_id=row["user_id"], email=row["email"], kind=row["kind"],
                       csrf_token_hash=row["csrf_token_hash"], expires_at=row["expires_at"])


def revoke_session(conn: psycopg.Connection, digest: str) -> None:
    conn.execute("DELETE FROM sessions WHERE token_hash = %s", (digest,))


def prune_expired_sessions(conn: psycopg.Connection) -> int:
    return conn.execute("DELETE FROM sessions WHERE expires_at <= now()").rowcount


# ------------------------------------------------------------------ e-mailed links


def issue_account_token(conn: psycopg.Connection, user_id: int, purpose: str, ttl: timedelta,
                        password_hash: str | None = None) -> str:
    """A new single-use token for ``purpose`` (``verify_email``, ``reset_password``); earlier unused ones of the
    same purpose stop working. ``password_hash``: the password a verification sets (a later registration's).
    Returns the token (the database keeps its hash)."""
    conn.execute("DELETE FROM account_tokens WHERE user_id = %s AND purpose = %s AND used_at IS NULL",
                 (user_id, purpose))
    token = new_token()
    conn.execute("INSERT INTO account_tokens (token_hash, user_id, purpose, expires_at, password_hash)"
                 " VALUES (%s, %s, %s, now() + make_interval(secs => %s), %s)",
                 (token_hash(token), user_id, purpose, ttl.total_seconds(), password_hash))
    return token


def find_account_token(conn: psycopg.Connection, token: str, purpose: str) -> Row | None:
    """``token_hash``, ``user_id``, ``email``, ``password_hash`` (the token's own, else the account's) and
    ``token_password_hash`` for an unused, unexpired token of ``purpose``."""
    return fetch_one(conn, FIND_ACCOUNT_TOKEN_SQL, {"h": token_hash(token), "purpose": purpose})


def use_account_token(conn: psycopg.Connection, digest: str) -> bool:
    """Spend a token: False when it was used (or expired) meanwhile. Two requests with one token: one wins."""
    return conn.execute("UPDATE account_tokens SET used_at = now()"
                        " WHERE token_hash = %s AND used_at IS NULL AND expires_at > now()", (digest,)).rowcount == 1


# ------------------------------------------------------------------ login throttling


class RateLimited(Exception):
    def __init__(self, retry_after_s: int):
        super().__init__(f"too many login attempts; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Attempt:
    """A login attempt let through: its row (marked succeeded later) and the account's failures before it."""

    id: int
    account_failures: int
    device: str | None  # the hash of the known device it came from


def throttle_delay(failures: int, free: int, max_delay_s: float, first_delay_s: float = 1.0) -> float:
    """Seconds to wait after the last failure: none for the first ``free`` failures, then ``first_delay_s``,
    doubling with each further failure, at most ``max_delay_s``."""
    if failures < free:
        return 0.0
    return min(max_delay_s, first_delay_s * 2.0 ** min(failures - free, 30))


class LoginThrottle:
    """A growing delay instead of a lock-out (see the module docstring): per account and per client address,
    ``free`` failures within ``window_s`` pass at once, each further attempt waits ``first_delay_s``, twice that,
    four times, ... (at most ``max_delay_s``) after the previous failure; an address over ``hard_limit`` failures
    in the window is stopped until they leave it. An attempt from a known device of the account it names
    (``ty_device`` cookie, set at a successful login) is slowed only by that device's own failures. A refused
    attempt is not recorded."""

    def __init__(self, free: int, window_s: float, max_delay_s: float, hard_limit: int, first_delay_s: float = 1.0):
        self.free = free
        self.window_s = window_s
        self.max_delay_s = max_delay_s
        self.hard_limit = hard_limit
        self.first_delay_s = first_delay_s
        self.refusals = Refusals()  # hammering past a refusal costs no database round trip

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        """The app's throttle (one per process: it keeps the refusals it had)."""
        return cls(settings.login_max_attempts, settings.login_window_s, settings.login_max_delay_s,
                   settings.login_hard_limit, settings.login_first_delay_s)

    def known_device(self, conn: psycopg.Connection, device_token: str | None, account: str) -> str | None:
        """The hash of ``device_token`` when it is a known device of ``account`` (else None)."""
        if not device_token:
            return None
        digest = token_hash(device_token)
        row = fetch_one(conn, "SELECT 1 AS known FROM known_devices d JOIN users u ON u.id = d.user_id"
                              " WHERE d.token_hash = %(h)s AND lower(u.email) = %(account)s",
                        {"h": digest, "account": account})
        return digest if row else None

    def begin(self, conn: psycopg.Connection, account: str, address: str, device: str | None) -> Attempt:
        """Record an attempt (as failed until :meth:`succeeded`) and commit; raises :class:`RateLimited` (and
        removes it) when it comes too soon after the failures before it."""
        keys = [("device", device)] if device is not None else [("account", account), ("address", address)]
        known = max((w for w in map(self.refusals.wait, keys) if w is not None), default=None)
        if known is not None:
            raise RateLimited(max(1, math.ceil(known)))
        attempt_id = fetch_one(conn, "INSERT INTO login_attempts (account, address, device)"
                                     " VALUES (%(account)s, %(address)s, %(device)s) RETURNING id",
                               {"account": account, "address": address, "device": device})["id"]
        conn.commit()
        row = fetch_one(conn, FAILED_LOGINS_SQL, {"account": account, "address": address, "device": device,
                                                  "window": self.window_s, "id": attempt_id})
        now = row["now"]

        def wait(failures: int, last: datetime | None) -> float:
            if last is None:
                return 0.0
            due = last + timedelta(seconds=throttle_delay(failures, self.free, self.max_delay_s, self.first_delay_s))
            return max(0.0, (due - now).total_seconds())

        if device is not None:
            waits = [wait(row["device_failures"], row["device_last"])]
        else:
            address_wait = wait(row["address_failures"], row["address_last"])
            if row["address_failures"] >= self.hard_limit:
                address_wait = max(address_wait, (row["address_first"] + timedelta(seconds=self.window_s)
                                                  - now).total_seconds())
            waits = [wait(row["account_failures"], row["account_last"]), address_wait]
        for key, seconds in zip(keys, waits, strict=True):
            if seconds > 0:
                self.refusals.refuse(key, seconds)
        longest = max(waits)
        if longest > 0:
            conn.execute("DELETE FROM login_attempts WHERE id = %s", (attempt_id,))
            conn.commit()
            raise RateLimited(max(1, math.ceil(longest)))
        return Attempt(attempt_id, row["account_failures"], device)

    def succeeded(self, conn: psycopg.Connection, attempt: Attempt) -> None:
        conn.execute("UPDATE login_attempts SET succeeded = true WHERE id = %s", (attempt.id,))

    def prune(self, conn: psycopg.Connection) -> int:
        """Forget attempts older than the window (they no longer count)."""
        return conn.execute(
            "DELETE FROM login_attempts WHERE attempted_at < now() - make_interval(secs => %s)", (self.window_s,)
        ).rowcount


KNOWN_DEVICES_PER_USER = 20


def remember_device(conn: psycopg.Connection, user_id: int, device: str | None) -> str | None:
    """After a successful login: mark the known device used, or make a new one (its token, to set as the
    ``ty_device`` cookie). A user keeps the :data:`KNOWN_DEVICES_PER_USER` most recently used."""
    if device is not None:
        conn.execute("UPDATE known_devices SET last_used_at = now() WHERE token_hash = %s", (device,))
        return None
    token = new_token()
    conn.execute("INSERT INTO known_devices (token_hash, user_id) VALUES (%s, %s)", (token_hash(token), user_id))
    conn.execute("DELETE FROM known_devices WHERE user_id = %(u)s AND token_hash NOT IN (SELECT token_hash"
                 " FROM known_devices WHERE user_id = %(u)s ORDER BY last_used_at DESC LIMIT %(keep)s)",
                 {"u": user_id, "keep": KNOWN_DEVICES_PER_USER})
    return token
