"""Match a tagged story against subscriptions: one alert per (subscription, event) or
(subscription, story), then an update when it changes materially (a new headline, more
outlets, more stories of the event). Pure: the caller supplies what was sent before."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from wirewatch.alerts.escape import plain
from wirewatch.alerts.query import evaluate, positive_terms, triggers
from wirewatch.alerts.records import Alert, event_unit
from wirewatch.alerts.subscriptions import Subscription


@dataclass(frozen=True)
class StoryView:
    """What matching needs to know about a tagged article."""

    story_id: str
    article_id: str
    title: str
    url: str
    source: str
    topics: tuple[str, ...]
    entities: tuple[str, ...]
    is_duplicate: bool
    evidence: tuple[str, ...] = ()
    outlets: int = 1
    salience: Mapping[str, float] = field(default_factory=dict)  # entity id -> 0..1
    is_update: bool = False  # the article was re-published with changes
    event_id: str = ""  # the event the story reports ("" in records from before events)
    event_stories: int = 1  # stories of the event so far
    major: bool = False  # from a major outlet (settings: major_outlets)
    lang: str = ""  # the article's language, ISO 639-1 ("" in records from before languages)

    # facts() per minimum salience: every subscription asks, and most ask the same
    _facts: dict[float, dict[str, frozenset[str]]] = field(
        default_factory=dict, compare=False, repr=False)

    def facts(self, min_salience: float = 0.0) -> dict[str, frozenset[str]]:
        found = self._facts.get(min_salience)
        if found is None:
            found = self._facts[min_salience] = {
                "topic": frozenset(t.lower() for t in self.topics),
                "entity": frozenset(e.lower() for e in self.entities
                                    if self.salience.get(e, 1.0) >= min_salience),
                "source": frozenset({self.source.lower()}),
                "lang": frozenset({self.lang}) if self.lang else frozenset(),
            }
        return found


@dataclass(frozen=True)
class Sent:
    """What a subscription was last told about a story (kept in Redis by the caller)."""

    title: str
    outlets: int
    updates: int = 0
    stories: int = 0  # per event: the event's stories when last told


@dataclass(frozen=True)
class Silences:
    """What is muted now: subscriptions, entities and stories by id, sources by name
    (lower case: outlet names are matched without case, as `source:` terms are)."""

    subscriptions: frozenset[str] = frozenset()
    entities: frozenset[str] = frozenset()
    stories: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    """An alert to queue and the state to remember for its (subscription, story)."""

    alert: Alert
    sent: Sent


def sent_after(alert: Alert) -> Sent:
    """What a subscription has been told once this alert is queued."""
    return Sent(alert.title, alert.outlets, alert.update, alert.event_stories)


def unit_of(story: StoryView, subscription: Subscription) -> str:
    """What the subscription is told once about: the story's event, or the story."""
    if subscription.per == "event" and story.event_id:
        return event_unit(story.event_id)
    return story.story_id


def alert_id(subscription_id: str, story_id: str, update: int = 0) -> str:
    """The ledger key of an alert: one per (subscription, unit[, update]), stable on replay;
    the unit is a story, or an event for per-event subscriptions (their own id space)."""
    key = f"{subscription_id}\x1f{story_id}" + (f"\x1fupdate-{update}" if update else "")
    return hashlib.blake2b(key.encode(), digest_size=12).hexdigest()


_HEADLINE_NOISE = re.compile(r"^(?:update\s*\d*\s*[-:]|exclusive\s*:|breaking\s*:)\s*", re.I)


def headline_key(title: str) -> str:
    """A headline without case, spacing and wire prefixes ("UPDATE 2-", "EXCLUSIVE:")."""
    return _HEADLINE_NOISE.sub("", plain(title).lower()).strip()


def matches(story: StoryView, subscription: Subscription,
            silences: Silences = Silences()) -> list[str] | None:
    """The query terms that held, or None when the story does not match (or is muted)."""
    if (subscription.id in silences.subscriptions or story.story_id in silences.stories
            or story.source.lower() in silences.sources):
        return None
    facts = story.facts(subscription.min_salience)
    if not evaluate(subscription.parsed, facts):
        return None
    held = [t for t in positive_terms(subscription.parsed)
            if t.value in facts.get(t.field, frozenset())]
    if any(t.field == "entity" and t.value in silences.entities for t in held):
        return None
    return [f"{t.field}:{t.value}" for t in held]


def decide(story: StoryView, subscription: Subscription, held: list[str], sent: Sent | None,
           *, now: datetime) -> Decision | None:
    """The alert this copy of the story calls for, given what was sent before, if any."""
    if sent is None:
        return Decision(_alert(story, subscription, held, now, update=0), Sent(
            story.title, story.outlets, 0, story.event_stories))
    if subscription.per == "event" and story.event_id:
        return _event_update(story, subscription, held, sent, now=now)
    new_headline = (subscription.update_on_new_headline and story.is_update
                    and headline_key(story.title) != headline_key(sent.title))
    more_outlets = (subscription.update_after_outlets is not None
                    and story.outlets >= sent.outlets + subscription.update_after_outlets)
    if not (new_headline or more_outlets):
        return None
    update = sent.updates + 1
    return Decision(_alert(story, subscription, held, now, update=update),
                    Sent(story.title if new_headline else sent.title, story.outlets, update))


def _event_update(story: StoryView, subscription: Subscription, held: list[str], sent: Sent,
                  *, now: datetime) -> Decision | None:
    """An update of an event already told: enough new stories, or a major outlet's own new
    headline. Copies of a story add no story, so they never update an event."""
    more_stories = story.event_stories >= sent.stories + subscription.update_after_stories
    major_headline = (story.major and not story.is_duplicate
                      and headline_key(story.title) != headline_key(sent.title))
    if not (more_stories or major_headline):
        return None
    update = sent.updates + 1
    return Decision(_alert(story, subscription, held, now, update=update),
                    Sent(story.title, story.outlets, update, story.event_stories))


def _alert(story: StoryView, subscription: Subscription, held: list[str], now: datetime, *,
           update: int) -> Alert:
    unit = unit_of(story, subscription)
    return Alert(
        alert_id=alert_id(subscription.id, unit, update),
        subscription_id=subscription.id, subscription_name=subscription.name,
        owner=subscription.owner, channels=list(subscription.channels),
        story_id=story.story_id, article_id=story.article_id, title=story.title, url=story.url,
        source=story.source, topics=list(story.topics), entities=list(story.entities),
        evidence=held + list(story.evidence), created_at=now, outlets=story.outlets,
        is_update=update > 0, update=update,
        thread_of=alert_id(subscription.id, unit) if update else None,
        event_id=story.event_id, per_event=unit != story.story_id,
        event_stories=story.event_stories)


class SubscriptionIndex:
    """Subscriptions by the facts that can trigger them, so a story is checked only against
    those it could match (plus the few whose queries have no required term)."""

    def __init__(self, subscriptions: Iterable[Subscription]) -> None:
        self.subscriptions = list(subscriptions)
        self._by_fact: dict[tuple[str, str], list[int]] = {}
        self._always: list[int] = []
        for position, subscription in enumerate(self.subscriptions):
            needed = triggers(subscription.parsed)
            if needed is None:
                self._always.append(position)
            for fact in needed or ():
                self._by_fact.setdefault(fact, []).append(position)

    def candidates(self, story: StoryView) -> list[Subscription]:
        """The subscriptions the story might match, in their original order."""
        positions = set(self._always)
        for field_name, values in story.facts().items():  # a superset: salience 0
            for value in values:
                positions.update(self._by_fact.get((field_name, value), ()))
        return [self.subscriptions[p] for p in sorted(positions)]


def match_story(story: StoryView, subscriptions: Iterable[Subscription], *, now: datetime,
                silences: Silences = Silences(),
                sent: Mapping[str, Sent] | None = None) -> list[Decision]:
    """Decisions for every subscription the story satisfies. `sent` maps subscription ids to
    what they were told about this story before; without it every match is a first alert."""
    decisions = []
    for subscription in subscriptions:
        held = matches(story, subscription, silences)
        if held is None:
            continue
        decision = decide(story, subscription, held, (sent or {}).get(subscription.id),
                          now=now)
        if decision is not None:
            decisions.append(decision)
    return decisions
