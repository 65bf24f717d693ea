"""The crawl planner and runner against the strict BA test server, at the API's real cap (10,000 results)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from ty_resources.ba import BaClient
from ty_resources.crawl import (
    BUDGET_FACTOR,
    BUDGET_SLACK,
    PLAN_FORMAT,
    RESULT_CAP,
    Crawl,
    CrawlIncomplete,
    Plan,
    SearchResult,
    initial_plan,
    lower_bound_pages,
)
from ty_testing.ba_market import Market
from ty_testing.ba_server import BaTestServer, Churn, Fault

DAY = date(2026, 12, 7)


def crawl(server: BaTestServer, plan: Plan | None = None, offer_types=(1,), answer=None,
          **options) -> tuple[Crawl, set[str]]:
    """Crawl the server; ``answer(params, page, result) -> result`` may change each answer on its way."""
    client = BaClient(server.url, requests_per_s=10_000, max_retries=2, backoff_s=0.01, read_timeout_s=5)

    def search(params, page, size):
        result = client.search(params, page, size)
        return answer(params, page, result) if answer else result

    run = Crawl(search, initial_plan(list(offer_types), plan), **options)
    fetched = {item["refnr"] for page in run.pages() for item in page}
    client.close()
    return run, fetched


def assert_within_the_cap(server: BaTestServer) -> None:
    for params in server.search_requests():
        assert int(params["size"]) <= 100 and int(params["page"]) * int(params["size"]) <= RESULT_CAP, params


@pytest.fixture(scope="module")
def nrw(catalogue) -> Market:
    """60,000 open jobs in one Land: six times what one query may page."""
    return Market.generate(catalogue, day=DAY, postings=60_000, seed=3, laender=["Nordrhein-Westfalen"],
                           offer_shares={1: 1.0})


def test_a_land_with_60000_postings_is_fetched_completely(nrw):
    with BaTestServer(market=nrw) as server:
        run, fetched = crawl(server)
        assert_within_the_cap(server)
    assert fetched == nrw.open_refnrs()
    assert run.stats.planned == 60_000 and run.stats.coverage == 1.0 and not run.stats.problems
    # one Land splits nothing; the Berufsfelder do, each part paged to its end
    assert run.plan.roots[0].split == "berufsfeld" and run.stats.splits >= 1
    assert run.stats.requests <= 1.1 * lower_bound_pages(60_000)


def test_the_stored_plan_is_reused_the_next_day(nrw):
    with BaTestServer(market=nrw) as server:
        first, _ = crawl(server)
        stored = Plan.from_json(first.plan.to_json())
        server.requests.clear()
        second, fetched = crawl(server, stored)
    assert fetched == nrw.open_refnrs()
    assert second.stats.planning_requests == 1  # the root's count and facets; no split asked again
    assert second.stats.splits == 0 and second.stats.requests <= first.stats.requests
    assert second.stats.requests <= 1.1 * lower_bound_pages(nrw.open_count)


def test_the_stored_plan_is_repaired_when_counts_change(catalogue):
    market = Market.generate(catalogue, day=DAY, postings=30_000, seed=5, offer_shares={1: 1.0})
    with BaTestServer(market=market) as server:
        first, _ = crawl(server)
    stored = first.plan.to_json()
    # The next day: one Land's biggest Berufsfeld doubles past the cap, and postings abroad appear in a
    # country the plan has never seen.
    place_of = {p.region: i for i, p in enumerate(market.places)}
    grown = Market.generate(catalogue, day=DAY, postings=30_000, seed=5, offer_shares={1: 1.0})
    big_field = np.bincount(grown.field_id).argmax()
    land = place_of["Nordrhein-Westfalen"]
    candidates = np.flatnonzero(grown.field_id != big_field)[:11_000]
    grown.field_id[candidates] = big_field
    grown.place[candidates] = land
    grown.places.append(grown.places[0].__class__("", "Polen", "Stettin", "70-001", 53.43, 14.55))
    grown._refresh_places()
    grown.place[np.flatnonzero(grown.place != land)[:40]] = len(grown.places) - 1
    grown.active[grown.place == place_of["Wien"]] = False  # and nothing is left in Vienna
    assert any(child.params.get("wo") == "Wien" for child in Plan.from_json(stored).roots[0].children)
    with BaTestServer(market=grown) as server:
        second, fetched = crawl(server, Plan.from_json(stored))
        assert_within_the_cap(server)
        asked_for_vienna = [p for p in server.search_requests() if p.get("wo") == "Wien"]
    assert fetched == grown.open_refnrs()
    assert second.stats.splits >= 1  # the part that grew past the cap
    parts = {child.params.get("wo") for child in second.plan.roots[0].children}
    assert "Polen" in parts and "Wien" not in parts and not asked_for_vienna


def test_postings_that_move_between_pages_are_still_all_fetched(catalogue):
    market = Market.generate(catalogue, day=DAY, postings=25_000, seed=11, offer_shares={1: 1.0})
    before = market.open_refnrs()
    # Two postings arrive and two are withdrawn every five requests: each shifts the lists under the client.
    with BaTestServer(market=market, churn=Churn(arrivals=0.4, withdrawals=0.4, seed=2)) as server:
        run, fetched = crawl(server)
    open_throughout = before & market.open_refnrs()
    assert open_throughout <= fetched
    assert run.stats.requeried > 0


def test_without_the_second_pass_shifted_pages_lose_postings(catalogue):
    """The control of the test above: the same churn, paged once, misses postings at page borders."""
    market = Market.generate(catalogue, day=DAY, postings=25_000, seed=11, offer_shares={1: 1.0})
    before = market.open_refnrs()
    with BaTestServer(market=market, churn=Churn(arrivals=0.4, withdrawals=0.4, seed=2)) as server:
        _, fetched = crawl(server, max_passes=1)
    assert len((before & market.open_refnrs()) - fetched) > 0


def test_a_fault_in_one_leaf_is_reported_and_the_rest_is_fetched(catalogue):
    market = Market.generate(catalogue, day=DAY, postings=25_000, seed=13, offer_shares={1: 1.0})
    bavaria = {market.items[i]["refnr"] for i in market.select({"wo": "Bayern"})}
    with BaTestServer(market=market) as server:
        server.add_fault(Fault("503", params={"wo": "Bayern"}, page=1, count=100))
        run, fetched = crawl(server)
    assert market.open_refnrs() - bavaria <= fetched
    assert len(fetched & bavaria) <= 100  # only what the root's first page happened to bring
    assert len(run.stats.problems) == 1 and "wo=Bayern" in run.stats.problems[0]
    with pytest.raises(CrawlIncomplete, match="wo=Bayern"):
        run.raise_if_incomplete()
    assert run.stats.coverage < 0.9


def test_a_query_no_filter_splits_fails_with_its_name_and_count(catalogue):
    market = Market.generate(catalogue, day=DAY, postings=10_500, seed=17, laender=["Bremen"], offer_shares={1: 1.0})
    market.field_id[:] = market.field_id[0]
    market.fixed_term[:] = 2
    market.working_time[:] = 1
    with BaTestServer(market=market) as server:
        run, fetched = crawl(server)
        assert_within_the_cap(server)
    assert len(fetched) == RESULT_CAP
    with pytest.raises(CrawlIncomplete) as info:
        run.raise_if_incomplete()
    assert "angebotsart=1" in str(info.value) and "10500 results" in str(info.value)


def test_without_facets_an_oversized_query_is_reported_not_guessed(catalogue):
    market = Market.generate(catalogue, day=DAY, postings=12_000, seed=19, offer_shares={1: 1.0})
    with BaTestServer(market=market, facets=False) as server:
        run, fetched = crawl(server)
        assert_within_the_cap(server)
    assert len(fetched) == RESULT_CAP and "no filter splits it" in run.stats.problems[0]


def test_several_offer_types_are_separate_roots(catalogue):
    market = Market.generate(catalogue, day=DAY, postings=3_000, seed=23)
    with BaTestServer(market=market) as server:
        run, _ = crawl(server, offer_types=(1, 4))
    wanted = {market.items[i]["refnr"] for i in np.flatnonzero(market.active & np.isin(market.offer, [1, 4]))}
    assert run.seen == wanted and run.stats.planned == len(wanted)
    assert [root.params for root in run.plan.roots] == [{"angebotsart": "1"}, {"angebotsart": "4"}]


# ----------------------------------------------------------- answers that do not add up are problems


def lands(market: Market, *names: str) -> set[str]:
    return {market.items[i]["refnr"] for name in names for i in market.select({"wo": name})}


@pytest.fixture(scope="module")
def germany(catalogue) -> Market:
    """25,000 open jobs in all Länder: the root splits by Land, each Land is one leaf."""
    return Market.generate(catalogue, day=DAY, postings=25_000, seed=13, offer_shares={1: 1.0})


def test_a_facet_that_omits_a_land_but_adds_up_is_a_problem(germany):
    """The root's facet leaves Bremen out and counts its postings under Bayern: the parts add up, but Bremen
    is never asked. The distinct postings under the root fall short of its count."""

    def answer(params, page, result):
        if params == {"angebotsart": "1"}:
            places = dict(result.facets["arbeitsort"])
            places["Bayern"] += places.pop("Bremen")
            return SearchResult(result.items, result.max_results, {**result.facets, "arbeitsort": places})
        return result

    with BaTestServer(market=germany) as server:
        run, fetched = crawl(server, answer=answer)
    bremen = lands(germany, "Bremen")
    assert germany.open_refnrs() - bremen <= fetched
    assert run.stats.rechecks == 1 and len(run.stats.problems) == 1
    assert "angebotsart=1 counts 25000 results" in run.stats.problems[0]
    assert run.stats.gap >= len(bremen - fetched) > 0


@pytest.mark.parametrize("empty", [1, 2])
def test_an_empty_first_page_is_asked_again_and_reported_when_it_stays_empty(germany, empty):
    with BaTestServer(market=germany) as server:
        server.add_fault(Fault("empty_page", params={"wo": "Bayern"}, page=1, count=empty))
        run, fetched = crawl(server)
    assert run.stats.short_pages == 1
    if empty == 1:  # once: the second answer brings it
        assert fetched == germany.open_refnrs() and not run.stats.problems
    else:
        assert len(run.stats.problems) == 1 and "wo=Bayern: page 1 came back empty twice" in run.stats.problems[0]


@pytest.mark.parametrize("short", [1, 2])
def test_a_short_page_mid_query_is_asked_again_and_a_loss_reported(germany, short):
    served = {"n": 0}

    def answer(params, page, result):
        if params.get("wo") == "Bayern" and page == 3 and served["n"] < short:
            served["n"] += 1
            return SearchResult(result.items[:40], result.max_results, result.facets)
        return result

    with BaTestServer(market=germany) as server:
        run, fetched = crawl(server, answer=answer)
    assert run.stats.short_pages == 1
    if short == 1:
        assert fetched == germany.open_refnrs() and not run.stats.problems
    else:  # 60 postings of Bayern never came: its count says so
        assert germany.open_refnrs() - fetched and len(run.stats.problems) == 1
        assert run.stats.problems[0].startswith("query angebotsart=1&wo=Bayern counts")


def test_postings_in_no_part_of_an_overlapping_split_are_a_problem(catalogue):
    """Full time 10,000, part time 4,000: the parts add up to more than the 10,500, as an overlapping split
    must, yet 500 postings state no working time and are in neither."""
    market = Market.generate(catalogue, day=DAY, postings=10_500, seed=17, laender=["Bremen"], offer_shares={1: 1.0})
    market.field_id[:] = market.field_id[0]
    market.fixed_term[:] = 2
    market.working_time[:6_000] = 1
    market.working_time[6_000:10_000] = 3
    market.working_time[10_000:] = 0
    with BaTestServer(market=market) as server:
        run, fetched = crawl(server)
    assert run.plan.roots[0].split == "arbeitszeit"
    assert 10_000 <= len(fetched) <= 10_100  # the root's first page may bring a few of the 500
    assert len(run.stats.problems) == 1 and "counts 10500 results, but only 100" in run.stats.problems[0]


def test_churn_alone_is_no_problem(catalogue):
    """Withdrawals while the day is crawled make the distinct postings fall short of the counts taken at the
    start; asked again, the counts have fallen too: no problem, the shortfall shows in the coverage."""
    market = Market.generate(catalogue, day=DAY, postings=25_000, seed=11, offer_shares={1: 1.0})
    with BaTestServer(market=market, churn=Churn(withdrawals=4, seed=3)) as server:
        run, _ = crawl(server)
    assert not run.stats.problems and run.stats.rechecks >= 1 and run.stats.coverage < 0.99


def test_an_answer_without_a_count_is_a_problem_of_its_query(germany):
    def answer(params, page, result):
        return SearchResult(result.items, None, result.facets) if params.get("wo") == "Bayern" else result

    with BaTestServer(market=germany) as server:
        run, fetched = crawl(server, answer=answer)
    assert len(run.stats.problems) == 1 and "wo=Bayern: page 1 came without a count" in run.stats.problems[0]
    assert germany.open_refnrs() - lands(germany, "Bayern") <= fetched


def bremen(catalogue, postings: int = 10_500) -> Market:
    """One Land, one Berufsfeld: only befristung or arbeitszeit can split it."""
    market = Market.generate(catalogue, day=DAY, postings=postings, seed=17, laender=["Bremen"],
                             offer_shares={1: 1.0})
    market.field_id[:] = market.field_id[0]
    return market


def test_a_stored_overlapping_split_gains_the_value_it_lacked(catalogue):
    """Day 1 splits by arbeitszeit into full and part time; on day 2, 15 postings are mini jobs only. The
    stored split is asked for its facets and gains the part (no split is repaired by its sum alone: parts of
    an overlapping split add up to more than the whole anyway)."""
    market = bremen(catalogue)
    market.fixed_term[:] = 2
    market.working_time[:6_000] = 1
    market.working_time[6_000:] = 2
    with BaTestServer(market=market) as server:
        first, _ = crawl(server)
    assert first.plan.roots[0].split == "arbeitszeit"
    market.working_time[-15:] = 16  # mj
    with BaTestServer(market=market) as server:
        second, fetched = crawl(server, Plan.from_json(first.plan.to_json()))
    assert fetched == market.open_refnrs() and not second.stats.problems
    assert {c.params["arbeitszeit"] for c in second.plan.roots[0].children} == {"vz", "tz", "mj"}


def test_a_stored_split_that_no_longer_covers_its_query_is_planned_again(catalogue):
    """Day 1 splits by befristung; on day 2, 15 postings state neither value. The stored split cannot reach
    them; asked for its facets, the query is split again by what covers it now."""
    market = bremen(catalogue)
    market.fixed_term[:6_000] = 1
    market.fixed_term[6_000:] = 2
    with BaTestServer(market=market) as server:
        first, _ = crawl(server)
    assert first.plan.roots[0].split == "befristung"
    market.fixed_term[-15:] = 0
    with BaTestServer(market=market) as server:
        second, fetched = crawl(server, Plan.from_json(first.plan.to_json()))
    assert fetched == market.open_refnrs() and not second.stats.problems
    assert second.plan.roots[0].split == "arbeitszeit" and second.stats.splits == 1


# ---------------------------------------------------------------------------- what a crawl may cost


def test_a_count_that_flickers_around_the_cap_stops_at_the_budget(catalogue):
    """9,000 postings whose count reads 10,001 on every other answer: each query looks too big to page, and
    splitting cannot end. The crawl stops at its budget instead of asking every combination of filters."""
    market = Market.generate(catalogue, day=DAY, postings=9_000, seed=31, offer_shares={1: 1.0})
    answers = {"n": 0}

    def answer(params, page, result):
        answers["n"] += 1
        return SearchResult(result.items, 10_001 if answers["n"] % 2 == 0 else result.max_results, result.facets)

    with BaTestServer(market=market) as server:
        run, _ = crawl(server, answer=answer)
    budget = BUDGET_SLACK + BUDGET_FACTOR * lower_bound_pages(9_000)
    assert run.stats.requests <= budget + 1
    assert "the crawl stopped after" in run.stats.problems[-1]


def test_a_facet_of_thousands_of_values_is_no_split(catalogue):
    """One request a part: a facet of 50,000 values would cost 50,000 requests for a query of 10,500."""
    market = Market.generate(catalogue, day=DAY, postings=10_500, seed=17, laender=["Bremen"], offer_shares={1: 1.0})
    market.field_id[:] = market.field_id[0]
    market.fixed_term[:] = 2
    market.working_time[:] = 1

    def answer(params, page, result):
        return SearchResult(result.items, result.max_results,
                            {**result.facets, "berufsfeld": {f"Feld {i}": 1 for i in range(50_000)}})

    with BaTestServer(market=market) as server:
        run, fetched = crawl(server, answer=answer)
    assert run.stats.requests <= RESULT_CAP // 100 + 1 and len(fetched) == RESULT_CAP
    assert "no filter splits it" in run.stats.problems[0]


# ------------------------------------------------------------------------------- stored plans


def stored(*roots) -> dict:
    return {"format": PLAN_FORMAT, "roots": list(roots)}


def chain(depth: int) -> dict:
    node: dict = {"params": {"angebotsart": "1"}, "count": 1}
    top = node
    for i in range(depth):
        child = {"params": {**node["params"], "wo": f"Ort {i}"}, "count": 1}
        node.update(split="wo", children=[child])
        node = child
    return top


@pytest.mark.parametrize(("plan", "problem"), [
    (stored({"params": {"angebotsart": "1"}, "split": "wo", "children": [{"params": {"angebotsart": "1"}}]}),
     "not its parent"),
    (stored({"params": {"angebotsart": "1"}, "split": "wo",
             "children": [{"params": {"angebotsart": "4", "wo": "Bayern"}}]}), "not its parent"),
    (stored({"params": {"angebotsart": "1"}, "count": "5000"}), "no whole number"),
    (stored({"params": {"angebotsart": "1"}, "count": True}), "no whole number"),
    (stored({"params": {"angebotsart": "1"}, "count": -3}), "no whole number"),
    (stored({"params": {"angebotsart": 1}}), "text parameters"),
    (stored({"params": {"angebotsart": "1"}, "split": "wo", "children": [
        {"params": {"angebotsart": "1", "wo": "Bayern"}}, {"params": {"angebotsart": "1", "wo": "Bayern"}}]}),
     "a part twice"),
    (stored(chain(900)), "splits"),  # a child split again by its own parameter
    (stored(*[{"params": {"angebotsart": "1"}, "split": "wo", "children": [
        {"params": {"angebotsart": "1", "wo": f"Ort {i}"}} for i in range(400)]}] * 30), "more than"),
    ({"format": PLAN_FORMAT, "roots": "all"}, "no list of roots"),
    (["a", "list"], "no JSON object"),
])
def test_a_stored_plan_that_does_not_hold_together_is_refused(plan, problem):
    with pytest.raises(ValueError, match=problem):
        Plan.from_json(plan)


def test_a_stored_root_with_more_than_its_offer_type_is_not_followed():
    """A root with a filter more than its offer type would crawl only part of the market, and the coverage
    would still read 100%: it is planned afresh."""
    narrowed = Plan.from_json(stored({"params": {"angebotsart": "1", "wo": "Bremen"}, "count": 900},
                                     {"params": {"angebotsart": "4"}, "count": 50}))
    plan = initial_plan([1, 4], narrowed)
    assert [root.params for root in plan.roots] == [{"angebotsart": "1"}, {"angebotsart": "4"}]
    assert plan.roots[0].count is None and plan.roots[1].count == 50


# ------------------------------------------------------------------------- the strict server itself


@pytest.mark.parametrize(("query", "problem"), [
    ("size=101", "size=101"),
    ("size=100&page=101", "10100"),
    ("size=0", "less than 1"),
    ("angebotsart=3", "angebotsart"),
    ("veroeffentlichtseit=101", "between 0 and 100"),
    ("arbeitszeit=vz;xx", "arbeitszeit"),
    ("befristung=3", "befristung"),
    ("zeitarbeit=vielleicht", "zeitarbeit"),
])
def test_the_server_refuses_what_the_api_refuses(small_snapshot, query, problem):
    import requests

    with BaTestServer(small_snapshot) as server:
        response = requests.get(f"{server.url}/pc/v4/jobs?{query}", headers={"X-API-Key": "jobboerse-jobsuche"},
                                timeout=5)
    assert response.status_code == 400
    message = response.json()["messages"][0]
    assert message["code"] == "EINGABEPARAMETER_FEHLERHAFT" and problem in message["message"]


def test_the_server_filters_as_the_api_does(catalogue):
    market = Market.generate(catalogue, day=DAY, postings=4_000, seed=29)

    def count(**params) -> int:
        return len(market.select({k: str(v) for k, v in params.items()}))

    total = market.open_count
    assert count(befristung="1") + count(befristung="2") < total  # some postings say neither
    assert count(befristung="1;2") == count(befristung="1") + count(befristung="2")
    assert count(arbeitszeit="vz") + count(arbeitszeit="tz") > count(arbeitszeit="vz;tz")  # both: counted twice
    assert count(zeitarbeit="false") < count(zeitarbeit="true") == total
    assert count(veroeffentlichtseit=0) < count(veroeffentlichtseit=7) < count(veroeffentlichtseit=100) < total
    assert sum(count(wo=land) for land in market.facets(market.select({}))["arbeitsort"]) >= total
    assert 0 < count(wo="Köln", umkreis=30) < count(wo="Köln", umkreis=200)
    facets = market.facets(market.select({"angebotsart": "1"}))
    assert sum(facets["berufsfeld"].values()) == count(angebotsart=1)


def test_a_part_that_replaces_a_vanished_one_is_fetched(catalogue):
    """A stored split loses a middle part and gains a new one the same day: the new part must be paged. (The
    review that found parts tracked by a reusable id() reproduced the loss with its own script; whether this
    scenario hits the same memory reuse depends on the allocator, so it guards the behaviour, not the cause.)"""
    market = Market.generate(catalogue, day=DAY, postings=24_000, seed=41, offer_shares={1: 1.0},
                             laender=["Nordrhein-Westfalen", "Bremen"])
    with BaTestServer(market=market) as server:
        first, _ = crawl(server)
    stored = first.plan.to_json()
    split_land = next(c for c in first.plan.roots[0].children if c.children)
    fields = [c.params["berufsfeld"] for c in split_land.children]
    gone, land = fields[1], split_land.params["wo"]
    field_of = {name: i for i, name in enumerate(market.fields)}
    in_land = np.array([market.places[i].region == land for i in market.place])
    moved = np.flatnonzero(in_land & (market.field_id == field_of[gone]))
    spare = next(name for name in market.fields  # a field no other field's name contains (free-text match)
                 if name not in fields and not any(name in other for other in market.fields if other != name))
    market.field_id[moved] = field_of[spare]  # the vanished part's postings now form a part the plan lacks
    with BaTestServer(market=market) as server:
        second, fetched = crawl(server, Plan.from_json(stored))
    assert fetched == market.open_refnrs() and not second.stats.problems
