"""Passwords, session and bearer tokens, CSRF tokens, and the login rate limit.

- Passwords: argon2id (argon2-cffi's RFC 9106 low-memory profile), rehashed on login when the parameters
  change. A login for an unknown e-mail verifies a dummy hash, so both failures take about as long.
- Tokens (cookie sessions, bearer tokens, CSRF tokens): 32 random bytes, urlsafe base64 (256 bits).
  Only their sha256 is stored; a stolen copy of ``sessions`` signs nobody in.
- Login rate limit: failed attempts per account (the e-mail as typed, lower-cased) and per client address
  within a window. An attempt is recorded before the password is checked, so concurrent guesses count too;
  an attempt refused by the limit is not recorded (hammering does not extend the lock-out).

No password or token is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ty_resources.sqlfiles import sql_file
from ty_web.queries import fetch_one

SESSION_COOKIE = "ty_session"
CSRF_HEADER = "X-CSRF-Token"

_hasher = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4
_dummy_hash: str | None = None
_dummy_lock = threading.Lock()
# Each hash or verification holds 64 MiB: a burst of logins must not take the process's memory (40 threads
# of FastAPI's pool would want 2.5 GiB). More at once would not finish sooner on these cores anyway.
_argon2_slots = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))


def hash_password(password: str) -> str:
    with _argon2_slots:
        return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        with _argon2_slots:
            return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


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


def issue_session(conn: psycopg.Connection, user_id: int, kind: str, ttl: timedelta) -> IssuedSession:
    """A new cookie session (with a CSRF token) or bearer token for ``user_id``, inside the caller's transaction."""
    if kind not in {"cookie", "bearer"}:
        raise ValueError(f"unknown session kind {kind!r}")
    token = new_token()
    csrf = new_token() if kind == "cookie" else None
    row = fetch_one(
        conn,
        "INSERT INTO sessions (token_hash, user_id, kind, csrf_token_hash, expires_at)"
        " VALUES (%(hash)s, %(user_id)s, %(kind)s, %(csrf_hash)s, now() + make_interval(secs => %(ttl)s))"
        " RETURNING expires_at",
        {"hash": token_hash(token), "user_id": user_id, "kind": kind,
         "csrf_hash": token_hash(csrf) if csrf else None, "ttl": ttl.total_seconds()},
    )
    return IssuedSession(token=token, kind=kind, expires_at=row["expires_at"], csrf_token=csrf)


# last_used_at is written at most this often per session, not on every request.
TOUCH_INTERVAL_S = 300
FIND_SESSION_SQL = sql_file(__file__, "security_find_session.sql")
FAILED_LOGINS_SQL = sql_file(__file__, "security_failed_logins.sql")


def find_session(conn: psycopg.Connection, token: str) -> SessionInfo | None:
    """The unexpired session of ``token``; marks it used (at most every few minutes)."""
    digest = token_hash(token)
    row = fetch_one(conn, FIND_SESSION_SQL, {"h": digest, "touch": TOUCH_INTERVAL_S})
    if row is None:
        return None
    return SessionInfo(token_hash=digest, user_id=row["user_id"], email=row["email"], kind=row["kind"],
                       csrf_token_hash=row["csrf_token_hash"], expires_at=row["expires_at"])


def revoke_session(conn: psycopg.Connection, digest: str) -> None:
    conn.execute("DELETE FROM sessions WHERE token_hash = %s", (digest,))


def prune_expired_sessions(conn: psycopg.Connection) -> int:
    return conn.execute("DELETE FROM sessions WHERE expires_at <= now()").rowcount


# ------------------------------------------------------------------ login rate limit


class RateLimited(Exception):
    def __init__(self, retry_after_s: int):
        super().__init__(f"too many login attempts; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class LoginLimiter:
    """At most ``max_attempts`` failed logins per account and per address within ``window_s`` seconds."""

    def __init__(self, max_attempts: int, window_s: float):
        self.max_attempts = max_attempts
        self.window_s = window_s

    def begin(self, conn: psycopg.Connection, account: str, address: str) -> int:
        """Record an attempt (as failed until :meth:`succeeded`) and commit; raises :class:`RateLimited`
        when this attempt is over the limit for the account or the address (and then removes it)."""
        attempt_id = fetch_one(conn, "INSERT INTO login_attempts (account, address)"
                                     " VALUES (%(account)s, %(address)s) RETURNING id",
                               {"account": account, "address": address})["id"]
        conn.commit()
        row = fetch_one(conn, FAILED_LOGINS_SQL, {"account": account, "address": address, "window": self.window_s})
        waits = [float(row[wait]) for count, wait in (("by_account", "account_wait"), ("by_address", "address_wait"))
                 if row[count] > self.max_attempts and row[wait] is not None]
        if waits:
            conn.execute("DELETE FROM login_attempts WHERE id = %s", (attempt_id,))
            conn.commit()
            raise RateLimited(max(1, math.ceil(max(waits))))
        return attempt_id

    def succeeded(self, conn: psycopg.Connection, attempt_id: int) -> None:
        conn.execute("UPDATE login_attempts SET succeeded = true WHERE id = %s", (attempt_id,))

    def prune(self, conn: psycopg.Connection) -> int:
        """Forget attempts older than the window (they no longer count)."""
        return conn.execute(
            "DELETE FROM login_attempts WHERE attempted_at < now() - make_interval(secs => %s)", (self.window_s,)
        ).rowcount
