"""Accounts: registration, the login's lookups, the single-use tokens e-mailed for verification and password
resets, sessions listed and ended, and what the GDPR export reads and account deletion removes of one user.
Sessions and login attempts are written by :mod:`ty_web.security`."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from ty_web.queries import Row, UserQueries, fetch_one
from ty_web.schemas import (
    ExportAccount,
    ExportAccountToken,
    ExportCoverLetter,
    ExportCvDraft,
    ExportDevice,
    ExportLoginAttempt,
    ExportMatch,
    ExportMatchExplanation,
    ExportSession,
    ExportSuppression,
)


@dataclass(frozen=True)
class Registration:
    """What registering an address did: ``created`` a new unverified account, or found one (verified or not)."""

    user_id: int
    created: bool
    verified: bool


def register(conn: psycopg.Connection, email: str, password_hash: str) -> Registration:
    """A new unverified account for ``email``, or the one it has (whose password stays as it is: a verification
    link or a password reset, which prove the mailbox, replace it)."""
    row = fetch_one(conn, "INSERT INTO users (email, password_hash) VALUES (%(email)s, %(hash)s)"
                          " ON CONFLICT DO NOTHING RETURNING id",
                    {"email": email, "hash": password_hash})
    if row is not None:
        return Registration(row["id"], created=True, verified=False)
    row = fetch_one(conn, "SELECT id, email_verified_at IS NOT NULL AS verified FROM users"
                          " WHERE lower(email) = lower(%(email)s)", {"email": email})
    assert row is not None, "the conflicting account vanished"  # deleted between the two statements: rare
    return Registration(row["id"], created=False, verified=row["verified"])


def credentials(conn: psycopg.Connection, account: str) -> Row | None:
    """``id``, ``email``, ``password_hash`` and ``verified`` of the user whose e-mail, lower-cased, is
    ``account``; None if there is none."""
    return fetch_one(conn, "SELECT id, email, password_hash, email_verified_at IS NOT NULL AS verified FROM users"
                           " WHERE lower(email) = %(account)s", {"account": account})


class AccountQueries(UserQueries):
    """One user's account, and everything the GDPR export lists besides the profile and work history."""

    def record_login(self, new_hash: str | None) -> None:
        """A successful login: its time, and the password's new hash when it was rehashed (None: unchanged)."""
        self.execute("UPDATE users SET last_login_at = now(), password_hash = coalesce(%(new_hash)s, password_hash)"
                     " WHERE id = %(user_id)s", {"new_hash": new_hash})

    def account(self) -> ExportAccount:
        return self.fetch_one("SELECT id, email, created_at, email_verified_at, last_login_at FROM users"
                              " WHERE id = %(user_id)s", into=ExportAccount)

    def password_hash(self) -> str:
        return self.fetch_one("SELECT password_hash FROM users WHERE id = %(user_id)s")["password_hash"]

    def set_password(self, new_hash: str, *, keep_session: str | None, keep_device: str | None = None) -> None:
        """A new password: every session and token ends but ``keep_session`` (a hash), every known device but
        ``keep_device`` (a hash: the one asking) and every unused e-mail link is forgotten, and the address
        counts as verified (only its owner got this far)."""
        self.execute("UPDATE users SET password_hash = %(h)s, email_verified_at = coalesce(email_verified_at, now())"
                     " WHERE id = %(user_id)s", {"h": new_hash})
        self.execute("DELETE FROM sessions WHERE user_id = %(user_id)s AND token_hash IS DISTINCT FROM %(keep)s",
                     {"keep": keep_session})
        self.execute("DELETE FROM known_devices WHERE user_id = %(user_id)s AND token_hash IS DISTINCT FROM %(keep)s",
                     {"keep": keep_device})
        self.execute("DELETE FROM account_tokens WHERE user_id = %(user_id)s AND used_at IS NULL")

    def sessions(self, current_hash: str, idle_s: float | None = None) -> list[ExportSession]:
        """Sessions and bearer tokens (no hashes), oldest first; ``current``: the one hashed ``current_hash``.
        With ``idle_s`` only the live ones (unexpired, a cookie session used within ``idle_s``); without, every
        one stored (the GDPR export)."""
        return self.fetch_all("SELECT id, kind, user_agent, created_at, expires_at, last_used_at,"
                              " token_hash = %(current)s AS current FROM sessions WHERE user_id = %(user_id)s"
                              " AND (%(idle)s::float8 IS NULL OR (expires_at > now() AND (kind = 'bearer'"
                              "      OR last_used_at > now() - make_interval(secs => %(idle)s::float8))))"
                              " ORDER BY created_at, id",
                              {"current": current_hash, "idle": idle_s}, into=ExportSession)

    def end_session(self, session_id: int) -> bool:
        return self.execute("DELETE FROM sessions WHERE user_id = %(user_id)s AND id = %(id)s",
                            {"id": session_id}).rowcount > 0

    def end_other_sessions(self, current_hash: str) -> int:
        return self.execute("DELETE FROM sessions WHERE user_id = %(user_id)s AND token_hash <> %(current)s",
                            {"current": current_hash}).rowcount

    def known_devices(self) -> list[ExportDevice]:
        return self.fetch_all("SELECT created_at, last_used_at FROM known_devices WHERE user_id = %(user_id)s"
                              " ORDER BY created_at", into=ExportDevice)

    def account_tokens(self) -> list[ExportAccountToken]:
        return self.fetch_all("SELECT purpose, created_at, expires_at, used_at FROM account_tokens"
                              " WHERE user_id = %(user_id)s ORDER BY created_at", into=ExportAccountToken)

    def cover_letters(self) -> list[ExportCoverLetter]:
        return self.fetch_all("SELECT match_id, letter, created_at FROM cover_letters WHERE user_id = %(user_id)s"
                              " ORDER BY created_at", into=ExportCoverLetter)

    def match_explanations(self) -> list[ExportMatchExplanation]:
        """The LLM's explanations of the user's matches: derived from the profile, yet about the user (personal
        data), so exported; they go with the match and the account (ON DELETE CASCADE)."""
        return self.fetch_all("SELECT match_id, model, prompt_version, explanation, created_at"
                              " FROM match_explanations WHERE user_id = %(user_id)s ORDER BY created_at, match_id",
                              into=ExportMatchExplanation)

    def login_attempts(self) -> list[ExportLoginAttempt]:
        """Login attempts naming the user's e-mail (the limiter keys them by the e-mail, not the user). A failed
        one's address is left out: anyone can type someone's e-mail, and their address is theirs, not the user's."""
        return self.fetch_all("SELECT CASE WHEN succeeded THEN address END AS address, succeeded, attempted_at"
                              " FROM login_attempts"
                              " WHERE account = (SELECT lower(email) FROM users WHERE id = %(user_id)s)"
                              " ORDER BY attempted_at", into=ExportLoginAttempt)

    def cv_drafts(self) -> list[ExportCvDraft]:
        return self.fetch_all("SELECT id, filename_kind, anonymised_text, draft, created_at, imported_at"
                              " FROM cv_drafts WHERE user_id = %(user_id)s ORDER BY created_at", into=ExportCvDraft)

    def matches(self) -> list[ExportMatch]:
        return self.fetch_all("SELECT m.id, m.refnr, p.title, m.score, m.components, m.kldb_code, m.computed_at,"
                              " m.rating, m.feedback, m.decision, m.rated_at"
                              " FROM matches m LEFT JOIN postings p ON p.refnr = m.refnr"
                              " WHERE m.user_id = %(user_id)s ORDER BY m.score DESC, m.id", into=ExportMatch)

    def suppressions(self) -> list[ExportSuppression]:
        return self.fetch_all("SELECT kldb_code, created_at, source_match_id FROM suppressions"
                              " WHERE user_id = %(user_id)s ORDER BY created_at, kldb_code", into=ExportSuppression)

    def delete(self) -> None:
        """The user and every personal row: the tables with a ``user_id`` cascade from ``users``; login
        attempts, keyed by the e-mail, go with it in the same statement."""
        self.execute("WITH gone AS (DELETE FROM users WHERE id = %(user_id)s RETURNING email)"
                     " DELETE FROM login_attempts WHERE account IN (SELECT lower(email) FROM gone)")
