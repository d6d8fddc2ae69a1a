"""Load topic taxonomies and entity watchlists from YAML: shipped defaults plus the user's file.

A user file extends the defaults (an entry with a default's id replaces it, `enabled: false`
removes it) unless it says `extends_defaults: false`. Every mistake is reported with the
file, the entry and what to write instead.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from wirewatch.alerts.languages import LANGUAGES, UNKNOWN
from wirewatch.connectors.yaml_file import read_yaml
from wirewatch.streams.tagging.matcher import Pattern
from wirewatch.streams.tagging.rules import Rule, RuleError, Term, parse_rule
from wirewatch.streams.tagging.text import words_of

DEFAULTS_DIR = Path(__file__).resolve().parents[1] / "defaults"
DEFAULT_TAXONOMY = DEFAULTS_DIR / "taxonomy.yaml"
DEFAULT_WATCHLIST = DEFAULTS_DIR / "watchlist.yaml"
ENTITY_TYPES = frozenset({"organization", "person", "product", "place", "other"})
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class TaxonomyError(ValueError):
    """A taxonomy or watchlist file is missing or malformed."""


@dataclass(frozen=True)
class WeightedRule:
    source: str  # the rule as written, for evidence and `taxonomy show`
    rule: Rule
    weight: float


@dataclass(frozen=True)
class Topic:
    id: str
    name: str
    rules: tuple[WeightedRule, ...]
    threshold: float = 1.0
    exclude: tuple[WeightedRule, ...] = ()
    # The languages its rules are written in: other articles never get it. Empty: any.
    languages: frozenset[str] = frozenset()

    def applies_to(self, lang: str) -> bool:
        """Whether an article in `lang` may get this topic (an unknown language: yes)."""
        return not self.languages or not lang or lang == UNKNOWN or lang in self.languages


@dataclass(frozen=True)
class Entity:
    """A watched person, organisation or product; tickers resolve to it."""

    id: str
    name: str
    type: str
    aliases: tuple[str, ...]
    tickers: tuple[str, ...] = ()
    ambiguous_aliases: tuple[str, ...] = ()  # count only as a proper noun, with context
    context: tuple[str, ...] = ()  # words that confirm an ambiguous alias

    def to_yaml(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type,
                                 "aliases": list(self.aliases)}
        for key in ("tickers", "ambiguous_aliases", "context"):
            if getattr(self, key):
                entry[key] = list(getattr(self, key))
        return entry


def is_entity_id(text: str) -> bool:
    """Whether `text` can be an entity's id (lower-case letters, digits, '.', '_', '-')."""
    return _ID.fullmatch(text) is not None


def alias_pattern(alias: str) -> Pattern | None:
    words = tuple(words_of(alias))
    return Pattern(words) if words else None


def ticker_patterns(ticker: str) -> list[Pattern]:
    """`NASDAQ:MSFT` matches `NASDAQ:MSFT`, `(NASDAQ: MSFT)` and `$MSFT`; `MSFT` only `$MSFT`."""
    exchange, _, symbol = ticker.rpartition(":")
    words = words_of(symbol)
    if not words:
        return []
    shapes = [Pattern((f"${words[0]}", *words[1:]))]
    if exchange.strip():
        shapes.append(Pattern((*words_of(exchange), *words)))
    return shapes


def _read(path: Path, key: str) -> tuple[list[dict[str, Any]], bool]:
    document = read_yaml(path, TaxonomyError)
    if document is None:
        return [], True
    entries = document.get(key, []) if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise TaxonomyError(f"{path} needs a top-level '{key}:' list of mappings")
    extends = document.get("extends_defaults", True)
    if not isinstance(extends, bool):
        raise TaxonomyError(f"{path}: extends_defaults must be true or false")
    return entries, extends


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise TaxonomyError(f"{where}: '{key}' must be a list of strings")
    return tuple(str(v).strip() for v in value if str(v).strip())


def _entry_id(entry: dict[str, Any], path: Path, position: int) -> str:
    entry_id = entry.get("id")
    if not isinstance(entry_id, str) or not _ID.fullmatch(entry_id):
        raise TaxonomyError(f"{path}: entry {position + 1} needs an 'id' of lower-case letters, "
                            f"digits, '.', '_' or '-' (got {entry_id!r})")
    return entry_id


def _merge(paths: Iterable[Path], key: str, default: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Entries by id in file order: defaults first (unless a file opts out), later files win."""
    files = list(paths)
    loaded = [(path, *_read(path, key)) for path in files]
    if all(extends for _, _, extends in loaded) and default not in files:
        loaded.insert(0, (default, *_read(default, key)[:1], True))
    merged: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path, entries, _ in loaded:
        seen: set[str] = set()
        for position, entry in enumerate(entries):
            entry_id = _entry_id(entry, path, position)
            if entry_id in seen:
                raise TaxonomyError(f"{path}: id {entry_id!r} appears twice")
            seen.add(entry_id)
            if entry.get("enabled", True) is False:
                merged.pop(entry_id, None)
            else:
                merged[entry_id] = (path, entry)
    return list(merged.values())


def _weighted(value: Any, where: str) -> WeightedRule:
    if isinstance(value, str):
        source, weight = value, 1.0
    elif isinstance(value, dict) and isinstance(value.get("match"), str):
        source, weight = value["match"], value.get("weight", 1.0)
        if not isinstance(weight, int | float) or isinstance(weight, bool):
            raise TaxonomyError(f"{where}: weight must be a number (got {weight!r})")
    else:
        raise TaxonomyError(f"{where}: a rule is a string or {{match: ..., weight: ...}}")
    try:
        return WeightedRule(source, parse_rule(source), float(weight))
    except RuleError as exc:
        raise TaxonomyError(f"{where}: rule {source!r}: {exc}") from exc


def _rule_list(value: Any, where: str, field: str) -> list[Any]:
    """A topic's `rules` or `exclude`: a list of rules, or one rule on its own."""
    if value is None:
        return []
    if isinstance(value, str | dict):
        return [value]
    if isinstance(value, list):
        return list(value)
    raise TaxonomyError(f"{where}: {field} must be a list of rules (got {value!r})")


def _keywords_rule(keywords: tuple[str, ...]) -> str:
    return " OR ".join('"' + k.replace('"', "") + '"' for k in keywords)


def load_topics(paths: Iterable[Path] = ()) -> list[Topic]:
    """The topics of the shipped taxonomy and the given files (see the module docstring)."""
    topics = []
    for path, entry in _merge(paths, "topics", DEFAULT_TAXONOMY):
        where = f"{path}: topic {entry['id']!r}"
        raw_rules = _rule_list(entry.get("rules"), where, "rules")
        keywords = _strings(entry.get("keywords"), where, "keywords")
        if keywords:
            raw_rules.append(_keywords_rule(keywords))
        if not raw_rules:
            raise TaxonomyError(f"{where} needs 'rules' (or 'keywords')")
        excludes = _rule_list(entry.get("exclude"), where, "exclude")
        threshold = entry.get("threshold", 1.0)
        if not isinstance(threshold, int | float) or isinstance(threshold, bool) or threshold <= 0:
            raise TaxonomyError(f"{where}: threshold must be a positive number")
        rules = tuple(_weighted(r, where) for r in raw_rules)
        if not any(r.weight > 0 for r in rules):
            raise TaxonomyError(f"{where}: at least one rule needs a positive weight")
        languages = [code.lower() for code in _strings(entry.get("lang"), where, "lang")]
        unknown = sorted(set(languages) - LANGUAGES)
        if unknown:
            raise TaxonomyError(f"{where}: lang {unknown[0]!r} is not a language code "
                                "articles are recognised in (e.g. en, de, fr)")
        topics.append(Topic(
            entry["id"], str(entry.get("name", entry["id"])), rules, float(threshold),
            tuple(_weighted(r, where) for r in excludes), frozenset(languages)))
    return topics


def load_entities(paths: Iterable[Path] = ()) -> list[Entity]:
    """The entities of the shipped watchlist and the given files."""
    entities = []
    for path, entry in _merge(paths, "entities", DEFAULT_WATCHLIST):
        where = f"{path}: entity {entry['id']!r}"
        name = str(entry.get("name", entry["id"]))
        entity_type = str(entry.get("type", "organization"))
        if entity_type not in ENTITY_TYPES:
            raise TaxonomyError(f"{where}: type must be one of {sorted(ENTITY_TYPES)}")
        aliases = _strings(entry.get("aliases"), where, "aliases")
        ambiguous = _strings(entry.get("ambiguous_aliases"), where, "ambiguous_aliases")
        tickers = _strings(entry.get("tickers"), where, "tickers")
        if not aliases and not ambiguous and not tickers:
            aliases = (name,)
        for alias in (*aliases, *ambiguous):
            if alias_pattern(alias) is None:
                raise TaxonomyError(f"{where}: alias {alias!r} has no letters or digits")
        entities.append(Entity(entry["id"], name, entity_type, aliases, tickers, ambiguous,
                               _strings(entry.get("context"), where, "context")))
    return entities


def term_pattern(term: Term) -> Pattern:
    return Pattern(term.words, term.prefix)


def write_watchlist(path: Path, entities: Iterable[Entity], *, extends_defaults: bool) -> None:
    """Write a watchlist file (atomically)."""
    write_yaml(path, {"extends_defaults": extends_defaults,
                      "entities": [entity.to_yaml() for entity in entities]})


def write_yaml(path: Path, document: dict[str, Any]) -> None:
    """Write YAML atomically, so a worker reloading the file never reads half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            yaml.safe_dump(document, out, sort_keys=False, allow_unicode=True, width=100)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def edit_watchlist(path: Path,
                   change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
    """Apply `change` to the entries of a user's watchlist file, validating the result
    before it replaces the file a running worker reads (TaxonomyError if it would not load)."""
    document: dict[str, Any] = {"extends_defaults": True, "entities": []}
    if path.exists():
        loaded = read_yaml(path, TaxonomyError, "watchlist file") or {}
        if not isinstance(loaded, dict) or not isinstance(loaded.get("entities", []), list):
            raise TaxonomyError(f"{path} needs a top-level 'entities:' list")
        document.update(loaded)
    document["entities"] = change(list(document.get("entities") or []))
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".{path.name}.check")
    candidate.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                         encoding="utf-8")
    try:
        load_entities([candidate])
    except TaxonomyError as exc:
        raise TaxonomyError(str(exc).replace(str(candidate), str(path))) from None
    finally:
        candidate.unlink(missing_ok=True)
    write_yaml(path, document)


def put_entity(path: Path, entity: Entity) -> bool:
    """Add `entity` to the watchlist file, or replace the entry with its id; True if it
    replaced one."""
    replaced = False

    def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal replaced
        replaced = any(entry.get("id") == entity.id for entry in entries)
        return [e for e in entries if e.get("id") != entity.id] + [entity.to_yaml()]

    edit_watchlist(path, change)
    return replaced
