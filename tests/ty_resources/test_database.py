"""The embedded server: its settings."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import psycopg

from ty_resources.database import embedded_server_url


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
