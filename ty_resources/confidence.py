"""How likely a title's first candidate is right: a logistic model over what the search already knows.

The cascade used to accept a candidate when its plain similarity passed a hand-set score. The similarity is
one signal of several, and the candidates are ordered by all of them fused; so a right first candidate with a
middling similarity waited for an LLM that may never come. :class:`ConfidenceModel` turns the first
candidate's signals (:data:`FEATURES`) into the probability that its 5-digit code is right, learnt from
labelled titles (``bench/fit_confidence.py`` fits it on the tuning part of the hand-written sets in
``bench/data``). Its table of (confidence, precision, coverage) on those titles, from cross-validated
predictions, gives the confidence to accept at for a stated precision (``TY_LABEL_PRECISION``): the lowest
at which the precision is reached with 95% confidence (Wilson's lower bound; a few hundred titles measure a
precision only to a point or two, and the search was tuned on these very titles).

A model holds for the embedder it was fitted with (the signals are that embedder's similarities): the
cascade uses it only with that embedder and falls back to the plain score thresholds otherwise.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol


class Candidate(Protocol):
    """What the model reads of a candidate (:class:`ty_resources.classifier.Candidate`)."""

    @property
    def kldb_code(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def rank(self) -> float: ...
    @property
    def model_score(self) -> float: ...
    @property
    def contained(self) -> float: ...


CONFIDENCE_FILE = Path(__file__).with_name("data") / "label_confidence.json"
CONFIDENCE_CANDIDATES = 10  # the candidates the features are read from (as fitted), whatever the cascade keeps
CONFIDENCE_FORMAT = "ty-label-confidence/1"

# The first candidate's signals. 'next' is the best candidate of another 5-digit code.
FEATURES = (
    "score",  # fused similarity of title and code text, [0, 1]
    "margin",  # its rank minus the next code's rank
    "model",  # the lexical model's score of its code
    "model_margin",  # ... minus that of the next code
    "contained",  # share of the searched words one of its readings covers
    "same_code_second",  # 1 when the second candidate has the same code
)


def features(candidates: Sequence[Candidate]) -> list[float]:
    """:data:`FEATURES` of a title's candidates (best first; at least one)."""
    first = candidates[0]
    other = next((c for c in candidates[1:] if c.kldb_code != first.kldb_code), None)
    second = candidates[1] if len(candidates) > 1 else None
    return [
        first.score,
        first.rank - other.rank if other else 1.0,
        first.model_score,
        first.model_score - other.model_score if other else 1.0,
        first.contained,
        float(second is not None and second.kldb_code == first.kldb_code),
    ]


@dataclass(frozen=True)
class ConfidenceModel:
    embedder: str  # the embedder whose similarities it was fitted on
    coef: tuple[float, ...]
    intercept: float
    table: tuple[tuple[float, float, float], ...]  # (confidence, precision, coverage) at or above it; descending
    titles: int  # how many titles the table counts
    fitted_on: str = ""
    names: tuple[str, ...] = field(default=FEATURES)

    @property
    def digest(self) -> str:
        """Of the model: part of the labels' decision version."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]

    def confidence(self, candidates: Sequence[Candidate]) -> float:
        z = self.intercept + sum(w * x for w, x in zip(self.coef, features(candidates)))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def _reaching(self, precision: float) -> list[tuple[float, float, float]]:
        return [row for row in self.table if wilson_lower(row[1], row[2] * self.titles) >= precision]

    def threshold(self, precision: float) -> float:
        """The lowest confidence at which the titles accepted (it and above) were right at least ``precision``
        of the time on the fitting data, at 95% confidence; above every confidence (accept nothing) when
        none was."""
        return min((confidence for confidence, _, _ in self._reaching(precision)), default=math.inf)

    def coverage(self, precision: float) -> float:
        """The share of the fitting titles accepted at :meth:`threshold` for ``precision``."""
        return max((coverage for _, _, coverage in self._reaching(precision)), default=0.0)

    def to_json(self) -> dict[str, Any]:
        return {"format": CONFIDENCE_FORMAT, "embedder": self.embedder, "features": list(self.names),
                "coef": [round(c, 6) for c in self.coef], "intercept": round(self.intercept, 6),
                "titles": self.titles, "fitted_on": self.fitted_on,
                "table": [[round(v, 4) for v in row] for row in self.table]}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ConfidenceModel:
        if body.get("format") != CONFIDENCE_FORMAT or tuple(body.get("features", ())) != FEATURES:
            raise ValueError(f"a label confidence model in another format or with other features: "
                             f"{body.get('format')!r} {body.get('features')!r}")
        return cls(embedder=str(body["embedder"]), coef=tuple(float(c) for c in body["coef"]),
                   intercept=float(body["intercept"]),
                   table=tuple((float(a), float(b), float(c)) for a, b, c in body["table"]),
                   titles=int(body["titles"]), fitted_on=str(body.get("fitted_on", "")))


def wilson_lower(precision: float, n: float, z: float = 1.645) -> float:
    """The one-sided 95% lower bound of a precision measured on ``n`` titles (Wilson score interval)."""
    if n <= 0:
        return 0.0
    centre = precision + z * z / (2 * n)
    spread = z * math.sqrt(precision * (1 - precision) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n)


def precision_table(confidences: Sequence[float], right: Sequence[bool]) -> tuple[tuple[float, float, float], ...]:
    """(confidence, precision, coverage) of accepting every title at or above each distinct confidence
    (descending)."""
    order = sorted(range(len(confidences)), key=lambda i: -confidences[i])
    rows: list[tuple[float, float, float]] = []
    hits = 0
    for n, i in enumerate(order, start=1):
        hits += bool(right[i])
        if n == len(order) or confidences[order[n]] < confidences[i]:
            rows.append((confidences[i], hits / n, n / len(order)))
    return tuple(rows)


def fit(rows: Sequence[Sequence[float]], right: Sequence[bool], always: Sequence[bool], embedder: str,
        fitted_on: str, seed: int = 0) -> ConfidenceModel:
    """A model fitted on ``rows`` of :data:`FEATURES` and whether each title's first candidate was right.
    ``always``: titles the cascade accepts whatever their confidence (exact readings, typos): left out of the
    fit, counted in the table at confidence 1. The table comes from 5-fold cross-validated predictions: a
    model judged on the titles it learnt from looks better than it is."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x, y, fixed = np.asarray(rows, dtype=np.float64), np.asarray(right, dtype=bool), np.asarray(always, dtype=bool)
    model = LogisticRegression(C=1.0, max_iter=1000)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    held = np.ones(len(y))
    held[~fixed] = cross_val_predict(model, x[~fixed], y[~fixed], cv=folds, method="predict_proba")[:, 1]
    model.fit(x[~fixed], y[~fixed])
    return ConfidenceModel(embedder=embedder, coef=tuple(float(c) for c in model.coef_[0]),
                           intercept=float(model.intercept_[0]),
                           table=precision_table([float(p) for p in held], [bool(r) for r in y]),
                           titles=len(y), fitted_on=fitted_on)


@lru_cache(maxsize=1)
def load_confidence(path: Path = CONFIDENCE_FILE) -> ConfidenceModel | None:
    """The model the repository ships (None when there is none)."""
    if not path.exists():
        return None
    return ConfidenceModel.from_json(json.loads(path.read_text(encoding="utf-8")))
