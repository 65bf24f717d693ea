"""The label confidence model: fitting, its precision table, the threshold for a stated precision, the shipped
file, and how the cascade uses it."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
from pathlib import Path

import pytest

from ty_resources.classifier import Classifier, ProfessionIndex, classify_titles
from ty_resources.confidence import (
    CONFIDENCE_FILE,
    FEATURES,
    ConfidenceModel,
    fit,
    load_confidence,
    precision_table,
    wilson_lower,
)
from ty_resources.embedders import LocalEmbedder


def synthetic(n: int, seed: int = 1) -> tuple[list[list[float]], list[bool]]:
    """Titles whose first candidate is right more often the higher its score."""
    rng = random.Random(seed)
    rows, right = [], []
    for _ in range(n):
        score = rng.random()
        rows.append([score, rng.random() * score, 0.0, 0.0, 0.0, 0.0])
        right.append(rng.random() < score)
    return rows, right


def test_the_table_counts_precision_and_coverage_from_the_top():
    table = precision_table([0.9, 0.8, 0.8, 0.1], [True, True, False, False])
    assert table == ((0.9, 1.0, 0.25), (0.8, 2 / 3, 0.75), (0.1, 0.5, 1.0))


def test_the_threshold_is_the_lowest_confidence_whose_precision_holds_with_95_percent_confidence():
    model = ConfidenceModel("e", (0.0,) * len(FEATURES), 0.0, titles=1000,
                            table=((0.99, 1.0, 0.1), (0.9, 0.99, 0.5), (0.6, 0.97, 0.8), (0.2, 0.8, 1.0)))
    # 97% measured on 800 titles: its lower bound is below 97%, so 0.6 is not enough for a stated 0.97
    assert wilson_lower(0.97, 800) < 0.97 < wilson_lower(0.99, 500)
    assert model.threshold(0.97) == 0.9 and model.coverage(0.97) == 0.5
    assert model.threshold(0.9) == 0.6 and model.coverage(0.9) == 0.8
    assert model.threshold(0.999) == math.inf and model.coverage(0.999) == 0.0


def test_a_fitted_model_ranks_right_titles_higher_and_titles_taken_anyway_count_as_certain():
    rows, right = synthetic(600)
    always = [i % 10 == 0 for i in range(600)]
    model = fit(rows, right, always, embedder="e", fitted_on="synthetic")
    assert model.coef[0] > 0 and model.titles == 600
    precisions = [precision for _, precision, _ in model.table]
    assert precisions[-1] == pytest.approx(sum(right) / 600)
    assert model.table[0][0] == 1.0 and model.table[0][2] >= 0.1  # the titles taken anyway, at the top
    again = ConfidenceModel.from_json(json.loads(json.dumps(model.to_json())))
    assert again.threshold(0.8) == pytest.approx(model.threshold(0.8), abs=1e-4)


def test_a_file_of_another_format_or_other_features_is_refused():
    body = json.loads(CONFIDENCE_FILE.read_text(encoding="utf-8"))
    with pytest.raises(ValueError, match="other features"):
        ConfidenceModel.from_json({**body, "features": ["score"]})
    with pytest.raises(ValueError, match="another format"):
        ConfidenceModel.from_json({**body, "format": "x/0"})


@pytest.fixture(scope="module")
def index(catalogue):
    return ProfessionIndex(catalogue.professions, catalogue.code_texts(), LocalEmbedder(),
                           cache_dir=Path(os.environ["TY_CACHE_DIR"]))


def test_the_shipped_model_is_the_one_the_fitting_script_makes(index):
    """The model must be re-fitted (``make fit-confidence``) when the search changes: its features would
    otherwise mean something else than what it learnt."""
    from bench.fit_confidence import fit_model

    shipped = load_confidence()
    assert shipped is not None and shipped.embedder == index.embedder.model
    fresh = fit_model(index)
    assert fresh.coef == pytest.approx(shipped.coef, abs=1e-4) and fresh.titles == shipped.titles
    assert fresh.threshold(0.97) == pytest.approx(shipped.threshold(0.97), abs=1e-3)


def test_the_cascade_accepts_by_confidence_and_by_the_plain_score_with_another_embedder(index):
    """'Tischler (m/w/d) Möbelbau' is no exact reading and its similarity is below TY_ACCEPT_SCORE, but every
    signal agrees on 'Tischler/in': the confidence accepts it. A model fitted for another embedder is not
    used: the plain thresholds decide, and no confidence is given."""
    title = "Tischler (m/w/d) Möbelbau"
    model = load_confidence()
    calibrated = Classifier(index, confidence=model, precision=0.97)
    [labelled] = classify_titles(calibrated, [title])
    assert labelled.status == "matched" and labelled.name == "Tischler/in"
    assert labelled.score < 0.85 and labelled.confidence >= calibrated.accept_confidence
    other = Classifier(index, confidence=dataclasses.replace(model, embedder="bge-m3"), precision=0.97)
    [plain] = classify_titles(other, [title])
    assert plain.status != "matched" and plain.confidence is None and other.confidence is None


def test_a_reject_confidence_above_the_accept_one_lets_nothing_wait_instead_of_failing(index, caplog):
    """A low TY_LABEL_PRECISION gives an accept confidence below TY_REJECT_CONFIDENCE: the web app, the CLI
    and the pipeline still start; no title waits for the LLM."""
    model = load_confidence()
    loose = Classifier(index, confidence=model, precision=0.5, reject_confidence=0.99)
    assert loose.reject_confidence == loose.accept_confidence < 0.99
    assert "no title waits for the LLM" in caplog.text


def test_the_confidence_reads_the_candidates_it_was_fitted_on_whatever_top_k_keeps(index):
    title = "Staplerführer (m/w/d) Lager"
    confidences = {k: classify_titles(Classifier(index, confidence=load_confidence(), k=k), [title])[0]
                   for k in (1, 3, 10)}
    assert len({labelled.confidence for labelled in confidences.values()}) == 1
    assert [len(labelled.candidates) for labelled in confidences.values()] == [1, 3, 10]
