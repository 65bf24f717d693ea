"""Requests another site makes a browser send, through the pages and the API (the review of the pages' change):

- the forms without a session (sign in, register, password reset) are refused when the browser says the post is
  cross-site, and also when it does not send ``Sec-Fetch-Site`` (older browsers, plain http) but its ``Origin``
  names another site;
- a refused post costs no rate limit (another site cannot use up the budget of everyone behind an address);
- a cover letter or a match's explanation (which the LLM may write, counting against the user's limit) is not
  made for another site's link.
"""

from __future__ import annotations

from test_pages_matches import prepared
from web_support import PASSWORD, client_for, load_catalogue, register, running_app

EVIL = {"Origin": "https://evil.example"}
CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}


def test_sign_in_forms_refuse_another_sites_origin_without_fetch_metadata(db_url):
    with running_app(db_url) as client:
        account = register(client)
        credentials = {"email": account["email"], "password": PASSWORD}
        page_evil = client.post("/login", data=credentials, headers=EVIL, follow_redirects=False)
        page_null = client.post("/login", data=credentials, headers={"Origin": "null"}, follow_redirects=False)
        api_evil = client.post("/api/v1/auth/login", json=credentials, headers=EVIL)
        register_evil = client.post("/register", data={"email": "x@example.org", "password": PASSWORD},
                                    headers=EVIL, follow_redirects=False)
        # the site's own origin (the request's host, or TY_PUBLIC_URL's), and no Origin at all (API clients)
        page_own = client_for(client).post("/login", data=credentials, headers={"Origin": "https://testserver"},
                                           follow_redirects=False)
        api_public = client_for(client).post("/api/v1/auth/login", json=credentials,
                                             headers={"Origin": "http://127.0.0.1:8000"})
        api_plain = client_for(client).post("/api/v1/auth/login", json=credentials)
    assert page_evil.status_code == page_null.status_code == api_evil.status_code == register_evil.status_code == 403
    assert "ty_session" not in page_evil.cookies and "ty_session" not in api_evil.cookies
    assert page_own.status_code == 303 and page_own.headers["location"] == "/matches"
    assert api_public.status_code == api_plain.status_code == 200


def test_a_refused_cross_site_post_costs_no_rate_limit(db_url):
    with running_app(db_url, rate_limits="register=1/3600,mail=1/3600") as client:
        refused = [client.post(path, data=data, headers=headers, follow_redirects=False)
                   for path, data in (("/register", {"email": "a@example.org", "password": PASSWORD}),
                                      ("/forgot-password", {"email": "a@example.org"}))
                   for headers in (CROSS_SITE, EVIL)]
        registered = client.post("/register", data={"email": "b@example.org", "password": PASSWORD},
                                 follow_redirects=False)
        asked = client.post("/forgot-password", data={"email": "b@example.org"}, follow_redirects=False)
    assert [r.status_code for r in refused] == [403] * 4
    assert registered.status_code == 303 and asked.status_code == 303  # each budget of 1 still there


def test_another_site_cannot_make_a_signed_in_browser_ask_for_cover_letters_or_explanations(db_url):
    load_catalogue(db_url)
    with running_app(db_url) as client:
        user, ids = prepared(client, db_url)
        paths = [f"/matches/{ids['SW-1']}/{what}" for what in ("cover-letter", "cover-letter.md", "cover-letter.docx",
                                                               "explanation")]
        refused = [user.get(path, headers=CROSS_SITE) for path in paths]
        same_site = [user.get(path, headers={"Sec-Fetch-Site": "same-origin"}) for path in paths]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert [r.status_code for r in same_site] == [200, 200, 200, 200]
