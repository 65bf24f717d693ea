"""What the web API forgets on its own: expired and idle sessions, login attempts and rate-limit rows that no
longer count, used or expired e-mail links, expired CV drafts, accounts whose address was never confirmed.

Each worker of the API runs :func:`prune` at start and then every ``interval_s`` in a daemon thread
(:class:`Housekeeper`); several workers doing it at once only delete the same rows. Nothing here depends on
anyone signing in: a login attempt's address is gone after ``TY_LOGIN_WINDOW_S`` even on a quiet day.
"""

from __future__ import annotations

import logging
import threading

import psycopg

from ty_resources.database import Database
from ty_resources.settings import Settings

log = logging.getLogger("ty.web.housekeeping")

INTERVAL_S = 600.0

STATEMENTS: dict[str, str] = {
    "sessions": "DELETE FROM sessions WHERE expires_at <= now()"
                " OR (kind = 'cookie' AND last_used_at < now() - make_interval(secs => %(idle_s)s))",
    "login_attempts": "DELETE FROM login_attempts WHERE attempted_at < now() - make_interval(secs => %(window_s)s)",
    "rate_limits": "DELETE FROM rate_limits WHERE tat < now()",
    "account_tokens": "DELETE FROM account_tokens WHERE expires_at <= now() OR used_at IS NOT NULL",
    "cv_drafts": "DELETE FROM cv_drafts WHERE created_at < now() - make_interval(days => %(draft_days)s)",
    "unverified_accounts": "DELETE FROM users WHERE email_verified_at IS NULL"
                           " AND created_at < now() - make_interval(secs => %(unverified_s)s)",
}


def prune(conn: psycopg.Connection, settings: Settings) -> dict[str, int]:
    """Delete what no longer counts (see the module docstring); rows deleted per kind."""
    params = {"idle_s": settings.session_idle_hours * 3600, "window_s": settings.login_window_s,
              "unverified_s": settings.unverified_account_days * 86400, "draft_days": settings.cv_draft_days}
    return {kind: conn.execute(statement, params).rowcount for kind, statement in STATEMENTS.items()}


class Housekeeper:
    """:func:`prune` now and every ``interval_s`` until :meth:`stop`; a failure is logged and tried again."""

    def __init__(self, db: Database, settings: Settings, interval_s: float = INTERVAL_S):
        self.db = db
        self.settings = settings
        self.interval_s = interval_s
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ty-web-housekeeping", daemon=True)

    def start(self) -> Housekeeper:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self.db.connection() as conn:
                    pruned = prune(conn, self.settings)
                if any(pruned.values()):
                    log.info("pruned", extra={"rows": pruned})
            except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
                log.warning("housekeeping failed; trying again later", exc_info=True)
            self.runs += 1
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
