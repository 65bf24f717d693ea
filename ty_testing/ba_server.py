"""A local BA job search server for tests and benchmarks.

Serves one day of a :class:`~ty_resources.snapshot.Snapshot` on 127.0.0.1
through the real paths, parameters and paging (``/pc/v4/jobs`` with ``wo``,
``veroeffentlichtseit``, ``page``, ``size``; ``/pc/v4/jobdetails/{base64(refnr)}``),
in either response shape, and injects faults on request: 429 with
``Retry-After``, 503, slow answers, malformed JSON, an unknown shape, an empty
page in the middle, a held request (to kill a client mid-run), a 404 detail.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from ty_resources.ba import DETAILS_PATH, SEARCH_PATH
from ty_resources.snapshot import Snapshot
from ty_testing.http import LoopbackServer, send_json, send_raw

FaultKind = Literal["429", "503", "slow", "malformed", "unknown_shape", "empty_page", "hold", "404"]


@dataclass
class Fault:
    """``kind`` on the next ``count`` matching requests.

    ``endpoint``: "search" or "details"; ``page``: only that page of a search;
    ``refnr``: only that posting's details.
    """

    kind: FaultKind
    endpoint: Literal["search", "details"] = "search"
    count: int = 1
    page: int | None = None
    refnr: str | None = None
    retry_after: float = 0
    delay: float = 0
    served: int = 0

    def matches(self, endpoint: str, page: int | None, refnr: str | None) -> bool:
        return (
            self.served < self.count
            and self.endpoint == endpoint
            and (self.page is None or self.page == page)
            and (self.refnr is None or self.refnr == refnr)
        )


@dataclass
class BaTestServer(LoopbackServer):
    snapshot: Snapshot
    day: str | None = None
    shape: Literal["stellenangebote", "ergebnisliste"] = "stellenangebote"
    api_key: str = "jobboerse-jobsuche"
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def stop(self) -> None:
        self.release.set()  # a held request must not outlive the server
        super().stop()

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    # ------------------------------------------------------------- handling
    def _take_fault(self, endpoint: str, page: int | None, refnr: str | None) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(endpoint, page, refnr):
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
            page = _int(params.get("page"), 1)
            fault = self._take_fault("search", page, None)
            if fault and self._apply(request, fault):
                return
            return self._search(request, params, page, empty=bool(fault and fault.kind == "empty_page"))
        prefix = DETAILS_PATH.format("")
        if parts.path.startswith(prefix):
            try:
                refnr = base64.b64decode(parts.path[len(prefix):], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return send_json(request, 400, {"error": "job code is not base64"})
            fault = self._take_fault("details", None, refnr)
            if fault and self._apply(request, fault):
                return
            detail = self.snapshot.details.get(refnr)
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

    def _search(self, request: BaseHTTPRequestHandler, params: dict[str, str], page: int, empty: bool) -> None:
        day = self.day or self.snapshot.day_keys[-1]
        size = min(max(_int(params.get("size"), 25), 1), 100)
        items = self.snapshot.items_for(day)
        if "wo" in params:
            items = [i for i in items if (i.get("arbeitsort") or {}).get("region") == params["wo"]]
        if "veroeffentlichtseit" in params:
            since = (date.fromisoformat(day) - timedelta(days=_int(params["veroeffentlichtseit"], 100))).isoformat()
            items = [i for i in items if (i.get("aktuelleVeroeffentlichungsdatum") or day) >= since]
        chunk = [] if empty else items[(page - 1) * size : page * size]
        body: dict[str, Any] = {"maxErgebnisse": str(len(items)), "page": str(page), "size": str(size)}
        if chunk or empty:
            if self.shape == "stellenangebote":
                body["stellenangebote"] = chunk
            else:
                body["ergebnisliste"] = [
                    {("referenznummer" if k == "refnr" else k): v for k, v in item.items()} for item in chunk
                ]
        send_json(request, 200, body)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
