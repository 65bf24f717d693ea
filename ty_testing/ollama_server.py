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

The chat model (qwen2.5:7b) costs by its tokens. A request first spends the parallel
overhead ``llm_overhead_s`` = 181 ms (HTTP, templating, tokenising, queueing; off the
GPU), then holds one of ``num_parallel`` slots (``OLLAMA_NUM_PARALLEL``, 1 by default)
for ``fixed + prefill * prompt_tokens + decode * output_tokens`` seconds of GPU work:
prefill 1/3,800 s and decode 1/112 s per token, the speeds of an 8B Q4_K_M model on a
consumer GPU (llama.cpp: prompt eval 3,807 tokens/s, generation 112 tokens/s for Llama
3.1 8B Q4_K_M on an RTX 3080, dmatora/LLM-inference-speed-benchmarks issue 12).
Tokens are estimated from characters: ``len(text) / 3.5`` (German prose in a BPE
vocabulary; digits and JSON punctuation are denser, so a JSON answer is if anything
underestimated) plus 4 template tokens per message; the answer's tokens from its
content. ``fixed`` = 19 ms is what is left of the old figures: today's label verification
(``label_messages`` with 5 candidates: 754 characters on average, ~220 prompt tokens, and
a ~30-token JSON answer) costs 19 + 58 + 268 = 345 ms of slot, so one worker still gets
1 / (0.181 + 0.345) = 1.9 requests/s and two workers 1 / 0.345 = 2.9/s
(``REFERENCE_PROMPT_TOKENS``/``REFERENCE_OUTPUT_TOKENS``; tests/ty_resources/test_ollama.py
checks both the estimate of a real label prompt and the cost).

With ``num_parallel`` > 1 the sequences in flight share the GPU: with ``n`` computing,
each advances at ``1 / (1 + beta * (n - 1))`` of its single-stream speed, so the GPU as a
whole does ``n / (1 + beta * (n - 1))`` times the work of one sequence (Amdahl's law with
serial fraction ``beta``). ``beta`` = 0.46 is the middle of the serial fractions 0.39-0.54
measured for Ollama with 1-8 concurrent clients (chimeraforge.vercel.app, technical reports
128/129: "total system throughput plateaus at approximately 1.4-1.6x single-agent
throughput"; per-client efficiency 67-80 % at 2, 34-40 % at 4, 17-20 % at 8); an RTX 4090
running Llama 3.1 8B under Ollama measured 62-74 tokens/s for one stream and 95-108 for
eight (blog.gpuflow.app, Ollama vs vLLM vs TGI), a serial fraction of about 0.6, and four
parallel slots of Ollama's runner gave ~1.37x over one (ollama pull request 17144, a qwen3
MoE model on ROCm; 0.46 predicts 1.68x), so 0.46 is not the pessimistic end. The gain is
capped at 1 / beta = 2.2x however many slots. Packing several postings into one request
saves only the fixed part and the repeated system prompt's prefill: the decode of every
answer token is paid either way. Not modelled: Ollama's reuse of a slot's cached prompt
prefix (it would take the repeated system prompt's ~75 ms of prefill off every request).

``llm_busy_s`` is the wall time during which at least one slot computes (the GPU-busy
time of the chat model); answers carry Ollama's timing fields (``prompt_eval_count``,
``eval_count``, ``prompt_eval_duration``, ``eval_duration``, ``total_duration``, in ns).
``time_scale`` multiplies every duration (tests use 0: no waiting at all).
"""

from __future__ import annotations

import json
import math
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
    llm_fixed_s: float = 0.019
    llm_prefill_s_per_token: float = 1 / 3800
    llm_decode_s_per_token: float = 1 / 112
    llm_parallel_beta: float = 0.46  # serial fraction of concurrent sequences (see the module docstring)
    chars_per_token: float = 3.5
    template_tokens_per_message: int = 4
    num_parallel: int = 1  # OLLAMA_NUM_PARALLEL for the chat model
    max_queue: int = 512  # OLLAMA_MAX_QUEUE: more waiting requests get 503
    time_scale: float = 1.0

    @property
    def ceiling_texts_per_s(self) -> float:
        """The embedding throughput with the GPU never idle: 1 / c."""
        return 1.0 / (self.slot_per_input_s * self.time_scale) if self.time_scale else float("inf")

    def tokens(self, text: str) -> int:
        """The estimated token count of ``text`` (at least 1 for a non-empty text)."""
        return math.ceil(len(text) / self.chars_per_token) if text else 0

    def prompt_tokens(self, messages: list[Any]) -> int:
        """Estimated prompt tokens of a chat: each message's content plus its template tokens."""
        total = 0
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            total += self.template_tokens_per_message + self.tokens(content if isinstance(content, str) else "")
        return total

    def llm_slot_s(self, prompt_tokens: int, output_tokens: int) -> float:
        """Unscaled single-stream GPU seconds of one chat request: fixed + prefill + decode."""
        return (self.llm_fixed_s + self.llm_prefill_s_per_token * prompt_tokens
                + self.llm_decode_s_per_token * output_tokens)

    def llm_speedup(self, active: int) -> float:
        """How much more work the GPU does with ``active`` sequences than with one."""
        return active / (1 + self.llm_parallel_beta * (active - 1)) if active > 0 else 0.0


# Today's label verification (classifier.label_messages with 5 candidates and its JSON answer): the request the
# chat cost is calibrated on (345 ms of slot).
REFERENCE_PROMPT_TOKENS = 220
REFERENCE_OUTPUT_TOKENS = 30


class SharedGpu:
    """The chat model's GPU: the sequences in flight share it (processor sharing).

    Each sequence brings its single-stream work in (unscaled) seconds; with ``n`` computing, each advances at
    ``1 / (1 + beta * (n - 1))``. Waiting happens on a condition variable that is re-evaluated whenever a
    sequence arrives or leaves. ``busy_s`` sums the wall time with at least one sequence computing.
    """

    def __init__(self, capacity: CapacityModel):
        self.capacity = capacity
        self._cond = threading.Condition()
        self._left: dict[int, float] = {}
        self._next_id = 0
        self._last = time.perf_counter()
        self._busy_since = 0.0
        self.busy_s = 0.0

    def _advance(self, now: float) -> None:
        n = len(self._left)
        if n:
            done = (now - self._last) / self.capacity.time_scale / (1 + self.capacity.llm_parallel_beta * (n - 1))
            for key in self._left:
                self._left[key] -= done
        self._last = now

    def busy_now(self) -> float:
        """``busy_s`` including the current busy stretch."""
        with self._cond:
            return self.busy_s + (time.perf_counter() - self._busy_since if self._left else 0.0)

    def run(self, work_s: float) -> None:
        """Block for ``work_s`` seconds of single-stream work, shared with whatever else computes."""
        if work_s <= 0 or self.capacity.time_scale <= 0:
            return
        with self._cond:
            now = time.perf_counter()
            self._advance(now)
            if not self._left:
                self._busy_since = now
            key = self._next_id
            self._next_id += 1
            self._left[key] = work_s
            self._cond.notify_all()  # the others slow down: let them recompute their wait
            while self._left[key] > 1e-9:
                share = 1 + self.capacity.llm_parallel_beta * (len(self._left) - 1)
                self._cond.wait(self._left[key] * share * self.capacity.time_scale)
                self._advance(time.perf_counter())
            del self._left[key]
            if not self._left:
                self.busy_s += time.perf_counter() - self._busy_since
            self._cond.notify_all()  # the others speed up


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
        self.llm_prompt_tokens = 0
        self.llm_output_tokens = 0
        self._lock = threading.Lock()
        self._gpu = threading.Lock()
        self._llm_slots = threading.Semaphore(self.capacity.num_parallel)
        self._llm_gpu = SharedGpu(self.capacity)
        self._waiting = 0
        self._rng = random.Random(self.seed)

    @property
    def llm_busy_s(self) -> float:
        """Wall seconds during which at least one chat slot computed (the chat model's GPU-busy time)."""
        return self._llm_gpu.busy_now()

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

    def _generate_text(self, body: dict[str, Any], prompt_tokens: int) -> tuple[str, dict[str, int]]:
        """The script's answer after the modelled time, and Ollama's timing fields for it."""
        started = time.perf_counter()
        with self._lock:
            self.chat_bodies.append(body)
        answer = self.chat_script(body) if self.chat_script else "{}"
        content = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        capacity = self.capacity
        output_tokens = capacity.tokens(content)
        with self._lock:
            self.llm_prompt_tokens += prompt_tokens
            self.llm_output_tokens += output_tokens
        self._sleep(capacity.llm_overhead_s)
        with self._llm_slots:
            slot_started = time.perf_counter()
            self._llm_gpu.run(capacity.llm_slot_s(prompt_tokens, output_tokens))
            slot_s = time.perf_counter() - slot_started
        # The slot's wall time split between prefill and decode as their single-stream work.
        prefill = capacity.llm_fixed_s + capacity.llm_prefill_s_per_token * prompt_tokens
        decode = capacity.llm_decode_s_per_token * output_tokens
        prefill_share = prefill / (prefill + decode) if prefill + decode > 0 else 1.0
        timings = {
            "total_duration": int((time.perf_counter() - started) * 1e9), "load_duration": 0,
            "prompt_eval_count": prompt_tokens, "prompt_eval_duration": int(slot_s * prefill_share * 1e9),
            "eval_count": output_tokens, "eval_duration": int(slot_s * (1 - prefill_share) * 1e9),
        }
        return content, timings

    def _chat(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not isinstance(body.get("messages"), list):
            return 400, {"error": "messages must be a list"}
        content, timings = self._generate_text(body, self.capacity.prompt_tokens(body["messages"]))
        return 200, {"model": body["model"], "created_at": "2026-11-29T00:00:00Z",
                     "message": {"role": "assistant", "content": content},
                     "done": True, "done_reason": "stop", **timings}

    def _generate(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        prompt = body.get("prompt")
        prompt_tokens = self.capacity.tokens(prompt if isinstance(prompt, str) else "")
        prompt_tokens += self.capacity.template_tokens_per_message
        content, timings = self._generate_text(body, prompt_tokens)
        return 200, {"model": body["model"], "created_at": "2026-11-29T00:00:00Z", "response": content,
                     "done": True, "done_reason": "stop", **timings}
