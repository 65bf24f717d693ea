"""The Ollama client against the local Ollama server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import numpy as np
import pytest

from ty_resources.embedders import LocalEmbedder
from ty_resources.ollama import InvalidAnswer, ModelNotFound, OllamaClient, OllamaError
from ty_testing.ollama_server import CapacityModel, OllamaFault, OllamaTestServer

FAST = CapacityModel(time_scale=0.0)
DIM = 64
TEXTS = [f"Fachkraft Lagerlogistik {i} (m/w/d)" for i in range(203)]


def make_server(**kwargs) -> OllamaTestServer:
    kwargs.setdefault("capacity", FAST)
    kwargs.setdefault("dimension", DIM)
    return OllamaTestServer(**kwargs)


def client(*servers: OllamaTestServer, **kwargs) -> OllamaClient:
    options = {"embed_batch_size": 10, "embed_workers": 4, "backoff_s": 0.001, "max_retries": 6,
               "read_timeout_s": 2.0}
    options.update(kwargs)
    return OllamaClient([s.url for s in servers], **options)


def expected(texts) -> np.ndarray:
    return LocalEmbedder(dimension=DIM).embed(texts)


def test_order_is_kept_across_batches_and_threads():
    with make_server() as server:
        c = client(server)
        vectors = c.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), DIM)
    np.testing.assert_allclose(vectors, expected(TEXTS), atol=1e-5)
    assert server.requests["/api/embed"] == 21  # ceil(203 / 10)
    assert c.stats.texts == len(TEXTS) and c.stats.retries == 0
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_500s_and_timeouts_still_embed_every_text_exactly_once():
    with make_server(error_rate=0.10, timeout_rate=0.05, stall_s=1.0, seed=3) as server:
        c = client(server, read_timeout_s=0.3, embed_batch_size=5, embed_workers=8)
        vectors = c.embed(TEXTS)
    np.testing.assert_allclose(vectors, expected(TEXTS), atol=1e-5)  # every text, once, in order
    assert c.stats.retries > 0 and c.stats.errors == 0
    assert c.stats.texts == len(TEXTS)


def test_missing_model_fails_fast_naming_model_and_host():
    with make_server(models=("nomic-embed-text:latest",)) as server:
        c = client(server)
        with pytest.raises(ModelNotFound) as info:
            c.check_models()
        assert "'bge-m3'" in str(info.value) and server.url in str(info.value)
        assert server.requests["/api/embed"] == 0
        with pytest.raises(ModelNotFound, match="bge-m3"):
            c.embed(["x"])  # a 404 from the call itself is not retried
        assert server.requests["/api/embed"] == 1


def test_llm_model_is_checked_when_needed():
    with make_server(models=("bge-m3:latest",)) as server:
        c = client(server)
        c.check_models()
        with pytest.raises(ModelNotFound, match="qwen2.5:7b"):
            c.check_models(llm=True)


def test_unreachable_host_is_a_clear_error():
    c = OllamaClient(["http://127.0.0.1:9"], connect_timeout_s=0.5, max_retries=1, backoff_s=0.001)
    with pytest.raises(OllamaError, match="127.0.0.1:9"):
        c.check_models()


def test_malformed_json_is_an_error_not_a_silent_drop():
    with make_server() as server:
        server.add_fault(OllamaFault("malformed", count=100))
        c = client(server, max_retries=2)
        with pytest.raises(OllamaError, match="not JSON"):
            c.embed(TEXTS[:5])
    assert c.stats.errors >= 1


def test_wrong_number_of_vectors_is_an_error():
    with make_server() as server:
        c = client(server)
        original = server._embed
        server._embed = lambda body: (200, {**original(body)[1], "embeddings": original(body)[1]["embeddings"][:-1]})
        with pytest.raises(InvalidAnswer, match="4 embeddings for 5 inputs"):
            c.embed(TEXTS[:5])


def test_4xx_is_not_retried():
    with make_server() as server:
        c = client(server)
        with pytest.raises(OllamaError, match="HTTP 400"):
            c._post("/api/embed", {"model": "bge-m3", "input": 17})
        assert server.requests["/api/embed"] == 1 and c.stats.retries == 0


def test_503_when_the_queue_is_full_is_retried():
    with make_server() as server:
        server.add_fault(OllamaFault("503", count=2))
        c = client(server)
        c.embed(TEXTS[:5])
    assert c.stats.retries == 2


SCHEMA = {
    "type": "object",
    "properties": {"choice": {"type": "string", "enum": ["43414-102", "NONE", "UNCERTAIN"]}, "reason": {"type": "string"}},
    "required": ["choice", "reason"],
    "additionalProperties": False,
}
MESSAGES = [{"role": "user", "content": "Softwareentwickler (m/w/d)?"}]


def test_chat_json_sends_structured_output_request_and_validates():
    with make_server(chat_script=lambda body: {"choice": "43414-102", "reason": "exact title"}) as server:
        c = client(server)
        assert c.chat_json(MESSAGES, SCHEMA) == {"choice": "43414-102", "reason": "exact title"}
    (body,) = server.chat_bodies
    assert body["stream"] is False and body["format"] == SCHEMA
    assert body["options"]["temperature"] == 0 and body["options"]["seed"] == 42
    assert body["options"]["num_ctx"] == 4096 and body["model"] == "qwen2.5:7b"


def test_chat_json_retries_once_then_rejects_an_answer_outside_the_schema():
    answers = iter(['{"choice": "maybe"}', '{"choice": "43414-102", "reason": "ok"}'])
    with make_server(chat_script=lambda body: next(answers)) as server:
        assert client(server).chat_json(MESSAGES, SCHEMA)["choice"] == "43414-102"
    with make_server(chat_script=lambda body: {"choice": "12345-678", "reason": "invented"}) as server:
        with pytest.raises(InvalidAnswer, match="outside the schema"):
            client(server).chat_json(MESSAGES, SCHEMA)
        assert server.requests["/api/chat"] == 2
    with make_server(chat_script=lambda body: "Sure! The answer is 43414-102.") as server:
        with pytest.raises(InvalidAnswer, match="outside the schema: Expecting value"):
            client(server).chat_json(MESSAGES, SCHEMA)


def test_chat_json_many_keeps_order_and_isolates_failures():
    def script(body):
        title = body["messages"][-1]["content"]
        return {"choice": "NONE", "reason": title} if "bad" not in title else "kein JSON"

    conversations = [[{"role": "user", "content": f"title {i}" + (" bad" if i == 3 else "")}] for i in range(8)]
    with make_server(chat_script=script) as server:
        answers = client(server, llm_workers=3).chat_json_many([(c, SCHEMA) for c in conversations])
    assert [a["reason"] for a in answers if isinstance(a, dict)] == [f"title {i}" for i in range(8) if i != 3]
    assert isinstance(answers[3], InvalidAnswer)


def test_same_options_on_every_call():
    with make_server(chat_script=lambda body: {"choice": "NONE", "reason": "-"}) as server:
        c = client(server)
        c.embed(TEXTS[:3])
        c.chat_json(MESSAGES, SCHEMA)
        c.chat_json(MESSAGES, SCHEMA)
    assert {b["options"]["num_ctx"] for b in server.chat_bodies} == {c.options["num_ctx"]}


def test_several_hosts_share_the_load():
    with make_server() as a, make_server() as b:
        c = client(a, b)
        vectors = c.embed(TEXTS)
    np.testing.assert_allclose(vectors, expected(TEXTS), atol=1e-5)
    assert a.requests["/api/embed"] + b.requests["/api/embed"] == 21
    assert abs(a.requests["/api/embed"] - b.requests["/api/embed"]) <= 1


def test_a_retry_goes_to_the_next_host():
    with make_server() as a, make_server() as b:
        a.add_fault(OllamaFault("500", count=100))
        c = client(a, b, embed_batch_size=50)
        vectors = c.embed(TEXTS[:50])
    np.testing.assert_allclose(vectors, expected(TEXTS[:50]), atol=1e-5)
    assert b.requests["/api/embed"] == 1 and c.stats.retries == 1


def test_server_speaks_the_other_endpoints():
    import requests

    with make_server() as server:
        assert requests.get(server.url + "/api/version", timeout=5).json()["version"]
        legacy = requests.post(server.url + "/api/embeddings", json={"model": "bge-m3", "prompt": "Koch"}, timeout=5).json()
        assert len(legacy["embedding"]) == DIM
        generated = requests.post(server.url + "/api/generate", json={"model": "qwen2.5:7b", "prompt": "x", "stream": False}, timeout=5).json()
        assert generated["done"] is True
        missing = requests.post(server.url + "/api/embed", json={"model": "nope", "input": "x"}, timeout=5)
        assert missing.status_code == 404 and "not found" in missing.json()["error"]


def test_local_embedder_is_deterministic_normalised_and_lexical():
    e = LocalEmbedder(dimension=256)
    a = e.embed(["Fachkraft für Lagerlogistik", "Lagerlogistik", "Koch", ""])
    b = LocalEmbedder(dimension=256).embed(["Fachkraft für Lagerlogistik", "Lagerlogistik", "Koch", ""])
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a[:3], axis=1), 1.0, atol=1e-6) and not a[3].any()
    assert a[0] @ a[1] > 0.5 > a[0] @ a[2]
    assert e.model == "local-hash-v1-256d-35"


# ------------------------------------------------------------ the chat capacity model (ty_testing/ollama_server.py)


def test_chat_cost_is_calibrated_on_todays_label_verification():
    import random

    from ty_resources.classifier import Candidate, label_messages
    from ty_resources.kldb import read_kldb
    from ty_testing.ollama_server import REFERENCE_OUTPUT_TOKENS, REFERENCE_PROMPT_TOKENS

    model = CapacityModel()
    professions = read_kldb().professions
    rng = random.Random(5)
    estimates = []
    for _ in range(50):
        shown = [Candidate(p.berufenet_id, p.name, p.kldb_code, 0.8, 0.8, 0.8) for p in rng.sample(professions, 5)]
        estimates.append(model.prompt_tokens(label_messages(rng.choice(professions).name + " (m/w/d)", shown)))
    mean = sum(estimates) / len(estimates)
    assert abs(mean - REFERENCE_PROMPT_TOKENS) < 0.1 * REFERENCE_PROMPT_TOKENS
    answer = '{"choice": "43414-102", "reason": "Der Titel nennt genau diesen Beruf mit anderer Schreibweise."}'
    assert abs(model.tokens(answer) - REFERENCE_OUTPUT_TOKENS) <= 3
    slot = model.llm_slot_s(REFERENCE_PROMPT_TOKENS, REFERENCE_OUTPUT_TOKENS)
    assert abs(1 / (model.llm_overhead_s + slot) - 1.9) < 0.02  # one worker, OLLAMA_NUM_PARALLEL=1
    assert abs(1 / slot - 2.9) < 0.02  # two workers: the slot is the bottleneck
    # Output tokens cost ~34x prompt tokens; a longer answer costs more, whatever the request count.
    assert model.llm_slot_s(220, 150) > 3 * slot
    # Concurrent sequences share the GPU: more work per second than one, far less than n times.
    assert model.llm_speedup(1) == 1.0
    assert 1.3 < model.llm_speedup(2) < 1.5 and model.llm_speedup(8) < 1 / model.llm_parallel_beta


def test_chat_answers_carry_ollamas_timing_fields_and_the_gpu_busy_time_is_kept():
    capacity = CapacityModel(time_scale=0.001)
    with make_server(capacity=capacity, chat_script=lambda body: {"choice": "NONE", "reason": "x" * 70}) as server:
        c = client(server)
        raw = c.session.post(server.url + "/api/chat", json={"model": "qwen2.5:7b", "messages": MESSAGES}).json()
        c.chat_json(MESSAGES, SCHEMA)
        busy = server.llm_busy_s
    assert raw["prompt_eval_count"] == capacity.prompt_tokens(MESSAGES)
    assert raw["eval_count"] == capacity.tokens(raw["message"]["content"])
    assert raw["eval_duration"] > raw["prompt_eval_duration"] > 0  # ~30 answer tokens outweigh ~12 prompt tokens
    assert raw["total_duration"] >= raw["eval_duration"] + raw["prompt_eval_duration"]
    assert server.llm_prompt_tokens == 2 * raw["prompt_eval_count"] and server.llm_output_tokens == 2 * raw["eval_count"]
    assert busy > 0
    with make_server(chat_script=lambda body: {"choice": "NONE", "reason": "-"}) as idle:  # time_scale 0: no GPU time
        client(idle).chat_json(MESSAGES, SCHEMA)
        assert idle.llm_busy_s == 0
