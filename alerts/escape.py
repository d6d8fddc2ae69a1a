"""Make feed text safe for each channel: no Slack mentions or disguised links, no header
injection in email, no markup in HTML, no script or data links anywhere."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")
# RFC 2047 encoded words ("=?utf-8?q?...?="): in a header value they can smuggle line breaks
# past naive checks (CVE-2024-6923 in Python 3.11's email package); never pass them through.
# The email package decodes more than RFC 2047 allows: with spaces inside, and even without
# the closing "?=" ("=?utf-8?q?=0D=0ABcc:_x" became a Bcc line), so whole words are removed
# and any "=?" left is broken up: without one, the email package finds no encoded word.
_ENCODED_WORD = re.compile(r"=\?[^?]*\?[bBqQ]\?[^?]*\?=")


def plain(text: str) -> str:
    """One line of printable text: control characters and line breaks become spaces."""
    return " ".join(_CONTROL.sub(" ", _LINE_BREAKS.sub(" ", text)).split())


def safe_url(url: str) -> str | None:
    """The URL if it is an absolute http(s) URL without control characters, else None.

    `javascript:`, `data:`, `vbscript:` and relative links are dropped: a feed chooses them.
    """
    url = url.strip()
    if not url or _CONTROL.search(url) or any(c in url for c in " <>\"'|`"):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def slack_text(text: str) -> str:
    """Text for Slack mrkdwn: &, < and > escaped, so `<!channel>`, `<@U123>`, `<!subteam^…>`
    and `<https://evil|https://bank>` arrive as literal text, never as mentions or links."""
    return plain(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str, label: str) -> str:
    """A Slack link whose target we checked and whose label cannot close or fake it."""
    target = safe_url(url)
    shown = slack_text(label).replace("|", "¦") or "link"
    return f"<{target}|{shown}>" if target else shown


def header_value(text: str, limit: int = 200) -> str:
    """A header-safe single line: no CR/LF or controls, no encoded words, bounded length."""
    value = plain(text)
    while (removed := _ENCODED_WORD.sub(" ", value)) != value:  # "=?a?q?=?b?q?c?= ?=" hides
        value = removed  # a second word that only appears once the first is gone
    value = " ".join(value.replace("=?", "= ?").split())
    return value[: limit - 1] + "…" if len(value) > limit else value


def html_text(text: str) -> str:
    """Text for an HTML body: escaped, quotes included."""
    return html.escape(plain(text), quote=True)


def html_link(url: str, label: str) -> str:
    target = safe_url(url)
    shown = html_text(label) or "link"
    return f'<a href="{html.escape(target, quote=True)}">{shown}</a>' if target else shown
