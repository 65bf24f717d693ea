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

import psycopg

from ty_resources.catalogue import CatalogueMissing
from ty_resources.classifier import Classifier, LabelledTitle, ProfessionIndex, classify_titles, load_index
from ty_resources.embedders import Embedder, embedder_from_settings
from ty_resources.labels import UNCLASSIFIED
from ty_resources.ollama import OllamaClient, OllamaError
from ty_resources.settings import Settings

log = logging.getLogger("ty.web.classify")


class AppClassifier:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._embedder: Embedder | None = None
        self._classifier: Classifier | None = None
        self._retrieval: Classifier | None = None  # the same cascade without the LLM

    @property
    def embedder(self) -> Embedder:
        """The embedder of the pipeline's settings (Ollama's model, else the local one), made once."""
        with self._lock:
            if self._embedder is None:
                self._embedder = embedder_from_settings(self.settings)
            return self._embedder

    def _current(self, conn: psycopg.Connection, *, llm: bool = True) -> Classifier:
        embedder = self.embedder
        index, _version = load_index(conn, embedder, self.settings.resolved_cache_dir)
        with self._lock:
            if self._classifier is None or self._classifier.index is not index:
                client = embedder if isinstance(embedder, OllamaClient) else None
                self._classifier = Classifier.from_settings(index, client, self.settings)
                self._retrieval = Classifier.from_settings(index, None, self.settings)
            classifier = self._classifier if llm else self._retrieval
        assert classifier is not None
        return classifier

    def index(self, conn: psycopg.Connection) -> ProfessionIndex:
        """The catalogue index (raises ``CatalogueMissing`` without a catalogue)."""
        return self._current(conn).index

    def classify(self, conn: psycopg.Connection, titles: Sequence[str], *, llm: bool = True) -> list[LabelledTitle]:
        """One label per title, in order; titles with the same normalised key are classified once. ``llm=False``:
        exact reading and retrieval only (what a title the LLM would decide stays ``pending_llm``), for what
        anyone may ask without an account."""
        try:
            classifier = self._current(conn, llm=llm)
        except CatalogueMissing:
            return [LabelledTitle.unlabelled(t, UNCLASSIFIED) for t in titles]
        try:
            return classify_titles(classifier, titles)
        except OllamaError as exc:  # the embedding call failed (the LLM's failures come back as 'error' labels)
            log.warning("classifier unavailable", extra={"error": str(exc)[:500]})
            return [LabelledTitle.unlabelled(t, "error", reason=str(exc)[:500]) for t in titles]

    def close(self) -> None:
        with self._lock:
            embedder, self._embedder, self._classifier, self._retrieval = self._embedder, None, None, None
        if isinstance(embedder, OllamaClient):
            embedder.close()
