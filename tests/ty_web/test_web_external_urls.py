"""A posting's external URL comes from whoever published the posting: every route that returns it lets through
only what ``ty_resources.urls.safe_external_url`` accepts, and all of them give the same answer."""

from __future__ import annotations

import psycopg
from web_support import insert_match, insert_posting, running_app, sign_up

GOOD = "https://www.arbeitsagentur.de/jobsuche/jobdetail/10000-1198765432-S"
# refnr: the posting's external_url as the job board gave it
URLS = {
    "URL-GOOD": GOOD,
    "URL-USERINFO": "https://www.arbeitsagentur.de@evil.example/",  # the host is evil.example
    "URL-PORT-RANGE": "https://example.org:99999/x",
    "URL-PORT-NAN": "https://example.org:abc/",
    "URL-JAVASCRIPT": "javascript:alert(1)",
    "URL-LONG": "https://example.org/" + "a" * 2100,
    "URL-CONTROL": "https://example.org/jobs\x01/1",
}
EXPECTED = {refnr: (url if url == GOOD else None) for refnr, url in URLS.items()}


def test_match_and_posting_routes_give_the_same_sanitised_external_url(db_url):
    with running_app(db_url) as client:
        user = sign_up(client)
        with psycopg.connect(db_url) as conn:
            match_ids = {}
            for rank, (refnr, url) in enumerate(URLS.items()):
                insert_posting(conn, refnr, f"Koch {refnr}", external_url=url)
                match_ids[refnr] = insert_match(conn, user.id, refnr, score=0.9 - rank / 100)
        page = user.get("/api/v1/matches", params={"limit": 100})
        one = {refnr: user.get(f"/api/v1/matches/{match_id}") for refnr, match_id in match_ids.items()}
        queue = user.get("/api/v1/matches/next")
        public = {refnr: client.get(f"/api/v1/postings/{refnr}") for refnr in URLS}
    with psycopg.connect(db_url) as conn:
        stored = dict(conn.execute("SELECT refnr, external_url FROM postings").fetchall())
    assert stored == URLS  # the database keeps what the job board gave; only the answers withhold it
    assert page.status_code == 200 and queue.status_code == 200
    for response in (*one.values(), *public.values()):
        assert response.status_code == 200, response.text
    listed = {m["posting"]["refnr"]: m["posting"]["external_url"] for m in page.json()["items"]}
    assert listed == EXPECTED
    assert {refnr: r.json()["posting"]["external_url"] for refnr, r in one.items()} == EXPECTED
    assert {refnr: r.json()["external_url"] for refnr, r in public.items()} == EXPECTED
    assert queue.json()["posting"]["refnr"] == "URL-GOOD" and queue.json()["posting"]["external_url"] == GOOD
    assert "evil.example" not in page.text
