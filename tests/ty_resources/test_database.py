"""The embedded server: its settings; the pool's sessions."""

from __future__ import annotations

import atexit
import select
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from ty_resources.database import Database, embedded_server_url


def _shared_buffers(url: str) -> tuple[str, list[tuple[str, bool]]]:
    with psycopg.connect(url) as conn:
        running = conn.execute("SHOW shared_buffers").fetchone()[0]
        in_files = conn.execute(
            "SELECT setting, applied FROM pg_file_settings WHERE name = 'shared_buffers' ORDER BY seqno"
        ).fetchall()
    return running, in_files


def test_embedded_server_applies_its_shared_buffers_at_once_when_new_and_at_the_next_start_else():
    folder = Path(tempfile.mkdtemp(prefix="ty-test-pg-settings-"))
    atexit.register(shutil.rmtree, folder, True)  # runs after the server's own exit hook has stopped it
    url = embedded_server_url(folder / "pg", "160MB")
    running, in_files = _shared_buffers(url)
    assert running == "160MB"  # a new data folder: restarted before anyone used it
    assert in_files[-1] == ("160MB", True)

    url = embedded_server_url(folder / "pg", "192MB")  # joining the running server: no restart under others
    running, in_files = _shared_buffers(url)
    assert running == "160MB"
    assert in_files[-1] == ("192MB", False)  # in postgresql.auto.conf, for the next start


def test_a_pooled_session_idle_inside_a_transaction_is_ended_by_the_server(db_url):
    with Database(db_url, min_size=0, max_size=1, idle_in_transaction_timeout_s=0.5) as db:
        with db.connection() as conn:
            assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone()[0] == "500ms"
            conn.execute("SELECT 1")  # a transaction is open now
            # The server ends the session by sending its error and closing the socket: wait for that.
            readable, _, _ = select.select([conn.fileno()], [], [], 30)
            assert readable, "the idle transaction was never ended"
            with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
                conn.execute("SELECT 1")
        with db.connection() as conn:  # the pool replaced the ended session
            assert conn.execute("SELECT 1").fetchone() == (1,)
    with Database(db_url, min_size=0, max_size=1, idle_in_transaction_timeout_s=0) as db, db.connection() as conn:
        assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone()[0] == "0"
    # set per session, so a URL's own options (search_path, ...) stay and PgBouncer sees no startup options
    with_options = db_url + ("&" if "?" in db_url else "?") + "options=-csearch_path%3Dpublic"
    with Database(with_options, min_size=0, max_size=1, idle_in_transaction_timeout_s=0.5) as db, \
            db.connection() as conn:
        assert conn.execute("SHOW search_path").fetchone()[0] == "public"
        assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone()[0] == "500ms"
