"""What every benchmark needs: a server of its own and fresh, migrated databases on it."""

from __future__ import annotations

import atexit
import random
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from ty_resources.database import embedded_server_url, redact, scratch_database
from ty_resources.settings import get_settings


def server_url() -> tuple[str, str]:
    """Admin URL of the server to use, and a label for it.

    ``DATABASE_URL`` if set (its role must be allowed to CREATE DATABASE; only
    ``ty_bench_<random>`` databases are created and dropped), else a throwaway
    embedded PostgreSQL in a temporary folder, stopped and deleted at exit.
    """
    url = get_settings().database_url
    if url:
        return url, redact(url)
    tmpdir = tempfile.mkdtemp(prefix="ty-bench-")
    atexit.register(shutil.rmtree, tmpdir, True)  # registered first: runs after the server stops
    return embedded_server_url(Path(tmpdir) / "pg"), f"embedded, {tmpdir}"


def fresh_database(admin_url: str) -> AbstractContextManager[str]:
    """A new, migrated, empty database, dropped afterwards."""
    return scratch_database(admin_url, "ty_bench")


def table_digest(url: str, table: str, order_by: str, row: str = "t") -> tuple[int, str]:
    """Row count and md5 of every row in ``order_by`` order (``row``: the expression hashed per row)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"SELECT count(*), md5(coalesce(string_agg({row}::text, '|' ORDER BY {order_by}), '')) FROM {table} t"
        ).fetchone()


def scripted_llm(truth_of: Mapping[str, Any], by_id: Mapping[str, Any], accuracy: float, seed: int = 7):
    """A chat script for the Ollama test server that stands in for a model right ``accuracy`` of the time:
    it knows each title's true profession (``truth_of``) and picks a candidate of that KldB code when one
    is shown, else answers UNCERTAIN (right one shown but missed) or NONE."""
    oracle = random.Random(seed)

    def answer(body: dict) -> dict:
        text = body["messages"][-1]["content"]
        title = text.split("\n", 1)[0].removeprefix("Title: ")
        ids = body["format"]["properties"]["choice"]["enum"][:-2]
        true = truth_of.get(title)
        right = [i for i in ids if true and by_id[i].kldb_code == true.kldb_code]
        # reasons as long as a real model's one sentence (~30 tokens): the test server charges by the token
        if right and oracle.random() < accuracy:
            return {"choice": right[0], "reason": "The title names this occupation, only in another spelling and form."}
        return {"choice": "NONE" if not right else "UNCERTAIN",
                "reason": "None of the candidates names the occupation that this title advertises."}

    return answer


def copy_embeddings(conn: psycopg.Connection, model: str, dimension: int,
                    batches: Iterable[tuple[Sequence[str], Any]], hashes: Mapping[str, str] | None = None) -> int:
    """Binary COPY of ``(refnrs, vectors)`` batches into ``posting_embeddings`` for ``model``; rows written.
    ``hashes``: each posting's text hash (as the asset computes it), so the asset takes them as up to date.
    The connection needs pgvector's types registered (``pgvector.psycopg.register_vector``)."""
    now = datetime.now(UTC)
    written = 0
    with conn.cursor() as cur, cur.copy(
        "COPY posting_embeddings (refnr, model, dimension, text_hash, embedding, embedded_at)"
        " FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["text", "text", "int4", "text", "vector", "timestamptz"])
        for refnrs, vectors in batches:
            for refnr, vector in zip(refnrs, vectors):
                copy.write_row((refnr, model, dimension, hashes[refnr] if hashes else "bench", vector, now))
                written += 1
    return written
