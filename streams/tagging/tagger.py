"""The tagger: topics by weighted rules, watched entities by alias and ticker, with evidence."""

from __future__ import annotations

import functools
import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from wirewatch.streams.records import DiscoveredEntity, EntityTag, Evidence
from wirewatch.streams.tagging import companies as knowledge_base
from wirewatch.streams.tagging.companies import Company
from wirewatch.streams.tagging.discovery import Discoverer
from wirewatch.streams.tagging.files import (
    Entity,
    Topic,
    alias_pattern,
    load_entities,
    load_topics,
    term_pattern,
    ticker_patterns,
)
from wirewatch.streams.tagging.matcher import Pattern, PhraseMatcher
from wirewatch.streams.tagging.rules import And, Near, Not, Rule, Term, terms
from wirewatch.streams.tagging.text import LEAD_TOKENS, Field, words_of

MAX_EVIDENCE = 3  # per tag: enough to say why, small enough for every record
SNIPPET_CHARS = 60  # either side of the matched words
MEMO_SIZE = 4096  # texts whose tags are kept: a day's copies of the same wire story

# A found term: field (0 title, 1 body), start and end token, pattern id.
Hit = tuple[int, int, int, int]
_ALIAS, _TICKER, _AMBIGUOUS, _CONTEXT = range(4)
# (scope, field, ids of the terms present there, their rows of the scope's weight matrix)
ByScope = list[tuple[str, int, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Tags:
    """What the tagger found: topic ids, entities and the evidence for each."""

    topics: list[str]
    entities: list[EntityTag]
    evidence: dict[str, list[Evidence]]
    discovered: list[DiscoveredEntity] = field(default_factory=list)


def salience(hits: list[Hit]) -> tuple[float, str]:
    """How central an entity is: 1.0 in the title, 0.7 in the lead, else 0.3 plus 0.1 a mention."""
    if any(field == 0 for field, _, _, _ in hits):
        return 1.0, "title"
    if any(start < LEAD_TOKENS for _, start, _, _ in hits):
        return 0.7, "lead"
    return round(0.3 + 0.1 * min(len(hits) - 1, 3), 1), "body"


class Tagger:
    """Finds topics and entities in a title and body; pure once built."""

    def __init__(self, topics: Iterable[Topic], entities: Iterable[Entity], *,
                 native: bool | None = None, companies: Iterable[Company] = (),
                 discover: bool = True) -> None:
        """`native` chooses the scan (wirewatch.streams.tagging.matcher): by default the native one
        where it was built; the tags are the same either way. `companies` (the knowledge
        base) are found by the same scan but only reported as discovered, never as watched;
        `discover` lists each article's unwatched names (wirewatch.streams.tagging.discovery)."""
        self.topics = list(topics)
        self._languages_of = {topic.id: topic.applies_to for topic in self.topics}
        self._topic_ids = frozenset(self._languages_of)
        self._limited = any(topic.languages for topic in self.topics)
        self.entities = {entity.id: entity for entity in entities}
        self.companies = {f"kb:{company.id}": company
                          for company in _unwatched(companies, self.entities.values())}
        self.discoverer = Discoverer(self.entities.values()) if discover else None
        # A found company's names, so discovery does not find "Nvidia Corp" beside "Nvidia".
        self._company_words = {company.id: [tuple(words_of(name)) for name in (
            company.name, company.legal_name, *company.aliases, *company.ambiguous_aliases)]
            for company in self.companies.values()}
        self._pattern_ids: dict[Pattern, int] = {}
        self._term_ids: dict[Term, int] = {
            t: self._id_of(term_pattern(t)) for topic in self.topics
            for wr in (*topic.rules, *topic.exclude) for t in terms(wr.rule)}
        # Rules that are one term are scored by lookup from the terms present (a learned
        # topic has hundreds): scope -> pattern id -> (topic, weight). The others are
        # evaluated as trees, and only when one of their terms is present.
        self._simple: dict[str, dict[int, list[tuple[int, float]]]] = {
            scope: {} for scope in ("any", "title", "body", "lead")}
        self._complex: list[list[tuple[float, frozenset[int], _Compiled]]] = []
        for topic_index, topic in enumerate(self.topics):
            complex_rules = []
            for weighted in topic.rules:
                if isinstance(weighted.rule, Term):
                    pattern_id, scope = self._term_ids[weighted.rule], weighted.rule.scope
                    self._simple[scope].setdefault(pattern_id, []).append(
                        (topic_index, weighted.weight))
                else:
                    complex_rules.append((weighted.weight, frozenset(
                        self._term_ids[t] for t in terms(weighted.rule)),
                        self._compile(weighted.rule)))
            self._complex.append(complex_rules)
        self._excludes = [[self._compile(w.rule) for w in topic.exclude] for topic in self.topics]
        # pattern id -> (entity id, kind) for every alias, ticker shape and context word
        self._owners: dict[int, list[tuple[str, int]]] = {}
        known = [(key, company.to_entity(key)) for key, company in self.companies.items()]
        for entity_id, entity in [*self.entities.items(), *known]:
            shapes = [(alias_pattern(a), _ALIAS) for a in entity.aliases]
            shapes += [(p, _TICKER) for t in entity.tickers for p in ticker_patterns(t)]
            shapes += [(alias_pattern(a), _AMBIGUOUS) for a in entity.ambiguous_aliases]
            shapes += [(alias_pattern(c), _CONTEXT) for c in entity.context]
            for pattern, kind in shapes:
                if pattern is not None:
                    owners = self._owners.setdefault(self._id_of(pattern), [])
                    if (entity_id, kind) not in owners:
                        owners.append((entity_id, kind))
        self._patterns = sorted(self._pattern_ids, key=self._pattern_ids.__getitem__)
        # Positions are needed for proximity, the lead and entity salience; every other
        # term only needs to be known present, which is much cheaper to find.
        positional = set(self._owners) | set(self._simple["lead"])
        for topic_index in range(len(self.topics)):
            for _, _, rule in self._complex[topic_index]:
                positional |= _positional_terms(rule)
            for rule in self._excludes[topic_index]:
                positional |= _positional_terms(rule)
        self.matcher = PhraseMatcher(self._patterns, positional, native=native)
        # The one-term rules as a matrix per scope (pattern x topic): an article's scores
        # are the sums of the rows of the terms it contains, one numpy call per scope.
        self._weights: dict[str, np.ndarray] = {}
        for scope, table in self._simple.items():
            if table:
                matrix = np.zeros((len(self._patterns), len(self.topics)))
                for pattern_id, entries in table.items():
                    for topic_index, weight in entries:
                        matrix[pattern_id, topic_index] += weight
                self._weights[scope] = matrix
        self._snippet_patterns: dict[int, re.Pattern[str]] = {}
        self._memo = functools.lru_cache(maxsize=MEMO_SIZE)(self._tag)

    def _id_of(self, pattern: Pattern) -> int:
        return self._pattern_ids.setdefault(pattern, len(self._pattern_ids))

    @classmethod
    def from_files(cls, taxonomy: Iterable[Path] = (), watchlist: Iterable[Path] = ()) -> Tagger:
        """The shipped defaults extended by the given files (see
        wirewatch.streams.tagging.files)."""
        return cls(load_topics(taxonomy), load_entities(watchlist),
                   companies=knowledge_base.load())

    @property
    def memo_entries(self) -> int:
        """Texts whose tags are kept (at most MEMO_SIZE)."""
        return self._memo.cache_info().currsize

    @property
    def alias_count(self) -> int:
        return sum(len(e.aliases) + len(e.ambiguous_aliases) + len(e.tickers)
                   for e in self.entities.values())

    def _compile(self, rule: Rule) -> _Compiled:
        """The rule with terms as pattern ids, and ORs of terms as one set lookup each."""
        if isinstance(rule, Term):
            return _AnyOf(frozenset({self._term_ids[rule]}), rule.scope)
        if isinstance(rule, Not):
            return _Not(self._compile(rule.operand))
        if isinstance(rule, And):
            return _And(tuple(self._compile(operand) for operand in rule.operands))
        if isinstance(rule, Near):
            return _Near(self._compile(rule.left), self._compile(rule.right), rule.distance)
        by_scope: dict[str, set[int]] = {}
        others = []
        for operand in rule.operands:
            if isinstance(operand, Term):
                by_scope.setdefault(operand.scope, set()).add(self._term_ids[operand])
            else:
                others.append(self._compile(operand))
        nodes = [_AnyOf(frozenset(ids), scope) for scope, ids in by_scope.items()] + others
        return nodes[0] if len(nodes) == 1 else _Or(tuple(nodes))

    def tag(self, title: str, text: str, lang: str = "") -> Tags:
        """Topics, entities and evidence for a title and body in `lang` (topics limited to
        other languages are left out; "" or "und": none is). Syndicated copies often
        normalise to the very same text: those are tagged once (a bounded memo)."""
        found = self._memo(title, text)
        topics = [t for t in found.topics if self._languages_of[t](lang)] \
            if lang and self._limited else list(found.topics)
        return Tags(topics, list(found.entities),
                    {key: list(value) for key, value in found.evidence.items()
                     if key in topics or key not in self._topic_ids},
                    list(found.discovered))

    def _tag(self, title: str, text: str) -> Tags:
        view = _View(self.matcher, (Field.of("title", title), Field.of("body", text)))
        evidence: dict[str, list[Evidence]] = {}
        topics = []
        by_scope = self._present_by_scope(view)
        scores, complex_hits = self._scores(view, by_scope)
        for topic_index, topic in enumerate(self.topics):
            if scores[topic_index] < topic.threshold:
                continue
            if any(self._evaluate(rule, view) is not None
                   for rule in self._excludes[topic_index]):
                continue
            hits = (self._simple_hits(topic_index, view, by_scope)
                    + complex_hits.get(topic_index, []))
            hits.sort(key=lambda weighted_hit: -weighted_hit[0])
            if hits:
                topics.append(topic.id)
                evidence[topic.id] = self._evidence(view.fields, [hit for _, hit in hits])
        entities, companies = self._entities(view, evidence)
        discovered = [] if self.discoverer is None else self.discoverer.discover(
            view.fields[0].text, view.fields[1].text, companies, (
                words for company in companies for words in self._company_words[company.company]))
        return Tags(topics, entities, evidence, discovered)

    def _present_by_scope(self, view: _View) -> ByScope:
        """(scope, field, pattern ids present there, their weight rows) per weighted scope."""
        by_scope = []
        for scope, matrix in self._weights.items():
            field_index, present = _SCOPE_FIELDS[scope][-1], view.in_scope(scope)
            if present:
                ids = np.fromiter(present, dtype=np.intp, count=len(present))
                ids.sort()  # sets iterate in hash order; a fixed order makes sums repeatable
                by_scope.append((scope, field_index, ids, matrix[ids]))
        return by_scope

    def _scores(self, view: _View, by_scope: ByScope,
                ) -> tuple[list[float], dict[int, list[tuple[float, Hit]]]]:
        """Each topic's score, and the hits of its positive complex rules that matched."""
        total = np.zeros(len(self.topics))
        for _, _, _, rows in by_scope:
            total += rows.sum(axis=0)
        scores = total.tolist()
        complex_hits: dict[int, list[tuple[float, Hit]]] = {}
        title, body = view.present  # two disjointness tests are cheaper than their union
        for topic_index, complex_rules in enumerate(self._complex):
            for weight, pattern_ids, rule in complex_rules:
                if not (pattern_ids.isdisjoint(body) and pattern_ids.isdisjoint(title)):
                    hits = self._evaluate(rule, view)
                    if hits is not None:
                        scores[topic_index] += weight
                        if weight > 0:
                            complex_hits.setdefault(topic_index, []).extend(
                                (weight, hit) for hit in hits)
        return scores, complex_hits

    def _simple_hits(self, topic_index: int, view: _View,
                     by_scope: ByScope) -> list[tuple[float, Hit]]:
        """A firing topic's one-term rules that matched, with their weights, for evidence."""
        found: list[tuple[float, Hit]] = []
        for scope, field_index, ids, rows in by_scope:
            weights = rows[:, topic_index]
            if weights.max() <= 0:
                continue
            # Evidence shows at most MAX_EVIDENCE terms: the strongest, without a full sort.
            strongest = (np.argpartition(-weights, MAX_EVIDENCE)[:MAX_EVIDENCE]
                         if len(weights) > MAX_EVIDENCE else range(len(weights)))
            for position in strongest:
                weight = float(weights[position])
                if weight > 0:
                    pattern_id = int(ids[position])
                    in_title = scope == "any" and pattern_id in view.present[0]
                    found.append((weight, (0 if in_title else field_index, -1, -1, pattern_id)))
        return found

    def _evaluate(self, rule: _Compiled, view: _View, *,
                  positions: bool = False) -> list[Hit] | None:
        """None when the rule does not match; else its hits ([] for a bare NOT).

        Hits carry token positions only when asked (under NEAR) or needed (lead scope).
        """
        if isinstance(rule, _AnyOf) and not positions and rule.scope != "lead":
            hits_here = [(field_index, -1, -1, pattern_id)
                         for field_index in _SCOPE_FIELDS[rule.scope]
                         for pattern_id in rule.pattern_ids & view.present[field_index]]
            return hits_here or None
        if isinstance(rule, _AnyOf):
            hits: list[Hit] = []
            if rule.scope in ("any", "title"):
                for pattern_id in rule.pattern_ids & view.present[0]:
                    hits += view.hits(0, pattern_id)
            if rule.scope in ("any", "body", "lead"):
                for pattern_id in rule.pattern_ids & view.present[1]:
                    hits += [hit for hit in view.hits(1, pattern_id)
                             if rule.scope != "lead" or hit[1] < LEAD_TOKENS]
            return hits or None
        if isinstance(rule, _Not):
            return [] if self._evaluate(rule.operand, view) is None else None
        if isinstance(rule, _And):
            hits = []
            for operand in rule.operands:
                matched = self._evaluate(operand, view, positions=positions)
                if matched is None:
                    return None
                hits += matched
            return hits
        if isinstance(rule, _Or):
            results = [self._evaluate(operand, view, positions=positions)
                       for operand in rule.operands]
            matches = [hits for hits in results if hits is not None]
            return [hit for hits in matches for hit in hits] if matches else None
        return self._near(rule, view)

    def _near(self, rule: _Near, view: _View) -> list[Hit] | None:
        # Positions cost far more than presence: look for them only when both sides can match.
        if not (_possible(rule.left, view.present) and _possible(rule.right, view.present)):
            return None
        left = self._evaluate(rule.left, view, positions=True)
        if not left:
            return None
        right = self._evaluate(rule.right, view, positions=True)
        if not right:
            return None
        right = sorted(right)
        span = max(end - start for _, start, end, _ in right)
        close: list[Hit] = []
        for a in sorted(left):
            field_index, start, end, _ = a
            # Only right-hand hits starting in [start - distance - span, end + distance)
            # can be within `distance` words: find them by bisection, not by pairing all.
            position = bisect_left(right, (field_index, start - rule.distance - span))
            while position < len(right):
                b = right[position]
                if b[0] != field_index or b[1] >= end + rule.distance:
                    break
                if max(start, b[1]) - min(end, b[2]) < rule.distance:
                    close += (a, b)
                    if len(close) >= 2 * MAX_EVIDENCE:
                        return close  # enough to fire and to say why
                position += 1
        return close or None

    def _entities(self, view: _View, evidence: dict[str, list[Evidence]],
                  ) -> tuple[list[EntityTag], list[DiscoveredEntity]]:
        """The watched entities found, and the knowledge base's companies found."""
        hits: dict[str, dict[int, list[Hit]]] = {}
        for field_index, present in enumerate(view.present):
            for pattern_id in self._owners.keys() & present:
                for entity_id, kind in self._owners[pattern_id]:
                    hits.setdefault(entity_id, {}).setdefault(kind, []).extend(
                        view.hits(field_index, pattern_id))
        tags, companies = [], []
        for entity_id, kinds in sorted(hits.items()):
            mentions = kinds.get(_ALIAS, []) + kinds.get(_TICKER, [])
            confirmed = bool(mentions) or _CONTEXT in kinds
            if confirmed and _AMBIGUOUS in kinds:
                mentions += [hit for hit in kinds[_AMBIGUOUS] if _proper_noun(view.fields, hit)]
            # One mention per place: "Microsoft Corp" also contains the alias "Microsoft".
            mentions = list({hit[:2]: hit for hit in sorted(mentions)}.values())  # longest last
            if not mentions:
                continue
            score, where = salience(mentions)
            company = self.companies.get(entity_id)
            if company is not None:
                companies.append(DiscoveredEntity(name=company.name, type="organization",
                                                  mentions=len(mentions), salience=score,
                                                  company=company.id))
                continue
            entity = self.entities[entity_id]
            tags.append(EntityTag(id=entity_id, name=entity.name, type=entity.type,
                                  salience=score, where=where, mentions=len(mentions)))
            evidence[f"entity:{entity_id}"] = self._evidence(view.fields, sorted(mentions))
        return tags, companies

    def _evidence(self, fields: tuple[Field, Field], hits: list[Hit]) -> list[Evidence]:
        """Up to MAX_EVIDENCE distinct terms in the hits' order, each with its snippet."""
        chosen: list[Evidence] = []
        seen: set[int] = set()
        for field_index, _, _, pattern_id in hits:
            if pattern_id in seen:
                continue
            seen.add(pattern_id)
            field = fields[field_index]
            pattern = self._patterns[pattern_id]
            span = self._find(field, pattern, pattern_id)
            snippet = ""
            if span is not None:
                start = max(0, span[0] - SNIPPET_CHARS)
                snippet = " ".join(field.text[start:span[1] + SNIPPET_CHARS].split())
            chosen.append(Evidence(term=" ".join(pattern.words) + ("*" if pattern.prefix else ""),
                                   field=field.name, snippet=snippet))
            if len(chosen) == MAX_EVIDENCE:
                break
        return chosen

    def _find(self, field: Field, pattern: Pattern, pattern_id: int) -> tuple[int, int] | None:
        """Where a term first occurs in the field's text, for its snippet.

        str.find of the first word on the lower-cased text, checking word boundaries, then
        (for a phrase or prefix) an anchored match there: several times faster than
        searching the whole text with a case-insensitive regular expression.
        """
        text, first = field.lowered(), pattern.words[0]
        one_word = len(pattern.words) == 1 and not pattern.prefix
        position = text.find(first)
        while position != -1:
            if position == 0 or not _is_word_char(text[position - 1]):
                if one_word:
                    end = position + len(first)
                    if end == len(text) or not _is_word_char(text[end]):
                        return position, end
                else:
                    match = self._snippet_pattern(pattern_id).match(text, position)
                    if match:
                        return match.start(), match.end()
            position = text.find(first, position + 1)
        return None

    def _snippet_pattern(self, pattern_id: int) -> re.Pattern[str]:
        """A phrase or prefix as a regular expression over lower-cased text."""
        compiled = self._snippet_patterns.get(pattern_id)
        if compiled is None:
            pattern = self._patterns[pattern_id]
            words = r"[^\w$]+".join(re.escape(word) for word in pattern.words)
            tail = r"\w*" if pattern.prefix else ""
            compiled = re.compile(rf"{words}{tail}(?!\w)")
            self._snippet_patterns[pattern_id] = compiled
        return compiled


_FIELD_NAMES = ("title", "body")


def _unwatched(companies: Iterable[Company], watched: Iterable[Entity]) -> list[Company]:
    """The companies no watched entity covers (by id, a ticker or an alias): a watched
    Nvidia is reported as an entity, never again as discovered."""
    entities = list(watched)
    ids = {entity.id for entity in entities}
    tickers = {ticker.upper() for entity in entities for ticker in entity.tickers}
    aliases = {tuple(words_of(alias)) for entity in entities
               for alias in (*entity.aliases, *entity.ambiguous_aliases)}
    return [company for company in companies
            if company.id not in ids and not tickers & {t.upper() for t in company.tickers}
            and not aliases & {tuple(words_of(alias)) for alias in (
                company.name, *company.aliases, *company.ambiguous_aliases)}]


@dataclass(frozen=True)
class _AnyOf:
    """Any of these terms (pattern ids) in this scope: an OR of terms, or one term."""

    pattern_ids: frozenset[int]
    scope: str


@dataclass(frozen=True)
class _Not:
    operand: _Compiled


@dataclass(frozen=True)
class _And:
    operands: tuple[_Compiled, ...]


@dataclass(frozen=True)
class _Or:
    operands: tuple[_Compiled, ...]


@dataclass(frozen=True)
class _Near:
    left: _Compiled
    right: _Compiled
    distance: int


_Compiled = _AnyOf | _Not | _And | _Or | _Near
_SCOPE_FIELDS = {"any": (0, 1), "title": (0,), "body": (1,), "lead": (1,)}


def _positional_terms(rule: _Compiled, *, near: bool = False) -> set[int]:
    """The terms of a rule whose positions matter: under a NEAR, or scoped to the lead."""
    if isinstance(rule, _AnyOf):
        return set(rule.pattern_ids) if near or rule.scope == "lead" else set()
    if isinstance(rule, _Not):
        return _positional_terms(rule.operand, near=near)
    if isinstance(rule, _Near):
        return _positional_terms(rule.left, near=True) | _positional_terms(rule.right, near=True)
    return set().union(*(_positional_terms(operand, near=near) for operand in rule.operands))


def _possible(rule: _Compiled, present: tuple[set[int], set[int]]) -> bool:
    """False when the rule surely cannot match, judged by the terms present alone."""
    if isinstance(rule, _AnyOf):
        return any(not rule.pattern_ids.isdisjoint(present[field_index])
                   for field_index in _SCOPE_FIELDS[rule.scope])
    if isinstance(rule, _Not):
        return True  # presence alone cannot show that a NOT fails (its operand may be a NEAR)
    if isinstance(rule, _Or):
        return any(_possible(operand, present) for operand in rule.operands)
    if isinstance(rule, _And):
        return all(_possible(operand, present) for operand in rule.operands)
    return _possible(rule.left, present) and _possible(rule.right, present)


class _View:
    """One article as the rules see it: what is present, and where (worked out on demand)."""

    def __init__(self, matcher: PhraseMatcher, fields: tuple[Field, Field]) -> None:
        self.matcher = matcher
        self.fields = fields
        self.scans = (matcher.scan_field(fields[0]), matcher.scan_field(fields[1]))
        self.present = (self.scans[0].present, self.scans[1].present)
        self._scoped: dict[str, set[int]] = {}  # "any" and "lead", worked out when asked
        self._hits: dict[tuple[int, int], list[Hit]] = {}

    def in_scope(self, scope: str) -> set[int]:
        """The patterns present in a rule scope: any, title, body or lead."""
        if scope == "title":
            return self.present[0]
        if scope == "body":
            return self.present[1]
        if scope not in self._scoped:
            self._scoped[scope] = (self.present[0] | self.present[1] if scope == "any"
                                   else self.scans[1].present_before(LEAD_TOKENS))
        return self._scoped[scope]

    def hits(self, field_index: int, pattern_id: int) -> list[Hit]:
        key = (field_index, pattern_id)
        found = self._hits.get(key)
        if found is None:
            found = self._hits[key] = [
                (field_index, start, end, pattern_id) for start, end in
                self.scans[field_index].occurrences(pattern_id)]
        return found


def _is_word_char(character: str) -> bool:
    return character.isalnum() or character == "$"


def _proper_noun(fields: tuple[Field, Field], hit: Hit) -> bool:
    """True when every word of the hit is capitalised as written (Apple, not apple)."""
    field_index, start, end, _ = hit
    words = fields[field_index].original()[start:end]
    return all(word.lstrip("$")[:1].isupper() or word[:1].isdigit() for word in words)
