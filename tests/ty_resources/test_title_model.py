"""The title model's rules: which keys are held out, what it learns from, when it is worse, how it is stored."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from ty_resources.code_model import VERSION as CODE_MODEL_VERSION
from ty_resources.code_model import CodeModel
from ty_resources.title_model import (
    HELD_OUT_EVERY,
    Metrics,
    Pair,
    Split,
    StoredModel,
    held_out,
    in_use_version,
    latest,
    load_model,
    load_pairs,
    store,
    verdict,
)


def _pair(key: str, code: str = "81302", postings: int = 1, berufenet_id: str | None = None) -> Pair:
    return Pair(key, key.title(), berufenet_id or f"{code}-1", code, postings)


def test_a_fifth_of_the_keys_is_held_out_by_the_key_alone():
    keys = [f"pflegefachkraft station {i}" for i in range(5000)]
    share = sum(map(held_out, keys)) / len(keys)
    assert abs(share - 1 / HELD_OUT_EVERY) < 0.02
    assert [held_out(k) for k in keys] == [held_out(k) for k in keys]  # the same every day, every process


def test_split_never_trains_on_a_held_out_key_and_takes_the_majority_title_as_its_truth():
    keys = [f"titel {i}" for i in range(400)]
    pairs = sorted([_pair(k, "81302", postings=3) for k in keys] + [_pair(k, "82102", postings=1) for k in keys],
                   key=lambda p: -p.postings)  # as load_pairs orders them: the most postings first
    split = Split.of(pairs, max_pairs=10_000, eval_pairs=10_000)
    assert {p.title_key for p in split.train}.isdisjoint({p.title_key for p in split.held_out})
    assert {p.title_key for p in split.held_out} == {k for k in keys if held_out(k)}
    assert all(p.kldb_code == "81302" for p in split.held_out)  # one pair per key: its majority
    assert len(split.train) == 2 * sum(not held_out(k) for k in keys)  # both readings of a training key
    capped = Split.of(pairs, max_pairs=50, eval_pairs=20)
    assert len(capped.train) == 50 and len(capped.held_out) == 20
    # a fixed sample by the key's hash, not the first keys in frequency order
    assert [p.title_key for p in capped.held_out] != sorted(p.title_key for p in capped.held_out)
    assert capped.held_out == Split.of(pairs, 50, 20).held_out


def test_the_version_follows_what_it_learns_from():
    pairs = [_pair(f"titel {i}") for i in range(50)]
    split = Split.of(pairs, 1000, 1000)
    assert split.version("cat-1") == Split.of(list(reversed(pairs)), 1000, 1000).version("cat-1")
    assert split.version("cat-1") != split.version("cat-2")
    moved = [*pairs[:-1], _pair(pairs[-1].title_key, "82102")]
    assert held_out(pairs[-1].title_key) or Split.of(moved, 1000, 1000).version("cat-1") != split.version("cat-1")


def test_metrics_count_the_first_candidate_and_the_matched_code():
    pairs = [_pair("a", "81302"), _pair("b", "81302"), _pair("c", "82102"), _pair("d", "82102")]
    metrics = Metrics.of(pairs, ["81302", "82101", "82102", "82102"], ["81302", None, "82101", None])
    assert metrics == Metrics(4, 0.75, 0.5, 0.5, 0.25)
    assert Metrics.of([], [], []) == Metrics(0, 0.0, 0.0, 1.0, 0.0)


@pytest.mark.parametrize(("candidate", "passed", "why"), [
    (Metrics(1000, 0.80, 0.60, 0.98, 0.588), True, "top-1 accuracy 0.8000"),
    (Metrics(1000, 0.797, 0.60, 0.98, 0.588), True, ""),  # within the tolerance
    (Metrics(1000, 0.79, 0.60, 0.98, 0.588), False, "top-1 accuracy below"),
    (Metrics(1000, 0.80, 0.50, 0.99, 0.495), False, "settles fewer titles right"),  # sure of fewer
    (Metrics(1000, 0.80, 0.70, 0.95, 0.665), False, "precision of matched below"),
    (Metrics(1000, 0.80, 0.70, 0.975, 0.6825), True, ""),  # lower precision, still at the target
    (Metrics(0, 0.0, 0.0, 1.0, 0.0), False, "no held-out pairs"),
])
def test_verdict(candidate, passed, why):
    in_use = Metrics(1000, 0.80, 0.60, 0.98, 0.588)
    ok, reason = verdict(candidate, in_use, target_precision=0.97)
    assert ok is passed and why in reason


def test_one_pair_is_the_least_a_small_evaluation_may_lose():
    in_use = Metrics(25, 0.60, 0.60, 0.8667, 0.52)
    assert verdict(Metrics(25, 0.56, 0.60, 0.8667, 0.52), in_use, 0.97)[0]
    assert not verdict(Metrics(25, 0.52, 0.60, 0.8667, 0.52), in_use, 0.97)[0]


def _tiny_model() -> CodeModel:
    examples = [("pflegefachkraft", "81302"), ("krankenpfleger", "81302"), ("altenpfleger", "82102"),
                ("altenpflegerin", "82102"), ("erzieher", "83112"), ("erzieherin", "83112")]
    return CodeModel.train(examples, ["81302", "82102", "83112"], jobs=1)


def _stored(version: str, accepted: bool, catalogue: str = "cat-1") -> StoredModel:
    metrics = Metrics(10, 0.8, 0.6, 0.98, 0.59).as_json()
    return StoredModel(version, catalogue, 100, 10, CODE_MODEL_VERSION, {"candidate": metrics, "in_use": metrics},
                       accepted, "why")


def test_stored_models_load_as_they_score_and_only_accepted_ones_are_used(db_url):
    model = _tiny_model()
    codes = ["81302", "82102", "83112"]
    with psycopg.connect(db_url) as conn:
        assert in_use_version(conn, "cat-1") == CODE_MODEL_VERSION and latest(conn) is None
        store(conn, model, _stored("title-model-a", accepted=True))
        loaded = load_model(conn, "title-model-a", codes)
        texts = ["altenpflegerin nachtdienst", "erzieher kita"]
        assert np.allclose(loaded.scores(texts), model.scores(texts))
        assert in_use_version(conn, "cat-1") == "title-model-a"
        assert in_use_version(conn, "cat-2") == CODE_MODEL_VERSION  # a model holds for its catalogue only
        store(conn, model, _stored("title-model-b", accepted=False))  # worse: kept, not used
        assert in_use_version(conn, "cat-1") == "title-model-a" and latest(conn).version == "title-model-b"
        store(conn, model, _stored("title-model-c", accepted=True))
        assert in_use_version(conn, "cat-1") == "title-model-c"
        weights = dict(conn.execute("SELECT version, model IS NOT NULL FROM title_models").fetchall())
        assert weights == {"title-model-a": False, "title-model-b": False, "title-model-c": True}
        with pytest.raises(ValueError, match="not stored"):
            load_model(conn, "title-model-a", codes)
        with pytest.raises(ValueError, match="do not load"):
            load_model(conn, "title-model-c", ["81302", "99999"])  # another catalogue's codes
        conn.execute("UPDATE title_models SET model = 'not an npz' WHERE version = 'title-model-c'")
        with pytest.raises(ValueError, match="do not load"):
            load_model(conn, "title-model-c", codes)


def test_pairs_are_the_postings_whose_beruf_names_an_active_title(db_url):
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO catalogue_versions (version, source, sha256, professions, codes)"
                     " VALUES ('v', 's', 'x', 2, 1)")
        conn.execute("INSERT INTO kldb_codes (code, level, title, short_title, parent_code, catalogue_version)"
                     " VALUES ('8', 1, 'B', 'B', NULL, 'v'), ('81', 2, 'B', 'B', '8', 'v'),"
                     " ('813', 3, 'B', 'B', '81', 'v'), ('8130', 4, 'B', 'B', '813', 'v'),"
                     " ('81302', 5, 'Krankenpflege', 'Krankenpflege', '8130', 'v')")
        conn.execute("INSERT INTO professions (berufenet_id, name, name_male, name_female, kldb_code, level,"
                     " is_supervisor, domain_code, catalogue_version, active) VALUES"
                     " ('81302-101', 'Pflegefachmann/-frau', 'Pflegefachmann', 'Pflegefachfrau', '81302', 2, false,"
                     "  '81', 'v', true),"
                     " ('81302-102', 'Krankenpfleger/in', 'Krankenpfleger', 'Krankenpflegerin', '81302', 2, false,"
                     "  '81', 'v', false)")
        rows = [("1", "Pflegefachkraft (m/w/d)", "pflegefachkraft", "Pflegefachmann/-frau"),
                ("2", "Pflegefachkraft Intensiv", "pflegefachkraft", "Pflegefachmann/-frau"),
                ("3", "Pflegekraft", "pflegekraft", "Krankenpfleger/in"),  # retired title: no pair
                ("4", "Pflegehilfe", "pflegehilfe", None),
                ("5", "Pflegeexperte", "pflegeexperte", "Pflegeexperte/-expertin")]  # not a catalogue title
        conn.cursor().executemany(
            "INSERT INTO postings (refnr, title, title_normalized, beruf, state, raw, first_seen, last_seen)"
            " VALUES (%s, %s, %s, %s, 'Berlin', '{}', current_date, current_date)", rows)
        assert load_pairs(conn) == [Pair("pflegefachkraft", "Pflegefachkraft (m/w/d)", "81302-101", "81302", 2)]
