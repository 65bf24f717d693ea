"""The one sanitiser of the postings' external URLs (every route that returns one uses it)."""

import pytest

from ty_resources.urls import URL_MAX_CHARS, safe_external_url

GOOD = [
    "https://www.arbeitsagentur.de/jobsuche/jobdetail/10000-1198765432-S",
    "http://karriere.example.org/stellen?id=42&ref=ba#bewerben",
    "https://example.org:8443/jobs/koch",
    "HTTPS://EXAMPLE.ORG/x",
    "https://[2001:db8::1]/jobs",
    "https://example.org/" + "a" * (URL_MAX_CHARS - len("https://example.org/")),
]
BAD = [
    None,
    "",
    "https://www.arbeitsagentur.de@evil.example/",  # user info: the host is evil.example
    "https://user:pass@example.org/",
    "https://example.org:99999/x",  # port out of range
    "https://example.org:abc/",  # port not a number
    "https://example.org:-1/",
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "ftp://example.org/job",
    "//evil.example/path",  # scheme-relative
    "/jobs/1",  # relative
    "https:///nohost",
    "https://example.org/" + "a" * URL_MAX_CHARS,  # over the limit
    "https://example.org/\x00",
    "https://example.org/a\nb",
    "https://exa mple.org/",
    "https://example.org/\x7f",
    "https://example.org/\u2028",  # a line separator is whitespace
]


@pytest.mark.parametrize("url", GOOD)
def test_plain_http_urls_pass_unchanged(url):
    assert safe_external_url(url) == url


@pytest.mark.parametrize("url", BAD)
def test_everything_else_is_refused(url):
    assert safe_external_url(url) is None
