"""A local alert receiver for tests: a webhook endpoint and the Signal REST API's ``/v2/send`` on 127.0.0.1.

It records every request (path, headers, JSON body) and answers from a script
of statuses (``statuses``, one per request, then ``default_status``), so a test
can make the first attempt fail with a 500 and the retry succeed. A 2xx answer
to ``/v2/send`` carries ``{"timestamp": ...}`` like signal-cli-rest-api's 201.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from ty_testing.http import LoopbackServer, send_json


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class AlertReceiver(LoopbackServer):
    statuses: list[int] = field(default_factory=list)
    default_status: int = 200
    requests: list[ReceivedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    def answer_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses, in order (then ``default_status`` again)."""
        with self._lock:
            self.statuses.extend(statuses)

    @property
    def delivered(self) -> list[ReceivedRequest]:
        """Requests answered with a 2xx: the alerts that arrived."""
        with self._lock:
            return [r for r in self.requests if r.delivered]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """All requests once at least ``count`` arrived (AssertionError after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
                self._arrived.wait(left)
            return list(self.requests)

    def handle(self, request: BaseHTTPRequestHandler, body: bytes | None) -> None:
        with self._lock:
            status = self.statuses.pop(0) if self.statuses else self.default_status
        received = ReceivedRequest(
            method=request.command, path=request.path, headers={k.lower(): v for k, v in request.headers.items()},
            body=body or b"", status=status,
        )
        if 200 <= status < 300:
            answer: dict[str, Any] = (
                {"timestamp": str(int(time.time() * 1000))} if request.path.endswith("/v2/send") else {"ok": True}
            )
        else:
            answer = {"error": f"injected {status}"}
        # Recorded before answering: a client that has its answer finds its request listed.
        with self._arrived:
            self.requests.append(received)
            self._arrived.notify_all()
        send_json(request, status, answer)
