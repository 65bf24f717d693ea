"""Benchmark: the label backlog (27,000 distinct titles in 100,000 postings) against the calibrated Ollama server.

The server (``ty_testing/ollama_server.py``, real time) is one consumer GPU: bge-m3 with one slot
(o = 125 ms, a = 24 ms, c = 6.75 ms per input) and qwen2.5:7b with ``OLLAMA_NUM_PARALLEL=1`` (181 ms overhead,
345 ms slot: 2.9 chat requests/s at most, however many clients). Its chat answers come from a script that
knows each title's true profession: it picks it when it is among the candidates shown (LLM_ACCURACY of the
time), else answers NONE or UNCERTAIN.

Workload (seeded): TITLES distinct posting titles, written as job boards write them (the snapshot generator's
noise, vague titles and lossy shortenings included), spread over POSTINGS postings with a long tail (a few
titles in hundreds of postings, most in one or two), each posting with a description.

- ``old``: the replaced pattern: every posting on its own, no exact stage, no de-duplication: one embedding
  request for its title, then one chat request with its candidates, 2 workers. Its rate is steady after a
  few seconds, so it labels OLD_SAMPLE postings and the rate is what is compared (all 100,000 would take
  about 10 hours).
- ``new``: this pipeline on all postings: normalise and de-duplicate the titles, then the cascade
  (``Classifier``: exact, retrieval in batches, LLM for the band, LLM with a description excerpt for what is
  left) with ``OllamaClient``'s defaults. Timed cold: the catalogue (18,838 titles, 1,300 code texts) is
  embedded in the same run; the warm figure (every later run: catalogue vectors from the cache) is the cold
  time less that embedding plus the measured load from the cache.

Rates are postings per second, the unit both patterns finish. Last line:
``BENCH classify postings=... titles=... old_per_s=... new_per_s=... ratio=... llm_calls=...``.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import scripted_llm
from ty_resources.classifier import Classifier, ProfessionIndex, classify_titles, label_messages, label_schema
from ty_resources.kldb import Profession, read_kldb
from ty_resources.ollama import OllamaClient
from ty_resources.sample import noisy_titles
from ty_resources.settings import get_settings
from ty_resources.titles import normalize_title
from ty_testing.ollama_server import CapacityModel, OllamaTestServer

POSTINGS = 100_000
TITLES = 27_000
OLD_SAMPLE = 150
LLM_ACCURACY = 0.9


def workload(catalogue, n_titles: int, n_postings: int, seed: int = 2026):
    """``titles``: distinct posting titles with their true profession; ``postings``: (title index, description)
    for each posting, every title used at least once, the rest Zipf-like."""
    rng = random.Random(seed)
    professions = catalogue.professions
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(professions))]  # a few professions are most of the market
    order = professions[:]
    rng.shuffle(order)
    titles: dict[str, Profession] = {}
    batch = 0
    while len(titles) < n_titles:
        chosen = rng.choices(order, weights, k=4000)
        for profession, (title, _) in zip(chosen, noisy_titles(catalogue, chosen, seed=seed + batch, vague=True,
                                                                lossy=True)):
            titles.setdefault(title, profession)
        batch += 1
    items = list(titles.items())[:n_titles]
    descriptions = {c.code: c.description for c in catalogue.codes if c.level == 5}
    popularity = [1.0 / (i + 1) ** 1.1 for i in range(len(items))]
    extra = rng.choices(range(len(items)), popularity, k=n_postings - len(items))
    postings = [(i, descriptions.get(items[i][1].kldb_code, "")[:800]) for i in [*range(len(items)), *extra]]
    rng.shuffle(postings)
    return items, postings


def old_pattern(url: str, index: ProfessionIndex, items, postings, n: int) -> float:
    """Postings per second of the replaced pattern: per posting one embedding request for its title and one
    chat request with its top 5, on 2 workers, no exact stage, no de-duplication."""
    client = OllamaClient([url], llm_workers=1)

    def one(posting) -> None:
        title = items[posting[0]][0]
        # One embedding request for this posting's title (the index embeds through the same server), then the
        # LLM with its top 5.
        candidates = index.search([normalize_title(title).key], 5)[0]
        client.chat_json(label_messages(title, candidates), label_schema(candidates))

    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, postings[:n]))
    client.close()
    return n / (time.perf_counter() - started)


def new_pattern(url: str, catalogue, items, postings, cache_dir: Path) -> tuple[float, float, Counter, int]:
    """Seconds for all postings, seconds of the catalogue index, statuses per title key, LLM calls."""
    started = time.perf_counter()
    client = OllamaClient.from_settings(hosts=[url])
    index = ProfessionIndex.from_catalogue(catalogue, client, cache_dir=cache_dir)
    index_s = time.perf_counter() - started
    settings = get_settings()
    classifier = Classifier.from_settings(index, client, settings)
    # What the asset does: one label per key, one example and description excerpt per key.
    labelled = classify_titles(classifier, [items[i][0] for i, _ in postings],
                               [d[: settings.label_excerpt_chars] if d else None for _, d in postings])
    labels = list({item.key: item.label for item in labelled}.values())
    client.close()
    return (time.perf_counter() - started, index_s, Counter((lab.status, lab.method) for lab in labels),
            classifier.llm_calls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--postings", type=int, default=POSTINGS)
    parser.add_argument("--titles", type=int, default=TITLES)
    parser.add_argument("--old-sample", type=int, default=OLD_SAMPLE)
    parser.add_argument("--time-scale", type=float, default=1.0, help="< 1 for a quick look; the figures need 1")
    args = parser.parse_args()
    catalogue = read_kldb()
    by_id = {p.berufenet_id: p for p in catalogue.professions}
    items, postings = workload(catalogue, args.titles, args.postings)
    keys = {normalize_title(t).key for t, _ in items}
    print(f"workload: {len(postings):,} postings, {len(items):,} distinct titles, {len(keys):,} distinct keys")
    truth_of = dict(items)
    capacity = CapacityModel(time_scale=args.time_scale)
    with tempfile.TemporaryDirectory(prefix="ty-bench-classify-") as tmp, OllamaTestServer(
        capacity=capacity, chat_script=scripted_llm(truth_of, by_id, LLM_ACCURACY)
    ) as server:
        cold_s, index_s, statuses, llm_calls = new_pattern(server.url, catalogue, items, postings, Path(tmp))
        print(f"new (cold): {cold_s:.1f} s, of which catalogue index {index_s:.1f} s; {llm_calls:,} LLM calls")
        print("  title keys: " + ", ".join(f"{s}{'/' + m if m else ''} {n:,}" for (s, m), n in statuses.most_common()))
        started = time.perf_counter()
        cached = ProfessionIndex.from_catalogue(catalogue, OllamaClient([server.url]), cache_dir=Path(tmp))
        warm_index_s = time.perf_counter() - started
        print(f"new (warm: every later run, catalogue vectors from the cache in {warm_index_s:.1f} s): "
              f"{cold_s - index_s + warm_index_s:.1f} s (cold minus the catalogue's embedding)")
        old_rate = old_pattern(server.url, cached, items, postings, args.old_sample)
    new_rate = len(postings) / cold_s
    print(f"old: {old_rate:.2f} postings/s on {args.old_sample} postings -> all {len(postings):,} in "
          f"{len(postings) / old_rate / 3600:.1f} h; new: {new_rate:.1f} postings/s (cold) -> {cold_s / 60:.1f} min")
    print(f"BENCH classify postings={len(postings)} titles={len(items)} old_per_s={old_rate:.2f} "
          f"new_per_s={new_rate:.1f} ratio={new_rate / old_rate:.1f} llm_calls={llm_calls}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
