"""What an article says, reduced to what event matching compares: a pure function of text.

A profile holds the article's language, the lemmas of its content words, the names it
mentions, the numbers it reports, its publication time and a dense embedding. Profiles are
built once per new story (its first copy) and kept in Redis beside the story.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from simplemma import Lemmatizer
from simplemma.strategies import DefaultStrategy
from simplemma.strategies.dictionaries import StreamDictionaryFactory
from wirewatch.streams.events import embedding, language

LEAD_CHARS = 1000  # what is compared: the headline and the lead, where the event is told
LANGUAGE_CHARS = 300  # enough for language id, whose cost grows with the text
MAX_TERMS = 80  # lemmas kept per article (the longest first: they carry the most meaning)
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*", re.UNICODE)
_NUMBER = re.compile(r"\d[\d.,]*\d|\d")
_SENTENCE = re.compile(r"[.!?:\"\n]+\s*")
# Scripts written without spaces: their "words" are character pairs.
_UNSPACED = ("zh", "ja", "th", "lo", "km", "my")


@dataclass(frozen=True)
class Profile:
    """The comparable parts of one story's first article."""

    lang: str
    terms: frozenset[str]  # lemmas of content words (or character pairs)
    title_terms: frozenset[str]
    names: frozenset[str]  # capitalised words inside sentences, lower-cased
    numbers: frozenset[str]
    published: float  # Unix seconds
    vector: np.ndarray  # unit-length, 256 dimensions

    def __hash__(self) -> int:
        return id(self)


# simplemma's default keeps 8 languages' dictionaries as Python dicts (926 MB for ten
# languages, and a ninth language evicts one: 2 ms a word while it reloads). The streamed
# dictionaries take 145 MB for the same ten at ~9 us a lookup; every language stays loaded.
_LEMMATIZER = Lemmatizer(lemmatization_strategy=DefaultStrategy(
    dictionary_factory=StreamDictionaryFactory(cache_max_size=64)))


@functools.lru_cache(maxsize=65536)
def _lemma(word: str, lang: str) -> str:
    return str(_LEMMATIZER.lemmatize(word, lang=lang)).lower()


@functools.cache
def _known_cached(lang: str) -> bool:
    try:
        _LEMMATIZER.lemmatize("a", lang=lang)
    except ValueError:  # a language simplemma does not know: words stay as written
        return False
    return True


def _terms(text: str, lang: str) -> list[str]:
    if lang in _UNSPACED:
        letters = [c for c in text if c.isalpha()]
        return [a + b for a, b in zip(letters, letters[1:], strict=False)]
    lemmatise = _known_cached(lang)
    words = (w.lower() for w in _WORD.findall(text))
    return [_lemma(w, lang) if lemmatise else w for w in words if len(w) >= 3]


def _content(terms: list[str]) -> frozenset[str]:
    # The longest distinct lemmas: short ones are mostly function words in every language.
    distinct = sorted(set(terms), key=lambda t: (-len(t), t))
    return frozenset(t for t in distinct[:MAX_TERMS] if len(t) >= 4 or not t.isascii())


def _names(text: str) -> frozenset[str]:
    """Capitalised words inside sentences: a sentence's first word is capitalised anyway."""
    found = set()
    for sentence in _SENTENCE.split(text):
        for word in _WORD.findall(sentence)[1:]:
            if word[0].isupper() and len(word) >= 2:
                found.add(word.lower())
    return frozenset(found)


def _numbers(text: str) -> frozenset[str]:
    found = set()
    for raw in _NUMBER.findall(text):
        digits = raw.replace(",", "").replace(".", "")
        if len(digits) >= 2 and digits.strip("0"):
            found.add(digits.lstrip("0") or "0")
    return frozenset(found)


def fold(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def language_of(title: str, text: str) -> str:
    """The article's language, read from its headline and lead as event profiles read it."""
    return language.detect(fold(f"{title}\n{text}" if title else text)[:LANGUAGE_CHARS])


def build_profiles(items: Sequence[tuple[str, str, float]],
                   langs: Sequence[str | None] | None = None) -> list[Profile]:
    """Profiles of (title, text, published) items; the embedding is one batched call."""
    leads = [fold(f"{title}\n{text}" if title else text)[:LEAD_CHARS]
             for title, text, _ in items]
    vectors = embedding.embed(leads)
    profiles = []
    for position, ((title, _, published), lead) in enumerate(zip(items, leads, strict=True)):
        given = langs[position] if langs is not None else None
        lang = given or language.detect(lead[:LANGUAGE_CHARS])
        profiles.append(Profile(
            lang=lang, terms=_content(_terms(lead, lang)),
            title_terms=_content(_terms(fold(title), lang)) if title else frozenset(),
            names=_names(lead), numbers=_numbers(lead), published=published,
            vector=vectors[position]))
    return profiles
