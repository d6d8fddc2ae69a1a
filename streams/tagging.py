"""Tag articles with topics (keyword rules) and watched entities (aliases and tickers)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from streams.records import EntityTag

LEAD_CHARS = 400


class TaxonomyError(ValueError):
    """A taxonomy or watchlist file is missing or malformed."""


@dataclass(frozen=True)
class Topic:
    id: str
    name: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    type: str
    aliases: tuple[str, ...]
    tickers: tuple[str, ...]


@dataclass(frozen=True)
class Tags:
    """What the tagger found: topic ids, entities and the evidence for each."""

    topics: list[str]
    entities: list[EntityTag]
    evidence: dict[str, list[str]]


def _phrase_pattern(phrases: list[str]) -> re.Pattern[str]:
    alternatives = sorted({re.escape(p.strip()).replace(r"\ ", r"\s+") for p in phrases if
                           p.strip()}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def _ticker_patterns(ticker: str) -> list[str]:
    """`NASDAQ:MSFT` also matches `(NASDAQ: MSFT)`, `NASDAQ MSFT` and `$MSFT`."""
    exchange, _, symbol = ticker.partition(":")
    if not symbol:
        exchange, symbol = "", exchange
    shapes = [r"\$" + re.escape(symbol) + r"(?![\w])"]
    if exchange:
        shapes.append(re.escape(exchange) + r"\s*:?\s*" + re.escape(symbol) + r"(?![\w])")
    return shapes


def load_yaml(path: Path, key: str) -> list[dict[str, Any]]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TaxonomyError(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{path} is not valid YAML: {exc}") from exc
    entries = document.get(key) if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise TaxonomyError(f"{path} needs a top-level '{key}:' list of mappings")
    return entries


def load_topics(path: Path) -> list[Topic]:
    topics = []
    for entry in load_yaml(path, "topics"):
        keywords = entry.get("keywords")
        if (not isinstance(entry.get("id"), str) or not isinstance(keywords, list)
                or not any(str(k).strip() for k in keywords)):
            raise TaxonomyError(f"{path}: topic needs an 'id' and a non-empty 'keywords' list")
        topics.append(Topic(entry["id"], str(entry.get("name", entry["id"])),
                            _phrase_pattern([str(k) for k in keywords])))
    return topics


def load_entities(path: Path) -> list[Entity]:
    entities = []
    for entry in load_yaml(path, "entities"):
        if not isinstance(entry.get("id"), str):
            raise TaxonomyError(f"{path}: every entity needs an 'id'")
        aliases = (tuple(str(a) for a in entry.get("aliases", []) if str(a).strip())
                   or (str(entry.get("name", entry["id"])),))
        entities.append(Entity(entry["id"], str(entry.get("name", entry["id"])),
                               str(entry.get("type", "organization")), aliases,
                               tuple(str(t) for t in entry.get("tickers", []))))
    return entities


class Tagger:
    """Finds topics and entities in a title and body; pure once built."""

    def __init__(self, topics: list[Topic], entities: list[Entity]) -> None:
        self.topics = topics
        self.entities = {entity.id: entity for entity in entities}
        groups = []
        self._group_entity: dict[str, str] = {}
        for index, entity in enumerate(entities):
            shapes = [_phrase_pattern(list(entity.aliases)).pattern]
            shapes += [shape for ticker in entity.tickers for shape in _ticker_patterns(ticker)]
            name = f"e{index}"
            self._group_entity[name] = entity.id
            groups.append(f"(?P<{name}>{'|'.join(shapes)})")
        self._entities = re.compile("|".join(groups), re.IGNORECASE) if groups else None

    @classmethod
    def from_files(cls, taxonomy: Path, watchlist: Path) -> Tagger:
        return cls(load_topics(taxonomy), load_entities(watchlist))

    def tag(self, title: str, text: str) -> Tags:
        evidence: dict[str, list[str]] = {}
        topics = []
        for topic in self.topics:
            found = [f"title: {m.group(0)}" for m in topic.pattern.finditer(title)]
            found += [f"body: {m.group(0)}" for m in topic.pattern.finditer(text)]
            if found:
                topics.append(topic.id)
                evidence[topic.id] = found[:5]
        return Tags(topics, self._find_entities(title, text, evidence), evidence)

    def _find_entities(self, title: str, text: str,
                       evidence: dict[str, list[str]]) -> list[EntityTag]:
        if self._entities is None:
            return []
        salience: dict[str, float] = {}
        for field, content, weight in (("title", title, 1.0), ("body", text, 0.0)):
            for match in self._entities.finditer(content):
                entity_id = self._group_entity[match.lastgroup or ""]
                score = weight or (0.7 if match.start() < LEAD_CHARS else 0.3)
                salience[entity_id] = max(salience.get(entity_id, 0.0), score)
                evidence.setdefault(f"entity:{entity_id}", []).append(f"{field}: {match.group(0)}")
        return [EntityTag(id=e, name=self.entities[e].name, type=self.entities[e].type,
                          salience=score) for e, score in sorted(salience.items())]
