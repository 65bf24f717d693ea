"""Accounts: registration and the login's lookups, and what the GDPR export reads and account deletion
removes of one user. Sessions and login attempts are written by :mod:`ty_web.security`."""

from __future__ import annotations

import psycopg

from ty_web.queries import Row, UserQueries, fetch_one
from ty_web.schemas import (
    AccountOut,
    ExportAccount,
    ExportCvDraft,
    ExportLoginAttempt,
    ExportMatch,
    ExportSession,
    ExportSuppression,
)


def create_user(conn: psycopg.Connection, email: str, password_hash: str) -> AccountOut | None:
    """The new account; None when the e-mail has one already (in any case)."""
    return fetch_one(conn, "INSERT INTO users (email, password_hash) VALUES (%(email)s, %(hash)s)"
                           " ON CONFLICT DO NOTHING RETURNING id, email, created_at",
                     {"email": email, "hash": password_hash}, into=AccountOut)


def credentials(conn: psycopg.Connection, account: str) -> Row | None:
    """``id`` and ``password_hash`` of the user whose e-mail, lower-cased, is ``account``; None if there is none."""
    return fetch_one(conn, "SELECT id, password_hash FROM users WHERE lower(email) = %(account)s",
                     {"account": account})


class AccountQueries(UserQueries):
    """One user's account, and everything the GDPR export lists besides the profile and work history."""

    def record_login(self, new_hash: str | None) -> None:
        """A successful login: its time, and the password's new hash when it was rehashed (None: unchanged)."""
        self.execute("UPDATE users SET last_login_at = now(), password_hash = coalesce(%(new_hash)s, password_hash)"
                     " WHERE id = %(user_id)s", {"new_hash": new_hash})

    def account(self) -> ExportAccount:
        return self.fetch_one("SELECT id, email, created_at, last_login_at FROM users WHERE id = %(user_id)s",
                              into=ExportAccount)

    def sessions(self, current_hash: str) -> list[ExportSession]:
        """Sessions and bearer tokens (no hashes), oldest first; ``current``: the one hashed ``current_hash``."""
        return self.fetch_all("SELECT kind, created_at, expires_at, last_used_at, token_hash = %(current)s AS current"
                              " FROM sessions WHERE user_id = %(user_id)s ORDER BY created_at",
                              {"current": current_hash}, into=ExportSession)

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
