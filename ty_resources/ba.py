"""The BA job search API (Jobsuche) and the offline snapshot, behind one interface.

``BaClient`` speaks ``GET /pc/v4/jobs`` and ``GET /pc/v4/jobdetails/{base64(refnr)}``
over one pooled ``requests`` session: header ``X-API-Key``, a client-side rate
limit, timeouts on every call, and urllib3's ``Retry`` with exponential backoff
on 429 (honouring ``Retry-After``), 5xx, timeouts and connection errors; never
on other 4xx. A day's crawl follows a query plan that keeps every query under
the API's 10,000-result cap (:mod:`ty_resources.crawl`): ``fetch_day`` takes
the plan of the day before and returns the day's :class:`~ty_resources.crawl.Crawl`,
whose ``plan`` is the plan that worked and ``stats`` its numbers.

``SnapshotSource`` serves a generated snapshot (``tyctl sample``) in the same
shapes, paged the same way, so the pipeline cannot tell the two apart.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ty_resources.counters import Counters
from ty_resources.crawl import MAX_PAGE_SIZE, Crawl, CrawlStats, Plan, SearchResult, initial_plan
from ty_resources.germany import BERLIN, PARTITION_DEADLINE
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


def parse_search_page(body: Any, url: str, page: int) -> SearchResult:
    """Both shapes: ``stellenangebote[]``/``refnr`` and ``ergebnisliste[]``/``referenznummer``.

    Items come back with ``refnr`` set in either case. The API leaves the list
    out when a query has no results; then ``maxErgebnisse`` must be there.
    ``facetten`` (counts per filter value) is read as an object of
    ``{name: {"counts": {...}}}`` or, as the OpenAPI description has it, a list
    of such objects; a facet that is missing or malformed is left out.
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
    if max_results is None:
        # The crawl plans and pages by this count: without it a query cannot be known to be complete.
        raise BaShapeError(f"{url} page {page}: no usable maxErgebnisse ({body.get('maxErgebnisse')!r})")
    return SearchResult(items=items, max_results=max_results, facets=_parse_facets(body.get("facetten")))


def _parse_facets(raw: Any) -> dict[str, dict[str, int]]:
    parts = raw if isinstance(raw, list) else [raw]
    facets: dict[str, dict[str, int]] = {}
    for part in parts:
        if not isinstance(part, dict):
            continue
        for name, facet in part.items():
            counts = facet.get("counts") if isinstance(facet, dict) else None
            if not isinstance(counts, dict):
                continue
            parsed = {str(value): n for value, count in counts.items() if (n := _as_int(count)) is not None}
            facets[str(name)] = parsed
    return facets


MAX_COUNT = 100_000_000  # no count of the API is larger; a larger one is no usable number


def _as_int(value: Any) -> int | None:
    """A count from the API (int, or its decimal string) between 0 and :data:`MAX_COUNT`; None for anything
    else: bools, fractions, the ``Infinity``/``1e400`` that JSON decoding lets through (``int()`` would raise
    OverflowError), and integers of hundreds of digits (the crawl's arithmetic would overflow a float)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        return None
    if isinstance(value, str) and len(value.strip()) > 12:
        return None  # int() of a long digit string costs quadratic time
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 <= number <= MAX_COUNT else None


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
    retries: int = 0
    errors: int = 0


class DayFetch(Protocol):
    """One day's postings from a source: ``pages()`` yields them page by page (a refnr may repeat); once it
    is exhausted, ``stats`` has the crawl's numbers, ``plan`` the query plan that worked (None for a
    snapshot), and ``raise_if_incomplete`` raises when part of the day could not be fetched."""

    @property
    def stats(self) -> CrawlStats: ...

    @property
    def plan(self) -> Plan | None: ...

    def pages(self) -> Iterator[list[dict[str, Any]]]: ...

    def raise_if_incomplete(self) -> None: ...


class PostingSource(Protocol):
    """What the postings assets need from a source of postings."""

    name: str
    stats: FetchStats

    def fetch_day(self, day: date, plan: Plan | None = None) -> DayFetch:
        """The postings open on ``day``, following (and updating) ``plan``, the plan of the day before."""

    def fetch_detail(self, refnr: str) -> dict[str, Any] | None:
        """The posting's details, or None when the source has none (404)."""

    def close(self) -> None: ...


def live_days(now: datetime) -> tuple[date, ...]:
    """The partitions the live API can fill at ``now`` (Europe/Berlin): today, and yesterday until its
    deadline (a daily run that crosses midnight still writes its own day)."""
    local = now.astimezone(BERLIN)
    if local.time() < PARTITION_DEADLINE:
        return (local.date(), local.date() - timedelta(days=1))
    return (local.date(),)


class BaClient:
    name = "ba"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "jobboerse-jobsuche",
        page_size: int = MAX_PAGE_SIZE,
        offer_types: list[int] | None = None,
        requests_per_s: float = 5.0,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        pool_size: int = 8,
    ):
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.offer_types = offer_types or [1, 4]
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
            base_url or s.ba_base_url, api_key=s.ba_api_key, page_size=s.ba_page_size, offer_types=s.offer_types,
            requests_per_s=s.ba_requests_per_s, connect_timeout_s=s.ba_connect_timeout_s,
            read_timeout_s=s.ba_read_timeout_s, max_retries=s.ba_max_retries, backoff_s=s.ba_backoff_s,
            pool_size=pool_size,
        )

    def close(self) -> None:
        self.session.close()

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> requests.Response:
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

    def _get_json(self, path: str, params: Mapping[str, Any] | None, what: str) -> tuple[Any, str] | None:
        """The decoded answer and its URL; None for a 404; an error naming the URL otherwise."""
        response = self._get(path, params)
        if response.status_code == 404 and path != SEARCH_PATH:
            return None
        if response.status_code != 200:
            self.stats.add(errors=1)
            raise BaRequestError(f"GET {response.url}: HTTP {response.status_code} {response.text[:200]}")
        try:
            return response.json(), response.url
        except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the decoder goes
            self.stats.add(errors=1)
            raise BaShapeError(f"{response.url} {what}: not JSON ({exc}): {response.text[:200]!r}") from exc

    def search(self, params: Mapping[str, str], page: int, size: int) -> SearchResult:
        """One page of one query (the crawl keeps ``page × size`` within the API's cap)."""
        answer = self._get_json(SEARCH_PATH, {**params, "page": page, "size": size}, f"page {page}")
        assert answer is not None  # a search 404 is an error, not "no such posting"
        return parse_search_page(*answer, page)

    def fetch_day(self, day: date, plan: Plan | None = None, now: datetime | None = None) -> Crawl:
        allowed = live_days(now or datetime.now(BERLIN))
        if day not in allowed:
            raise BaRequestError(
                f"the live BA API serves the postings open now; partition {day} cannot be fetched from it "
                f"(only {' or '.join(map(str, allowed))}; use TY_SOURCE=snapshot to replay a snapshot)"
            )
        return Crawl(self.search, initial_plan(self.offer_types, plan), page_size=self.page_size,
                     errors=(BaRequestError, BaShapeError))

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

    def fetch_day(self, day: date, plan: Plan | None = None) -> SnapshotDay:
        return SnapshotDay(self, self.snapshot.items_for(day.isoformat()))

    def fetch_detail(self, refnr: str) -> dict[str, Any] | None:
        self.stats.add(requests=1)
        return self.snapshot.details.get(refnr)

    def close(self) -> None:
        pass


class SnapshotDay:
    """A snapshot's day, paged like the API; its plan is the whole day (the snapshot has no cap)."""

    plan: Plan | None = None

    def __init__(self, source: SnapshotSource, items: list[dict[str, Any]]):
        self.source = source
        self.items = items
        self.stats = CrawlStats(planned=len({item["refnr"] for item in items}))

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        seen: set[str] = set()
        size = self.source.page_size
        details = self.source.snapshot.details
        for start in range(0, len(self.items), size):
            # The offer type is in the details (the search items do not carry it; the live crawl adds it
            # from its query). Copies: the snapshot's items are shared.
            page = [item if "angebotsart" in item or "angebotsart" not in details.get(item["refnr"], {})
                    else {**item, "angebotsart": details[item["refnr"]]["angebotsart"]}
                    for item in self.items[start : start + size]]
            self.source.stats.add(requests=1)
            self.stats.pages += 1
            seen.update(item["refnr"] for item in page)
            self.stats.fetched = len(seen)
            yield page
        self.stats.leaves = 1

    def raise_if_incomplete(self) -> None:
        pass
