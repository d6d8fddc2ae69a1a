"""Normalise article text: HTML to text, typography folded, generic site chrome removed."""

from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr",
                         "blockquote", "section", "article", "header", "footer", "ul", "ol"})
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "iframe", "svg"})

_TYPOGRAPHY = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"', "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
    "\u2014": "-", "\u2015": "-", "\u2212": "-", "\u2026": "...", "\u00a0": " ",
    "\u200b": "", "\u200c": "", "\u200d": "", "\ufeff": "",
})

# Lines that are site furniture on any site, never part of the story.
_CHROME_LINE = re.compile(
    r"^(?:source\s*link|read\s*more|continue\s*reading|click\s*here\b.*"
    r"|share\s*(?:this|on)\b.*|(?:also|related|must)\s*read\s*:.*|advertisement|sponsored"
    r"|follow\s*us\b.*|(?:sign\s*up|subscribe)\b.*newsletter.*"
    r"|(?:get|join|don't\s*miss)\b.{0,40}\bnewsletter\b.*"
    r"|(?:home|news|business|tech|markets|world|sports?)(?:\s*[|>/\u00b7]\s*\w[\w ]*){2,}"
    r"|(?:tags?|filed\s*under|categor(?:y|ies))\s*:.*|disclaimer\s*:.*"
    r"|(?:copyright|\u00a9)\s*(?:\(c\)\s*)?\d{4}\b.*|(?:image|photo)\s*(?:credit|:).*)$",
    re.IGNORECASE,
)
# Cookie banners say so anywhere in the line; searched only when "cookie" occurs at all.
_COOKIE_NOTICE = re.compile(
    r"\b(?:we|this\s*(?:site|website))\s*uses?\s*cookies\b|\baccept\s*(?:all\s*)?cookies\b",
    re.IGNORECASE)
# Bylines: "By Jane Doe" or "Posted by Staff Writer, Reuters"; names are capitalised, so a
# sentence such as "By the end of the year ..." is kept.
_BYLINE = re.compile(
    r"^(?:[Bb]y|[Pp]osted by|[Ww]ritten by)\s+(?:[A-Z][\w.'-]*\s*){1,4}"
    r"(?:[|,-]\s*(?:[A-Z0-9][\w.'&-]*\s*){1,5})?$")
# Furniture is short; a long line is prose even when it mentions cookies or newsletters.
_MAX_CHROME_CHARS = 240


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            # In HTML a newline inside a paragraph is only a space; blocks make the lines.
            self.parts.append(data.replace("\n", " "))


# Only real tags make a text HTML: wire copy writes company tickers as "<Rio Tinto-Zinc>".
_HTML_TAG = re.compile(
    r"</?(?:p|div|br|span|a|b|i|u|em|strong|ul|ol|li|h[1-6]|img|table|tr|td|th|section|article"
    r"|header|footer|nav|aside|blockquote|figure|figcaption|iframe|script|style|pre|code|hr)"
    r"\b[^<>]*>", re.IGNORECASE)


# A tag with its attributes (quoted values may hold ">"). Markup that needs a real parser's
# rules (scripts and styles, whose content is not markup; comments, CDATA, declarations)
# goes to HTMLParser; the rest, which is nearly every feed item, is split by this pattern:
# the same text out, four times faster (tests/unit/streams/test_normalise.py compares them).
# A name ends where HTMLParser ends it ("<P.W. Stephens>" is tag "p.w."), or at a "<" (then
# the parser decides). Attributes start after a space or "/", and "<" or a quote starts no
# unquoted run, so each text has one way to match: no backtracking blow-up on
# "<a<a<a..." or a long "<aaaa..." with no ">" (it took 40 s on 2 KB before).
_TAG = re.compile(
    r"<(/?)([A-Za-z][^\t\n\r\f />\x00<]*)"
    r"((?:[\t\n\r\f /](?:[^<>\"']|\"[^\"]*\"|'[^']*')*)?)>")
_NEEDS_PARSER = re.compile(r"<(?:[!?]|/?(?:script|style|noscript|template|iframe|svg)\b)",
                           re.IGNORECASE)


# "<" that starts no tag, end tag or declaration is text: escaped before the parser sees it.
_STRAY_OPEN = re.compile(r"<(?![A-Za-z/!?])|</(?![A-Za-z])|<!(?!--|[A-Za-z\[])")


def _defused(markup: str) -> str:
    """The markup without comments, and with every "<" that no ">" closes before the next
    "<" escaped as text. Python 3.11's HTMLParser is quadratic on runs of unclosed
    constructs (CVE-2025-6069: 64 KB of "<!--" took 2.5 s, 200 KB of "<a" 52 s); comments
    carry no visible text, and an unclosed tag is text to a reader too. Linear."""
    if "<!--" in markup:
        kept, position = [], 0
        while (start := markup.find("<!--", position)) != -1:
            kept.append(markup[position:start])
            end = markup.find("-->", start + 4)
            position = len(markup) if end == -1 else end + 3
        kept.append(markup[position:])
        markup = "".join(kept)
    opens = [m.start() for m in re.finditer("<", markup)]
    if not opens:
        return markup
    stray: list[int] = []
    closing = 0  # the first ">" at or after the current "<"
    for index, start in enumerate(opens):
        if closing != -1 and closing < start:
            closing = markup.find(">", start)
        following = opens[index + 1] if index + 1 < len(opens) else len(markup)
        if closing == -1 or closing > following:
            stray.append(start)
    if stray:
        markup = _escape_at(markup, stray)
    return _STRAY_OPEN.sub(lambda m: "&lt;" + m.group(0)[1:], markup)


def _escape_at(markup: str, positions: list[int]) -> str:
    """The markup with the "<" at each (ascending) position written as "&lt;"."""
    pieces, last = [], 0
    for position in positions:
        pieces += [markup[last:position], "&lt;"]
        last = position + 1
    pieces.append(markup[last:])
    return "".join(pieces)


def parse_to_text(markup: str) -> str:
    """Visible text of HTML by the standard library's parser: the reference behaviour."""
    extractor = _TextExtractor()
    extractor.feed(_defused(markup))
    extractor.close()
    return "".join(extractor.parts)


def _split_to_text(markup: str) -> str | None:
    """Text between well-formed tags, unescaped; None when a stray "<" needs the parser."""
    parts: list[str] = []
    position = 0
    for tag in _TAG.finditer(markup):
        if tag.start() > position:
            text = markup[position:tag.start()]
            if "<" in text:
                return None
            parts.append(html.unescape(text).replace("\n", " "))
        position = tag.end()
        if tag.group(2).lower() in _BLOCK_TAGS:
            # <br/> is a start and an end tag at once, as HTMLParser reports it
            parts.append("\n\n" if not tag.group(1) and tag.group(3).endswith("/") else "\n")
    if position < len(markup):
        text = markup[position:]
        if "<" in text:
            return None
        parts.append(html.unescape(text).replace("\n", " "))
    return "".join(parts)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment, one line per block element; plain text as is."""
    if not _HTML_TAG.search(markup):
        return html.unescape(markup)
    if not _NEEDS_PARSER.search(markup):
        text = _split_to_text(markup)
        if text is not None:
            return text
    return parse_to_text(markup)


# ASCII whitespace other than " " and "\n": str.split() and str.splitlines() act on these.
_ODD_ASCII_SPACE = b"\t\r\x0b\x0c\x1c\x1d\x1e\x1f"


def _plainly_spaced(text: str) -> bool:
    """True for ASCII text whose only whitespace is " " and "\n" (one C pass over it)."""
    return text.isascii() and len(text.encode("ascii").translate(
        None, _ODD_ASCII_SPACE)) == len(text)


def fold_typography(text: str) -> str:
    """NFKC, straight quotes, ASCII dashes, no zero-width characters, single spaces."""
    if not text.isascii():  # ASCII has nothing to normalise or fold
        text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    if _plainly_spaced(text):
        # Splitting every line into words and joining them again was most of normalising;
        # with only " " and "\n" about, a line without doubled, leading or trailing spaces
        # would come back unchanged, so only the other lines are rebuilt (same result).
        return "\n".join(" ".join(line.split()) if "  " in line or line.startswith(" ")
                         or line.endswith(" ") else line for line in text.splitlines())
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def is_chrome_line(line: str) -> bool:
    """True for a line that is generic site furniture (navigation, share bars, cookies...)."""
    line = line.strip()
    if len(line) > _MAX_CHROME_CHARS:
        return False
    return bool(_CHROME_LINE.match(line) or _BYLINE.match(line)
                or (("ookie" in line or "OOKIE" in line) and _COOKIE_NOTICE.search(line)))


def normalise_text(markup: str) -> str:
    """Clean article text: HTML stripped, typography folded, chrome lines and blanks dropped."""
    lines = fold_typography(html_to_text(markup)).splitlines()
    return "\n".join(line for line in lines if line and not is_chrome_line(line))


def normalise_title(title: str) -> str:
    return " ".join(fold_typography(html_to_text(title)).split())
