"""The lexical score of the label cascade: which KldB code a title's character n-grams point to, learnt from the
catalogue itself. No Dagster here.

Nearest-neighbour search compares a title with one catalogue title at a time, so the n-grams that every third
title shares (``techniker``, ``-graf``, ``meister``) weigh as much as those that decide the code (``arzt``,
``ozean``). A linear model over TF-IDF character n-grams (2-5, inside word boundaries) learns the weights from
the catalogue's readings: per level of the KldB hierarchy (1, 2, 3, 4 and 5 digits) one one-vs-rest classifier
(scikit-learn's ``SGDClassifier``, modified Huber loss), and a code's score is the sum of its levels' decision
values, so a title that names the 3-digit group but no sibling of its own code still lands in the group.

Measured on the held-out set of ``bench/classify_quality.py`` (its titles removed from the index and the
training data): the 5-digit classifier alone ~0.63 at 5 digits; fused into the ranking, the sum over the levels
gives 0.665 at 5 and 0.811 at 3 digits, against 0.527 / 0.679 for the ranking without it.

Trained in ~20 s for the 18,838 catalogue titles (two cores), then kept in ``cache_dir`` keyed by the training
texts: weights under 1 % of their class's largest are dropped (no measurable loss), which leaves a few
percent of them (the file: 44 MB for the full catalogue; dense float32 weights would be ~0.36 GB). The
model in use is always the stored one, so a freshly trained and a cached model score alike.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from filelock import FileLock
from scipy import sparse

VERSION = "code-model-v1"
LEVELS = (1, 2, 3, 4, 5)
NGRAMS = (2, 5)
PRUNE = 0.01  # a weight below this share of its class's largest is dropped
ALPHA = 1e-5  # SGDClassifier's regularisation: measured best of 3e-6 .. 1e-4 on the held-out set


def _vectorizer(vocabulary: Sequence[str] | None = None, max_features: int | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True, lowercase=True,
                           min_df=1 if vocabulary is not None else 2, dtype=np.float32, vocabulary=vocabulary,
                           max_features=max_features)


def _pruned(weights: np.ndarray, rows: int = 64) -> sparse.csr_matrix:
    """``weights`` without those under :data:`PRUNE` of their row's largest, as float32, a few rows at a time
    (the dense matrix of 1,300 codes x 40,000 n-grams is 0.4 GB; a copy of all of it at once would double that)."""
    parts = []
    for start in range(0, weights.shape[0], rows):
        block = weights[start : start + rows]
        magnitude = np.abs(block)
        block = np.where(magnitude >= PRUNE * magnitude.max(axis=1, keepdims=True), block, 0.0)
        parts.append(sparse.csr_matrix(block.astype(np.float32)))
    return sparse.vstack(parts, format="csr")


def cached_arrays(path: Path | None) -> dict[str, np.ndarray] | None:
    """Every array of the ``.npz`` at ``path``, or None when it is missing or unreadable."""
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as cached:
            return {name: cached[name] for name in cached.files}
    except (OSError, ValueError, KeyError):
        return None  # damaged: computed again and overwritten


@contextmanager
def cache_lock(path: Path | None) -> Iterator[None]:
    """Held while one process computes what it will store at ``path``: a second process (the web app and a
    pipeline run starting together, two test workers) waits and then reads the file instead of computing it
    again."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.with_name(path.name + ".lock")):
        yield


def store_arrays(path: Path | None, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically: a concurrent reader sees the old file or the whole new one."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(partial, allow_pickle=False, **arrays)  # no object arrays: cached_arrays reads without pickle
    os.replace(partial, path)


class CodeModel:
    """Scores of every code for a batch of texts (title keys): ``scores(texts)[i, j]`` for ``codes[j]``."""

    def __init__(self, codes: Sequence[str], vocabulary: Sequence[str] | np.ndarray, idf: np.ndarray,
                 levels: dict[int, tuple[np.ndarray, sparse.csr_matrix, np.ndarray]]):
        self.codes = list(codes)
        self.vectorizer = _vectorizer(list(vocabulary))
        self.vectorizer.idf_ = idf
        self.levels = levels  # digits -> (class labels, weights (classes x terms), intercepts)
        self._columns = {}
        # terms x classes in CSR, made once: `features @ weights.T` would convert the transposed (CSC) matrix to
        # CSR on every call, 70 % of a one-title search's time.
        self._transposed = {digits: weights.T.tocsr() for digits, (_, weights, _) in levels.items()}
        for digits, (classes, _, _) in levels.items():
            column = {label: i for i, label in enumerate(classes.tolist())}
            self._columns[digits] = np.array([column[code[:digits]] for code in self.codes])

    @classmethod
    def train(cls, examples: Sequence[tuple[str, str]], codes: Sequence[str], jobs: int | None = None,
              max_features: int | None = None) -> CodeModel:
        """Fit on ``(text, code)`` pairs; ``codes``: the columns of :meth:`scores` (every code of an example);
        ``max_features``: the most frequent n-grams kept (None: every one in two texts or more)."""
        from sklearn.linear_model import SGDClassifier

        texts = [text for text, _ in examples]
        labels = np.array([code for _, code in examples])
        vectorizer = _vectorizer(max_features=max_features)
        features = vectorizer.fit_transform(texts)
        levels = {}
        for digits in LEVELS:
            target = np.array([code[:digits] for code in labels])
            if len(set(target.tolist())) < 2:
                continue  # one class at this level: it adds the same to every code
            model = SGDClassifier(loss="modified_huber", alpha=ALPHA, random_state=0,
                                  n_jobs=jobs or min(4, os.cpu_count() or 1))
            model.fit(features, target)
            weights = model.coef_
            if weights.shape[0] == 1:  # two classes: scikit-learn keeps one row, for the second class
                weights = np.vstack([-weights, weights])
                intercepts = np.array([-model.intercept_[0], model.intercept_[0]])
            else:
                intercepts = model.intercept_
            levels[digits] = (np.asarray(model.classes_, dtype=str), _pruned(weights), intercepts.astype(np.float32))
            del model, weights
        vocabulary = vectorizer.get_feature_names_out()
        return cls(codes, np.asarray(vocabulary, dtype=str), vectorizer.idf_.astype(np.float32), levels)

    @classmethod
    def cached(cls, examples: Sequence[tuple[str, str]], codes: Sequence[str], cache_dir: Path | None
               ) -> CodeModel:
        """The model for these examples from ``cache_dir``, trained and stored there the first time."""
        digest = hashlib.sha256("\x1e".join([VERSION, *codes, "\x1d", *(f"{t}\x1f{c}" for t, c in examples)])
                                .encode()).hexdigest()[:24]
        path = cache_dir / f"{VERSION}-{digest}.npz" if cache_dir else None
        with cache_lock(path):
            stored = cached_arrays(path)
            if stored is not None:
                try:
                    return cls.from_arrays(codes, stored)
                except (KeyError, ValueError):
                    pass  # another layout or damaged: trained again
            model = cls.train(examples, codes)
            store_arrays(path, model.arrays())
            return model

    @classmethod
    def from_arrays(cls, codes: Sequence[str], arrays: dict[str, np.ndarray]) -> CodeModel:
        terms = len(arrays["vocabulary"])
        levels = {}
        for digits in arrays["levels"].tolist():
            classes = arrays[f"classes{digits}"]
            weights = sparse.csr_matrix(
                (arrays[f"data{digits}"], arrays[f"indices{digits}"], arrays[f"indptr{digits}"]),
                shape=(len(classes), terms))
            levels[digits] = (classes, weights, arrays[f"intercepts{digits}"])
        return cls(codes, arrays["vocabulary"], arrays["idf"], levels)

    def arrays(self) -> dict[str, np.ndarray]:
        arrays = {"vocabulary": np.asarray(self.vectorizer.get_feature_names_out(), dtype=str),
                  "idf": self.vectorizer.idf_.astype(np.float32), "levels": np.array(sorted(self.levels))}
        for digits, (classes, weights, intercepts) in self.levels.items():
            arrays |= {f"classes{digits}": classes, f"data{digits}": weights.data,
                       f"indices{digits}": weights.indices, f"indptr{digits}": weights.indptr,
                       f"intercepts{digits}": intercepts}
        return arrays

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), len(codes)) float64: per text and code, the sum of its levels' decision values."""
        features = self.vectorizer.transform(list(texts))
        total = np.zeros((len(texts), len(self.codes)))
        for digits, (_, _, intercepts) in self.levels.items():
            decision = (features @ self._transposed[digits]).toarray().astype(np.float64) + intercepts
            total += decision[:, self._columns[digits]]
        return total
