"""The BA job search API (Jobsuche) and the offline snapshot, behind one interface.

``BaClient`` speaks ``GET /pc/v4/jobs`` and ``GET /pc/v4/jobdetails/{base64(refnr)}``
over one pooled ``requests`` session: header ``X-API-Key``, a client-side rate
limit, timeouts on every call, and urllib3's ``Retry`` with exponential backoff
on 429 (honouring ``Retry-After``), 5xx, timeouts and connection errors; never
on other 4xx. A day's crawl is split per Bundesland (``wo``) and publication
window (``veroeffentlichtseit``) so that no single query has to be paged to its
end; results are de-duplicated by ``refnr`` downstream.

``SnapshotSource`` serves a generated snapshot (``tyctl sample``) in the same
shapes, paged the same way, so the pipeline cannot tell the two apart.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ty_resources.counters import Counters
from ty_resources.germany import BERLIN, LAENDER
from ty_resources.settings import Settings, get_settings
from ty_resources.snapshot import Snapshot

SEARCH_PATH = "/pc/v4/jobs"
DETAILS_PATH = "/pc/v4/jobdetails/{}"
RETRY_STATUSES = (429, 500, 502, 503, 504)


class BaShapeError(ValueError):
    """An answer that is neither of the API's known shapes."""


class BaRequestError(RuntimeError):
    """A request that failed for good (after retries, or a 4xx that is not retried)."""


# ----------------------------------------------------------------------- shapes


@dataclass(frozen=True)
class SearchPage:
    items: list[dict[str, Any]]
    max_results: int | None


def parse_search_page(body: Any, url: str, page: int) -> SearchPage:
    """Both shapes: ``stellenangebote[]``/``refnr`` and ``ergebnisliste[]``/``referenznummer``.

    Items come back with ``refnr`` set in either case. The API leaves the list
    out when a query has no results; then ``maxErgebnisse`` must be there.
    """
    if not isinstance(body, dict):
        raise BaShapeError(f"{url} page {page}: expected a JSON object, found {type(body).__name__}")
    max_results = _as_int(body.get("maxErgebnisse"))
    if "stellenangebote" in body:
        raw_items, id_key = body["stellenangebote"], "refnr"
    elif "ergebnisliste" in body:
        raw_items, id_key = body["ergebnisliste"], "referenznummer"
    elif "maxErgebnisse" in body:
        raw_items, id_key = [], "refnr"
    else:
        raise BaShapeError(
            f"{url} page {page}: neither 'stellenangebote' nor 'ergebnisliste' in the answer; "
            f"found keys {sorted(body)[:12]}"
        )
    if not isinstance(raw_items, list):
        raise BaShapeError(f"{url} page {page}: the result list is a {type(raw_items).__name__}, not a list")
    items = []
    for position, item in enumerate(raw_items):
        refnr = item.get(id_key) if isinstance(item, dict) else None
        if not isinstance(refnr, str) or not refnr.strip():
            raise BaShapeError(f"{url} page {page}: item {position} has no '{id_key}': {str(item)[:200]}")
        items.append(item if id_key == "refnr" else {**item, "refnr": refnr})
    return SearchPage(items=items, max_results=max_results)


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class _TextExtractor(HTMLParser):
    BLOCKS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "tr", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(markup: str | None) -> str:
    """Plain text of a job description: one line per block, entities decoded, spaces folded."""
    if not markup:
        return ""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).replace("\xa0", " ").splitlines())
    return "\n".join(line for line in lines if line)


# ---------------------------------------------------------------------- client


class RateLimiter:
    """At most ``per_second`` calls per second across threads (evenly spaced)."""

    def __init__(self, per_second: float):
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(self._next, now)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


@dataclass
class FetchStats(Counters):
    requests: int = 0
    pages: int = 0
    retries: int = 0
    errors: int = 0
    truncated: int = 0  # queries that stopped before maxErgebnisse (page limit, or an empty page twice)


class PostingSource(Protocol):
    """What the postings assets need from a source of postings."""

    name: str
    stats: FetchStats

    def fetch_day(self, day: date) -> Iterator[list[dict[str, Any]]]:
        """The postings open on ``day``, page by page (a refnr may repeat across pages)."""

    def fetch_detail(self, refnr: str) -> dict[str, Any] | None:
        """The posting's details, or None when the source has none (404)."""

    def close(self) -> None: ...


class BaClient:
    name = "ba"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "jobboerse-jobsuche",
        page_size: int = 100,
        max_pages: int = 100,
        published_windows: list[int] | None = None,
        requests_per_s: float = 5.0,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        pool_size: int = 8,
    ):
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.max_pages = max_pages
        self.published_windows = published_windows or [1, 7, 30, 100]
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.stats = FetchStats()
        self._limiter = RateLimiter(requests_per_s)
        retry = Retry(
            total=max_retries,
            connect=max_retries,
            read=max_retries,
            status=max_retries,
            backoff_factor=backoff_s,
            backoff_max=60,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET"}),
            respect_retry_after_header=True,
            raise_on_status=True,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
        self.session = requests.Session()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {"X-API-Key": api_key, "Accept": "application/json", "User-Agent": "talent-yoga-data/0.1"}
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, pool_size: int = 8, base_url: str | None = None
                      ) -> BaClient:
        s = settings or get_settings()
        return cls(
            base_url or s.ba_base_url, api_key=s.ba_api_key, page_size=s.ba_page_size, max_pages=s.ba_max_pages,
            published_windows=s.published_windows, requests_per_s=s.ba_requests_per_s,
            connect_timeout_s=s.ba_connect_timeout_s, read_timeout_s=s.ba_read_timeout_s,
            max_retries=s.ba_max_retries, backoff_s=s.ba_backoff_s, pool_size=pool_size,
        )

    def close(self) -> None:
        self.session.close()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        url = self.base_url + path
        self._limiter.wait()
        self.stats.add(requests=1)
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:  # retries exhausted, or not retryable
            self.stats.add(errors=1)
            raise BaRequestError(f"GET {url} {params or ''} failed: {exc}") from exc
        history = getattr(getattr(response.raw, "retries", None), "history", ())
        self.stats.add(retries=len(history))
        return response

    def search_pages(self, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Page one query from 1 until a page brings nothing new, ``maxErgebnisse`` or ``max_pages``.

        An empty page before ``maxErgebnisse`` is reached is asked for once more
        (the API answers so under load) before the query is taken as done.
        """
        seen: set[str] = set()
        for page in range(1, self.max_pages + 1):
            result = self._search_page(params, page)
            max_results = result.max_results
            short = max_results is not None and max_results != 0 and (page - 1) * self.page_size < max_results
            if not result.items and short:
                self.stats.add(retries=1)
                result = self._search_page(params, page)
                if not result.items:
                    self.stats.add(truncated=1)  # the API promised more than it gives
                    return
            new = [item for item in result.items if item["refnr"] not in seen]
            if not new:
                return
            seen.update(item["refnr"] for item in new)
            yield result.items
            if result.max_results is not None and page * self.page_size >= result.max_results:
                return
        self.stats.add(truncated=1)  # max_pages reached before maxErgebnisse: split the query finer

    def _get_json(self, path: str, params: dict[str, Any] | None, what: str) -> tuple[Any, str] | None:
        """The decoded answer and its URL; None for a 404; an error naming the URL otherwise."""
        response = self._get(path, params)
        if response.status_code == 404 and path != SEARCH_PATH:
            return None
        if response.status_code != 200:
            self.stats.add(errors=1)
            raise BaRequestError(f"GET {response.url}: HTTP {response.status_code} {response.text[:200]}")
        try:
            return response.json(), response.url
        except ValueError as exc:
            self.stats.add(errors=1)
            raise BaShapeError(f"{response.url} {what}: not JSON ({exc}): {response.text[:200]!r}") from exc

    def _search_page(self, params: dict[str, Any], page: int) -> SearchPage:
        answer = self._get_json(SEARCH_PATH, {**params, "page": page, "size": self.page_size}, f"page {page}")
        assert answer is not None  # a search 404 is an error, not "no such posting"
        result = parse_search_page(*answer, page)
        self.stats.add(pages=1)
        return result

    def queries(self) -> list[dict[str, Any]]:
        """The split of one day's crawl: each Bundesland per publication window, plus each window
        without ``wo`` (postings abroad, or whose place names no Land)."""
        return [
            {**({"wo": land} if land else {}), "veroeffentlichtseit": window, "angebotsart": 1}
            for window in self.published_windows
            for land in (*LAENDER, None)
        ]

    def fetch_day(self, day: date) -> Iterator[list[dict[str, Any]]]:
        today = datetime.now(BERLIN).date()
        if day != today:
            raise BaRequestError(
                f"the live BA API serves the postings open now ({today}); partition {day} cannot be "
                "fetched from it (use TY_SOURCE=snapshot to replay a snapshot)"
            )
        for params in self.queries():
            yield from self.search_pages(params)

    def fetch_detail(self, refnr: str) -> dict[str, Any] | None:
        code = base64.b64encode(refnr.encode()).decode()
        answer = self._get_json(DETAILS_PATH.format(code), None, f"detail of {refnr}")
        if answer is None:
            return None
        body, url = answer
        if not isinstance(body, dict):
            raise BaShapeError(f"{url}: detail of {refnr} is a {type(body).__name__}, not an object")
        return body


@lru_cache(maxsize=2)
def _load_snapshot(path: str, mtime_ns: int, size: int) -> Snapshot:
    """One parse per file version and process (a run opens the source once per asset)."""
    return Snapshot.load(Path(path))


class SnapshotSource:
    """A snapshot file replayed through the same interface, paged like the API."""

    name = "snapshot"

    def __init__(self, path: Path, page_size: int = 100):
        self.path = path
        stat = path.stat() if path.exists() else None
        self.snapshot = _load_snapshot(str(path), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0)
        self.page_size = page_size
        self.stats = FetchStats()

    def fetch_day(self, day: date) -> Iterator[list[dict[str, Any]]]:
        items = self.snapshot.items_for(day.isoformat())
        for start in range(0, len(items), self.page_size):
            self.stats.add(requests=1, pages=1)
            yield items[start : start + self.page_size]

    def fetch_detail(self, refnr: str) -> dict[str, Any] | None:
        self.stats.add(requests=1)
        return self.snapshot.details.get(refnr)

    def close(self) -> None:
        pass
