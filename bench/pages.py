"""Benchmark: the page budget of the matches and market pages (``make bench-pages``).

Data: as ``bench.api`` builds it (its ``load``: the bundled catalogue, POSTINGS postings, first argument or
``TY_BENCH_POSTINGS``, default 250,000, with their local embeddings and the HNSW index), then a year of demand
snapshots (``write_demand_snapshot`` for each of the 365 days up to today, as the pipeline's daily asset leaves
them; the postings' first 30 days carry the counts, the earlier days are computed zeros).

The app runs under uvicorn in a subprocess (``bench.api.start_app``: production rate limits, 127.0.0.1 a trusted
proxy, a local SMTP server). USERS users register, verify and save a profile through the API
(``bench.api.create_users``), refresh their matches (``POST /api/v1/matches/refresh``), then sign in
(``POST /api/v1/auth/login``: the session cookie the pages use). Measured, one keep-alive connection, requests
one after another (so the latency is the server's time plus a loopback round trip):

- ``GET /matches`` (the signed-in page: the next match as a card, the rated list): ROUNDS rounds over the users;
- ``GET /market?profession=...&state=...&days=365``: the profession and Land with the most postings, and
  (side by side) other professions, ROUNDS × USERS requests, each from a client address of its own within
  the ``public`` limit (``X-Forwarded-For``);
- side by side: the same two pages with CLIENTS concurrent connections, and ``GET /market`` without a
  profession (all postings);
- JavaScript: the ``<script src>`` files each page (start, matches, market) loads, their bytes as served.

An error is any answer other than 200 (the breakdown is printed). Targets (issue 17): p95 ≤ 50 ms for both
pages at 250,000 postings; under 100 KB of JavaScript on any page.

Last line: ``BENCH pages postings=... matches_p95_ms=... market_p95_ms=... max_js_kb=...``.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg

from bench import api
from bench.common import fresh_database, server_url
from ty_assets.market.demand import write_demand_snapshot
from ty_testing.smtp_server import SmtpTestServer

POSTINGS = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("TY_BENCH_POSTINGS", "250000"))
api.POSTINGS = POSTINGS  # bench.api's loader reads it
USERS = 16
ROUNDS = 40  # per user: 640 measured requests of each page
CLIENTS = 4
SNAPSHOT_DAYS = 365
TARGETS = {"matches_p95_ms": 50.0, "market_p95_ms": 50.0, "max_js_kb": 100.0}
SCRIPT_SRC = re.compile(r"<script[^>]*\bsrc=\"([^\"]+)\"")
HOST = api.HOST


def request(conn: http.client.HTTPConnection, path: str, *, cookie: str | None = None,
            forwarded_for: str | None = None, method: str = "GET", body: dict | None = None
            ) -> tuple[int, bytes, http.client.HTTPResponse]:
    headers = {"Accept": "text/html"}
    if cookie:
        headers["Cookie"] = cookie
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    payload = None
    if body is not None:
        payload, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    return response.status, response.read(), response


def sign_in(port: int, email: str, address: str) -> str:
    """The session cookie (``ty_session=...``) of a sign-in through the API."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    status, body, response = request(conn, "/api/v1/auth/login", method="POST", forwarded_for=address,
                                      body={"email": email, "password": api.PASSWORD})
    conn.close()
    if status != 200:
        raise RuntimeError(f"login: {status} {body[:300]!r}")
    for name, value in response.getheaders():
        if name.lower() == "set-cookie" and value.startswith("ty_session="):
            return value.split(";", 1)[0]
    raise RuntimeError("login set no ty_session cookie")


@dataclass
class Phase:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200)

    def p(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def line(self, name: str, clients: int) -> str:
        n = len(self.latencies_ms)
        return (f"{name}: {n:,} requests, {clients} client{'s' if clients > 1 else ''}, "
                f"{n / max(self.seconds, 1e-9):.0f} req/s; p50 {self.p(50):.1f} ms, p95 {self.p(95):.1f} ms, "
                f"p99 {self.p(99):.1f} ms, max {max(self.latencies_ms, default=float('nan')):.1f} ms; "
                f"statuses {dict(self.statuses)}")


def run(port: int, jobs: Sequence[tuple[str, str | None, str | None]], clients: int = 1,
        must_contain: bytes | None = None) -> Phase:
    """Each job (path, cookie, client address) once, spread over ``clients`` connections."""
    phase = Phase()
    lock = threading.Lock()

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        latencies: list[float] = []
        statuses: Counter = Counter()
        for path, cookie, address in jobs[index::clients]:
            t0 = time.perf_counter()
            status, body, _ = request(conn, path, cookie=cookie, forwarded_for=address)
            latencies.append((time.perf_counter() - t0) * 1000)
            ok = status == 200 and (must_contain is None or must_contain in body)
            statuses[status if ok or status != 200 else "200 without the expected content"] += 1
        conn.close()
        with lock:
            phase.latencies_ms.extend(latencies)
            phase.statuses.update(statuses)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - t0
    return phase


def script_bytes(port: int, path: str, cookie: str | None) -> tuple[int, list[str]]:
    """The bytes of the ``<script src>`` files the page at ``path`` loads (as served), and their addresses."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    status, html, _ = request(conn, path, cookie=cookie, forwarded_for="198.51.100.1")
    if status != 200:
        raise RuntimeError(f"GET {path}: {status}")
    sources = SCRIPT_SRC.findall(html.decode())
    total = 0
    for src in sources:
        status, body, _ = request(conn, urllib.parse.urljoin(path, src.replace("&amp;", "&")))
        if status != 200:
            raise RuntimeError(f"GET {src}: {status}")
        total += len(body)
    conn.close()
    return total, sources


def address(i: int) -> str:
    """A client address per 400 requests (within the ``public`` limit of 600 a minute per address)."""
    return f"203.0.{113 + i // (400 * 250)}.{(i // 400) % 250 + 1}"


def main() -> int:
    admin, label = server_url()
    print(f"server: {label}; {POSTINGS:,} postings; {USERS} users; {ROUNDS} rounds; "
          f"{SNAPSHOT_DAYS} days of demand snapshots")
    with (fresh_database(admin) as url, tempfile.TemporaryDirectory(prefix="ty-bench-pages-") as data_dir,
          SmtpTestServer() as smtp):
        t0 = time.perf_counter()
        world, _model, _dimension, timings = api.load(url)
        t1 = time.perf_counter()
        today = date.today()
        with psycopg.connect(url) as conn:
            for n in range(SNAPSHOT_DAYS):
                write_demand_snapshot(conn, today - timedelta(days=n))
            conn.execute("ANALYZE demand_snapshots")
            conn.commit()
            top = conn.execute(
                "SELECT berufenet_id, state, count(*) FROM postings WHERE berufenet_id IS NOT NULL"
                " AND invalidated_at IS NULL AND state NOT IN ('unbekannt')"
                " GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 1").fetchone()
            assert top is not None, "no labelled posting"
            others = [r[0] for r in conn.execute(
                "SELECT berufenet_id FROM postings WHERE berufenet_id IS NOT NULL GROUP BY 1"
                " ORDER BY count(*) DESC OFFSET 1 LIMIT 20").fetchall()]
            snapshot_rows = conn.execute("SELECT count(*) FROM demand_snapshots").fetchone()[0]  # type: ignore[index]
        print(f"load: {t1 - t0:.1f} s (" + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
              + f"); {SNAPSHOT_DAYS} demand snapshots ({snapshot_rows:,} rows) in {time.perf_counter() - t1:.1f} s;"
              " not measured below")
        profession, state, count = top
        market_path = "/market?" + urllib.parse.urlencode({"profession": profession, "state": state, "days": 365})
        print(f"market page: profession {profession} in {state} ({count:,} open postings)")

        rng = random.Random(4)
        profiles = [api.random_profile(world, rng) for _ in range(USERS)]
        process, port = api.start_app(url, Path(data_dir), smtp.port)
        try:
            tokens, emails, _ = api.create_users(port, smtp, profiles)
            refresh = api.run_phase(port, tokens, 1, "POST", "/api/v1/matches/refresh", check=api.RefreshCheck(),
                                    clients=1)
            print(refresh.line("setup POST /api/v1/matches/refresh (not measured below)"))
            cookies = [sign_in(port, email, api.user_address(i)) for i, email in enumerate(emails)]

            matches_jobs = [("/matches", cookie, None) for _ in range(ROUNDS) for cookie in cookies]
            market_jobs = [(market_path, None, address(i)) for i in range(ROUNDS * USERS)]
            run(port, matches_jobs[:USERS * 2], must_contain=b"<h1")  # warm-up (templates, caches, pool)
            run(port, [(p, None, address(10**6 + i)) for i, (p, _, _) in enumerate(market_jobs[:USERS * 2])])
            matches = run(port, matches_jobs, must_contain=b"<h1")
            print(matches.line("GET /matches", 1))
            market = run(port, market_jobs, must_contain=b"<svg")
            print(market.line(f"GET {market_path}", 1))
            other_jobs = [("/market?" + urllib.parse.urlencode({"profession": p, "days": 365}), None,
                           address(2 * 10**6 + i)) for i, p in enumerate(others * (ROUNDS * USERS // 20))]
            print(run(port, other_jobs).line("side by side, GET /market?profession=<20 others>&days=365", 1))
            overall = [("/market?days=365", None, address(3 * 10**6 + i)) for i in range(ROUNDS * USERS // 2)]
            print(run(port, overall).line("side by side, GET /market?days=365 (all professions)", 1))
            print(run(port, matches_jobs, clients=CLIENTS).line("side by side, GET /matches", CLIENTS))
            concurrent_market = [(p, c, address(4 * 10**6 + i)) for i, (p, c, _) in enumerate(market_jobs)]
            print(run(port, concurrent_market, clients=CLIENTS).line(f"side by side, GET {market_path}", CLIENTS))

            js = {}
            for path, cookie in (("/", None), ("/matches", cookies[0]), (market_path, None)):
                size, sources = script_bytes(port, path, cookie)
                js[path] = size
                print(f"JavaScript of {path}: {size / 1000:.1f} KB in {len(sources)} file(s): {', '.join(sources)}")
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    results = {"matches_p95_ms": matches.p(95), "market_p95_ms": market.p(95), "max_js_kb": max(js.values()) / 1000}
    for name, value in results.items():
        target = TARGETS[name]
        print(f"{name}: {value:.1f} (target ≤ {target:g}; {value / target:.2f} of it)"
              f"{'' if value <= target else '  OVER TARGET'}")
    errors = matches.errors + market.errors
    if errors:
        print(f"errors: {errors} (matches {dict(matches.statuses)}, market {dict(market.statuses)})")
    print(f"BENCH pages postings={POSTINGS} matches_p95_ms={results['matches_p95_ms']:.1f} "
          f"market_p95_ms={results['market_p95_ms']:.1f} max_js_kb={results['max_js_kb']:.1f}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
