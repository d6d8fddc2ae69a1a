"""Feed lists: load the YAML feeds file and import or export OPML."""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from wirewatch.connectors.errors import FeedFileError
from wirewatch.connectors.identity import feed_id
from wirewatch.connectors.yaml_file import (
    Position,
    at,
    position_of,
    read_yaml,
    unknown_key_message,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedSpec:
    """One feed to poll: its URL, a display name and an optional fixed poll interval."""

    url: str
    name: str = ""
    interval_seconds: float | None = None
    # Fetch the article page for the item's full text: `auto` when the feed's text is
    # short (WIREWATCH_FULL_TEXT_MIN_WORDS), `always`, or `never`.
    full_text: str = "auto"

    @property
    def feed_id(self) -> str:
        return feed_id(self.url)


FEED_KEYS = ("url", "name", "interval_seconds", "full_text")
FULL_TEXT_MODES = ("auto", "always", "never")


def spec_from_mapping(entry: Any, where: str, *, lenient: bool = False,
                      file: Path | None = None, position: Position | None = None) -> FeedSpec:
    """A FeedSpec from a feeds-file entry (a URL string or a mapping); `where` starts every
    error, after "file:line:column: " when the entry comes from a file (`position` is the
    entry's). Unknown keys are refused, or with `lenient` logged and skipped."""

    def here(key: Any, *, of_key: bool = False) -> str:
        found = position_of(entry, key, of_key=of_key)
        if file is None:
            return where
        return f"{at(file, found or position)}: {where}"  # the key or value, else the entry

    if isinstance(entry, str):
        entry = {"url": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
        raise FeedFileError(f"{here('url')}: each feed needs a 'url' string, "
                            f"got {_short(entry)}")
    for key in entry:
        if key not in FEED_KEYS:
            message = f"{here(key, of_key=True)}: {unknown_key_message(key, FEED_KEYS)}"
            if not lenient:
                raise FeedFileError(message)
            log.warning("ignoring %s", message)
    url = entry["url"].strip()
    if not url.startswith(("http://", "https://")):
        raise FeedFileError(f"{here('url')}: feed url must be http(s), got {url!r}")
    interval = entry.get("interval_seconds")
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int | float)
                                 or not 0 < interval < float("inf")):  # also refuses NaN
        raise FeedFileError(f"{here('interval_seconds')}: interval_seconds must be a positive "
                            f"number, got {_short(interval)}")
    full_text = "auto" if entry.get("full_text") is None else entry["full_text"]
    if full_text not in FULL_TEXT_MODES:  # YAML reads `off` as false: refused, not guessed
        raise FeedFileError(f"{here('full_text')}: full_text must be one of "
                            f"{', '.join(FULL_TEXT_MODES)}, got {_short(full_text)}")
    return FeedSpec(url=url, name=str(entry.get("name") or ""), interval_seconds=interval,
                    full_text=full_text)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def load_feeds(path: Path, *, lenient: bool = False) -> list[FeedSpec]:
    """Read a feeds file: YAML with a top-level `feeds:` list, or OPML (by extension).

    Keys an entry does not know (a typo such as `nmae:`) are refused with the file, the
    entry, the line and the closest known key; `lenient` logs them and reads on.
    """
    if path.suffix.lower() in {".opml", ".xml"}:
        return load_opml(path)
    document = read_yaml(path, FeedFileError, "feeds file", located=True)
    if not isinstance(document, dict) or not isinstance(document.get("feeds"), list):
        close = difflib.get_close_matches("feeds", [str(k) for k in document], n=1) \
            if isinstance(document, dict) else []
        hint = f" (found {close[0]!r}: a typo?)" if close else ""
        raise FeedFileError(f"feeds file {path} needs a top-level 'feeds:' list{hint}")
    entries = document["feeds"]
    specs = [spec_from_mapping(entry, f"feeds[{index}]", lenient=lenient, file=path,
                               position=position_of(entries, index))
             for index, entry in enumerate(entries)]
    return unique_feeds(specs)


def load_opml(path: Path) -> list[FeedSpec]:
    """Read every outline with an `xmlUrl` from an OPML file (entities and DTDs refused)."""
    try:
        root = SafeET.fromstring(path.read_bytes(), forbid_dtd=True)
    except OSError as exc:
        raise FeedFileError(f"cannot read OPML file {path}: {exc}") from exc
    except (SafeET.ParseError, DefusedXmlException) as exc:
        raise FeedFileError(f"OPML file {path} is not valid or safe XML: {exc}") from exc
    specs = []
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl")
        if url:
            name = outline.get("title") or outline.get("text") or ""
            name = "" if name == url else name  # our own export writes the URL as text
            specs.append(spec_from_mapping({"url": url, "name": name}, str(path)))
    return unique_feeds(specs)


def to_opml(specs: list[FeedSpec], title: str = "wirewatch feeds") -> str:
    """Render feeds as an OPML 2.0 document."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_escape_text(title)}</title></head>",
        "  <body>",
    ]
    for spec in specs:
        name = spec.name or spec.url
        lines.append(
            f"    <outline type=\"rss\" text={quoteattr(name)} xmlUrl={quoteattr(spec.url)}/>"
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unique_feeds(specs: list[FeedSpec]) -> list[FeedSpec]:
    """Specs without repeats of a feed id; the first mention of a feed wins."""
    seen: set[str] = set()
    unique = []
    for spec in specs:
        if spec.feed_id not in seen:
            seen.add(spec.feed_id)
            unique.append(spec)
    return unique
