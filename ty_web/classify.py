"""The project's profession classifier for the web app: one per process, built on first use, thread-safe.

``AppClassifier.classify(db, titles)`` labels job titles (work history, CV entries, a profession search)
with the pipeline's cascade (exact reading, retrieval, and the LLM when ``OLLAMA_HOST`` is set) on the
catalogue the database holds. The catalogue index is built once per catalogue version and embedding model
(``ty_resources.classifier.load_index``; ~5 s locally the first time, its vectors then come from
``TY_DATA_DIR/cache``) and rebuilt when a new catalogue is loaded. Without a catalogue every title is
``unclassified``; a failed model call makes it ``error``: a write never fails for want of a label. Its Ollama
client has the web's short timeouts (:func:`web_model_settings`), and no database connection is held while a
model is asked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

from ty_resources.catalogue import CatalogueMissing
from ty_resources.classifier import Classifier, LabelledTitle, ProfessionIndex, classify_titles, load_index
from ty_resources.database import Database
from ty_resources.embedders import Embedder, embedder_from_settings
from ty_resources.labels import UNCLASSIFIED
from ty_resources.ollama import OllamaClient, OllamaError
from ty_resources.settings import Settings
from ty_resources.titles import normalize_title

log = logging.getLogger("ty.web.classify")

SEARCH_CACHE_SIZE = 4096
# Uncached public searches computed at once per process (each ~20 ms of CPU holding the GIL); more wait at most
# SEARCH_WAIT_S, then SearchBusy: many addresses at once cannot take more than a share of the process.
SEARCH_SLOTS = 1
SEARCH_LOADERS = 2  # searches looking up the catalogue's version (a pooled connection each) at once
SEARCH_WAIT_S = 2.0


class SearchBusy(Exception):
    """Too many uncached searches at once in this process (the API answers 429, Retry-After 1)."""


WEB_OLLAMA_RETRIES = 1


def web_model_settings(settings: Settings) -> Settings:
    """The settings with the web API's own Ollama timeouts: a request waits on a model for seconds, not the
    pipeline's minutes (TY_WEB_OLLAMA_TIMEOUT_S, one retry)."""
    return settings.model_copy(update={
        "ollama_read_timeout_s": min(settings.ollama_read_timeout_s, settings.web_ollama_timeout_s),
        "ollama_max_retries": min(settings.ollama_max_retries, WEB_OLLAMA_RETRIES),
    })


class AppClassifier:
    def __init__(self, settings: Settings):
        self.settings = web_model_settings(settings)
        self._lock = threading.Lock()
        self._embedder: Embedder | None = None
        self._classifier: Classifier | None = None
        self._retrieval: Classifier | None = None  # the same cascade without the LLM
        self._searches: OrderedDict[str, LabelledTitle] = OrderedDict()  # search(): key -> label, LRU
        self._search_slots = threading.BoundedSemaphore(SEARCH_SLOTS)
        self._search_loaders = threading.BoundedSemaphore(SEARCH_LOADERS)

    @property
    def embedder(self) -> Embedder:
        """The embedder of the pipeline's settings (Ollama's model, else the local one), made once."""
        with self._lock:
            if self._embedder is None:
                self._embedder = embedder_from_settings(self.settings)
            return self._embedder

    def _current(self, db: Database, *, llm: bool = True) -> Classifier:
        embedder = self.embedder
        with db.connection() as conn:
            # Each read its own transaction: no transaction idles while this thread waits for another that builds
            # the index (minutes with a cold cache; the web pool ends a session idle in a transaction).
            conn.autocommit = True
            try:
                index, _version = load_index(conn, embedder, self.settings.resolved_cache_dir)
            finally:
                conn.autocommit = False
        with self._lock:
            if self._classifier is None or self._classifier.index is not index:
                client = embedder if isinstance(embedder, OllamaClient) else None
                self._classifier = Classifier.from_settings(index, client, self.settings)
                self._retrieval = Classifier.from_settings(index, None, self.settings)
                self._searches.clear()
            classifier = self._classifier if llm else self._retrieval
        assert classifier is not None
        return classifier

    def warm(self, db: Database) -> None:
        """Build (or load) the catalogue index now, so that no request waits for it: the app calls this in a
        background thread at start. Without a catalogue, or with the model unreachable, it only logs."""
        started = time.perf_counter()
        try:
            self._current(db)
        except CatalogueMissing:
            log.info("no catalogue yet: the classifier is built on first use")
            return
        except Exception:  # noqa: BLE001 - a warm-up must not take the app down; the first request retries
            log.warning("warming the classifier failed; the first request builds it", exc_info=True)
            return
        log.info("classifier ready", extra={"took_s": round(time.perf_counter() - started, 1)})

    def index(self, db: Database) -> ProfessionIndex:
        """The catalogue index (raises ``CatalogueMissing`` without a catalogue)."""
        return self._current(db).index

    def classify(self, db: Database, titles: Sequence[str], *, llm: bool = True) -> list[LabelledTitle]:
        """One label per title, in order; titles with the same normalised key are classified once. ``llm=False``:
        exact reading and retrieval only (what a title the LLM would decide stays ``pending_llm``), for what
        anyone may ask without an account. A connection is held only to look up the catalogue's version, never
        while a model is asked."""
        try:
            classifier = self._current(db, llm=llm)
        except CatalogueMissing:
            return [LabelledTitle.unlabelled(t, UNCLASSIFIED) for t in titles]
        try:
            return classify_titles(classifier, titles)
        except OllamaError as exc:  # the embedding call failed (the LLM's failures come back as 'error' labels)
            log.warning("classifier unavailable", extra={"error": str(exc)[:500]})
            return [LabelledTitle.unlabelled(t, "error", reason=str(exc)[:500]) for t in titles]

    def search(self, db: Database, title: str) -> LabelledTitle:
        """:meth:`classify` without the LLM for one title, cached per normalised key (the latest
        :data:`SEARCH_CACHE_SIZE` keys; a new catalogue empties the cache): what the public search asks. At most
        :data:`SEARCH_SLOTS` uncached searches run at once; :class:`SearchBusy` after waiting SEARCH_WAIT_S."""
        # At most SEARCH_LOADERS searches hold a pooled connection here: while the index is (re)built (a new
        # catalogue) the others are told to come back instead of each waiting on a connection of its own.
        if not self._search_loaders.acquire(timeout=SEARCH_WAIT_S):
            raise SearchBusy
        try:
            classifier = self._current(db, llm=False)  # also notices a new catalogue
        except CatalogueMissing:
            return LabelledTitle.unlabelled(title, UNCLASSIFIED)
        finally:
            self._search_loaders.release()
        key = normalize_title(title).key
        with self._lock:
            cached = self._searches.get(key)
            if cached is not None:
                self._searches.move_to_end(key)
                return cached
        if not self._search_slots.acquire(timeout=SEARCH_WAIT_S):
            raise SearchBusy
        try:
            label = classify_titles(classifier, [title])[0]
        except OllamaError as exc:
            log.warning("classifier unavailable", extra={"error": str(exc)[:500]})
            return LabelledTitle.unlabelled(title, "error", reason=str(exc)[:500])
        finally:
            self._search_slots.release()
        if label.status != "error":
            with self._lock:
                self._searches[key] = label
                while len(self._searches) > SEARCH_CACHE_SIZE:
                    self._searches.popitem(last=False)
        return label

    def close(self) -> None:
        with self._lock:
            embedder, self._embedder, self._classifier, self._retrieval = self._embedder, None, None, None
        if isinstance(embedder, OllamaClient):
            embedder.close()
