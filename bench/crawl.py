"""Benchmark: a 260,000-posting day crawled from the strict local BA server under the 10,000-result cap.

The server (``ty_testing/ba_server.py``) answers as the real API does: ``size`` ≤ 100, ``page × size`` ≤
10,000 (else 400), the filters and facets of ``ty_testing/ba_market.py``, results newest first. The market
(seeded) has DAY_POSTINGS postings: the 16 Länder by population and 1% abroad, professions by the sample's
weights, 87.5% jobs, 9% apprenticeships, 3% internships, 0.5% self-employment; the crawl collects the
default offer types (jobs and apprenticeships). While it is crawled, postings arrive and are withdrawn
(CHURN per search request each: about 140 a crawl, the BA's ~15,000 a day spread over its working hours),
so pages shift under the client.

- ``first``: day 1 with no stored plan: the planner splits every query above the cap from its facets.
- ``next``: day 2 (NEW postings published, GONE withdrawn, everything a day older) from day 1's plan.
- ``old``: the plan this replaced, on day 1: each Land plus one query without ``wo``, each for the
  publication windows 1, 7, 30 and 100 days, paged to the cap (it stopped there: page 101 is a 400).

Requests are counted, not timed: the client runs without a rate limit here, and the time the requests take
at the default TY_BA_REQUESTS_PER_S is requests / rate. Lower bound: ``ceil(open / 100)`` pages. Last line:
``BENCH crawl open=... fetched=... coverage=... requests=... lower_bound=... ratio_first=... ratio_next=...
old_coverage=... minutes_at_rate=...``.
"""

from __future__ import annotations

import argparse
import time

from ty_resources.ba import BaClient
from ty_resources.crawl import Crawl, Plan, initial_plan, lower_bound_pages
from ty_resources.germany import LAENDER
from ty_resources.kldb import read_kldb
from ty_resources.settings import Settings
from ty_testing.ba_market import Market
from ty_testing.ba_server import BaTestServer, Churn

DAY_POSTINGS = 260_000
NEW, GONE = 15_000, 12_000
CHURN = 0.05
OLD_WINDOWS = (1, 7, 30, 100)


def run_crawl(market: Market, offer_types: list[int], plan: Plan | None, seed: int) -> tuple[Crawl, int, float]:
    """One crawl; its Crawl, the open postings of the offer types when it started, and its seconds."""
    wanted = sum(market.open_count_of_offer(code) for code in offer_types)
    with BaTestServer(market=market, churn=Churn(arrivals=CHURN, withdrawals=CHURN, seed=seed)) as server:
        client = BaClient(server.url, requests_per_s=1e6, max_retries=2, backoff_s=0.01)
        crawl = Crawl(client.search, initial_plan(offer_types, plan), errors=())
        started = time.perf_counter()
        for _ in crawl.pages():
            pass
        seconds = time.perf_counter() - started
        client.close()
    return crawl, wanted, seconds


def run_old(market: Market) -> tuple[int, int, int]:
    """The replaced plan on the same market: (distinct fetched, requests, planned total)."""
    seen: set[str] = set()
    requests = 0
    with BaTestServer(market=market) as server:
        client = BaClient(server.url, requests_per_s=1e6, max_retries=2, backoff_s=0.01)
        planned = client.search({"angebotsart": "1"}, 1, 1).max_results or 0
        requests += 1
        for window in OLD_WINDOWS:
            for land in (*LAENDER, None):
                params = {"angebotsart": "1", "veroeffentlichtseit": str(window), **({"wo": land} if land else {})}
                for page in range(1, 101):
                    result = client.search(params, page, 100)
                    requests += 1
                    seen.update(item["refnr"] for item in result.items)
                    if page * 100 >= (result.max_results or 0):
                        break
        client.close()
    return len(seen), requests, planned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postings", type=int, default=DAY_POSTINGS)
    args = parser.parse_args()
    settings = Settings()
    offer_types = settings.offer_types
    rate = settings.ba_requests_per_s
    catalogue = read_kldb()
    started = time.perf_counter()
    day1 = Market.generate(catalogue, day=settings_day(), postings=args.postings, seed=1)
    print(f"market: {len(day1):,} postings generated in {time.perf_counter() - started:.1f} s; "
          f"offer types collected: {offer_types}")

    first, open1, seconds1 = run_crawl(day1, offer_types, None, seed=2)
    stored = Plan.from_json(first.plan.to_json())
    day2 = day1.next_day(catalogue, new=NEW, gone=GONE, seed=3)
    second, open2, seconds2 = run_crawl(day2, offer_types, stored, seed=4)
    old_fetched, old_requests, old_planned = run_old(day1)

    lb1, lb2 = lower_bound_pages(open1), lower_bound_pages(open2)
    old_open = day1.open_count_of_offer(1)
    rows = [
        ("first day", first, open1, lb1, seconds1),
        ("next day (stored plan)", second, open2, lb2, seconds2),
    ]
    print(f"{'crawl':<24} {'open':>8} {'planned':>8} {'fetched':>8} {'coverage':>9} {'requests':>8} "
          f"{'planning':>8} {'leaves':>6} {'splits':>6} {'requery':>7} {'lower b.':>8} {'ratio':>6} {'s here':>6}")
    for name, crawl, open_, lb, seconds in rows:
        s = crawl.stats
        print(f"{name:<24} {open_:>8,} {s.planned:>8,} {s.fetched:>8,} {s.coverage:>9.5f} {s.requests:>8,} "
              f"{s.planning_requests:>8,} {s.leaves:>6,} {s.splits:>6,} {s.requeried:>7,} {lb:>8,} "
              f"{s.requests / lb:>6.3f} {seconds:>6.1f}")
    old_lb = lower_bound_pages(old_open)
    print(f"{'old plan (jobs only)':<24} {old_open:>8,} {old_planned:>8,} {old_fetched:>8,} "
          f"{old_fetched / old_planned:>9.5f} {old_requests:>8,} {'-':>8} {'-':>6} {'-':>6} {'-':>7} "
          f"{old_lb:>8,} {old_requests / old_lb:>6.3f}")
    for problem in first.stats.problems + second.stats.problems:
        print(f"problem: {problem}")
    minutes = first.stats.requests / rate / 60
    print(f"at TY_BA_REQUESTS_PER_S={rate:g}: first day {minutes:.1f} min, next day "
          f"{second.stats.requests / rate / 60:.1f} min of requests (plus the API's own answer time)")
    print(f"BENCH crawl open={open1} fetched={first.stats.fetched} coverage={first.stats.coverage:.5f} "
          f"requests={first.stats.requests} lower_bound={lb1} ratio_first={first.stats.requests / lb1:.3f} "
          f"ratio_next={second.stats.requests / lb2:.3f} old_coverage={old_fetched / old_planned:.5f} "
          f"minutes_at_rate={minutes:.1f}")


def settings_day():
    from datetime import datetime

    from ty_resources.germany import BERLIN

    return datetime.now(BERLIN).date()


if __name__ == "__main__":
    main()
