"""Benchmark: embedding throughput against the calibrated Ollama test server.

The server (``ty_testing/ollama_server.py``) reproduces a single
consumer GPU running bge-m3: per request a parallel overhead o = 125 ms, then
the one GPU slot for a + c * inputs with a = 24 ms, c = 6.75 ms; its ceiling
is 1 / c = 148 texts/s (the GPU never idle). Real time, no scaling.

- ``old``: the replaced pattern: one text per request, 8 threads
  (the old system measured 6.4/s with one thread, a 32/s plateau with 8).
  Its rate is steady after a few seconds, so it embeds OLD_TEXTS (2,000) of the
  texts; ``--full`` sends all of them (about 10 minutes).
- ``new``: ``OllamaClient`` with its defaults (batch 64, 8 workers) on all TEXTS.
- a short sweep of other batch sizes / worker counts (SWEEP_TEXTS each).
- ``local``: the offline embedder on short titles, this machine's cores.

Efficiency = achieved texts/s / the server's ceiling.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from ty_resources.embedders import LocalEmbedder
from ty_resources.ollama import OllamaClient
from ty_testing.ollama_server import CapacityModel, OllamaTestServer

TEXTS = 20_000
OLD_TEXTS = TEXTS if "--full" in sys.argv else 2_000
SWEEP_TEXTS = 4_000
SWEEP = [(32, 8), (32, 16), (128, 4)]
TITLES = ["Fachkraft Lagerlogistik (m/w/d)", "Softwareentwickler Backend", "Pflegefachkraft Intensivstation",
          "Berufskraftfahrer CE Nahverkehr", "Verkäufer Bäckerei Teilzeit", "Elektroniker Betriebstechnik"]


def texts(n: int) -> list[str]:
    return [f"{TITLES[i % len(TITLES)]} {i}\nIhre Aufgaben: Kommissionierung, Verpackung, Versand." for i in range(n)]


def old_pattern(url: str, items: list[str]) -> float:
    """One text per request on 8 threads, each with its own connection (as the old actors did)."""
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=8))

    def one(text: str) -> None:
        response = session.post(url + "/api/embeddings", json={"model": "bge-m3", "prompt": text}, timeout=60)
        response.raise_for_status()
        assert len(response.json()["embedding"]) > 0

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, items))
    return len(items) / (time.perf_counter() - started)


def client_rate(url: str, items: list[str], **options: int) -> float:
    client = OllamaClient([url], **options)
    started = time.perf_counter()
    vectors = client.embed(items)
    assert vectors.shape[0] == len(items)
    return len(items) / (time.perf_counter() - started)


def local_rate(n: int = 50_000) -> float:
    embedder = LocalEmbedder()
    titles = [f"{TITLES[i % len(TITLES)]} {i % 97}" for i in range(n)]
    started = time.perf_counter()
    embedder.embed(titles)
    return n / (time.perf_counter() - started)


def main() -> int:
    capacity = CapacityModel()
    ceiling = capacity.ceiling_texts_per_s
    print(f"server: o={capacity.overhead_s * 1000:.0f} ms, a={capacity.slot_fixed_s * 1000:.0f} ms, "
          f"c={capacity.slot_per_input_s * 1000:.2f} ms -> ceiling {ceiling:.1f} texts/s; bge-m3-sized vectors (1024)")
    with OllamaTestServer(capacity=capacity, dimension=1024) as server:
        old = old_pattern(server.url, texts(OLD_TEXTS))
        print(f"old  (1 text/request, 8 threads, {OLD_TEXTS:,} texts): {old:7.1f} texts/s")
        defaults = OllamaClient([server.url])
        new = client_rate(server.url, texts(TEXTS))
        print(f"new  (defaults: batch {defaults.embed_batch_size}, {defaults.embed_workers} workers, {TEXTS:,} texts):"
              f" {new:7.1f} texts/s  efficiency {new / ceiling:.3f}")
        for batch, workers in SWEEP:
            rate = client_rate(server.url, texts(SWEEP_TEXTS), embed_batch_size=batch, embed_workers=workers)
            print(f"     (batch {batch}, {workers} workers, {SWEEP_TEXTS:,} texts):       {rate:7.1f} texts/s"
                  f"  efficiency {rate / ceiling:.3f}")
    local = local_rate()
    print(f"local embedder, short titles: {local:,.0f} texts/s")
    print(f"BENCH embed old_per_s={old:.1f} new_per_s={new:.1f} ratio={new / old:.1f} "
          f"efficiency={new / ceiling:.3f} local_per_s={local:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
