"""Ollama over HTTP: batched embeddings on a thread pool, structured chat, several hosts.

What the server does decides the shape of this client. Ollama loads an
embedding model with one slot: a request holds the GPU for a fixed cost plus a
cost per input, so many inputs per ``/api/embed`` call is what saves GPU time,
while a few requests in flight only hide the per-request overhead (HTTP,
tokenising, queueing). Chat requests run ``OLLAMA_NUM_PARALLEL`` at a time on
the server (1 by default): more LLM workers than that only queue there.

Every call sends the same ``options`` (``num_ctx`` fixed): a different
``num_ctx`` makes Ollama reload the model. Requests rotate over the hosts;
a retry goes to the next host. Retries (tenacity) with exponential backoff on
connection errors, timeouts and 5xx; none on 4xx. A model that is not
installed fails :meth:`OllamaClient.check_models` (called when a run starts)
with the model and the host named.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jsonschema
import numpy as np
import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from ty_resources.counters import Counters
from ty_resources.settings import Settings, get_settings

# What :meth:`OllamaClient.chat_json` is, for code that takes it (or a test's stand-in) as a function.
ChatJson = Callable[[list[dict[str, str]], dict[str, Any]], dict[str, Any]]


class OllamaError(RuntimeError):
    """A call that failed for good, with the host and what went wrong."""


class OllamaRetryable(OllamaError):
    """Connection error, timeout or 5xx: worth another try (on the next host)."""


class ModelNotFound(OllamaError):
    pass


class InvalidAnswer(OllamaError):
    """The model answered, but not in the shape that was asked for."""


@dataclass
class OllamaStats(Counters):
    requests: int = 0
    texts: int = 0
    retries: int = 0
    errors: int = 0
    seconds: float = 0.0


def _model_names(tags: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for entry in tags.get("models") or []:
        for key in ("name", "model"):
            if isinstance(entry.get(key), str):
                names.add(entry[key])
                if entry[key].endswith(":latest"):
                    names.add(entry[key].removesuffix(":latest"))
    return names


class OllamaClient:
    """The client for one or more Ollama hosts; the graph's ``OllamaResource`` builds it from the settings."""

    def __init__(
        self,
        hosts: Sequence[str],
        *,
        embed_model: str = "bge-m3",
        llm_model: str = "qwen2.5:7b",
        embed_batch_size: int = 64,
        embed_workers: int = 8,
        llm_workers: int = 2,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        keep_alive: str = "30m",
        num_ctx: int = 4096,
        seed: int = 42,
    ):
        if not hosts:
            raise ValueError("OllamaClient needs at least one host (OLLAMA_HOST)")
        self.hosts = [h.rstrip("/") for h in hosts]
        self.embed_model = embed_model
        self.llm_model = llm_model
        self.embed_batch_size = embed_batch_size
        self.embed_workers = embed_workers
        self.llm_workers = llm_workers
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.keep_alive = keep_alive
        self.options = {"num_ctx": num_ctx}  # identical on every call: a change reloads the model
        self.seed = seed
        self.stats = OllamaStats()
        self._dimension: int | None = None
        self._next_host = itertools.cycle(self.hosts)
        self._host_lock = threading.Lock()
        pool = max(embed_workers, llm_workers) + 2
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=len(self.hosts), pool_maxsize=pool, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, hosts: Sequence[str] | None = None) -> OllamaClient:
        s = settings or get_settings()
        return cls(
            hosts or s.ollama_hosts, embed_model=s.embed_model, llm_model=s.llm_model,
            embed_batch_size=s.embed_batch_size, embed_workers=s.embed_workers, llm_workers=s.llm_workers,
            connect_timeout_s=s.ollama_connect_timeout_s, read_timeout_s=s.ollama_read_timeout_s,
            max_retries=s.ollama_max_retries, backoff_s=s.ollama_backoff_s, keep_alive=s.ollama_keep_alive,
            num_ctx=s.ollama_num_ctx, seed=s.llm_seed,
        )

    def close(self) -> None:
        self.session.close()

    # ---------------------------------------------------------------- transport
    def _host(self) -> str:
        with self._host_lock:
            return next(self._next_host)

    def _post_once(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        host = self._host()
        url = host + path
        self.stats.add(requests=1)
        try:
            response = self.session.post(url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:  # refused, reset, timed out, cut off mid-answer
            raise OllamaRetryable(f"POST {url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise OllamaRetryable(f"POST {url}: HTTP {response.status_code} {_error_text(response)}")
        if response.status_code == 404:
            raise ModelNotFound(
                f"model {body.get('model')!r} not found on {host}: {_error_text(response)} "
                f"(run `ollama pull {body.get('model')}` there)"
            )
        if response.status_code != 200:
            raise OllamaError(f"POST {url}: HTTP {response.status_code} {_error_text(response)}")
        try:
            answer = response.json()
        except ValueError as exc:
            raise OllamaRetryable(f"POST {url}: answer is not JSON: {response.text[:200]!r}") from exc
        if not isinstance(answer, dict):
            raise OllamaRetryable(f"POST {url}: answer is a {type(answer).__name__}, not an object")
        return answer

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        def count_retry(state: RetryCallState) -> None:
            self.stats.add(retries=1)

        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait_exponential(multiplier=self.backoff_s, max=30),
            retry=retry_if_exception(lambda exc: isinstance(exc, OllamaRetryable)),
            before_sleep=count_retry,
            reraise=True,
        )
        try:
            return retrying(self._post_once, path, body)
        except OllamaError:
            self.stats.add(errors=1)
            raise

    # ------------------------------------------------------------------ models
    def check_models(self, *, llm: bool = False) -> None:
        """Fail fast, naming model and host, when a model is not installed or a host is down."""
        wanted = [self.embed_model] + ([self.llm_model] if llm else [])
        for host in self.hosts:
            try:
                response = self.session.get(host + "/api/tags", timeout=self.timeout)
                response.raise_for_status()
                installed = _model_names(response.json())
            except (requests.RequestException, ValueError) as exc:
                raise OllamaError(f"Ollama at {host} is not reachable or answered badly: {exc}") from exc
            for model in wanted:
                if model not in installed:
                    raise ModelNotFound(
                        f"model {model!r} is not installed on {host} (installed: {sorted(installed) or 'none'}); "
                        f"run `ollama pull {model}` there or set TY_EMBED_MODEL / TY_LLM_MODEL"
                    )

    # --------------------------------------------------------------- embedding
    @property
    def model(self) -> str:
        return f"ollama:{self.embed_model}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self.embed(["dimension probe"]).shape[1])
        return self._dimension

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        answer = self._post(
            "/api/embed",
            {"model": self.embed_model, "input": texts, "options": self.options, "keep_alive": self.keep_alive,
             "truncate": True},
        )
        vectors = answer.get("embeddings")
        if not isinstance(vectors, list) or len(vectors) != len(texts):
            got = len(vectors) if isinstance(vectors, list) else type(vectors).__name__
            self.stats.add(errors=1)
            raise InvalidAnswer(f"/api/embed answered {got} embeddings for {len(texts)} inputs")
        try:
            matrix = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            self.stats.add(errors=1)
            raise InvalidAnswer(f"/api/embed answered vectors that are not numbers: {exc}") from exc
        if matrix.ndim != 2:
            self.stats.add(errors=1)
            raise InvalidAnswer(f"/api/embed answered vectors of unequal length (shape {matrix.shape})")
        self.stats.add(texts=len(texts), seconds=time.perf_counter() - started)
        return matrix

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors in input order: batches of ``embed_batch_size``, ``embed_workers`` in flight."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        batches = [texts[i : i + self.embed_batch_size] for i in range(0, len(texts), self.embed_batch_size)]
        if len(batches) == 1:
            parts = [self._embed_batch(batches[0])]
        else:
            with ThreadPoolExecutor(self.embed_workers, thread_name_prefix="ty-embed") as pool:
                parts = list(pool.map(self._embed_batch, batches))
        matrix = np.vstack(parts)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)  # Ollama normalises; make sure
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        self._dimension = matrix.shape[1]
        return matrix

    # -------------------------------------------------------------------- chat
    def chat_json(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> dict[str, Any]:
        """An answer that validates against ``schema``; one retry on an invalid one, then InvalidAnswer."""
        body = {
            "model": self.llm_model,
            "messages": messages,
            "stream": False,
            "format": schema,
            "options": {**self.options, "temperature": 0, "seed": self.seed},
            "keep_alive": self.keep_alive,
        }
        problem = ""
        for _ in range(2):
            started = time.perf_counter()
            answer = self._post("/api/chat", body)
            self.stats.add(texts=1, seconds=time.perf_counter() - started)
            content = (answer.get("message") or {}).get("content")
            try:
                parsed = json.loads(content) if isinstance(content, str) else None
                if not isinstance(parsed, dict):
                    raise ValueError(f"expected a JSON object, got {content!r:.200}")
                jsonschema.validate(parsed, schema)
                return parsed
            except (ValueError, jsonschema.ValidationError) as exc:
                problem = exc.message if isinstance(exc, jsonschema.ValidationError) else str(exc)
        self.stats.add(errors=1)
        raise InvalidAnswer(f"{self.llm_model} answered twice outside the schema: {problem}")


    def chat_json_many(
        self, requests: Sequence[tuple[list[dict[str, str]], dict[str, Any]]]
    ) -> list[dict[str, Any] | OllamaError]:
        """``chat_json`` for many ``(messages, schema)`` pairs, ``llm_workers`` in flight, answers in order.

        A conversation that fails gives its error in its place instead of failing the others.
        """

        def one(request: tuple[list[dict[str, str]], dict[str, Any]]) -> dict[str, Any] | OllamaError:
            try:
                return self.chat_json(*request)
            except OllamaError as exc:
                return exc

        with ThreadPoolExecutor(self.llm_workers, thread_name_prefix="ty-llm") as pool:
            return list(pool.map(one, requests))


def _error_text(response: requests.Response) -> str:
    try:
        return str(response.json().get("error", ""))[:300]
    except ValueError:
        return response.text[:300]
