"""posting_embeddings through Dagster: local embedder by default, Ollama when configured."""

from __future__ import annotations

import psycopg
import pytest
from dagster import DagsterInstance, materialize

from ty_assets.embeddings import embedding_checks, posting_embeddings
from ty_assets.postings import posting_descriptions, postings
from ty_assets.resources import DatabaseResource, EmbedderResource, OllamaResource, PostingSourceResource
from ty_testing.ollama_server import CapacityModel, OllamaTestServer


@pytest.fixture
def snapshot_file(small_snapshot, tmp_path):
    path = tmp_path / "snapshot.json.gz"
    small_snapshot.save(path)
    return path


def run(db_url, day, snapshot_file, hosts: str = "", raise_on_error: bool = True):
    return materialize(
        [postings, posting_descriptions, posting_embeddings, *embedding_checks],
        partition_key=day,
        resources={
            "database": DatabaseResource(database_url=db_url),
            "source": PostingSourceResource(source="snapshot", snapshot_path=str(snapshot_file)),
            "embedder": EmbedderResource(ollama=OllamaResource(hosts=hosts)),
        },
        instance=DagsterInstance.ephemeral(),
        raise_on_error=raise_on_error,
    )


def test_local_embeddings_then_only_changed_texts(db_url, small_snapshot, snapshot_file, asset_metadata):
    day = small_snapshot.day_keys[0]
    first = run(db_url, day, snapshot_file)
    assert all(e.passed for e in first.get_asset_check_evaluations())
    m = asset_metadata(first, "posting_embeddings")
    assert m["model"].startswith("local-hash-") and m["dimension"] == 384
    with psycopg.connect(db_url) as conn:
        active = conn.execute("SELECT count(*) FROM postings WHERE last_seen = %s AND invalidated_at IS NULL", (day,)).fetchone()[0]
        assert m["embedded"] == active == conn.execute("SELECT count(*) FROM posting_embeddings").fetchone()[0]
        index = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (m["hnsw_index"],)).fetchone()[0]
        assert "hnsw" in index and "vector_cosine_ops" in index
        refnr = conn.execute("SELECT refnr FROM posting_descriptions WHERE status = 'ok' ORDER BY refnr LIMIT 1").fetchone()[0]
        conn.execute("UPDATE posting_descriptions SET description = 'Ganz neuer Text' WHERE refnr = %s", (refnr,))
    second = asset_metadata(run(db_url, day, snapshot_file), "posting_embeddings")
    assert (second["embedded"], second["unchanged"]) == (1, active - 1)
    assert asset_metadata(run(db_url, day, snapshot_file), "posting_embeddings")["embedded"] == 0


def test_nearest_neighbour_query_uses_the_model_index(db_url, small_snapshot, snapshot_file, asset_metadata):
    day = small_snapshot.day_keys[0]
    m = asset_metadata(run(db_url, day, snapshot_file), "posting_embeddings")
    with psycopg.connect(db_url) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT refnr FROM posting_embeddings WHERE model = %s"
            " ORDER BY embedding::vector(384) <=> (SELECT embedding::vector(384) FROM posting_embeddings LIMIT 1) LIMIT 5",
            (m["model"],)).fetchall())
    assert m["hnsw_index"] in plan


def _index_valid(db_url: str, name: str) -> bool | None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                           " WHERE c.relname = %s", (name,)).fetchone()
    return None if row is None else row[0]


def test_an_invalid_index_left_by_a_failed_concurrent_build_is_built_again(
        db_url, small_snapshot, snapshot_file, asset_metadata):
    """A concurrent build that fails or is killed leaves its index behind, invalid: never used, and IF NOT EXISTS
    would keep it for good. Made here by a concurrent build under the same name that fails (a unique index over
    a column with repeated values): the next run drops it and builds the HNSW index."""
    day = small_snapshot.day_keys[0]
    name = asset_metadata(run(db_url, day, snapshot_file), "posting_embeddings")["hnsw_index"]
    assert _index_valid(db_url, name) is True
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f'DROP INDEX "{name}"')
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{name}" ON posting_embeddings (model)')
    assert _index_valid(db_url, name) is False

    again = asset_metadata(run(db_url, day, snapshot_file), "posting_embeddings")
    assert again["hnsw_index"] == name and _index_valid(db_url, name) is True
    with psycopg.connect(db_url) as conn:
        definition = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (name,)).fetchone()[0]
    assert "USING hnsw" in definition


def test_ollama_embeddings_when_a_host_is_configured(db_url, small_snapshot, snapshot_file, asset_metadata):
    day = small_snapshot.day_keys[0]
    with OllamaTestServer(dimension=64, capacity=CapacityModel(time_scale=0)) as server:
        result = run(db_url, day, snapshot_file, hosts=server.url)
    m = asset_metadata(result, "posting_embeddings")
    assert (m["model"], m["dimension"]) == ("ollama:bge-m3", 64)
    assert m["ollama_texts"] >= m["embedded"] > 0 and m["ollama_errors"] == 0
    assert all(e.passed for e in result.get_asset_check_evaluations())


def test_missing_ollama_model_fails_the_run_at_start(db_url, small_snapshot, snapshot_file):
    day = small_snapshot.day_keys[0]
    with OllamaTestServer(models=("llama3:latest",), dimension=64, capacity=CapacityModel(time_scale=0)) as server:
        url = server.url
        result = run(db_url, day, snapshot_file, hosts=url, raise_on_error=False)
    assert not result.success
    errors = "\n".join(  # the resource fails while starting: no step ran
        e.event_specific_data.error.to_string() for e in result.all_events
        if getattr(e.event_specific_data, "error", None) is not None
    )
    assert "'bge-m3' is not installed" in errors and url in errors
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM posting_embeddings").fetchone()[0] == 0
