"""Article text as the tagger sees it: diacritics folded, split into lower-case tokens."""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

# Tokens are what is left between whitespace once punctuation is a space too; "$" stays, so
# cashtags ($MSFT) are tokens of their own. Rules and aliases are tokenised by the same
# function, so word boundaries, hyphens and punctuation ("NASDAQ:MSFT", "(NASDAQ: MSFT)")
# behave the same on both sides. str.translate + split is several times faster than a
# regular expression over a 3 KB article.
_PUNCTUATION = (set(string.punctuation) - {"$"}) | set(
    "\u00a1\u00a7\u00ab\u00b6\u00b7\u00bb\u00bf\u2010\u2011\u2012\u2013\u2014\u2015\u2018\u2019"
    "\u201a\u201b\u201c\u201d\u201e\u201f\u2022\u2026\u2032\u2033\u2039\u203a\u00a9\u00ae\u2122")
_TO_SPACE = str.maketrans({character: " " for character in _PUNCTUATION})
# The same for ASCII text as one bytes table that lower-cases too: bytes.translate is a
# plain table lookup, about four times faster than lower() plus str.translate.
ASCII_TOKEN_TABLE = bytes(
    32 if chr(code) in _PUNCTUATION else code + 32 if 65 <= code <= 90 else code
    for code in range(256))
_COMBINING_MARKS = re.compile(
    r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")

LEAD_TOKENS = 60  # the body's first words: what a reader sees before deciding to read on


def fold(text: str) -> str:
    """Strip diacritics and compatibility forms (é -> e, ﬁ -> fi); ASCII passes untouched."""
    if text.isascii():
        return text
    return _COMBINING_MARKS.sub("", unicodedata.normalize("NFKD", text))


def tokenise(text: str) -> list[str]:
    """Lower-case tokens of an already folded text."""
    if text.isascii():
        return text.encode("ascii").translate(ASCII_TOKEN_TABLE).decode("ascii").split()
    return scan_form(text).split()


def scan_form(text: str) -> str:
    """An already folded text as the native scan takes it: tokenise's mapping done outside
    ASCII (lower case, punctuation as space); the scan maps ASCII by ASCII_TOKEN_TABLE."""
    if text.isascii():
        return text
    return text.lower().translate(_TO_SPACE)


def words_of(text: str) -> list[str]:
    """Tokens of any text (a rule's phrase, an alias): folded, lower-case."""
    return tokenise(fold(text))


@dataclass
class Field:
    """One field of an article (title or body): folded text, its tokens when asked."""

    name: str
    text: str
    _original: list[str] | None = field(default=None, repr=False)
    _lowered: str | None = field(default=None, repr=False)

    @classmethod
    def of(cls, name: str, raw: str) -> Field:
        return cls(name, fold(raw))

    @cached_property
    def tokens(self) -> list[str]:
        """Lower-case tokens (the native scan tokenises by itself: only the pure one asks)."""
        return tokenise(self.text)

    def lowered(self) -> str:
        """The folded text in lower case, position for position (computed when first asked)."""
        if self._lowered is None:
            lowered = self.text.lower()
            if len(lowered) != len(self.text):  # "İ" lower-cases to two characters
                lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in self.text)
            self._lowered = lowered
        return self._lowered

    def original(self) -> list[str]:
        """The tokens with their case, for proper-noun checks (computed when first asked)."""
        if self._original is None:
            original = self.text.translate(_TO_SPACE).split()
            # Lower-casing can change a token's length in rare scripts; then fall back to
            # lower-case tokens, which only makes the proper-noun check stricter.
            self._original = original if len(original) == len(self.tokens) else self.tokens
        return self._original
