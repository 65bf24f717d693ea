"""Web search for the label cascade's last stage: a query in, a few bounded snippets out. No Dagster here.

The first (and only) backend is SearXNG's JSON API: ``GET {base}/search?q=...&format=json`` answers
``{"query", "number_of_results", "results": [{"url", "title", "content", "engine", "engines", "score",
"category", ...}], "answers", "corrections", "infoboxes", "suggestions", "unresponsive_engines"}``. Its failures
as they are met in practice, each recorded as the query's error and never raised into a run:

- ``403`` with an HTML page ("Forbidden"): the instance does not allow ``format=json`` (``search.formats`` in its
  settings.yml lists only ``html``; public instances do so on purpose);
- ``429`` "Too Many Requests" from its limiter (bot detection): retried after ``Retry-After`` (bounded) a few
  times, then recorded;
- an HTML page, or JSON that is cut off or of another shape, where JSON was expected;
- no results while ``unresponsive_engines`` names engines (CAPTCHA, timeouts): not a verdict, so a failure too;
- a stall past the timeout, a refused connection, a 5xx (one retry; the title stays open and the next run tries
  again);
- an answer not read whole within ``timeout_s`` (a slow drip of bytes: the deadline is for the whole answer, not
  each read), a body cut short, a bad gzip body, JSON nested too deep to parse, a redirect (never followed), or
  anything else an answer makes go wrong: :meth:`WebSearch.search` catches every ``Exception``.

No error repeats the answer's body (it may be anything the backend, or a redirect, served): its type and size.

After ``max_failures_in_a_row`` failed searches in a row the client sends no more (until the next run): each
further query fails at once with that reason, so a backend that is down or refuses JSON costs a run seconds, not
a timeout per title.

What is kept of an answer are :class:`Snippet`: the title, the URL (http/https only:
:func:`ty_resources.urls.safe_external_url`) and the content cut to ``content_chars``; never is a result's page
fetched. The answer is read up to ``max_bytes`` and validated against a JSON schema; everything in it is data.

Queries are sent at most ``per_s`` a second (one :class:`RateLimiter` per client, thread-safe) and cached: in
the process, and in PostgreSQL (``web_search_cache``, sql/020_web_search.sql) through a :class:`SearchCache`,
reused for ``cache_days`` days. Only answers with snippets are cached, never failures or empty answers (an
instance that answers empty lists must not settle titles for a month). The time slept on ``429`` is bounded per
client (``retry_budget_s``): past it a ``429`` is the query's error at once.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import jsonschema
import psycopg
import requests
import urllib3

from ty_resources.counters import Counters
from ty_resources.settings import Settings, get_settings
from ty_resources.urls import safe_external_url

log = logging.getLogger("ty.websearch")

BACKENDS = ("searxng",)
TITLE_CHARS = 200
MAX_RESULTS_READ = 50  # results of one answer looked at (SearXNG sends ~20-40 for a page)
MAX_RETRY_AFTER_S = 30.0  # a longer Retry-After is not waited for: the query fails (and is retried next run)
READ_CHUNK = 65_536

# The part of SearXNG's answer that is read; everything else may be there or not.
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["results"],
    "properties": {
        "query": {"type": "string"},
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["url"],
                "properties": {
                    "url": {"type": "string"},
                    "title": {"type": ["string", "null"]},
                    "content": {"type": ["string", "null"]},
                    "engine": {"type": ["string", "null"]},
                    "engines": {"type": "array", "items": {"type": "string"}},
                    "score": {"type": ["number", "null"]},
                },
            },
        },
        "unresponsive_engines": {"type": "array"},
    },
}


class WebSearchError(RuntimeError):
    """One query's failure, with the reason (never raised out of :meth:`WebSearch.search`)."""


class Retryable(WebSearchError):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Snippet:
    title: str
    url: str
    content: str
    engine: str = ""

    def as_json(self) -> dict[str, str]:
        return {"title": self.title, "url": self.url, "content": self.content, "engine": self.engine}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snippet:
        return cls(str(data["title"]), str(data["url"]), str(data["content"]), str(data.get("engine") or ""))


@dataclass(frozen=True)
class SearchOutcome:
    """A query's snippets (maybe none), or its error; ``cached``: the snippets came from the cache."""

    query: str
    backend: str
    snippets: tuple[Snippet, ...] = ()
    error: str | None = None
    cached: bool = False
    attempts: int = 0  # with an error: the query's failed searches in a row, this one included, across runs

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class WebSearchStats(Counters):
    searches: int = 0  # queries sent (cache misses)
    cache_hits: int = 0
    errors: int = 0
    retries: int = 0


def _clip(text: object, chars: int) -> str:
    """A single-line, bounded text: whitespace runs become one space (no regex on the external text)."""
    return " ".join(str(text or "")[: chars * 2].split())[:chars]


def snippets_of(answer: Any, *, limit: int, content_chars: int) -> tuple[Snippet, ...]:
    """The first ``limit`` usable results of a SearXNG answer as snippets: http(s) URLs only, each URL once,
    title and content bounded. Raises WebSearchError when the answer is not of SearXNG's shape."""
    if isinstance(answer, dict) and isinstance(answer.get("results"), list):
        answer = {**answer, "results": answer["results"][:MAX_RESULTS_READ]}
    try:
        jsonschema.validate(answer, ANSWER_SCHEMA)
    except jsonschema.ValidationError as exc:
        raise WebSearchError(f"answer is not SearXNG's JSON: {exc.message[:200]}") from exc
    found: list[Snippet] = []
    seen: set[str] = set()
    for result in answer["results"]:
        url = safe_external_url(result["url"])
        if url is None or url in seen:
            continue
        seen.add(url)
        engine = result.get("engine") or ",".join((result.get("engines") or [])[:3])
        found.append(Snippet(_clip(result.get("title"), TITLE_CHARS), url, _clip(result.get("content"), content_chars),
                             _clip(engine, 60)))
        if len(found) >= limit:
            break
    return tuple(found)


# ------------------------------------------------------------------ rate limit


class RateLimiter:
    """At most ``per_s`` acquisitions a second, spread evenly: each caller reserves the next free slot under a
    lock and sleeps until it outside the lock. ``clock`` and ``sleep`` are injectable (tests)."""

    def __init__(self, per_s: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if per_s <= 0:
            raise ValueError("per_s must be positive")
        self.interval = 1.0 / per_s
        self.clock, self.sleep = clock, sleep
        self._next = -float("inf")
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; the seconds waited."""
        with self._lock:
            now = self.clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        wait = slot - now
        if wait > 0:
            self.sleep(wait)
        return wait


# ------------------------------------------------------------------ cache


class SearchCache(Protocol):
    def get(self, query: str, backend: str, since: datetime) -> tuple[Snippet, ...] | None: ...

    def put(self, query: str, backend: str, snippets: Sequence[Snippet], fetched_at: datetime) -> None: ...

    def failed(self, query: str, backend: str, error: str, at: datetime) -> int | None:
        """Count a failure of the query; the failures in a row so far (None: not known)."""
        ...


CACHE_GET_SQL = """
SELECT results FROM web_search_cache WHERE query = %(query)s AND backend = %(backend)s AND fetched_at >= %(since)s
"""
CACHE_PUT_SQL = """
INSERT INTO web_search_cache (query, backend, results, fetched_at) VALUES (%(query)s, %(backend)s, %(results)s,
    %(fetched_at)s)
ON CONFLICT (query, backend) DO UPDATE SET results = EXCLUDED.results, fetched_at = EXCLUDED.fetched_at
"""
PRUNE_SQL = ("DELETE FROM web_search_cache WHERE fetched_at < %(before)s",
             "DELETE FROM web_search_failures WHERE failed_at < %(before)s")
ANSWERED_SQL = "DELETE FROM web_search_failures WHERE query = %(query)s AND backend = %(backend)s"
FAILED_SQL = """
INSERT INTO web_search_failures AS f (query, backend, failures, last_error, failed_at)
VALUES (%(query)s, %(backend)s, 1, %(error)s, %(at)s)
ON CONFLICT (query, backend) DO UPDATE SET failures = f.failures + 1, last_error = EXCLUDED.last_error,
    failed_at = EXCLUDED.failed_at
RETURNING failures
"""


class PostgresSearchCache:
    """The ``web_search_cache`` table: ``connect()`` gives a connection as a context manager that commits on
    success (``Database.connection``, or ``lambda: psycopg.connect(url)``). A cache fault is logged and treated
    as a miss: the search still runs."""

    def __init__(self, connect: Callable[[], AbstractContextManager[psycopg.Connection]]):
        self.connect = connect

    def get(self, query: str, backend: str, since: datetime) -> tuple[Snippet, ...] | None:
        try:
            with self.connect() as conn:
                row = conn.execute(CACHE_GET_SQL, {"query": query, "backend": backend, "since": since}).fetchone()
        except psycopg.Error as exc:
            log.warning("web search cache not readable: %s", exc)
            return None
        if row is None:
            return None
        try:
            return tuple(Snippet.from_json(item) for item in row[0])
        except (KeyError, TypeError):
            return None  # a row of another shape: searched again, and overwritten

    def prune(self, before: datetime) -> int:
        """Delete the answers fetched, and the failure counts last written, before ``before`` (what the cache would
        not reuse any more); the rows deleted. A fault is logged: pruning waits for the next run."""
        try:
            with self.connect() as conn:
                return sum(conn.execute(sql, {"before": before}).rowcount for sql in PRUNE_SQL)
        except psycopg.Error as exc:
            log.warning("web search cache not pruned: %s", exc)
            return 0

    def put(self, query: str, backend: str, snippets: Sequence[Snippet], fetched_at: datetime) -> None:
        results = json.dumps([s.as_json() for s in snippets], ensure_ascii=False)
        try:
            with self.connect() as conn:
                conn.execute(CACHE_PUT_SQL, {"query": query, "backend": backend, "results": results,
                                             "fetched_at": fetched_at})
                conn.execute(ANSWERED_SQL, {"query": query, "backend": backend})  # failures in a row end
        except psycopg.Error as exc:
            log.warning("web search cache not writable: %s", exc)

    def failed(self, query: str, backend: str, error: str, at: datetime) -> int | None:
        try:
            with self.connect() as conn:
                row = conn.execute(FAILED_SQL, {"query": query, "backend": backend, "error": error[:300],
                                                "at": at}).fetchone()
        except psycopg.Error as exc:
            log.warning("web search failures not countable: %s", exc)
            return None
        return int(row[0]) if row else None


# ------------------------------------------------------------------ client


@dataclass
class WebSearch:
    """A search backend behind a rate limit, a timeout, a bounded answer and a cache.

    :meth:`search` never raises: a failure is the outcome's ``error``.
    """

    base_url: str
    backend: str = "searxng"
    results: int = 5
    per_s: float = 1.0
    timeout_s: float = 10.0
    cache_days: int = 30
    cache: SearchCache | None = None
    content_chars: int = 400
    max_bytes: int = 1_000_000
    max_retries: int = 2
    backoff_s: float = 1.0
    workers: int = 2
    max_failures_in_a_row: int = 5  # then the backend counts as down for this client: searches fail at once
    retry_budget_s: float = 60.0  # seconds this client sleeps for retries in all; past it, no more retries
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown web search backend {self.backend!r}: use one of {', '.join(BACKENDS)}")
        if not self.base_url:
            raise ValueError("a web search needs its backend's URL (TY_WEB_SEARCH_URL)")
        self.base_url = self.base_url.rstrip("/")
        self.limiter = RateLimiter(self.per_s, self.clock, self.sleep)
        self.stats = WebSearchStats()
        self._memory: dict[tuple[str, str], tuple[datetime, tuple[Snippet, ...]]] = {}
        self._memory_lock = threading.Lock()
        self._failures_in_a_row = 0
        self._last_failure = ""
        self._retry_slept = 0.0
        self._failures: dict[str, int] = {}  # per query, in this client (without a cache, or when it fails)
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "talent.yoga label cascade"})

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, cache: SearchCache | None = None,
                      backend: str | None = None, url: str | None = None) -> WebSearch | None:
        """The configured search (TY_WEB_SEARCH, TY_WEB_SEARCH_URL, ...), or None when it is off."""
        s = settings or get_settings()
        kind = s.web_search if backend is None else backend
        if not kind:
            return None
        return cls(url or s.web_search_url or "", backend=kind, results=s.web_search_results,
                   per_s=s.web_search_per_s, timeout_s=s.web_search_timeout_s, cache_days=s.web_search_cache_days,
                   cache=cache)

    def close(self) -> None:
        self.session.close()

    @property
    def where(self) -> str:
        """The backend and its host, for metadata and logs (no user info, path or query of the URL)."""
        parts = urlsplit(self.base_url)
        return f"{self.backend} {parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")

    # ---------------------------------------------------------------- cache
    def _cached(self, query: str) -> tuple[Snippet, ...] | None:
        if self.cache_days <= 0:
            return None
        since = self.now() - timedelta(days=self.cache_days)
        with self._memory_lock:
            held = self._memory.get((query, self.backend))
        if held is not None and held[0] >= since:
            return held[1]
        found = self.cache.get(query, self.backend, since) if self.cache is not None else None
        if found is not None:
            with self._memory_lock:
                self._memory[(query, self.backend)] = (self.now(), found)
        return found

    def _remember(self, query: str, snippets: tuple[Snippet, ...]) -> None:
        fetched_at = self.now()
        with self._memory_lock:
            self._memory[(query, self.backend)] = (fetched_at, snippets)
        if self.cache is not None:
            self.cache.put(query, self.backend, snippets, fetched_at)

    # ---------------------------------------------------------------- transport
    def _get_once(self, query: str) -> Any:
        self.limiter.acquire()
        deadline = time.monotonic() + self.timeout_s  # for the whole answer: a drip of bytes must not hold a run
        try:
            response = self.session.get(f"{self.base_url}/search", params={"q": query, "format": "json"},
                                        timeout=self.timeout_s, stream=True, allow_redirects=False)
        except requests.Timeout as exc:
            raise WebSearchError(f"no answer within {self.timeout_s:g} s") from exc
        except requests.RequestException as exc:
            raise Retryable(f"connection failed: {type(exc).__name__}") from exc
        with response:
            status, kind = response.status_code, _clip(response.headers.get("Content-Type", ""), 60)
            if status == 429:
                raise Retryable("429 Too Many Requests (the instance's limiter)",
                                _retry_after(response.headers.get("Retry-After")))
            if status == 403:
                raise WebSearchError("403 Forbidden: the instance does not allow format=json "
                                     "(search.formats in its settings.yml)")
            if status >= 500:
                raise Retryable(f"HTTP {status}")
            if 300 <= status < 400:
                raise WebSearchError(f"HTTP {status}: a redirect (not followed)")
            if status != 200:
                raise WebSearchError(f"HTTP {status}")
            chunks: list[bytes] = []
            size = 0
            try:
                # read1: what has arrived (not a full chunk), so the deadline is checked as the bytes come
                while chunk := response.raw.read1(READ_CHUNK, decode_content=True):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise WebSearchError(f"answer larger than {self.max_bytes:,} bytes")
                    if time.monotonic() > deadline:
                        raise WebSearchError(f"no answer within {self.timeout_s:g} s")
            except urllib3.exceptions.ReadTimeoutError as exc:  # a stall after the headers
                raise WebSearchError(f"no answer within {self.timeout_s:g} s") from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:  # cut short, bad gzip, a reset
                raise WebSearchError(f"answer not read: {type(exc).__name__}") from exc
        raw = b"".join(chunks)
        if "json" not in kind.lower() or raw.lstrip()[:1] not in (b"{", b"["):
            raise WebSearchError(f"not JSON: {kind or 'no content type'}, {len(raw):,} bytes")
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise WebSearchError(f"malformed JSON: {type(exc).__name__}") from exc

    def _fetch(self, query: str) -> tuple[Snippet, ...]:
        for attempt in range(self.max_retries + 1):
            try:
                answer = self._get_once(query)
                snippets = snippets_of(answer, limit=self.results, content_chars=self.content_chars)
                if not snippets and answer.get("unresponsive_engines"):
                    # SearXNG answers an empty list when its engines failed (CAPTCHA, timeouts): no verdict
                    failed = ", ".join(_clip(e[0] if isinstance(e, list) and e else e, 40)
                                       for e in answer["unresponsive_engines"][:5])
                    raise WebSearchError(f"no results, engines unresponsive: {failed}")
                return snippets
            except Retryable as exc:
                wait = exc.retry_after if exc.retry_after is not None else self.backoff_s * 2 ** attempt
                with self._memory_lock:  # the budget is the client's: a tarpit must not hold a run for hours
                    spent = attempt == self.max_retries or wait > MAX_RETRY_AFTER_S or \
                        self._retry_slept + wait > self.retry_budget_s
                    if not spent:
                        self._retry_slept += wait
                if spent:
                    raise
                self.stats.add(retries=1)
                self.sleep(wait)
        raise AssertionError("unreachable")

    def search(self, query: str) -> SearchOutcome:
        """The query's snippets (from the cache when fresh), or its error."""
        query = " ".join(query.split())[:300]
        cached = self._cached(query)
        if cached is not None:
            self.stats.add(cache_hits=1)
            return SearchOutcome(query, self.backend, cached, cached=True)
        with self._memory_lock:
            down = self._failures_in_a_row >= self.max_failures_in_a_row
            last = self._last_failure
        if down:  # an instance that is down or refuses JSON would otherwise cost every title its timeouts
            self.stats.add(errors=1)
            error = f"not sent: the last {self.max_failures_in_a_row} searches failed (last: {last})"[:300]
            return SearchOutcome(query, self.backend, error=error, attempts=self._count_failure(query, error))
        self.stats.add(searches=1)
        try:
            snippets = self._fetch(query)
        except Exception as exc:  # noqa: BLE001 - whatever an answer causes is this query's failure, never the run's
            error = str(exc) if isinstance(exc, WebSearchError) else f"answer not usable: {type(exc).__name__}"
            self.stats.add(errors=1)
            with self._memory_lock:
                self._failures_in_a_row += 1
                self._last_failure = error[:120]
            log.warning("web search %r failed: %s", query, error)
            return SearchOutcome(query, self.backend, error=error[:300], attempts=self._count_failure(query, error))
        with self._memory_lock:
            self._failures_in_a_row = 0
            self._failures.pop(query, None)
        if snippets:  # an empty answer is not kept: asked again next time
            self._remember(query, snippets)
        return SearchOutcome(query, self.backend, snippets)

    def _count_failure(self, query: str, error: str) -> int:
        """The query's failures in a row, this one included: from the cache's count when it has one (across
        runs), else this client's. A query not sent (the breaker) counts too: its title paid the cascade."""
        with self._memory_lock:
            self._failures[query] = here = self._failures.get(query, 0) + 1
        stored = self.cache.failed(query, self.backend, error, self.now()) if self.cache is not None else None
        return stored if stored is not None else here

    def search_many(self, queries: Sequence[str]) -> list[SearchOutcome]:
        """:meth:`search` for each query, ``workers`` in flight (the rate limit holds for all), in order."""
        if len(queries) <= 1 or self.workers <= 1:
            return [self.search(q) for q in queries]
        with ThreadPoolExecutor(self.workers, thread_name_prefix="ty-web") as pool:
            return list(pool.map(self.search, queries))


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds; None (the exponential backoff applies) for an HTTP date, or zero or less."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds > 0 and math.isfinite(seconds) else None
