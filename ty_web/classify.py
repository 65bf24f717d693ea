"""The project's profession classifier for the web app: one per process, built on first use, thread-safe.

``AppClassifier.classify(conn, titles)`` labels job titles (work history, CV entries, a profession search)
with the pipeline's cascade (exact reading, retrieval, and the LLM when ``OLLAMA_HOST`` is set) on the
catalogue the database holds. The catalogue index is built once per catalogue version and embedding model
(``ty_resources.classifier.load_index``; ~5 s locally the first time, its vectors then come from
``TY_DATA_DIR/cache``) and rebuilt when a new catalogue is loaded. Without a catalogue every title is
``unclassified``; a failed model call makes it ``error``: a write never fails for want of a label.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg

from ty_resources.classifier import (
    Candidate,
    CatalogueMissing,
    Classifier,
    ProfessionIndex,
    classify_titles,
    load_index,
)
from ty_resources.embedders import Embedder, embedder_from_settings
from ty_resources.ollama import OllamaClient, OllamaError
from ty_resources.settings import Settings
from ty_resources.titles import normalize_title

log = logging.getLogger("ty.web.classify")


@dataclass(frozen=True)
class TitleLabel:
    """A title's label: ``status`` is the cascade's (matched, no_match, pending_llm, llm_no, llm_uncertain,
    error) or ``unclassified`` when no catalogue is loaded."""

    title: str
    key: str
    status: str
    berufenet_id: str | None = None
    kldb_code: str | None = None
    name: str | None = None
    level: int | None = None
    score: float | None = None
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)


class AppClassifier:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._embedder: Embedder | None = None
        self._classifier: Classifier | None = None

    @property
    def embedder(self) -> Embedder:
        """The embedder of the pipeline's settings (Ollama's model, else the local one), made once."""
        with self._lock:
            if self._embedder is None:
                self._embedder = embedder_from_settings(self.settings)
            return self._embedder

    def _current(self, conn: psycopg.Connection) -> Classifier:
        embedder = self.embedder
        index, _version = load_index(conn, embedder, self.settings.resolved_cache_dir)
        with self._lock:
            if self._classifier is None or self._classifier.index is not index:
                llm = embedder if isinstance(embedder, OllamaClient) else None
                self._classifier = Classifier(index, llm, accept=self.settings.accept_score,
                                              reject=self.settings.reject_score, k=self.settings.label_top_k)
            return self._classifier

    def index(self, conn: psycopg.Connection) -> ProfessionIndex:
        """The catalogue index (raises ``CatalogueMissing`` without a catalogue)."""
        return self._current(conn).index

    def classify(self, conn: psycopg.Connection, titles: Sequence[str]) -> list[TitleLabel]:
        """One label per title, in order; titles with the same normalised key are classified once."""
        try:
            classifier = self._current(conn)
        except CatalogueMissing:
            return [TitleLabel(t, normalize_title(t).key, "unclassified") for t in titles]
        try:
            labelled = classify_titles(classifier, titles)
        except OllamaError as exc:  # the embedding call failed (the LLM's failures come back as 'error' labels)
            log.warning("classifier unavailable", extra={"error": str(exc)[:500]})
            return [TitleLabel(t, normalize_title(t).key, "error") for t in titles]
        out = []
        for title, (norm, label) in zip(titles, labelled):
            profession = classifier.index.by_id.get(label.berufenet_id) if label.berufenet_id else None
            out.append(TitleLabel(
                title=title, key=norm.key, status=label.status,
                berufenet_id=profession.berufenet_id if profession else None,
                kldb_code=profession.kldb_code if profession else None,
                name=profession.name if profession else None,
                level=profession.level if profession else None,
                score=float(label.score) if label.score is not None else None,
                candidates=tuple(label.candidates),
            ))
        return out

    def close(self) -> None:
        with self._lock:
            embedder, self._embedder, self._classifier = self._embedder, None, None
        if isinstance(embedder, OllamaClient):
            embedder.close()
