"""Major outlets: a new headline from one of them is news in an event on its own."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

# Wire services and national outlets whose own write-up subscribers want to hear of.
DEFAULT_MAJOR_OUTLETS = (
    "reuters.com", "apnews.com", "bloomberg.com", "ft.com", "wsj.com", "nytimes.com",
    "washingtonpost.com", "bbc.co.uk", "bbc.com", "theguardian.com", "cnbc.com", "afp.com",
    "theverge.com", "techcrunch.com", "economist.com",
)


def is_major(source: str, url: str, majors: Iterable[str]) -> bool:
    """Whether the source (a feed name or host) or the URL's site is one of `majors`; a
    site matches its subdomains (uk.reuters.com is reuters.com)."""
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.") if url else ""
    name = source.lower().removeprefix("www.")
    for major in majors:
        major = major.lower().removeprefix("www.")
        if name == major or host == major or host.endswith("." + major):
            return True
    return False
