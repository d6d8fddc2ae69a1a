"""Stable identity for feed items: canonical URLs, item ids and content hashes."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only track the reader; they never change what the page shows.
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_")
_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "ref_src", "_hsenc", "_hsmi",
     "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "wt_mc", "cmpid", "ncid", "sr_share"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PATH_END = re.compile(r"[\s/]+\Z")


def canonical_url(url: str) -> str:
    """Normalise a URL so that the same page gets the same string.

    Lower-cases scheme and host, drops default ports, fragments and tracking parameters,
    sorts the remaining query and removes trailing slashes and whitespace from the path
    (the root path keeps its slash).
    Non-HTTP URLs, and strings urllib cannot split (`http://[oops`), are returned stripped
    but otherwise unchanged: a feed's bad link must not cost the feed its other items.

    >>> canonical_url("HTTPS://Example.com:443/a/?utm_source=x&b=2&a=1#top")
    'https://example.com/a?a=1&b=2'
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced "[" or a host that NFKC turns into "/", "?", "#"...
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    if not host:  # "http://./": no host left to canonicalise
        return url
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    # Trailing slashes go, and trailing whitespace with them: once the query or fragment
    # is dropped it would end the URL, and the next call's strip() would change the result.
    path = _PATH_END.sub("", parts.path) or "/"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking_param(key)
    ]
    query.sort()
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def _is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_PARAMS or lowered.startswith(_TRACKING_PREFIXES)


def _digest(*parts: str) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    for part in parts:
        hasher.update(part.encode("utf-8", "surrogatepass"))
        hasher.update(b"\x1f")
    return hasher.hexdigest()


def item_id(
    feed_id: str, *, guid: str | None, url: str | None, title: str, content: str,
    guid_collides: bool = False,
) -> str:
    """Return a stable id for an item of one feed.

    Order of preference: the GUID; GUID plus URL when the feed reuses GUIDs; the canonical URL;
    title plus content. The id is scoped by feed so two feeds never clash.
    """
    guid = (guid or "").strip()
    link = canonical_url(url) if url else ""
    if guid and guid_collides and link:
        return _digest(feed_id, "guid+url", guid, link)
    if guid:
        return _digest(feed_id, "guid", guid)
    if link:
        return _digest(feed_id, "url", link)
    return _digest(feed_id, "text", title.strip(), content.strip())


def content_hash(title: str, content: str) -> str:
    """Hash of what a reader sees; a change means the item was edited."""
    return _digest(title.strip(), content.strip())


def feed_id(feed_url: str) -> str:
    """Stable id of a feed, derived from its canonical URL."""
    return _digest("feed", canonical_url(feed_url))[:16]
