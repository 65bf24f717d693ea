"""External URLs of postings (``postings.external_url``, the BA's ``externeUrl``): what a client may show as a link.

The value comes from the job board, so from anyone who publishes a posting there. Every route that returns it
passes it through :func:`safe_external_url` first.
"""

from __future__ import annotations

from urllib.parse import urlsplit

URL_MAX_CHARS = 2048
SCHEMES = frozenset({"http", "https"})


def safe_external_url(url: str | None) -> str | None:
    """``url`` when it is a plain absolute http(s) URL a client may render as a link; otherwise None.

    Refused: other schemes (``javascript:``, ``data:``, ``file:``), scheme-relative and relative URLs, user
    info (``https://www.arbeitsagentur.de@evil.example/``: the host is ``evil.example``), a port that is not a
    number in 0-65535, whitespace or control characters anywhere, and anything longer than 2,048 characters.
    """
    if not url or len(url) > URL_MAX_CHARS:
        return None
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return None
    if parts.scheme.lower() not in SCHEMES or not parts.hostname or "@" in parts.netloc:
        return None
    return url
