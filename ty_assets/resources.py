"""The graph's Dagster resources: thin wrappers that build the core's plain objects from the settings.

Each field left empty falls back to its setting (``TY_*``, ``DATABASE_URL``, ``OLLAMA_HOST``), so secrets stay
out of the resource config shown in the UI; tests point fields at local servers instead. What the resources
wrap lives in :mod:`ty_resources` and knows nothing of Dagster.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr, model_validator

from ty_assets.workers import process_tags
from ty_resources.ba import BaClient, PostingSource, SnapshotSource
from ty_resources.database import Database, resolve_database_url
from ty_resources.embedders import Embedder, local_embedder
from ty_resources.notify import Notifier
from ty_resources.ollama import OllamaClient
from ty_resources.settings import get_settings
from ty_resources.websearch import PostgresSearchCache, WebSearch


class DatabaseResource(ConfigurableResource):
    """The project's database: a small :class:`~ty_resources.database.Database` pool per run.

    ``database_url`` empty means ``DATABASE_URL`` from the environment, else the embedded server. Migrations
    are applied when a run starts using it, so an asset never meets an old schema.
    """

    database_url: str = ""
    pool_max_size: int = 4

    _db: Database | None = PrivateAttr(default=None)

    def _open(self) -> Database:
        return Database(
            self.database_url or resolve_database_url(),
            min_size=1,
            max_size=self.pool_max_size,
            timeout=get_settings().db_connect_timeout_s,
            idle_in_transaction_timeout_s=get_settings().db_idle_in_transaction_timeout_s,
        ).open(migrate=True)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._db = self._open()
        # Every run uses the database: its process says here that it executes the run (ty_assets.workers), so
        # that run monitoring can tell a run killed outright from one at work.
        run = context.run
        if context.instance is not None and run is not None:
            tags = process_tags(run.run_id)
            if any(run.tags.get(k) != v for k, v in tags.items()):
                context.instance.add_run_tags(run.run_id, tags)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> Database:
        if self._db is None:  # used outside a run (a script, a test)
            self._db = self._open()
        return self._db

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        with self.db.connection() as conn:
            yield conn


class PostingSourceResource(ConfigurableResource):
    """The configured source of postings (``TY_SOURCE``): the offline snapshot or the live BA API.

    Tests point ``ba_base_url`` at a local BA server or ``snapshot_path`` at a small snapshot.
    """

    source: str = ""
    snapshot_path: str = ""
    ba_base_url: str = ""
    pool_size: int = 8

    _opened: list[PostingSource] = PrivateAttr(default_factory=list)

    def open_source(self) -> PostingSource:
        settings = get_settings()
        kind = self.source or settings.source
        source: PostingSource
        if kind == "snapshot":
            source = SnapshotSource(
                Path(self.snapshot_path) if self.snapshot_path else settings.resolved_snapshot_path,
                page_size=settings.ba_page_size,
            )
        elif kind == "ba":
            source = BaClient.from_settings(settings, pool_size=self.pool_size, base_url=self.ba_base_url or None)
        else:
            raise ValueError(f"unknown posting source {kind!r}: use 'snapshot' or 'ba'")
        self._opened.append(source)
        return source

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        for source in self._opened:
            source.close()
        self._opened.clear()


class OllamaResource(ConfigurableResource):
    """The Ollama client for the configured hosts (``OLLAMA_HOST``); no client when none is configured.

    Empty ``hosts`` means the settings. The models are checked when a run starts that uses it, so a missing
    model fails before any work is done.
    """

    hosts: str = ""
    require_llm: bool = False

    _client: OllamaClient | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        settings = get_settings()
        hosts = [h.strip() for h in self.hosts.split(",") if h.strip()] or settings.ollama_hosts
        if not hosts:
            return  # no Ollama configured: the offline defaults apply
        client = OllamaClient.from_settings(settings, hosts=hosts)
        client.check_models(llm=self.require_llm)
        self._client = client

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()

    @property
    def client(self) -> OllamaClient | None:
        """None when no host is configured."""
        return self._client


class WebSearchResource(ConfigurableResource):
    """The label cascade's web search (``TY_WEB_SEARCH``, ``TY_WEB_SEARCH_URL``): off (None) unless configured.

    Empty fields mean the settings; tests point ``url`` at the local SearXNG (ty_testing/searx_server.py). The
    search caches its answers in the database it is opened with (``web_search_cache``); opening it deletes the
    answers and failure counts older than ``TY_WEB_SEARCH_CACHE_DAYS``.
    """

    backend: str = ""
    url: str = ""

    _opened: list[WebSearch] = PrivateAttr(default_factory=list)

    def open(self, database: DatabaseResource) -> WebSearch | None:
        """The configured search with its cache in ``database``, or None when the stage is off."""
        settings = get_settings()
        cache = PostgresSearchCache(database.connection)
        search = WebSearch.from_settings(settings, cache=cache, backend=self.backend or None, url=self.url or None)
        if search is not None:
            self._opened.append(search)
            # what the cache would not reuse any more (and failure counts as old) goes: the tables stay bounded
            cache.prune(datetime.now(UTC) - timedelta(days=settings.web_search_cache_days))
        return search

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        for search in self._opened:
            search.close()
        self._opened.clear()


class EmbedderResource(ConfigurableResource):
    """Ollama's embedding model when a host is configured, else the local embedder."""

    ollama: OllamaResource

    def get_embedder(self) -> Embedder:
        client = self.ollama.client
        return client if client is not None else local_embedder()


class NotifierResource(ConfigurableResource):
    """The configured alert channel (``TY_ALERT_*``), key ``notifier``.

    Settings that do not fit together fail at construction, naming the variable.
    """

    kind: str = Field(default="", description="off | webhook | signal; empty: TY_ALERT_KIND.")
    url: str = Field(default="", description="Webhook URL or Signal REST API base URL; empty: TY_ALERT_URL.")
    signal_number: str = Field(default="", description="Empty: TY_ALERT_SIGNAL_NUMBER.")
    signal_recipients: str = Field(default="", description="Comma-separated; empty: TY_ALERT_SIGNAL_RECIPIENTS.")
    timeout_s: float = Field(default=0.0, ge=0, description="Per request; 0: TY_ALERT_TIMEOUT_S.")
    max_retries: int = Field(default=3, ge=0, description="Retries on connection errors, timeouts, 429, 5xx.")
    backoff_s: float = Field(default=0.5, ge=0, description="Base of the exponential backoff between retries.")

    _notifier: Notifier | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _validate_channel(self) -> NotifierResource:
        self.build()  # raises NotifierConfigError (a ValueError: pydantic reports it) on a bad combination
        return self

    def build(self) -> Notifier:
        """A new :class:`~ty_resources.notify.Notifier` from these fields and the settings."""
        return Notifier.from_settings(
            get_settings(), kind=self.kind or None, url=self.url or None, signal_number=self.signal_number or None,
            signal_recipients=self.signal_recipients or None, timeout_s=self.timeout_s or None,
            max_retries=self.max_retries, backoff_s=self.backoff_s,
        )

    @property
    def notifier(self) -> Notifier:
        if self._notifier is None:
            self._notifier = self.build()
        return self._notifier

    def send(self, message: str, **context: Any) -> bool:
        """See :meth:`ty_resources.notify.Notifier.send`."""
        return self.notifier.send(message, **context)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._notifier is not None:
            self._notifier.close()
            self._notifier = None
