"""title_model through Dagster on a real database: it learns from the BA's own labels, berufenet_labels uses it,
and its blocking check keeps a model trained on wrong labels out of use.

The world is the catalogue's Berufsbereich 8 (health, social work, teaching: 2,498 titles, 328 codes) so that a
model trains in seconds; the rules are the same as for the whole catalogue."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance, materialize

from ty_assets.catalogue import berufenet_catalogue
from ty_assets.labels import berufenet_labels, title_model
from ty_assets.postings import posting_descriptions, postings
from ty_assets.resources import (
    DatabaseResource,
    EmbedderResource,
    OllamaResource,
    PostingSourceResource,
    WebSearchResource,
)
from ty_resources.code_model import VERSION as CODE_MODEL_VERSION
from ty_resources.germany import BERLIN
from ty_resources.kldb import BUNDLED_KLDB_PATH, read_kldb
from ty_resources.sample import generate_snapshot
from ty_resources.title_model import MIN_HELD_OUT, held_out, in_use_version
from ty_resources.vocabulary import job_board_vocabulary


def _berufsbereich(path: Path, first_digit: str) -> Path:
    """The bundled KldB file cut to one Berufsbereich (a code's first digit), header kept."""
    lines = BUNDLED_KLDB_PATH.read_bytes().decode("utf-8-sig").splitlines(keepends=True)
    kept = [lines[0]]
    for line in lines[1:]:
        row = next(csv.reader(io.StringIO(line), delimiter=";"))
        if row[0].strip().zfill(int(row[1]))[0] == first_digit:
            kept.append(line)
    path.write_text("".join(kept), encoding="utf-8")
    return path


@pytest.fixture
def care(db_url, tmp_path, monkeypatch):
    """Berufsbereich 8 loaded, and three days of postings of which nine in ten carry `beruf`."""
    path = _berufsbereich(tmp_path / "kldb-8.csv", "8")
    monkeypatch.setenv("TY_CATALOGUE_PATH", str(path))
    monkeypatch.setenv("TY_TITLE_MODEL_MIN_NEW_POSTINGS", "1000")
    catalogue = read_kldb(path)
    snapshot = generate_snapshot(catalogue, seed=11, days=3, postings=6000, beruf_share=0.9,
                                 end_date=datetime.now(BERLIN).date())
    snapshot.save(tmp_path / "snapshot.json.gz")
    resources = {
        "database": DatabaseResource(database_url=db_url),
        "source": PostingSourceResource(source="snapshot", snapshot_path=str(tmp_path / "snapshot.json.gz")),
        "embedder": EmbedderResource(ollama=OllamaResource(hosts="")),
        "ollama": OllamaResource(hosts="", require_llm=True),
        "web_search": WebSearchResource(),
    }
    materialize([berufenet_catalogue], resources=resources, instance=DagsterInstance.ephemeral())
    for day in snapshot.day_keys:
        materialize([postings], partition_key=day, resources=resources, instance=DagsterInstance.ephemeral())
    return catalogue, snapshot, resources


def _train(resources):
    return materialize([title_model], resources=resources, instance=DagsterInstance.ephemeral(),
                       raise_on_error=False)


def _poison(db_url, day: date) -> int:
    """A day on which the BA's `beruf` names the wrong profession: three postings for each title key that is not
    held out, with the key's example title and a title of another 3-digit group (the held-out pairs stay
    true, as they would when one day's labels came out wrong)."""
    search = job_board_vocabulary().search_key
    with psycopg.connect(db_url) as conn:
        names = conn.execute("SELECT name, kldb_code FROM professions WHERE active ORDER BY kldb_code, name").fetchall()
        keys = conn.execute("SELECT title_normalized, min(title), min(p.kldb_code) FROM postings"
                            " JOIN professions p ON p.name = postings.beruf GROUP BY 1 ORDER BY 1").fetchall()
        rows = []
        for i, (key, title, code) in enumerate(keys):
            if held_out(search(key)):
                continue
            wrong = next(name for name, other in names[i % len(names):] + names if other[:3] != code[:3])
            rows += [(f"POISON-{i}-{n}", title, key, wrong, "Berlin", json.dumps({"titel": title}), day, day)
                     for n in range(3)]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO postings (refnr, title, title_normalized, beruf, state, raw, first_seen,"
                            " last_seen) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
    return len(rows)


def test_title_model_learns_from_beruf_the_labels_use_it_and_a_worse_one_is_blocked(db_url, care, asset_metadata):
    _catalogue, snapshot, resources = care
    result = _train(resources)
    assert result.success
    first = asset_metadata(result, "title_model")
    assert first["trained"] and first["accepted"], first["verdict"]
    assert first["in_use"] == CODE_MODEL_VERSION and first["held_out_pairs"] >= MIN_HELD_OUT
    assert first["labelled_postings"] >= 1000 and first["train_pairs"] > 200
    # what the BA's labels taught it shows on titles it never saw, and it is sure of no fewer of them
    assert first["candidate_accuracy"] >= first["in_use_accuracy"]
    assert first["candidate_settled_right"] >= first["in_use_settled_right"] - 0.02
    (check,) = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["latest"].value == first["version"]
    with psycopg.connect(db_url) as conn:
        catalogue_version = conn.execute("SELECT max(version) FROM catalogue_versions").fetchone()[0]
        assert in_use_version(conn, catalogue_version) == first["version"]

    day = snapshot.day_keys[-1]
    labelled = materialize([posting_descriptions, berufenet_labels], partition_key=day, resources=resources,
                           instance=DagsterInstance.ephemeral())
    assert asset_metadata(labelled, "berufenet_labels")["title_model"] == first["version"]

    again = _train(resources)  # no new pairs: nothing trained, the check passes, the model in use stays
    again_meta = asset_metadata(again, "title_model")
    assert again.success and not again_meta["trained"] and again_meta["in_use"] == first["version"]
    assert again_meta["reason"].startswith("0 postings with a usable `beruf` since")

    poisoned = _poison(db_url, date.fromisoformat(day) + timedelta(days=1))
    assert poisoned >= 1000
    result = _train(resources)
    assert not result.success  # the blocking check failed the run
    meta = asset_metadata(result, "title_model")
    assert meta["trained"] and not meta["accepted"] and meta["in_use"] == first["version"]
    assert meta["candidate_accuracy"] < meta["in_use_accuracy"]
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and "fewer than the model in use" in check.metadata["verdict"].value
    with psycopg.connect(db_url) as conn:
        assert in_use_version(conn, catalogue_version) == first["version"]
        stored = dict(conn.execute("SELECT version, accepted FROM title_models").fetchall())
        weights = conn.execute("SELECT count(*) FROM title_models WHERE model IS NOT NULL").fetchone()[0]
    assert stored == {first["version"]: True, meta["version"]: False} and weights == 2
    labelled = materialize([posting_descriptions, berufenet_labels], partition_key=day, resources=resources,
                           instance=DagsterInstance.ephemeral())
    assert asset_metadata(labelled, "berufenet_labels")["title_model"] == first["version"]
