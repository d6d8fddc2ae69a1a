"""match_story: which subscriptions a story satisfies, and the alerts it produces."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from alerts.matching import StoryView, alert_id, match_story
from alerts.subscriptions import Subscription

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

STORY = StoryView(
    story_id="story-1", article_id="article-1", title="OpenAI names new CEO",
    url="https://example.com/a", source="Example News",
    topics=("leadership-change", "ai-safety"), entities=("openai", "sam-altman"),
    is_duplicate=False, evidence=("leadership-change: title: names new",),
)


def sub(query: str, name: str = "S", **kwargs: object) -> Subscription:
    return Subscription.create(name=name, owner="ana", query=query, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("query", "matches"), [
    ("entity:openai", True),
    ("entity:OpenAI", True),
    ("entity:anthropic", False),
    ("entity:openai AND topic:earnings", False),
    ("entity:openai AND (topic:earnings OR topic:leadership-change)", True),
    ('source:"example news"', True),
    ("entity:openai AND NOT source:\"example news\"", False),
    ("entity:openai AND NOT source:other", True),
    ("NOT entity:openai", False),
])
def test_match_story_evaluates_each_query(query: str, matches: bool) -> None:
    alerts = match_story(STORY, [sub(query)], now=NOW)
    assert len(alerts) == (1 if matches else 0)


def test_duplicates_never_alert() -> None:
    duplicate = replace(STORY, is_duplicate=True)
    assert match_story(duplicate, [sub("entity:openai"), sub("topic:ai-safety", "T")],
                       now=NOW) == []


def test_alert_carries_story_subscription_and_evidence() -> None:
    subscription = sub("entity:openai AND (topic:earnings OR topic:leadership-change) "
                       "AND NOT source:other", name="OpenAI leadership",
                       channels=("console", "team-slack"))
    (alert,) = match_story(STORY, [subscription], now=NOW)
    assert alert.alert_id == alert_id("openai-leadership", "story-1")
    assert (alert.subscription_id, alert.subscription_name, alert.owner) == (
        "openai-leadership", "OpenAI leadership", "ana")
    assert alert.channels == ["console", "team-slack"]
    assert (alert.story_id, alert.article_id, alert.title, alert.url, alert.source) == (
        "story-1", "article-1", STORY.title, STORY.url, STORY.source)
    assert alert.topics == ["leadership-change", "ai-safety"]
    assert alert.entities == ["openai", "sam-altman"]
    assert alert.created_at == NOW
    # only the positive terms that actually held, then the tagger's evidence
    assert alert.evidence == ["entity:openai", "topic:leadership-change",
                              "leadership-change: title: names new"]


def test_one_alert_per_matching_subscription() -> None:
    subscriptions = [sub("entity:openai", "A"), sub("entity:nvidia", "B"),
                     sub("topic:ai-safety", "C")]
    alerts = match_story(STORY, subscriptions, now=NOW)
    assert [a.subscription_id for a in alerts] == ["a", "c"]
    assert len({a.alert_id for a in alerts}) == 2


def test_alert_id_is_stable_per_subscription_and_story() -> None:
    subscription = sub("entity:openai")
    first = match_story(STORY, [subscription], now=NOW)[0]
    # another copy (different article, later time) of the same story: same ledger key
    again = match_story(replace(STORY, article_id="article-2"), [subscription],
                        now=datetime(2027, 1, 1, tzinfo=UTC))[0]
    assert first.alert_id == again.alert_id
    other_story = match_story(replace(STORY, story_id="story-2"), [subscription], now=NOW)[0]
    other_sub = match_story(STORY, [sub("entity:openai", "Other")], now=NOW)[0]
    assert len({first.alert_id, other_story.alert_id, other_sub.alert_id}) == 3


@pytest.mark.parametrize(("left", "right"), [
    (("ab", "c"), ("a", "bc")),  # the separator keeps the pair unambiguous
    (("s", "x"), ("x", "s")),
])
def test_alert_id_distinguishes_pairs(left: tuple[str, str], right: tuple[str, str]) -> None:
    assert alert_id(*left) != alert_id(*right)
