"""A local Ollama server for tests and benchmarks, with a calibrated capacity model.

Speaks Ollama's HTTP API on 127.0.0.1: ``/api/embed``, ``/api/embeddings``,
``/api/chat``, ``/api/generate``, ``/api/tags``, ``/api/version``, with Ollama's
request and response shapes and its error bodies (``{"error": "..."}``).
Vectors come from the local embedder; chat answers from a per-test script.

Capacity model (per request): first a parallel overhead ``o`` (HTTP,
tokenising, queueing), then the single GPU slot is held for ``a + c * inputs``.
Calibrated to the old system's figures and a public one — one worker, one text
per request: 6.4 texts/s; eight such workers: plateau at 32 texts/s; bge-m3 on
one consumer GPU: ~148 inputs/s with 1,000 inputs per request, ~6.6/s with one
call per text (ollama issue 12239) — which gives o = 125 ms, a = 24 ms,
c = 6.75 ms. Check: 1/(o+a+c) = 6.4/s; 1/(a+c) = 32.5/s; 1000/(a+1000c) = 147/s.
The chat model (qwen2.5:7b, ``OLLAMA_NUM_PARALLEL=1``): one worker 1.9 requests/s,
two workers 2.9/s, which gives an overhead of 181 ms and a slot of 345 ms.
``time_scale`` multiplies every duration (tests use a small one).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from ty_resources.embedders import LocalEmbedder
from ty_testing.http import LoopbackServer, send_json, send_raw

BUSY = "server busy, please try again.  maximum pending requests exceeded"  # Ollama's words
FaultKind = Literal["500", "503", "timeout", "malformed", "404"]


@dataclass
class CapacityModel:
    overhead_s: float = 0.125
    slot_fixed_s: float = 0.024
    slot_per_input_s: float = 0.00675
    llm_overhead_s: float = 0.181
    llm_slot_s: float = 0.345
    num_parallel: int = 1  # OLLAMA_NUM_PARALLEL for the chat model
    max_queue: int = 512  # OLLAMA_MAX_QUEUE: more waiting requests get 503
    time_scale: float = 1.0

    @property
    def ceiling_texts_per_s(self) -> float:
        """The embedding throughput with the GPU never idle: 1 / c."""
        return 1.0 / (self.slot_per_input_s * self.time_scale) if self.time_scale else float("inf")


@dataclass
class OllamaFault:
    """``kind`` on the next ``count`` requests to ``endpoint`` (e.g. "/api/embed")."""

    kind: FaultKind
    endpoint: str = "/api/embed"
    count: int = 1
    served: int = 0


@dataclass
class OllamaTestServer(LoopbackServer):
    models: tuple[str, ...] = ("bge-m3:latest", "qwen2.5:7b")
    dimension: int = 1024
    capacity: CapacityModel = field(default_factory=CapacityModel)
    chat_script: Callable[[dict[str, Any]], str | dict[str, Any]] | None = None
    faults: list[OllamaFault] = field(default_factory=list)
    error_rate: float = 0.0  # share of embed requests answered 500 (seeded)
    timeout_rate: float = 0.0  # share of embed requests that stall past the client's timeout
    stall_s: float = 2.0
    seed: int = 0
    version: str = "0.12.3"

    def __post_init__(self) -> None:
        self.embedder = LocalEmbedder(dimension=self.dimension)
        self.requests: Counter[str] = Counter()
        self.inputs_embedded = 0
        self.chat_bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._gpu = threading.Lock()
        self._llm_slots = threading.Semaphore(self.capacity.num_parallel)
        self._waiting = 0
        self._rng = random.Random(self.seed)

    def add_fault(self, fault: OllamaFault) -> OllamaFault:
        with self._lock:
            self.faults.append(fault)
        return fault

    # -------------------------------------------------------------- handling
    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self.capacity.time_scale > 0:
            time.sleep(seconds * self.capacity.time_scale)

    def _fault_for(self, path: str) -> str | None:
        with self._lock:
            for fault in self.faults:
                if fault.endpoint == path and fault.served < fault.count:
                    fault.served += 1
                    return fault.kind
            if path == "/api/embed":
                draw = self._rng.random()
                if draw < self.error_rate:
                    return "500"
                if draw < self.error_rate + self.timeout_rate:
                    return "timeout"
        return None

    def handle(self, request: BaseHTTPRequestHandler, raw: bytes | None) -> None:
        path = request.path.split("?", 1)[0]
        with self._lock:
            self.requests[path] += 1
        if raw is None:
            if path == "/api/tags":
                return send_json(request, 200, {"models": [
                    {"name": m, "model": m, "size": 1_000_000_000, "digest": "0" * 64,
                     "details": {"format": "gguf", "family": m.split(":")[0]}} for m in self.models]})
            if path == "/api/version":
                return send_json(request, 200, {"version": self.version})
            return send_json(request, 404, {"error": "404 page not found"})
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError as exc:
            return send_json(request, 400, {"error": f"invalid request body: {exc}"})
        handlers = {"/api/embed": self._embed, "/api/embeddings": self._embeddings,
                    "/api/chat": self._chat, "/api/generate": self._generate}
        if path not in handlers:
            return send_json(request, 404, {"error": "404 page not found"})
        model = str(body.get("model") or "")
        if model not in self.models and f"{model}:latest" not in self.models:
            return send_json(request, 404, {"error": f'model "{model}" not found, try pulling it first'})
        fault = self._fault_for(path)
        if fault == "500":
            return send_json(request, 500, {"error": "llama runner process has terminated: exit status 2"})
        if fault == "503":
            return send_json(request, 503, {"error": BUSY})
        if fault == "404":
            return send_json(request, 404, {"error": f'model "{model}" not found, try pulling it first'})
        if fault == "timeout":
            time.sleep(self.stall_s)  # past the client's read timeout; the answer is never read
            return send_json(request, 500, {"error": "stalled"})
        if fault == "malformed":
            return send_raw(request, 200, b'{"model": "x", "embeddings": [[0.1, 0.2', "application/json")
        with self._lock:
            if self._waiting >= self.capacity.max_queue:
                busy = True
            else:
                busy = False
                self._waiting += 1
        if busy:
            return send_json(request, 503, {"error": BUSY})
        try:
            status, answer = handlers[path](body)
        finally:
            with self._lock:
                self._waiting -= 1
        send_json(request, status, answer)

    def _run_embedding(self, texts: list[str]) -> list[list[float]]:
        self._sleep(self.capacity.overhead_s)
        with self._gpu:
            self._sleep(self.capacity.slot_fixed_s + self.capacity.slot_per_input_s * len(texts))
        with self._lock:
            self.inputs_embedded += len(texts)
        return self.embedder.embed(texts).round(6).tolist()

    def _embed(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return 400, {"error": "invalid input type"}
        started = time.perf_counter()
        vectors = self._run_embedding(texts)
        return 200, {"model": body["model"], "embeddings": vectors,
                     "total_duration": int((time.perf_counter() - started) * 1e9), "load_duration": 0,
                     "prompt_eval_count": sum(len(t.split()) for t in texts)}

    def _embeddings(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            return 400, {"error": "prompt must be a string"}
        return 200, {"embedding": self._run_embedding([prompt])[0]}

    def _generate_text(self, body: dict[str, Any]) -> str:
        with self._lock:
            self.chat_bodies.append(body)
        self._sleep(self.capacity.llm_overhead_s)
        with self._llm_slots:
            self._sleep(self.capacity.llm_slot_s)
        answer = self.chat_script(body) if self.chat_script else "{}"
        return answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)

    def _chat(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not isinstance(body.get("messages"), list):
            return 400, {"error": "messages must be a list"}
        content = self._generate_text(body)
        return 200, {"model": body["model"], "created_at": "2026-11-29T00:00:00Z",
                     "message": {"role": "assistant", "content": content},
                     "done": True, "done_reason": "stop", "eval_count": len(content.split())}

    def _generate(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        content = self._generate_text(body)
        return 200, {"model": body["model"], "created_at": "2026-11-29T00:00:00Z", "response": content,
                     "done": True, "done_reason": "stop"}
