"""Market views on a real database: demand snapshot counts, profession similarity, the domains view."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import psycopg
import pytest
from dagster import AssetKey, DagsterInstance, build_op_context, materialize
from pgvector.psycopg import register_vector

from ty_assets.catalogue import berufenet_catalogue
from ty_assets.embeddings import posting_embeddings
from ty_assets.labels import berufenet_labels
from ty_assets.market import (
    demand_checks,
    demand_snapshot,
    market_checks,
    profession_similarity,
    similarity_checks,
)
from ty_assets.market.similarity import nearest_neighbours, normalise
from ty_assets.postings import posting_descriptions, postings
from ty_assets.resources import (
    DatabaseResource,
    EmbedderResource,
    OllamaResource,
    PostingSourceResource,
    WebSearchResource,
)
from ty_resources.embedders import LocalEmbedder
from ty_resources.settings import get_settings

D = date(2026, 3, 10)
VERSION = "test-catalogue"
# Real KldB 5-digit codes (5th digit = level), one BERUFENET title each.
CODES = {
    "43412": "Berufe in der Softwareentwicklung - fachlich ausgerichtete Tätigkeiten",
    "43414": "Berufe in der Softwareentwicklung - hoch komplexe Tätigkeiten",
    "81302": "Berufe in der Gesundheits- und Krankenpflege (ohne Spezialisierung) - fachlich ausgerichtete Tätigkeiten",
    "81312": "Berufe in der Fachkrankenpflege - fachlich ausgerichtete Tätigkeiten",
    "51311": "Berufe in der Lagerwirtschaft - Helfer-/Anlerntätigkeiten",
}


def resources(db_url: str) -> dict:
    return {"database": DatabaseResource(database_url=db_url),
            "embedder": EmbedderResource(ollama=OllamaResource(hosts=""))}


def add_catalogue(conn: psycopg.Connection, codes: dict[str, str]) -> None:
    """The level-5 codes with all their ancestors, and one title ``<code>-001`` per code."""
    conn.execute("INSERT INTO catalogue_versions (version, source, sha256, professions, codes)"
                 " VALUES (%s, 'test', 'x', 0, 0) ON CONFLICT DO NOTHING", (VERSION,))
    for code, title in codes.items():
        for level in range(1, 6):
            prefix = code[:level]
            conn.execute(
                "INSERT INTO kldb_codes (code, level, title, short_title, description, parent_code, catalogue_version)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (prefix, level, title if level == 5 else f"Gruppe {prefix}", title[:40],
                 f"Tätigkeiten: {title}" if level == 5 else "", prefix[:-1] or None, VERSION),
            )
        conn.execute(
            "INSERT INTO professions (berufenet_id, name, name_male, name_female, kldb_code, level, is_supervisor,"
            " domain_code, catalogue_version) VALUES (%s, %s, %s, %s, %s, %s, false, %s, %s)",
            (f"{code}-001", title, title, title, code, int(code[4]), code[:2], VERSION),
        )


def add_posting(conn, refnr: str, state: str, first_seen: date, *, label: str | None = None,
                invalidated_on: date | None = None, last_seen: date | None = None) -> None:
    last_seen = last_seen or max(first_seen, (invalidated_on or first_seen) - timedelta(days=3))
    conn.execute(
        "INSERT INTO postings (refnr, title, title_normalized, state, raw, first_seen, last_seen, invalidated_at,"
        " invalidated_on, invalidated_reason, berufenet_id, label_source)"
        " VALUES (%(r)s, %(r)s, %(r)s, %(state)s, '{}', %(first)s, %(last)s, %(at)s, %(on)s, %(reason)s, %(label)s,"
        " %(source)s)",
        {"r": refnr, "state": state, "first": first_seen, "last": last_seen,
         "at": None if invalidated_on is None else f"{invalidated_on} 20:00+01", "on": invalidated_on,
         "reason": None if invalidated_on is None else "stale",
         "label": None if label is None else f"{label}-001", "source": None if label is None else "title"},
    )


def day(offset: int) -> date:
    return D + timedelta(days=offset)


@pytest.fixture
def demand_db(db_url: str) -> str:
    """Twelve postings around day D: labelled and not, new, invalidated before, on and after D, future."""
    with psycopg.connect(db_url) as conn:
        add_catalogue(conn, CODES)
        add_posting(conn, "P01", "Berlin", day(-3), label="43412")                         # active
        add_posting(conn, "P02", "Berlin", day(-1), label="43412")                         # active
        add_posting(conn, "P03", "Berlin", D, label="43412")                               # active, new
        add_posting(conn, "P04", "Bayern", day(-5), label="43412", invalidated_on=D)       # invalidated on D
        add_posting(conn, "P05", "Bayern", day(-5), label="43414", invalidated_on=day(-1))  # gone before D
        add_posting(conn, "P06", "Bayern", day(-2), label="43414", invalidated_on=day(1))   # active (goes later)
        add_posting(conn, "P07", "Hamburg", day(1), label="81302")                         # not yet seen
        add_posting(conn, "P08", "Hamburg", day(-4))                                       # active, unlabelled
        add_posting(conn, "P09", "Berlin", D)                                              # active, new, unlabelled
        add_posting(conn, "P10", "Hamburg", D, invalidated_on=D)                           # new and invalidated
        add_posting(conn, "P11", "Hessen", day(-10), label="51311")                        # active
        add_posting(conn, "P12", "Hessen", day(-1), label="81302")                         # active
    return db_url


def snapshot_rows(db_url: str, on: date) -> dict:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT berufenet_id, state, kldb_code, domain_code, level, active_postings, new_postings,"
            " invalidated_postings FROM demand_snapshots WHERE day = %s", (on,)).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


def test_demand_snapshot_counts_by_hand(demand_db, asset_metadata, markdown_table):
    result = materialize([demand_snapshot, *demand_checks], partition_key=D.isoformat(), resources=resources(demand_db),
                         instance=DagsterInstance.ephemeral())
    assert [e.passed for e in result.get_asset_check_evaluations()] == [True]
    assert snapshot_rows(demand_db, D) == {
        # (label, state): (code, domain, level, active, new, invalidated)
        ("43412-001", "Berlin"): ("43412", "43", 2, 3, 1, 0),
        ("43412-001", "Bayern"): ("43412", "43", 2, 0, 0, 1),
        ("43414-001", "Bayern"): ("43414", "43", 4, 1, 0, 0),
        ("51311-001", "Hessen"): ("51311", "51", 1, 1, 0, 0),
        ("81302-001", "Hessen"): ("81302", "81", 2, 1, 0, 0),
        (None, "Hamburg"): (None, None, None, 1, 1, 1),
        (None, "Berlin"): (None, None, None, 1, 1, 0),
    }
    m = asset_metadata(result, "demand_snapshot")
    assert (m["rows"], m["dagster/row_count"], m["active"], m["new"], m["invalidated"], m["unlabelled_active"]) == (
        7, 7, 8, 3, 2, 2)
    # The preview: the day's professions by new postings (P09 and P10 unlabelled, P03 labelled 43412).
    assert markdown_table(m["top_new_professions"]) == [["profession", "kldb", "new", "active"], ["(unlabelled)", "", "2", "2"], [CODES["43412"], "43412", "1", "3"]]

    previous = materialize([demand_snapshot, *demand_checks], partition_key=day(-1).isoformat(),
                           resources=resources(demand_db), instance=DagsterInstance.ephemeral())
    m = asset_metadata(previous, "demand_snapshot")
    # P01 P02 P04 P06 P08 P11 P12 active; P02 P12 new; P05 invalidated.
    assert (m["active"], m["new"], m["invalidated"], m["unlabelled_active"]) == (7, 2, 1, 1)
    assert all(e.passed for e in previous.get_asset_check_evaluations())
    assert len(snapshot_rows(demand_db, D)) == 7  # the other day is untouched


def test_demand_snapshot_rerun_replaces_the_day(demand_db):
    res = resources(demand_db)
    materialize([demand_snapshot], partition_key=D.isoformat(), resources=res, instance=DagsterInstance.ephemeral())
    first = snapshot_rows(demand_db, D)
    with psycopg.connect(demand_db) as conn:  # a label arrives for P08 and a posting is invalidated
        conn.execute("UPDATE postings SET berufenet_id = '81302-001', label_source = 'title' WHERE refnr = 'P08'")
        conn.execute("UPDATE postings SET invalidated_at = now(), invalidated_on = %s, invalidated_reason = 'stale'"
                     " WHERE refnr = 'P01'", (D,))
    materialize([demand_snapshot], partition_key=D.isoformat(), resources=res, instance=DagsterInstance.ephemeral())
    second = snapshot_rows(demand_db, D)
    assert ("81302-001", "Hamburg") in second and first[(None, "Hamburg")][3] == 1
    assert second[(None, "Hamburg")][3:] == (0, 1, 1)
    assert second[("43412-001", "Berlin")][3:] == (2, 1, 1)
    assert sum(r[3] for r in second.values()) == sum(r[3] for r in first.values()) - 1


def test_unlabelled_bucket_is_unique(demand_db):
    materialize([demand_snapshot], partition_key=D.isoformat(), resources=resources(demand_db),
                instance=DagsterInstance.ephemeral())
    with psycopg.connect(demand_db) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO demand_snapshots (day, state, active_postings, new_postings, invalidated_postings)"
                     " VALUES (%s, 'Hamburg', 1, 0, 0)", (D,))


def test_demand_check_fails_on_corrupted_snapshot(demand_db):
    materialize([demand_snapshot], partition_key=D.isoformat(), resources=resources(demand_db),
                instance=DagsterInstance.ephemeral())
    with psycopg.connect(demand_db) as conn:
        conn.execute("UPDATE demand_snapshots SET active_postings = active_postings + 1"
                     " WHERE day = %s AND berufenet_id = '43412-001' AND state = 'Berlin'", (D,))
    with build_op_context(partition_key=D.isoformat(), resources=resources(demand_db)) as ctx:
        result = demand_checks[0](ctx)
    assert not result.passed
    assert result.metadata["mismatches (snapshot, postings)"].value == {D.isoformat(): {"active": [9, 8]}}
    with build_op_context(resources=resources(demand_db)) as ctx:  # no partition: the latest stored day
        assert not demand_checks[0](ctx).passed


# --------------------------------------------------------------------------- similarity


def test_nearest_neighbours_order_ties_and_small_k():
    unit, ok = normalise(np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.0, 0.0], [1.0, 0.1]]))
    assert ok.tolist() == [True, True, True, False, True]
    unit = unit[ok]  # rows 0, 1, 2, 4 -> 0, 1, 2, 3 (1 and 3 identical)
    got = {i: (idx.tolist(), np.round(s, 6).tolist()) for i, idx, s in nearest_neighbours(unit, k=10, block=2)}
    c = float(np.round(1 / np.sqrt(1.01), 6))
    assert got[0] == ([1, 3, 2], [c, c, 0.0])  # tie by index
    assert got[1] == ([3, 0, 2], [1.0, c, float(np.round(0.1 / np.sqrt(1.01), 6))])
    assert got[3][0] == [1, 0, 2]
    assert all(i not in idx for i, (idx, _) in got.items())
    assert list(nearest_neighbours(unit[:1], k=3)) == []


def _around(axis: int, rng: np.random.Generator, dim: int) -> np.ndarray:
    """A unit vector near the ``axis`` unit vector."""
    vector = rng.normal(0.0, 0.02, size=dim)
    vector[axis] += 1.0
    return vector / np.linalg.norm(vector)


@pytest.fixture
def similarity_db(db_url: str, monkeypatch) -> tuple[str, dict[str, np.ndarray]]:
    """A and B (43412, 43414) around axis 0, C and D (81302, 81312) around axis 1, E (51311) too few postings."""
    monkeypatch.setenv("TY_SIMILARITY_MIN_POSTINGS", "3")
    monkeypatch.setenv("TY_SIMILARITY_TOP_K", "2")
    get_settings.cache_clear()
    embedder = LocalEmbedder(dimension=get_settings().local_embed_dimension)
    rng = np.random.default_rng(3)
    groups = {"43412": (0, 3), "43414": (0, 4), "81302": (1, 3), "81312": (1, 3), "51311": (0, 2)}
    vectors: dict[str, list[np.ndarray]] = {}
    with psycopg.connect(db_url) as conn:
        register_vector(conn)
        add_catalogue(conn, CODES)
        n = 0
        for code, (axis, count) in groups.items():
            for _ in range(count):
                n += 1
                refnr = f"S{n:03d}"
                add_posting(conn, refnr, "Berlin", day(-2), label=code)
                vector = _around(axis, rng, embedder.dimension)
                vectors.setdefault(code, []).append(vector)
                conn.execute("INSERT INTO posting_embeddings VALUES (%s, %s, %s, 'h', %s, now())",
                             (refnr, embedder.model, embedder.dimension, vector.astype(np.float32)))
        # Not counted: an invalidated posting of 81302 far away, a vector of another model for 43412.
        add_posting(conn, "X1", "Berlin", day(-9), label="81302", invalidated_on=day(-1))
        conn.execute("INSERT INTO posting_embeddings VALUES ('X1', %s, %s, 'h', %s, now())",
                     (embedder.model, embedder.dimension, -np.ones(embedder.dimension, dtype=np.float32) / 20))
        conn.execute("INSERT INTO posting_embeddings VALUES ('S001', 'other-model', 2, 'h', '[1, 0]', now())")
    centroids = {code: normalise(np.mean(np.stack(v), axis=0, keepdims=True))[0][0] for code, v in vectors.items()}
    return db_url, centroids


def neighbours(db_url: str, on: date = D) -> dict[str, list[tuple]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT kldb_code, neighbour_code, rank, score, basis, neighbour_basis, postings, model"
                            " FROM profession_similarity WHERE day = %s ORDER BY kldb_code, rank", (on,)).fetchall()
    out: dict[str, list[tuple]] = {}
    for row in rows:
        out.setdefault(row[0], []).append(row[1:])
    return out


def test_similarity_on_a_small_graph(similarity_db, asset_metadata):
    db_url, centroids = similarity_db
    result = materialize([profession_similarity, *similarity_checks], resources=resources(db_url),
                         instance=DagsterInstance.ephemeral(), partition_key=D.isoformat())
    assert [e.passed for e in result.get_asset_check_evaluations()] == [True, True, True]
    assert {e.partition for e in result.get_asset_check_evaluations()} == {D.isoformat()}
    got = neighbours(db_url)
    assert {code: rows[0][0] for code, rows in got.items() if code != "51311"} == {
        "43412": "43414", "43414": "43412", "81302": "81312", "81312": "81302"}
    assert all(len(rows) == 2 and [r[1] for r in rows] == [1, 2] for rows in got.values())
    model = LocalEmbedder(dimension=get_settings().local_embed_dimension).model
    for code, rows in got.items():
        assert rows[0][3] == ("catalogue" if code == "51311" else "postings")
        assert rows[0][5] == {"43412": 3, "43414": 4, "81302": 3, "81312": 3, "51311": 0}[code]
        assert all(r[6] == model for r in rows)
    # Scores are the cosines of the normalised centroids (the invalidated posting and the other model left out).
    assert got["43412"][0][2] == pytest.approx(float(centroids["43412"] @ centroids["43414"]), abs=1e-5)
    assert got["81302"][0][2] == pytest.approx(float(centroids["81302"] @ centroids["81312"]), abs=1e-5)
    assert got["43412"][0][2] > 0.8 and got["43412"][0][4] == "postings"
    m = asset_metadata(result, "profession_similarity")
    assert (m["codes"], m["codes_from_postings"], m["codes_from_catalogue"], m["pairs"]) == (5, 4, 1, 10)

    again = materialize([profession_similarity], resources=resources(db_url), instance=DagsterInstance.ephemeral(),
                        partition_key=D.isoformat())
    assert asset_metadata(again, "profession_similarity")["pairs"] == 10
    assert {c: [r[:2] for r in rows] for c, rows in neighbours(db_url).items()} == {
        c: [r[:2] for r in rows] for c, rows in got.items()}  # replaced, not appended

    # Two days earlier the invalidated posting of 81302 was still active: it is in that day's centroid, and
    # that day is kept beside D's.
    earlier = materialize([profession_similarity, *similarity_checks], resources=resources(db_url),
                          instance=DagsterInstance.ephemeral(), partition_key=day(-2).isoformat())
    assert all(e.passed for e in earlier.get_asset_check_evaluations())
    before = neighbours(db_url, day(-2))
    assert before["81302"][0][5] == 4 and got["81302"][0][5] == 3
    assert before["81302"][0][2] < got["81302"][0][2]  # the far-away vector pulled the centroid off
    assert neighbours(db_url) == got
    with psycopg.connect(db_url) as conn:
        latest = conn.execute("SELECT DISTINCT day FROM profession_similarity_latest").fetchall()
    assert latest == [(D,)]


@pytest.mark.parametrize(
    ("corruption", "failing"),
    [
        ("UPDATE profession_similarity SET neighbour_code = kldb_code WHERE kldb_code = '43412' AND rank = 2",
         "similarity_no_self_pairs"),
        ("UPDATE profession_similarity SET score = 1.5 WHERE kldb_code = '43412' AND rank = 1",
         "similarity_scores_in_range"),
        ("UPDATE profession_similarity SET score = 'NaN' WHERE kldb_code = '43412' AND rank = 1",
         "similarity_scores_in_range"),
        ("DELETE FROM profession_similarity WHERE kldb_code = '81312'", "similarity_covers_codes_with_postings"),
        ("UPDATE profession_similarity SET basis = 'catalogue' WHERE kldb_code = '81312'",
         "similarity_covers_codes_with_postings"),
    ],
)
def test_similarity_checks_fail_on_corrupted_data(similarity_db, corruption, failing):
    db_url, _ = similarity_db
    for key in (day(-1), D):
        materialize([profession_similarity], resources=resources(db_url), instance=DagsterInstance.ephemeral(),
                    partition_key=key.isoformat())
    with build_op_context(resources=resources(db_url), partition_key=D.isoformat()) as ctx:
        assert all(check(ctx).passed for check in similarity_checks)
    with psycopg.connect(db_url) as conn:
        conn.execute(corruption.replace("WHERE", f"WHERE day = '{D}' AND"))
    with build_op_context(resources=resources(db_url), partition_key=D.isoformat()) as ctx:
        outcomes = {check.check_key.name: check(ctx).passed for check in similarity_checks}
    assert outcomes == {name: name != failing for name in outcomes}
    with build_op_context(resources=resources(db_url), partition_key=day(-1).isoformat()) as ctx:
        assert all(check(ctx).passed for check in similarity_checks)  # the day before is untouched


# --------------------------------------------------------------------------- through the whole graph


def test_market_assets_after_the_daily_pipeline(db_url, small_snapshot, tmp_path, monkeypatch, asset_metadata):
    """Catalogue, then one day of the daily assets and that day's similarity, on one instance."""
    monkeypatch.setenv("TY_SIMILARITY_MIN_POSTINGS", "3")
    get_settings.cache_clear()
    snapshot_file = tmp_path / "snapshot.json.gz"
    small_snapshot.save(snapshot_file)
    res = {**resources(db_url), "source": PostingSourceResource(source="snapshot", snapshot_path=str(snapshot_file)),
           "ollama": OllamaResource(hosts="", require_llm=True), "web_search": WebSearchResource()}
    instance = DagsterInstance.ephemeral()
    first = small_snapshot.day_keys[0]
    assert materialize([berufenet_catalogue], resources=res, instance=instance).success
    daily = materialize([postings, posting_descriptions, posting_embeddings, berufenet_labels, demand_snapshot,
                         *demand_checks], partition_key=first, resources=res, instance=instance)
    assert all(e.passed for e in daily.get_asset_check_evaluations())
    market = materialize([profession_similarity, *similarity_checks], resources=res, instance=instance,
                         partition_key=first)
    assert market.success and all(e.passed for e in market.get_asset_check_evaluations())
    assert instance.get_latest_materialization_event(AssetKey("profession_similarity")) is not None
    assert {c.check_key.asset_key for c in market_checks} == {demand_snapshot.key, profession_similarity.key}

    demand = asset_metadata(daily, "demand_snapshot")
    similarity = asset_metadata(market, "profession_similarity")
    with psycopg.connect(db_url) as conn:
        active, labelled = conn.execute("SELECT count(*), count(berufenet_id) FROM postings"
                                        " WHERE invalidated_at IS NULL").fetchone()
        domains = conn.execute("SELECT code, name, professions, active_postings FROM domains ORDER BY code").fetchall()
        level5 = conn.execute("SELECT count(*) FROM kldb_codes WHERE level = 5 AND active").fetchone()[0]
    assert demand["active"] == active > 0 and demand["active"] - demand["unlabelled_active"] == labelled
    assert similarity["codes"] == level5 and similarity["codes_from_postings"] > 0
    assert similarity["pairs"] == level5 * get_settings().similarity_top_k
    # The 37 Berufshauptgruppen, in step with the catalogue, counting the active labelled postings.
    assert len(domains) == 37 and all(len(code) == 2 and name for code, name, _, _ in domains)
    assert all(n > 0 for _, _, n, _ in domains)
    assert sum(a for *_, a in domains) == labelled
