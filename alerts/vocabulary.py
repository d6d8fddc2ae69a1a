"""The topic and entity ids a query may name: a term outside them could never fire."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from wirewatch.alerts.errors import QueryError
from wirewatch.alerts.languages import LANGUAGES
from wirewatch.alerts.query import query_terms

MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class Vocabulary:
    """Ids in force (taxonomy and watchlist), and names that lead to an entity id."""

    topics: frozenset[str]
    entities: frozenset[str]
    # lower-cased names, aliases and tickers -> entity id, so `entity:msft` suggests microsoft
    entity_names: Mapping[str, str] = field(default_factory=dict)
    # entity id -> its display name (the first name given), for pickers
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, topics: Iterable[str], entities: Mapping[str, Iterable[str]]) -> Vocabulary:
        """From topic ids and entity id -> its names (display name, aliases, tickers)."""
        names: dict[str, str] = {}
        labels: dict[str, str] = {}
        for entity_id, entity_names in entities.items():
            for name in entity_names:
                labels.setdefault(entity_id.lower(), name)
                names.setdefault(name.lower(), entity_id)
                # `NASDAQ:MSFT` is also written `msft`
                names.setdefault(name.lower().rpartition(":")[2], entity_id)
        return cls(frozenset(t.lower() for t in topics),
                   frozenset(e.lower() for e in entities), names, labels)

    def terms(self) -> list[tuple[str, str]]:
        """Every term a query may name with what it is, for a picker: ("topic:earnings",
        "topic"), ("entity:microsoft", "Microsoft"), topics first, each kind sorted."""
        return [(f"topic:{t}", "topic") for t in sorted(self.topics)] + [
            (f"entity:{e}", self.labels.get(e, "entity")) for e in sorted(self.entities)]

    def suggestions(self, field_name: str, value: str) -> list[str]:
        """The closest known ids to an unknown value: by an entity's name first, then spelling."""
        known = self.topics if field_name == "topic" else self.entities
        found: list[str] = []
        if field_name == "entity" and value in self.entity_names:
            found.append(self.entity_names[value])
        for candidate in difflib.get_close_matches(value, sorted(known), n=MAX_SUGGESTIONS,
                                                   cutoff=0.6):
            if candidate not in found:
                found.append(candidate)
        return found[:MAX_SUGGESTIONS]


def _listing(ids: frozenset[str], shown: int = 20) -> str:
    names = sorted(ids)
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more if names else "none"


def check_query(text: str, vocabulary: Vocabulary) -> None:
    """Refuse a query naming a topic or entity that does not exist, with column and hints."""
    for term, column in query_terms(text):
        if term.field == "lang":
            _check_language(term.value, column)
            continue
        known = {"topic": vocabulary.topics, "entity": vocabulary.entities}.get(term.field)
        if known is None or term.value in known:
            continue
        hints = vocabulary.suggestions(term.field, term.value)
        where = "taxonomy (see wirewatch taxonomy list)" if term.field == "topic" \
            else "watchlist (see wirewatch watchlist list)"
        advice = (f"did you mean {' or '.join(f'{term.field}:{h}' for h in hints)}?"
                  if hints else f"known: {_listing(known)}")
        raise QueryError(f"unknown {term.field} {term.value!r} at column {column}, so the "
                         f"query could never match: not in the {where}; {advice}")


def _check_language(code: str, column: int) -> None:
    if code in LANGUAGES:
        return
    close = difflib.get_close_matches(code, sorted(LANGUAGES), n=3, cutoff=0.5)
    advice = f"did you mean {' or '.join(f'lang:{c}' for c in close)}?" if close else \
        "use a two-letter code such as lang:en, lang:de or lang:fr"
    raise QueryError(f"unknown language {code!r} at column {column}, so the query could "
                     f"never match: articles are recognised as one of {len(LANGUAGES)} "
                     f"language codes; {advice}")
