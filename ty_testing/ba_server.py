"""A local BA job search server as strict as the real one, for tests and benchmarks.

Serves a :class:`~ty_testing.ba_market.Market` (generated at any scale, or one day of a snapshot) on
127.0.0.1 through the real paths (``/pc/v4/jobs``, ``/pc/v4/jobdetails/{base64(refnr)}``), in either
response shape, with the real API's limits and odd behaviour:

- ``size`` above 100 (or below 1), a page below 1, or ``page × size`` above 10,000 answer
  ``400 EINGABEPARAMETER_FEHLERHAFT``, as does a filter value the API does not know; ``maxErgebnisse``
  still reports the full count of a query that cannot be paged to its end.
- Every filter of :mod:`ty_testing.ba_market` with its semantics, and ``facetten`` (counts per filter
  value) in every search answer.
- The market moves while a client pages: with ``churn``, every search request may bring new postings
  (to the top of the lists) and withdraw others, so pages shift under the client (duplicates and misses
  at page borders).
- Faults on request: 429 with ``Retry-After``, 503, slow answers, malformed JSON, an unknown shape, an
  empty page in the middle, a held request (to kill a client mid-run), a 404 detail.
"""

from __future__ import annotations

import base64
import binascii
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from ty_resources.ba import DETAILS_PATH, SEARCH_PATH
from ty_resources.crawl import MAX_PAGE_SIZE, RESULT_CAP
from ty_resources.snapshot import Snapshot
from ty_testing.ba_market import Market, MarketQueryError
from ty_testing.http import LoopbackServer, send_json, send_raw

FaultKind = Literal["429", "503", "slow", "malformed", "unknown_shape", "empty_page", "hold", "404"]


@dataclass
class Fault:
    """``kind`` on the next ``count`` matching requests.

    ``endpoint``: "search" or "details"; ``page``: only that page of a search; ``params``: only searches
    with these parameters (e.g. ``{"wo": "Bayern"}``); ``refnr``: only that posting's details.
    """

    kind: FaultKind
    endpoint: Literal["search", "details"] = "search"
    count: int = 1
    page: int | None = None
    refnr: str | None = None
    params: dict[str, str] | None = None
    retry_after: float = 0
    delay: float = 0
    served: int = 0

    def matches(self, endpoint: str, page: int | None, refnr: str | None, params: dict[str, str]) -> bool:
        return (
            self.served < self.count
            and self.endpoint == endpoint
            and (self.page is None or self.page == page)
            and (self.refnr is None or self.refnr == refnr)
            and (self.params is None or all(params.get(k) == v for k, v in self.params.items()))
        )


@dataclass
class Churn:
    """The market moving while it is paged: after each search request, ``arrivals`` new postings on
    average (published today, at the top of every list) and ``withdrawals`` withdrawn ones."""

    arrivals: float = 0.0
    withdrawals: float = 0.0
    seed: int = 7


def error_body(message: str) -> dict[str, Any]:
    """The API's error answer (``messages[].code``), with what was wrong in words."""
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "logref": f"{random.getrandbits(20):05x}",
        "messages": [{"code": "EINGABEPARAMETER_FEHLERHAFT", "message": message}],
    }


@dataclass
class BaTestServer(LoopbackServer):
    snapshot: Snapshot | None = None
    day: str | None = None
    market: Market | None = None
    shape: Literal["stellenangebote", "ergebnisliste"] = "stellenangebote"
    api_key: str = "jobboerse-jobsuche"
    facets: bool = True
    churn: Churn | None = None
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        if self.market is None:
            if self.snapshot is None:
                raise ValueError("BaTestServer needs a market or a snapshot")
            self.market = Market.from_snapshot(self.snapshot, self.day)
        self._detail = self.snapshot.details.get if self.snapshot is not None else self.market.detail
        self._churn_rng = random.Random(self.churn.seed if self.churn else 0)
        self._churn_due = [0.0, 0.0]
        self._arrived = 0

    def stop(self) -> None:
        self.release.set()  # a held request must not outlive the server
        super().stop()

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def search_requests(self) -> list[dict[str, str]]:
        with self._lock:
            return [params for path, params in self.requests if path == SEARCH_PATH]

    # ------------------------------------------------------------- handling
    def _take_fault(self, endpoint: str, page: int | None, refnr: str | None, params: dict[str, str]) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(endpoint, page, refnr, params):
                    fault.served += 1
                    return fault
        return None

    def handle(self, request: BaseHTTPRequestHandler, body: bytes | None) -> None:
        parts = urlsplit(request.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.requests.append((parts.path, params))
        if request.headers.get("X-API-Key") != self.api_key:
            return send_json(request, 403, {"error": "missing or wrong X-API-Key"})
        if parts.path == SEARCH_PATH:
            try:
                page, size = _positive(params, "page", 1), _positive(params, "size", 25)
            except MarketQueryError as exc:
                return send_json(request, 400, error_body(str(exc)))
            fault = self._take_fault("search", page, None, params)
            if fault and self._apply(request, fault):
                return
            return self._search(request, params, page, size, empty=bool(fault and fault.kind == "empty_page"))
        prefix = DETAILS_PATH.format("")
        if parts.path.startswith(prefix):
            try:
                refnr = base64.b64decode(parts.path[len(prefix):], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return send_json(request, 400, {"error": "job code is not base64"})
            fault = self._take_fault("details", None, refnr, params)
            if fault and self._apply(request, fault):
                return
            with self._lock:
                detail = self._detail(refnr)
            if detail is None or (fault and fault.kind == "404"):
                return send_json(request, 404, {"error": f"no job {refnr}"})
            return send_json(request, 200, detail)
        return send_json(request, 404, {"error": f"no route {parts.path}"})

    def _apply(self, request: BaseHTTPRequestHandler, fault: Fault) -> bool:
        """Serve the fault; False when the normal answer should follow (slow, hold, empty_page, 404)."""
        if fault.kind == "429":
            send_json(request, 429, {"error": "too many requests"}, {"Retry-After": f"{fault.retry_after:g}"})
        elif fault.kind == "503":
            send_json(request, 503, {"error": "service unavailable"})
        elif fault.kind == "malformed":
            send_raw(request, 200, b'{"stellenangebote": [{"refnr": ', "application/json")
        elif fault.kind == "unknown_shape":
            send_json(request, 200, {"jobs": [], "total": 0})
        elif fault.kind == "slow":
            time.sleep(fault.delay)
            return False
        elif fault.kind == "hold":
            self.held.set()
            self.release.wait(timeout=120)
            return False
        else:
            return False
        return True

    def _search(self, request: BaseHTTPRequestHandler, params: dict[str, str], page: int, size: int,
                empty: bool) -> None:
        market = self.market
        assert market is not None
        if size > MAX_PAGE_SIZE:
            return send_json(request, 400, error_body(f"size={size} is more than {MAX_PAGE_SIZE}"))
        if page * size > RESULT_CAP:
            return send_json(request, 400, error_body(f"page × size = {page * size} is more than {RESULT_CAP}"))
        with self._lock:
            try:
                rows = market.select(params)
            except MarketQueryError as exc:
                return send_json(request, 400, error_body(str(exc)))
            chunk = [] if empty else [market.items[i] for i in rows[(page - 1) * size : page * size]]
            facets = market.facets(rows) if self.facets else None
            self._move()
        answer: dict[str, Any] = {"maxErgebnisse": str(len(rows)), "page": str(page), "size": str(size)}
        if chunk or empty:
            if self.shape == "stellenangebote":
                answer["stellenangebote"] = chunk
            else:
                answer["ergebnisliste"] = [
                    {("referenznummer" if k == "refnr" else k): v for k, v in item.items()} for item in chunk
                ]
        if facets is not None:
            answer["facetten"] = {name: {"counts": counts, "maxCount": max(counts.values(), default=0)}
                                  for name, counts in facets.items()}
        send_json(request, 200, answer)

    def _move(self) -> None:
        """Churn after a search request (under the lock)."""
        if self.churn is None:
            return
        market = self.market
        assert market is not None
        rng = self._churn_rng
        self._churn_due[0] += self.churn.arrivals
        self._churn_due[1] += self.churn.withdrawals
        while self._churn_due[0] >= 1:
            self._churn_due[0] -= 1
            self._arrived += 1
            market.arrive(rng.randrange(len(market)), f"19999-{self._arrived:010d}-S")
        while self._churn_due[1] >= 1:
            self._churn_due[1] -= 1
            row = rng.randrange(len(market))
            if market.active[row]:
                market.withdraw(row)


def _positive(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise MarketQueryError(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise MarketQueryError(f"{name}={value} is less than 1")
    return value
