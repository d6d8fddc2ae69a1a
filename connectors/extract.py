"""Main text of an article page (trafilatura, precision mode), and word counts of item text."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Extraction:
    """What extraction found: the text, or why there is none."""

    text: str | None = None
    error: str | None = None


def plain_text(markup: str) -> str:
    """Feed text without its tags and entities (feeds carry HTML in summary and content)."""
    return html.unescape(_TAG.sub(" ", markup))


def word_count(markup: str) -> int:
    return len(_WORD.findall(plain_text(markup)))


def extract_text(page: bytes, url: str) -> str | None:
    """The article's main text as plain paragraphs, or None when none was found.

    Precision over recall: navigation, related links, comments and cookie walls cost more
    (wrong tags, wrong alerts) than a sentence missed. Nothing here touches the network.
    No `deduplicate`: it remembers text across pages in the process, so a page fetched
    again (an edited item) would come back empty.
    """
    import trafilatura  # imported here: only parser processes (and checks) need it

    text = trafilatura.extract(page, url=url, favor_precision=True, include_comments=False,
                               include_tables=False, include_images=False,
                               include_links=False, output_format="txt",
                               with_metadata=False)
    return text.strip() or None if text else None


def extraction(page: bytes, url: str) -> Extraction:
    """`extract_text` that never raises: a page that breaks the extractor is an error."""
    try:
        text = extract_text(page, url)
    except MemoryError:
        return Extraction(error="MemoryError: page needs more memory than allowed")
    except Exception as exc:  # noqa: BLE001 - hostile HTML must not take the worker down
        return Extraction(error=f"{type(exc).__name__}: {exc}")
    return Extraction(text) if text else Extraction(error="no main text found")


def as_content(text: str) -> str:
    """Extracted plain text as item content (HTML, as feeds carry it): escaped paragraphs."""
    return "".join(f"<p>{html.escape(line.strip())}</p>" for line in text.splitlines()
                   if line.strip())
