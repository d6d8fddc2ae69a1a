"""Match a tagged story against subscriptions: pure, one Alert per matching subscription."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from alerts.query import evaluate, positive_terms
from alerts.records import Alert
from alerts.subscriptions import Subscription


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

    def facts(self) -> dict[str, frozenset[str]]:
        return {
            "topic": frozenset(t.lower() for t in self.topics),
            "entity": frozenset(e.lower() for e in self.entities),
            "source": frozenset({self.source.lower()}),
        }


def alert_id(subscription_id: str, story_id: str) -> str:
    """The ledger key of an alert: one per (subscription, story), stable across replays."""
    return hashlib.blake2b(f"{subscription_id}\x1f{story_id}".encode(), digest_size=12).hexdigest()


def match_story(
    story: StoryView, subscriptions: Iterable[Subscription], *, now: datetime,
) -> list[Alert]:
    """Alerts for every subscription the story satisfies; syndicated copies never alert."""
    if story.is_duplicate:
        return []
    facts = story.facts()
    alerts = []
    for subscription in subscriptions:
        if not evaluate(subscription.parsed, facts):
            continue
        matched = [f"{t.field}:{t.value}" for t in positive_terms(subscription.parsed)
                   if t.value in facts.get(t.field, frozenset())]
        alerts.append(Alert(
            alert_id=alert_id(subscription.id, story.story_id),
            subscription_id=subscription.id,
            subscription_name=subscription.name,
            owner=subscription.owner,
            channels=list(subscription.channels),
            story_id=story.story_id,
            article_id=story.article_id,
            title=story.title,
            url=story.url,
            source=story.source,
            topics=list(story.topics),
            entities=list(story.entities),
            evidence=matched + list(story.evidence),
            created_at=now,
            outlets=story.outlets,
        ))
    return alerts
