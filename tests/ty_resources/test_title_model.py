"""The title model's rules: which keys are held out, what it learns from, when it is worse, how it is stored."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import psycopg
import pytest

from ty_resources.code_model import VERSION as CODE_MODEL_VERSION
from ty_resources.code_model import CodeModel
from ty_resources.title_model import (
    HELD_OUT_EVERY,
    MIN_HELD_OUT,
    Outcome,
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
from ty_resources.vocabulary import job_board_vocabulary


def _pair(key: str, code: str = "81302", postings: int = 1) -> Pair:
    return Pair(key, key.title(), f"{code}-101", code, postings)


def _split(pairs, max_pairs=10_000, eval_pairs=10_000, readings=()) -> Split:
    return Split.of(pairs, job_board_vocabulary().search_key, set(readings).__contains__, max_pairs, eval_pairs)


def test_a_fifth_of_the_searched_texts_is_held_out_by_the_text_alone():
    texts = [f"pflegefachkraft station {i}" for i in range(5000)]
    share = sum(map(held_out, texts)) / len(texts)
    assert abs(share - 1 / HELD_OUT_EVERY) < 0.02
    assert [held_out(t) for t in texts] == [held_out(t) for t in texts]  # the same every day, every process


def test_keys_that_search_alike_fall_on_the_same_side():
    """`erzieher kita jobrad` searches as `erzieher kita` does (advertising left out): were one held out and
    the other trained on, the held-out pair would be tested on its own training text."""
    search = job_board_vocabulary().search_key
    twins = [("erzieher kita", "erzieher kita jobrad"), ("kraftfahrer ce nahverkehr", "berufskraftfahrer nahverkehr")]
    for a, b in twins:
        assert search(a) == search(b)
    pairs = [_pair(k) for pair in twins for k in pair] + [_pair(f"erzieher kita {i}") for i in range(200)]
    split = _split(pairs)
    trained = {search(p.title_key) for p in split.train}
    assert trained.isdisjoint({search(p.title_key) for p in split.held_out})


def test_a_key_trains_and_is_judged_by_its_majority_title_only():
    keys = [f"titel {i}" for i in range(400)]
    pairs = sorted([_pair(k, "81302", postings=3) for k in keys] + [_pair(k, "82102", postings=1) for k in keys],
                   key=lambda p: -p.postings)  # as load_pairs orders them: the most postings first
    split = _split(pairs)
    search = job_board_vocabulary().search_key
    assert {p.title_key for p in split.held_out} == {k for k in keys if held_out(search(k))}
    assert {p.title_key for p in split.train} == {k for k in keys if not held_out(search(k))}
    assert all(p.kldb_code == "81302" for p in split.train + split.held_out)  # one wrong posting does not outvote
    assert split.labelled_postings == 4 * len(keys)


def test_readings_are_not_evaluated_and_caps_keep_the_most_frequent():
    keys = [f"titel {i}" for i in range(1000)]
    pairs = [_pair(k, postings=1000 - i) for i, k in enumerate(keys)]
    readings = {k for k in keys[:300]}
    split = _split(pairs, max_pairs=50, eval_pairs=20, readings=readings)
    assert not {p.title_key for p in split.held_out} & readings
    assert len(split.held_out) == 20 and split.held_out == sorted(split.held_out, key=lambda p: -p.postings)
    assert len(split.train) == 50 and split.train == sorted(split.train, key=lambda p: -p.postings)
    assert split.labelled_postings == sum(range(1, 1001))  # new evidence is counted beyond the cap


def test_the_version_follows_what_it_learns_from():
    pairs = [_pair(f"titel {i}") for i in range(50)]
    split = _split(pairs)
    assert split.version("cat-1") == _split(list(reversed(pairs))).version("cat-1")
    assert split.version("cat-1") != split.version("cat-2")
    changed = next(p for p in split.train)
    moved = [replace(p, kldb_code="82102") if p == changed else p for p in pairs]
    assert _split(moved).version("cat-1") != split.version("cat-1")


def _outcome(right: str, matched: str) -> Outcome:
    return Outcome(tuple(c == "1" for c in right), tuple(c == "1" for c in matched))


def test_outcome_metrics():
    outcome = _outcome("1101", "1001")
    assert outcome.metrics().as_json() == {"pairs": 4, "accuracy": 0.75, "coverage": 0.5, "precision": 1.0,
                                           "settled_right": 0.5}
    assert _outcome("10", "11").metrics().precision == 0.5


# 400 held-out titles: 0-239 right and matched, 240-299 right and not matched, 300-309 wrong and matched,
# 310-399 wrong and not matched
IN_USE = Outcome(tuple([True] * 300 + [False] * 100), tuple([True] * 240 + [False] * 60 + [True] * 10 + [False] * 90))


def _like(reference: Outcome, lose: int = 0, gain: int = 0, unsure: int = 0, wrong: int = 0) -> Outcome:
    """``reference`` with ``lose`` right matched titles wrong, ``gain`` wrong matched ones right, ``unsure`` right
    matched ones not matched, ``wrong`` wrong unmatched ones matched."""
    right, matched = list(reference.right), list(reference.matched)
    for i in range(lose):
        right[i] = False
    for i in range(300, 300 + gain):
        right[i] = True
    for i in range(100, 100 + unsure):
        matched[i] = False
    for i in range(310, 310 + wrong):
        matched[i] = True
    return Outcome(tuple(right), tuple(matched))


@pytest.mark.parametrize(("candidate", "passed", "why"), [
    (IN_USE, True, "not worse than the model in use"),
    (_like(IN_USE, lose=6, gain=4), True, ""),  # differs on 10, 2 net: within chance (1.645 * sqrt 10)
    (_like(IN_USE, lose=6), False, "6 first candidates right fewer"),  # 6 lost, none won: not chance
    (_like(IN_USE, lose=20, gain=10), False, "first candidates right fewer than the model in use"),
    (_like(IN_USE, unsure=20), False, "titles settled right fewer"),  # as right, but sure of fewer
    (_like(IN_USE, wrong=20), False, "titles matched wrong more"),  # accepts 20 wrong ones
    (_like(IN_USE, gain=10), True, ""),  # better
])
def test_verdict(candidate, passed, why):
    ok, reason = verdict(candidate, {"the model in use": IN_USE})
    assert ok is passed and why in reason


def test_too_few_held_out_pairs_tell_nothing():
    few = Outcome((True,) * (MIN_HELD_OUT - 1), (True,) * (MIN_HELD_OUT - 1))
    ok, reason = verdict(few, {"the model in use": few})
    assert not ok and "too few to tell" in reason


def test_every_reference_is_consulted_so_losses_cannot_add_up():
    """A model in use that is worse than the catalogue's own (small losses, each within the tolerance, added up
    over several models) does not let a candidate as bad through: it is compared with the catalogue's too."""
    catalogue = IN_USE
    in_use = _like(catalogue, lose=20)
    candidate = _like(catalogue, lose=18)
    assert verdict(candidate, {"the model in use": in_use})[0]
    ok, reason = verdict(candidate, {"the model in use": in_use, "the catalogue's model": catalogue})
    assert not ok and "fewer than the catalogue's model" in reason


def _tiny_model() -> CodeModel:
    examples = [("pflegefachkraft", "81302"), ("krankenpfleger", "81302"), ("altenpfleger", "82102"),
                ("altenpflegerin", "82102"), ("erzieher", "83112"), ("erzieherin", "83112")]
    return CodeModel.train(examples, ["81302", "82102", "83112"], jobs=1)


def _stored(version: str, accepted: bool, catalogue: str = "cat-1", compared_with: str = CODE_MODEL_VERSION
            ) -> StoredModel:
    metrics = IN_USE.metrics().as_json()
    return StoredModel(version, catalogue, 1000, 100, 10, compared_with, {"candidate": metrics, "in_use": metrics},
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
        store(conn, model, _stored("title-model-b", accepted=False, compared_with="title-model-a"))  # worse
        assert in_use_version(conn, "cat-1") == "title-model-a" and latest(conn).version == "title-model-b"
        store(conn, model, _stored("title-model-x", accepted=True, catalogue="cat-2"))  # another catalogue's
        store(conn, model, _stored("title-model-c", accepted=True, compared_with="title-model-a"))
        assert in_use_version(conn, "cat-1") == "title-model-c"
        weights = dict(conn.execute("SELECT version, model IS NOT NULL FROM title_models").fetchall())
        # the weights of the models in use (each catalogue's) and of the latest stay; the rest go
        assert weights == {"title-model-a": False, "title-model-b": False, "title-model-c": True,
                           "title-model-x": True}
        with pytest.raises(ValueError, match="not stored"):
            load_model(conn, "title-model-a", codes)
        with pytest.raises(ValueError, match="do not load"):
            load_model(conn, "title-model-c", ["81302", "99999"])  # another catalogue's codes
        conn.execute("UPDATE title_models SET model = 'not an npz' WHERE version = 'title-model-c'")
        with pytest.raises(ValueError, match="do not load"):
            load_model(conn, "title-model-c", codes)


def test_a_model_compared_with_one_that_is_no_longer_in_use_is_not_used(db_url):
    """Two runs trained at once: both were compared with the catalogue's model; the second to store is kept
    unaccepted, since the first came into use meanwhile."""
    model = _tiny_model()
    with psycopg.connect(db_url) as conn:
        first = store(conn, model, _stored("title-model-a", accepted=True))
        second = store(conn, model, _stored("title-model-b", accepted=True))
        assert first.accepted and not second.accepted and "came into use while it trained" in second.verdict
        assert in_use_version(conn, "cat-1") == "title-model-a"
        assert not conn.execute("SELECT accepted FROM title_models WHERE version = 'title-model-b'").fetchone()[0]


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


def test_a_title_of_any_length_trains_on_its_first_characters_only(monkeypatch):
    """A posting title is external input: 200 hostile titles of 50 KB took 80 s and 2.2 GB to train on."""
    from ty_resources import title_model

    seen = []
    monkeypatch.setattr(CodeModel, "train", classmethod(lambda cls, examples, codes, **kw: seen.extend(examples)))
    split = _split([_pair("pflege" * 10_000, postings=2), _pair("erzieher")])
    title_model.train([("altenpfleger", "82102")], ["81302", "82102"], split, job_board_vocabulary().search_key)
    assert seen[0] == ("altenpfleger", "82102")
    assert any(len(p.title_key) > 50_000 for p in split.train)  # the long one is a training key ...
    assert all(len(text) <= title_model.MAX_TRAIN_CHARS for text, _ in seen)  # ... and is cut
