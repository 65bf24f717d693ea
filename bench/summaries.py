"""Benchmark: a day of posting summaries (15,000 new postings) against the calibrated Ollama test server.

The server (``ty_testing/ollama_server.py``) models qwen2.5:7b on one consumer GPU by tokens: 181 ms overhead off
the GPU, then a slot for 19 ms + 1/3,800 s per prompt token + 1/112 s per answer token, calibrated so that today's
label verification still costs 345 ms of slot (1.9 requests/s with one worker, 2.9/s with two; checked first, in
this run); concurrent sequences share the GPU with serial fraction 0.46 (Ollama's measured scaling).

Workload: 15,000 postings of the offline snapshot generator (``generate_snapshot``: real-shaped details, the
description as ``ba.html_to_text`` stores it, the BA's facts). The chat script answers like a model following the
prompt: up to 3 tasks and 3 requirements of at most 6 words taken from the description's sections, salary and
remote only when the text states them, as compact JSON with spaces (``json.dumps``) — ~250-300 characters.

- ``old``: one posting per request, one worker, the server at Ollama's default ``OLLAMA_NUM_PARALLEL=1``.
- ``new``: ``LlmSummarizer`` with ``summary_workers`` (8) in flight against a server configured for it:
  ``OLLAMA_NUM_PARALLEL=8`` (8 x 4,096 context of qwen2.5:7b is ~2 GB of KV cache beside the ~5 GB model).

Both run in real time (``--time-scale 1``) on a sample (``--old-sample``, ``--new-sample`` postings): the rates
are steady after a few requests, and the day is the 15,000 postings at the measured rate. The whole day's GPU work
is also computed from the capacity model over all 15,000 prompts and answers, as a cross-check. Packing several
postings into one request is computed from the model (not run). Last line:
``BENCH summaries postings=... old_per_s=... new_per_s=... ratio=... day_minutes=...``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from typing import Any

from ty_resources.ba import html_to_text
from ty_resources.classifier import Candidate, label_messages, label_schema
from ty_resources.kldb import read_kldb
from ty_resources.ollama import OllamaClient
from ty_resources.sample import generate_snapshot
from ty_resources.settings import get_settings
from ty_resources.summaries import (
    LlmSummarizer,
    SummaryInput,
    description_excerpt,
    extractive_summary,
    split_sections,
    summary_schema,
)
from ty_testing.ollama_server import CapacityModel, OllamaTestServer

POSTINGS = 15_000
NUM_PARALLEL = 8
OLD_SAMPLE = 40
NEW_SAMPLE = 240


def _short(text: str, words: int = 6) -> str:
    return " ".join(text.removeprefix("- ").split()[:words]).rstrip(",;:.")


def realistic_answer(body: dict[str, Any]) -> dict[str, Any]:
    """What a model following the prompt writes: up to 3 items of up to 6 words per list from the sections; the
    other asked fields null unless the text states them (then the stated line, shortened)."""
    user = body["messages"][-1]["content"]
    description = user.split("<<<\n", 1)[-1].rsplit("\n>>>", 1)[0]
    sections = split_sections(description)
    answer: dict[str, Any] = {}
    for kind in ("tasks", "requirements"):
        section = next((s for s in sections if s.kind == kind), None)
        answer[kind] = [_short(line) for line in section.lines[:3]] if section else []
    lower = description.lower()
    for name in body["format"]["properties"]:
        if name in answer:
            continue
        if name == "remote" and "homeoffice" in lower:
            answer[name] = "teilweise Homeoffice"
        elif name == "contract" and "unbefristet" in lower:
            answer[name] = "unbefristet"
        else:
            answer[name] = None
    return answer


def workload(n: int) -> list[SummaryInput]:
    snapshot = generate_snapshot(read_kldb(), postings=int(n / 0.96) + 50, days=1, end_date=date(2026, 12, 1))
    items = [SummaryInput(refnr, d["stellenangebotsTitel"], html_to_text(d["stellenangebotsBeschreibung"]), d)
             for refnr, d in snapshot.details.items()]
    return items[:n]


def calibration(capacity: CapacityModel) -> tuple[float, float, int, int]:
    """Label-verification-sized requests (5 candidates, a ~30-token answer): requests/s with 1 and 2 workers, and
    the request's estimated prompt and answer tokens."""
    professions = read_kldb().professions[:5]
    shown = [Candidate(p.berufenet_id, p.name, p.kldb_code, 0.8, 0.8, 0.8) for p in professions]
    messages = label_messages("Fachkraft für Lagerlogistik (m/w/d)", shown)
    reason = "Der Titel nennt diesen Beruf, nur in anderer Schreibweise und Form."
    answer = {"choice": shown[0].berufenet_id, "reason": reason}
    tokens = capacity.prompt_tokens(messages), capacity.tokens(json.dumps(answer, ensure_ascii=False))
    rates = []
    with OllamaTestServer(dimension=16, capacity=capacity, chat_script=lambda body: answer) as server:
        for workers, n in ((1, 12), (2, 18)):
            client = OllamaClient([server.url], llm_workers=workers)
            client.chat_json(messages, label_schema(shown))  # warm the connection
            started = time.perf_counter()
            client.chat_json_many([(messages, label_schema(shown))] * n)
            rates.append(n / (time.perf_counter() - started))
            client.close()
    return rates[0], rates[1], *tokens


def run(items: list[SummaryInput], capacity: CapacityModel, workers: int, chars: int) -> dict[str, float]:
    with OllamaTestServer(dimension=16, capacity=capacity, chat_script=realistic_answer) as server:
        client = OllamaClient([server.url], llm_workers=workers, embed_workers=workers)
        summarizer = LlmSummarizer(client, workers=workers, description_chars=chars)
        summarizer.summarize(items[:1])  # warm the connection
        busy0, started = server.llm_busy_s, time.perf_counter()
        outcomes = summarizer.summarize(items[1:])
        wall = time.perf_counter() - started
        busy = server.llm_busy_s - busy0
        client.close()
    ok = sum(o.status == "ok" for o in outcomes)
    errors = [o.error for o in outcomes if o.status == "error"]
    if errors:
        print(f"  errors: {len(errors)}, first: {errors[0]}")
    return {"n": len(outcomes), "ok": ok, "per_s": len(outcomes) / wall, "wall": wall, "busy_share": busy / wall,
            "prompt_tokens": server.llm_prompt_tokens, "output_tokens": server.llm_output_tokens,
            "requests": server.requests["/api/chat"]}


def modelled_day(items: list[SummaryInput], capacity: CapacityModel, chars: int) -> dict[str, float]:
    """The day's single-stream GPU seconds from the capacity model over every prompt and scripted answer."""
    client = OllamaClient(["http://127.0.0.1:9"])  # never called: only the messages are built
    summarizer = LlmSummarizer(client, workers=1, description_chars=chars)
    slot = prompt = output = system = 0.0
    for item in items:
        messages = summarizer.messages(item)
        body = {"messages": messages, "format": summary_schema(item.facts)}
        p = capacity.prompt_tokens(messages)
        o = capacity.tokens(json.dumps(realistic_answer(body), ensure_ascii=False))
        prompt += p
        output += o
        system += capacity.prompt_tokens(messages[:1])
        slot += capacity.llm_slot_s(p, o)
    client.close()
    n = len(items)
    return {"slot_s": slot, "prompt": prompt / n, "output": output / n, "system": system / n}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--postings", type=int, default=POSTINGS)
    parser.add_argument("--old-sample", type=int, default=OLD_SAMPLE)
    parser.add_argument("--new-sample", type=int, default=NEW_SAMPLE)
    parser.add_argument("--num-parallel", type=int, default=NUM_PARALLEL)
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="< 1 for a quick look: rates are converted back (x time_scale); the figures need 1")
    args = parser.parse_args()
    settings = get_settings()
    scale = args.time_scale
    chars, workers = settings.summary_description_chars, settings.summary_workers

    r1, r2, prompt_tokens, answer_tokens = calibration(CapacityModel(time_scale=scale))
    print(f"calibration (a label verification: {prompt_tokens} prompt + {answer_tokens} answer tokens, "
          f"OLLAMA_NUM_PARALLEL=1): 1 worker {r1 * scale:.2f}/s, 2 workers {r2 * scale:.2f}/s "
          "(today's figures: 1.9 and 2.9)")

    started = time.perf_counter()
    items = workload(args.postings)
    lengths = sorted(len(i.description or "") for i in items)
    print(f"workload: {len(items):,} postings from the snapshot generator in {time.perf_counter() - started:.0f} s; "
          f"description chars median {lengths[len(lengths) // 2]:,}, max {lengths[-1]:,}")

    started = time.perf_counter()
    offline = [extractive_summary(i) for i in items]
    offline_s = time.perf_counter() - started
    worst = 0.0
    for hostile in ("A" * 50_000, "- " * 25_000, "Ihre Aufgaben:\n" * 3_000, "a\n" * 25_000,
                    "Gehalt 3.000 € brutto\n" * 2_500, "Ihre Aufgaben:\n- x\n" * 2_500, "x. " * 16_000):
        t0 = time.perf_counter()
        extractive_summary(SummaryInput("x", "x", hostile, None))
        description_excerpt(hostile, chars)
        worst = max(worst, time.perf_counter() - t0)
    print(f"extractive (offline): {len(items) / offline_s:,.0f} postings/s "
          f"({sum(o.status == 'ok' for o in offline):,} ok); slowest 50 KB hostile description {worst * 1000:.1f} ms")

    model = CapacityModel(time_scale=scale)
    day = modelled_day(items, model, chars)
    print(f"tokens per posting (estimated): prompt {day['prompt']:.0f} (of which system prompt {day['system']:.0f}), "
          f"answer {day['output']:.0f}; single-stream GPU work for the day {day['slot_s'] / 60:.0f} min")

    old_capacity = CapacityModel(time_scale=scale, num_parallel=1)
    old = run(items[: args.old_sample + 1], old_capacity, 1, chars)
    new_capacity = CapacityModel(time_scale=scale, num_parallel=args.num_parallel)
    new = run(items[: args.new_sample + 1], new_capacity, workers, chars)
    old_rate, new_rate = old["per_s"] * scale, new["per_s"] * scale
    for name, r, rate in (("old (1 per request, 1 worker, OLLAMA_NUM_PARALLEL=1)", old, old_rate),
                          (f"new (LlmSummarizer, {workers} workers, OLLAMA_NUM_PARALLEL={args.num_parallel})",
                           new, new_rate)):
        print(f"{name}: {r['n']} postings, {r['ok']} ok, {rate:.2f} summaries/s, GPU busy {r['busy_share']:.0%}, "
              f"{r['wall'] / scale:.0f} s")
    speedup = model.llm_speedup(args.num_parallel)
    predicted = day["slot_s"] / speedup / 60
    print(f"day of {len(items):,}: old {len(items) / old_rate / 60:.0f} min, new {len(items) / new_rate / 60:.0f} min "
          f"(the model's GPU work / {speedup:.2f} for {args.num_parallel} sequences: {predicted:.0f} min)")
    single = day["slot_s"] / len(items)
    shared = model.llm_fixed_s + model.llm_prefill_s_per_token * day["system"]  # paid once per request
    for k in (2, 4, 8):
        per = single - shared * (1 - 1 / k)
        print(f"packing {k} postings per request (computed): {single * 1000:.0f} -> {per * 1000:.0f} ms of GPU work "
              f"per posting ({1 - per / single:.0%} less; one bad answer fails {k} postings)")
    ratio = new_rate / old_rate
    day_minutes = len(items) / new_rate / 60
    print(f"BENCH summaries postings={len(items)} old_per_s={old_rate:.2f} new_per_s={new_rate:.2f} "
          f"ratio={ratio:.2f} day_minutes={day_minutes:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
