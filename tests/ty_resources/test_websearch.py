"""The web search client against the local SearXNG (ty_testing/searx_server.py): answers, faults, rate limit, cache."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ty_resources.settings import Settings
from ty_resources.websearch import (
    PostgresSearchCache,
    RateLimiter,
    Snippet,
    WebSearch,
    snippets_of,
)
from ty_testing.searx_server import INTERNAL_SECRET, SearxFault, SearxTestServer

QUERY = "Fachkraft für Lagerlogistik Beruf Stellenbeschreibung"


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it: waits are counted, never spent."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(round(seconds, 6))
            self.now += seconds


@pytest.fixture(scope="module")
def server(catalogue):
    with SearxTestServer(catalogue=catalogue, seed=3) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(server):
    server.faults.clear()
    server.answers.clear()
    server.json_enabled = True
    yield


def client(server, **kwargs) -> WebSearch:
    clock = kwargs.pop("clock", None) or FakeClock()
    options = {"per_s": 1000.0, "timeout_s": 5.0, "clock": clock, "sleep": clock.sleep, **kwargs}
    return WebSearch(server.url, **options)


def test_an_answer_becomes_bounded_snippets(server):
    search = client(server, results=3, content_chars=80)
    outcome = search.search(QUERY)
    assert outcome.ok and not outcome.cached and outcome.backend == "searxng"
    assert 1 <= len(outcome.snippets) <= 3
    expected = server.results_for(QUERY)[:3]
    assert [s.url for s in outcome.snippets] == [r["url"] for r in expected]
    assert all(len(s.content) <= 80 and s.title and s.engine for s in outcome.snippets)
    assert server.queries[-1] == QUERY
    assert search.stats.searches == 1 and search.stats.errors == 0


def test_the_mix_is_seeded_per_query_and_names_the_truth_only_sometimes(catalogue, server):
    """The same query gets the same answer whatever came before; over many titles the answer names the true
    profession often, never always, and carries misleading neighbours and nothing-relevant answers."""
    assert server.results_for(QUERY) == server.results_for(QUERY)
    professions = catalogue.professions[::97][:150]
    truth = {p.name_male.casefold(): p.kldb_code for p in professions}
    with SearxTestServer(catalogue=catalogue, truth=truth, seed=5) as mixed:
        kinds = {"right": 0, "nothing": 0, "neighbour": 0}
        for p in professions:
            results = mixed.results_for(f"{p.name_male} Beruf Stellenbeschreibung")
            names = " ".join(r["title"] + " " + r["content"] for r in results)
            berufenet = [r["url"].rsplit("/", 1)[1] for r in results if "/berufenet/beruf/" in r["url"]]
            own = [q.name_male for q in mixed.by_code[p.kldb_code]]
            right = any(b.startswith(p.kldb_code) for b in berufenet) or any(f"{n} (m/w/d)" in names for n in own)
            kinds["right"] += right
            kinds["nothing"] += not right
            kinds["neighbour"] += any(not b.startswith(p.kldb_code) for b in berufenet)
    assert 0.6 < kinds["right"] / len(professions) < 0.95
    assert kinds["nothing"] >= 10 and kinds["neighbour"] >= 40


@pytest.mark.parametrize(("kind", "problem"), [
    ("403", "403 Forbidden: the instance does not allow format=json"),
    ("html", "not JSON: text/html"),
    ("truncated", "malformed JSON"),
    ("empty", "no results, engines unresponsive: google, duckduckgo"),
])
def test_faults_are_the_outcomes_error_never_raised(server, kind, problem):
    server.add_fault(SearxFault(kind, count=10))
    search = client(server)
    outcome = search.search(QUERY)
    assert not outcome.ok and outcome.snippets == () and problem in outcome.error
    assert search.stats.errors == 1 and search.stats.retries == 0  # none of these is retried


@pytest.mark.parametrize(("kind", "problem"), [
    ("deep", "malformed JSON: RecursionError"),  # json.loads' RecursionError is no ValueError
    ("cut", "answer not read: ProtocolError"),  # the connection ends before the Content-Length
    ("gzip", "answer not read: DecodeError"),
    ("redirect", "HTTP 302: a redirect (not followed)"),
])
def test_a_hostile_or_broken_answer_is_the_outcomes_error_and_counts_toward_the_breaker(server, kind, problem):
    server.add_fault(SearxFault(kind, count=10))
    search = client(server, max_failures_in_a_row=2, workers=1)  # in order: the breaker trips after two
    outcomes = search.search_many([f"{QUERY} {i}" for i in range(4)])
    assert [o.error.startswith(problem) for o in outcomes[:2]] == [True, True]
    assert all(o.error.startswith("not sent: the last 2 searches failed") for o in outcomes[2:])
    assert search.stats.errors == 4 and search.stats.searches == 2
    assert server.faults[0].served == 2


def test_no_error_repeats_the_answers_body(server):
    """A redirect to an internal page is not followed, and a body that is not JSON is told by type and size."""
    server.add_fault(SearxFault("redirect"))
    asked = server.requests["/internal"]
    outcome = client(server).search(QUERY)
    assert outcome.error == "HTTP 302: a redirect (not followed)" and server.requests["/internal"] == asked
    server.add_fault(SearxFault("html"))
    error = client(server).search(QUERY).error
    assert error.startswith("not JSON: text/html; charset=utf-8, ") and error.endswith(" bytes")
    assert "html" not in error.removeprefix("not JSON: text/html") and INTERNAL_SECRET.decode() not in error


def test_the_timeout_is_for_the_whole_answer_not_each_read(server):
    """A valid answer dripped a byte at a time: every read is quick, the whole answer is not. Without a total
    deadline the read would take the server's whole drip (minutes) and succeed."""
    server.add_fault(SearxFault("drip"))
    outcome = client(server, timeout_s=0.3).search(QUERY)
    assert outcome.error == "no answer within 0.3 s"


def test_json_disabled_in_settings_yml_is_a_403(server):
    server.json_enabled = False
    outcome = client(server).search(QUERY)
    assert outcome.error.startswith("403 Forbidden")


def test_a_stall_past_the_timeout_is_an_error(server):
    server.stall_s = 1.0
    server.add_fault(SearxFault("stall"))
    outcome = client(server, timeout_s=0.2).search(QUERY)
    assert outcome.error == "no answer within 0.2 s"


def test_429_waits_retry_after_then_succeeds(server):
    server.add_fault(SearxFault("429", retry_after=7))
    clock = FakeClock()
    search = client(server, clock=clock)
    outcome = search.search(QUERY)
    assert outcome.ok and outcome.snippets
    assert 7.0 in clock.slept and search.stats.retries == 1


def test_429_and_5xx_are_retried_a_bounded_number_of_times(server):
    server.add_fault(SearxFault("429", count=10))
    clock = FakeClock()
    search = client(server, clock=clock, max_retries=2, backoff_s=0.5)
    outcome = search.search(QUERY)
    assert outcome.error.startswith("429 Too Many Requests")
    assert len(server.faults) == 1 and server.faults[0].served == 3  # the first try and two retries
    assert [s for s in clock.slept if s >= 0.5] == [0.5, 1.0]  # exponential backoff without Retry-After
    server.faults.clear()
    server.add_fault(SearxFault("500", count=1))
    assert client(server).search(QUERY).ok  # one 500, then an answer
    server.add_fault(SearxFault("429", retry_after=3600))  # longer than is worth waiting: failed at once
    late = client(server)
    assert late.search(QUERY).error.startswith("429") and late.stats.retries == 0


@pytest.mark.parametrize("retry_after", [0, -5])
def test_a_retry_after_of_zero_or_less_gets_the_backoff(server, retry_after):
    server.add_fault(SearxFault("429", retry_after=retry_after))
    clock = FakeClock()
    search = client(server, clock=clock, backoff_s=0.5)
    assert search.search(QUERY).ok
    assert [s for s in clock.slept if s >= 0.5] == [0.5] and search.stats.retries == 1


def test_the_time_slept_for_retries_is_bounded_per_client(server):
    """A tarpit (429 with Retry-After 7, again and again) gets 10 s of this client in all; then a 429 is the
    query's error at once, for every later query too."""
    server.add_fault(SearxFault("429", count=100, retry_after=7))
    clock = FakeClock()
    search = client(server, clock=clock, max_retries=5, retry_budget_s=10)
    first = search.search(QUERY)
    assert first.error.startswith("429") and [s for s in clock.slept if s >= 1] == [7.0]
    served = server.faults[0].served
    assert search.search(QUERY + " 2").error.startswith("429") and server.faults[0].served == served + 1
    assert [s for s in clock.slept if s >= 1] == [7.0] and search.stats.retries == 1


def test_urls_are_sanitised_and_each_kept_once(server):
    server.answers[QUERY] = [
        {"url": "javascript:alert(1)", "title": "x", "content": "x"},
        {"url": "data:text/html,<script>alert(1)</script>", "title": "x", "content": "x"},
        {"url": "/relative/path", "title": "x", "content": "x"},
        {"url": "https://www.arbeitsagentur.de@evil.example/", "title": "x", "content": "x"},
        {"url": "https://web.arbeitsagentur.de/berufenet/beruf/51312-100", "title": "Fachkraft – BERUFENET",
         "content": "Waren annehmen\n\n  und   lagern", "engines": ["google", "brave"]},
        {"url": "https://web.arbeitsagentur.de/berufenet/beruf/51312-100", "title": "again", "content": ""},
        {"url": "http://example.org/job", "title": None, "content": None, "engine": "bing"},
    ]
    outcome = client(server).search(QUERY)
    assert outcome.snippets == (
        Snippet("Fachkraft – BERUFENET", "https://web.arbeitsagentur.de/berufenet/beruf/51312-100",
                "Waren annehmen und lagern", "google,brave"),
        Snippet("", "http://example.org/job", "", "bing"),
    )


def test_an_answer_of_another_shape_or_too_large_is_refused(server):
    server.answers[QUERY] = [{"title": "no url"}]
    assert "not SearXNG's JSON" in client(server).search(QUERY).error
    server.answers[QUERY] = [{"url": f"https://example.org/{i}", "title": "t", "content": "x" * 2000}
                             for i in range(40)]
    assert client(server, max_bytes=10_000).search(QUERY).error == "answer larger than 10,000 bytes"
    with pytest.raises(Exception, match="not SearXNG's JSON"):
        snippets_of({"results": "many"}, limit=5, content_chars=100)


def test_a_found_nothing_answer_is_an_answer(server):
    server.answers[QUERY] = []
    search = client(server)
    asked = len(server.queries)
    outcome = search.search(QUERY)
    assert outcome.ok and outcome.snippets == ()
    # but it is not kept: an instance answering empty lists must not settle the title for cache_days
    again = search.search(QUERY)
    assert again.ok and not again.cached and len(server.queries) == asked + 2 and search.stats.cache_hits == 0


def test_the_rate_limit_spreads_queries_without_sleeping_for_real():
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock, clock.sleep)
    waits = [limiter.acquire() for _ in range(4)]
    assert waits == [0.0, 0.5, 0.5, 0.5]
    clock.now += 10  # idle for a while: the next one goes at once
    assert limiter.acquire() == 0.0


def test_the_rate_limit_holds_across_threads():
    """Eight threads at once on a clock that does not move: each reserves its own slot, 0.25 s apart."""
    clock = FakeClock()
    limiter = RateLimiter(4.0, clock, lambda seconds: None)
    waits: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def one() -> None:
        start.wait()
        wait = limiter.acquire()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == [i * 0.25 for i in range(8)]


def test_the_client_sends_through_its_rate_limit(server):
    clock = FakeClock()
    search = client(server, clock=clock, per_s=0.5, workers=1, cache_days=0)
    search.search_many([QUERY, QUERY + " 2", QUERY + " 3"])
    assert clock.slept == [2.0, 2.0]


def test_the_cache_in_postgres_hit_miss_and_expiry(server, module_db_url):
    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    cache = PostgresSearchCache(lambda: psycopg.connect(module_db_url))
    first = client(server, cache=cache, cache_days=30, now=lambda: now[0])
    asked = len(server.queries)
    fresh = first.search(QUERY)
    assert not fresh.cached and len(server.queries) == asked + 1
    # another process (a new client): served from the table, no request
    now[0] += timedelta(days=29)
    second = client(server, cache=cache, cache_days=30, now=lambda: now[0])
    hit = second.search(QUERY)
    assert hit.cached and hit.snippets == fresh.snippets and len(server.queries) == asked + 1
    assert second.stats.cache_hits == 1 and second.stats.searches == 0
    # older than the cache's days: searched again, and the row renewed
    now[0] += timedelta(days=2)
    third = client(server, cache=cache, cache_days=30, now=lambda: now[0])
    assert not third.search(QUERY).cached and len(server.queries) == asked + 2
    with psycopg.connect(module_db_url) as conn:
        fetched_at = conn.execute("SELECT fetched_at FROM web_search_cache WHERE query = %s AND backend = 'searxng'",
                                  (QUERY,)).fetchone()[0]
    assert fetched_at == now[0]
    # cache_days 0: never reused
    never = client(server, cache=cache, cache_days=0)
    assert not never.search(QUERY).cached and not never.search(QUERY).cached


def test_failures_are_not_cached_and_the_process_layer_serves_repeats(server, module_db_url):
    query = QUERY + " failing"
    cache = PostgresSearchCache(lambda: psycopg.connect(module_db_url))
    search = client(server, cache=cache)
    server.add_fault(SearxFault("html", query="failing"))
    assert not search.search(query).ok
    again = search.search(query)
    assert again.ok and not again.cached  # the failure was not remembered
    assert search.search(query).cached and search.stats.searches == 2 and search.stats.cache_hits == 1


def test_a_broken_cache_is_a_miss_not_a_failure(server):
    def broken():
        raise psycopg.OperationalError("database is down")

    outcome = client(server, cache=PostgresSearchCache(broken)).search(QUERY)
    assert outcome.ok and outcome.snippets


def test_off_by_default_and_a_backend_needs_its_url():
    assert WebSearch.from_settings(Settings()) is None
    with pytest.raises(ValueError, match="TY_WEB_SEARCH_URL"):
        WebSearch.from_settings(Settings(web_search="searxng"))
    search = WebSearch.from_settings(Settings(web_search="searxng", web_search_url="http://127.0.0.1:1/",
                                              web_search_results=7, web_search_per_s=3))
    assert search is not None and search.base_url == "http://127.0.0.1:1" and search.results == 7
    assert search.limiter.interval == pytest.approx(1 / 3)
    assert WebSearch("https://user:secret@search.example:8443/searx/").where == "searxng https://search.example:8443"
    with pytest.raises(ValueError, match="unknown web search backend"):
        WebSearch("http://127.0.0.1:1", backend="google")


def test_a_hostile_snippet_is_cut_before_anything_reads_it():
    """Title and content are cut to their bounds (no regex runs on the raw text: whitespace is folded by
    str.split on at most twice the bound)."""
    hostile = {"results": [{"url": "https://example.org/", "title": "(m/w/d " * 10_000, "content": "a " * 25_000}]}
    (snippet,) = snippets_of(hostile, limit=5, content_chars=400)
    assert len(snippet.title) <= 200 and len(snippet.content) <= 400


def test_after_failures_in_a_row_the_client_stops_sending(server):
    server.json_enabled = False
    search = client(server, max_failures_in_a_row=3)
    asked = len(server.queries)
    outcomes = [search.search(f"{QUERY} {i}") for i in range(6)]
    assert len(server.queries) == asked + 3 and search.stats.searches == 3 and search.stats.errors == 6
    assert all(o.error.startswith("403") for o in outcomes[:3])
    assert all(o.error.startswith("not sent: the last 3 searches failed (last: 403 Forbidden") for o in outcomes[3:])
    server.json_enabled = True
    recovering = client(server, max_failures_in_a_row=3)
    recovering.search(QUERY + " a")
    server.add_fault(SearxFault("html", count=2))
    assert [recovering.search(f"{QUERY} {c}").ok for c in "bcde"] == [False, False, True, True]  # a success resets


def test_failures_in_a_row_are_counted_per_query_across_clients_until_an_answer(server, module_db_url):
    """What keeps a failed title open for the web stage only a few runs (ty_resources.labels.WEB_ATTEMPTS): the
    query's failures in a row, kept in web_search_failures, a query the breaker did not send included."""
    query = QUERY + " counted"
    cache = PostgresSearchCache(lambda: psycopg.connect(module_db_url))
    server.add_fault(SearxFault("403", count=2, query="counted"))
    assert client(server, cache=cache).search(query).attempts == 1
    assert client(server, cache=cache).search(query).attempts == 2  # the next run's client: the count goes on
    not_sent = client(server, cache=cache, max_failures_in_a_row=0).search(query)
    assert not_sent.error.startswith("not sent") and not_sent.attempts == 3
    answered = client(server, cache=cache).search(query)
    assert answered.ok and answered.attempts == 0
    with psycopg.connect(module_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM web_search_failures WHERE query = %s", (query,)).fetchone()[0] == 0
    server.add_fault(SearxFault("403", count=2, query="again"))
    alone = client(server, cache_days=0)  # without a cache: this client's count
    assert [alone.search(query + " again").attempts for _ in range(2)] == [1, 2]


def test_pruning_drops_what_the_cache_would_not_reuse_and_old_failure_counts(module_db_url):
    cache = PostgresSearchCache(lambda: psycopg.connect(module_db_url))
    now = datetime(2026, 12, 1, tzinfo=UTC)
    snippet = Snippet("Koch/Köchin", "https://example.org/koch", "Köche bereiten Speisen zu.", "test")
    cache.put("prune old", "searxng", [snippet], now - timedelta(days=31))
    cache.put("prune fresh", "searxng", [snippet], now - timedelta(days=29))
    assert cache.failed("prune failing old", "searxng", "HTTP 500", now - timedelta(days=40)) == 1
    assert cache.failed("prune failing fresh", "searxng", "HTTP 500", now - timedelta(days=1)) == 1
    assert cache.prune(now - timedelta(days=30)) == 2
    with psycopg.connect(module_db_url) as conn:
        kept = {q for (q,) in conn.execute("SELECT query FROM web_search_cache WHERE query LIKE 'prune %%'"
                                           " UNION ALL SELECT query FROM web_search_failures"
                                           " WHERE query LIKE 'prune %%'")}
    assert kept == {"prune fresh", "prune failing fresh"}
    # the fresh failure keeps counting in a row
    assert cache.failed("prune failing fresh", "searxng", "HTTP 500", now) == 2
