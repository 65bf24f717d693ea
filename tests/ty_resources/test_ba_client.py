"""The BA job search client against the local BA server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import base64
import time

import pytest

from ty_resources.ba import (
    BaClient,
    BaRequestError,
    BaShapeError,
    RateLimiter,
    html_to_text,
    parse_search_page,
)
from ty_resources.crawl import Crawl, Node, Plan
from ty_testing.ba_server import BaTestServer, Fault


def client_for(server: BaTestServer, **kwargs) -> BaClient:
    options = {"page_size": 20, "requests_per_s": 1000, "max_retries": 3, "backoff_s": 0.01, "read_timeout_s": 5}
    options.update(kwargs)
    return BaClient(server.url, **options)


def all_items(client: BaClient, params=None) -> list[dict]:
    """One query paged to its end; errors are raised, not collected."""
    crawl = Crawl(client.search, Plan([Node(params or {"veroeffentlichtseit": "100"})]), page_size=client.page_size,
                  errors=())
    return [item for page in crawl.pages() for item in page]


# ----------------------------------------------------------------------- shapes


def test_parse_both_shapes():
    a = parse_search_page({"stellenangebote": [{"refnr": "1-A"}], "maxErgebnisse": "7"}, "u", 1)
    b = parse_search_page({"ergebnisliste": [{"referenznummer": "1-A"}], "maxErgebnisse": 7}, "u", 1)
    assert a.items[0]["refnr"] == b.items[0]["refnr"] == "1-A"
    assert a.max_results == b.max_results == 7
    assert parse_search_page({"maxErgebnisse": "0"}, "u", 3).items == []  # the API omits an empty list


def test_facets_as_an_object_or_as_the_openapi_list():
    counts = {"befristung": {"counts": {"1": 6, "2": "4"}, "maxCount": 6}, "berufsfeld": {"counts": {"IT": 6}}}
    as_object = parse_search_page({"maxErgebnisse": 10, "facetten": counts}, "u", 1)
    as_list = parse_search_page({"maxErgebnisse": 10, "facetten": [counts]}, "u", 1)
    assert as_object.facets == as_list.facets == {"befristung": {"1": 6, "2": 4}, "berufsfeld": {"IT": 6}}
    broken = parse_search_page({"maxErgebnisse": 1, "facetten": {"a": None, "b": {"counts": [1]}}}, "u", 1)
    assert broken.facets == {}
    infinite = parse_search_page({"maxErgebnisse": 1, "facetten": {"a": {"counts": {"x": float("inf"), "y": 3}}}},
                                 "u", 1)
    assert infinite.facets == {"a": {"y": 3}}


def test_neither_shape_names_url_page_and_keys():
    with pytest.raises(BaShapeError) as info:
        parse_search_page({"jobs": [], "total": 0}, "http://x/pc/v4/jobs?page=2", 2)
    message = str(info.value)
    assert "http://x/pc/v4/jobs?page=2" in message and "page 2" in message and "'jobs'" in message
    with pytest.raises(BaShapeError, match="item 1 has no 'refnr'"):
        parse_search_page({"stellenangebote": [{"refnr": "a"}, {"titel": "x"}]}, "u", 1)
    with pytest.raises(BaShapeError, match="expected a JSON object"):
        parse_search_page([], "u", 1)
    for count in (None, "viele", -1, float("inf"), 1e400, 2.5, True, 10**311, "9" * 400):  # the crawl pages by this count: without it nothing is known complete
        with pytest.raises(BaShapeError, match="no usable maxErgebnisse"):
            parse_search_page({"stellenangebote": [{"refnr": "a"}], "maxErgebnisse": count}, "u", 1)


def test_html_to_text():
    html = "<p>Wir suchen&nbsp;Sie!</p><ul><li>Pflege &amp; Betreuung</li><li>Dokumentation</li></ul><b>Jetzt</b> bewerben"
    assert html_to_text(html) == "Wir suchen Sie!\n- Pflege & Betreuung\n- Dokumentation\nJetzt bewerben"
    assert html_to_text(None) == ""


def test_rate_limiter_spaces_calls():
    limiter = RateLimiter(per_second=50)
    started = time.monotonic()
    for _ in range(11):
        limiter.wait()
    assert time.monotonic() - started >= 0.19  # 10 intervals of 20 ms at least


# ------------------------------------------------------------------ against HTTP


@pytest.fixture
def server(small_snapshot):
    with BaTestServer(small_snapshot) as srv:
        yield srv


def test_pages_to_the_end(server, small_snapshot):
    client = client_for(server)
    items = all_items(client)
    expected = set(small_snapshot.days[small_snapshot.day_keys[-1]])  # each posting once, as the API has it
    assert len(items) == len(expected)
    assert {i["refnr"] for i in items} == expected
    pages = [int(p["page"]) for p in server.search_requests()]
    assert pages == list(range(1, len(pages) + 1)) and len(pages) > 3
    assert all(p["size"] == "20" for path, p in server.requests if path == "/pc/v4/jobs")


def test_ergebnisliste_shape_gives_the_same_postings(small_snapshot):
    with BaTestServer(small_snapshot, shape="ergebnisliste") as server:
        items = all_items(client_for(server))
    assert {i["refnr"] for i in items} == {i["refnr"] for i in small_snapshot.items_for(small_snapshot.day_keys[-1])}


def test_api_key_is_sent_and_a_wrong_one_is_not_retried(server):
    assert all_items(client_for(server, api_key="jobboerse-jobsuche"))
    client = client_for(server, api_key="wrong")
    with pytest.raises(BaRequestError, match="HTTP 403"):
        all_items(client)
    assert client.stats.retries == 0 and client.stats.requests == 1


def test_unknown_shape_is_a_clear_error(server):
    server.add_fault(Fault("unknown_shape", page=2))
    with pytest.raises(BaShapeError) as info:
        all_items(client_for(server))
    assert "page 2" in str(info.value) and "/pc/v4/jobs" in str(info.value) and "'jobs'" in str(info.value)


def test_malformed_json_is_a_clear_error(server):
    server.add_fault(Fault("malformed", page=1))
    with pytest.raises(BaShapeError, match="page 1: not JSON"):
        all_items(client_for(server))


def test_429_with_retry_after_and_503_are_retried(server, small_snapshot):
    server.add_fault(Fault("429", page=2, retry_after=1))
    server.add_fault(Fault("503", page=3, count=2))
    client = client_for(server)
    started = time.monotonic()
    items = all_items(client)
    assert time.monotonic() - started >= 0.9  # Retry-After: 1 was honoured
    assert len(items) == len(set(small_snapshot.days[small_snapshot.day_keys[-1]]))
    assert client.stats.retries == 3 and client.stats.errors == 0


def test_retries_give_up_with_a_clear_error(server):
    server.add_fault(Fault("503", page=1, count=10))
    client = client_for(server, max_retries=2)
    with pytest.raises(BaRequestError, match="/pc/v4/jobs"):
        all_items(client)
    assert client.stats.errors == 1
    assert sum(1 for path, _ in server.requests if path == "/pc/v4/jobs") == 3  # 1 + 2 retries


def test_read_timeout_is_retried(server):
    server.add_fault(Fault("slow", page=1, delay=1.5))
    client = client_for(server, read_timeout_s=0.5)
    assert all_items(client)
    assert client.stats.retries >= 1


def test_empty_page_in_the_middle_is_asked_again(server, small_snapshot):
    server.add_fault(Fault("empty_page", page=2))
    items = all_items(client_for(server))
    assert len(items) == len(set(small_snapshot.days[small_snapshot.day_keys[-1]]))


def test_a_filtered_query_gets_only_its_part(server):
    berlin = all_items(client_for(server), {"wo": "Berlin", "veroeffentlichtseit": "100"})
    assert berlin and all(i["arbeitsort"]["region"] == "Berlin" for i in berlin)


def test_a_day_from_the_live_client_is_the_planned_crawl(server, small_snapshot):
    from datetime import datetime

    from ty_resources.germany import BERLIN

    fetch = client_for(server, offer_types=[1]).fetch_day(datetime.now(BERLIN).date())
    items = [item for page in fetch.pages() for item in page]
    assert {i["refnr"] for i in items} == set(small_snapshot.days[small_snapshot.day_keys[-1]])
    assert all(i["angebotsart"] == "1" for i in items)  # the query's offer type, on every item
    assert fetch.stats.coverage == 1.0 and fetch.plan is not None
    assert all(p["angebotsart"] == "1" for p in server.search_requests())


def test_details_ok_and_404(server, small_snapshot):
    client = client_for(server)
    refnr = next(iter(small_snapshot.details))
    detail = client.fetch_detail(refnr)
    assert detail["stellenangebotsBeschreibung"]
    path = server.requests[-1][0]
    assert path == "/pc/v4/jobdetails/" + base64.b64encode(refnr.encode()).decode()
    missing = next(r for r in small_snapshot.postings if r not in small_snapshot.details)
    assert client.fetch_detail(missing) is None


def test_live_client_refuses_past_days_but_lets_a_run_cross_midnight(server):
    from datetime import date, datetime

    from ty_resources.germany import BERLIN

    client = client_for(server)
    with pytest.raises(BaRequestError, match="cannot be fetched"):
        client.fetch_day(date(2025, 1, 1))
    after_midnight = datetime(2026, 12, 8, 0, 40, tzinfo=BERLIN)
    assert client.fetch_day(date(2026, 12, 7), now=after_midnight).plan.roots  # the run of the 7th goes on
    with pytest.raises(BaRequestError, match="only 2026-12-08"):
        client.fetch_day(date(2026, 12, 7), now=datetime(2026, 12, 8, 2, 0, tzinfo=BERLIN))
