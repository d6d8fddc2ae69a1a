"""match_story: which subscriptions a story satisfies, the alerts and updates it produces."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from wirewatch.alerts.matching import Sent, Silences, StoryView, alert_id, headline_key, match_story
from wirewatch.alerts.subscriptions import Subscription

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

STORY = StoryView(
    story_id="story-1", article_id="article-1", title="OpenAI names new CEO",
    url="https://example.com/a", source="Example News",
    topics=("leadership-change", "ai-safety"), entities=("openai", "sam-altman"),
    is_duplicate=False, evidence=("leadership-change: title: names new",),
)


def sub(query: str, name: str = "S", **kwargs: object) -> Subscription:
    return Subscription.create(name=name, owner="ana", query=query, **kwargs)  # type: ignore[arg-type]


def alerts_for(story: StoryView, subscriptions: list[Subscription], **kwargs: object) -> list:  # type: ignore[type-arg]
    return [d.alert for d in match_story(story, subscriptions, now=NOW, **kwargs)]  # type: ignore[arg-type]


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
    assert len(alerts_for(STORY, [sub(query)])) == (1 if matches else 0)


def test_copies_of_a_sent_story_do_not_alert_again() -> None:
    duplicate = replace(STORY, is_duplicate=True, article_id="copy", outlets=2)
    told = {"s": Sent(STORY.title, 1), "t": Sent(STORY.title, 1)}
    assert alerts_for(duplicate, [sub("entity:openai"), sub("topic:ai-safety", "T")],
                      sent=told) == []
    # The first copy that matches triggers, even when it is not the story's first copy.
    (first,) = alerts_for(duplicate, [sub("entity:openai")])
    assert first.alert_id == alert_id("s", "story-1") and not first.is_update


def test_more_outlets_send_one_threaded_update() -> None:
    subscription = sub("entity:openai", update_after_outlets=3)
    assert alerts_for(replace(STORY, outlets=3), [subscription],
                      sent={"s": Sent(STORY.title, 1)}) == []
    (decision,) = match_story(replace(STORY, outlets=4), [subscription], now=NOW,
                              sent={"s": Sent(STORY.title, 1)})
    update = decision.alert
    assert update.is_update and update.thread_of == alert_id("s", "story-1")
    assert update.alert_id == alert_id("s", "story-1", 1) != update.thread_of
    assert decision.sent == Sent(STORY.title, 4, 1)
    assert alerts_for(replace(STORY, outlets=4), [sub("entity:openai",
                                                      update_after_outlets=None)],
                      sent={"s": Sent(STORY.title, 1)}) == []


def test_a_changed_headline_of_a_republished_article_sends_an_update() -> None:
    told = {"s": Sent("OpenAI names new CEO", 1)}
    changed = replace(STORY, title="UPDATE 1-OpenAI names Jane Roe as new CEO", is_update=True)
    (update,) = alerts_for(changed, [sub("entity:openai")], sent=told)
    assert update.is_update
    # A syndicated copy with its own headline is not a change of the story's headline.
    assert alerts_for(replace(changed, is_update=False), [sub("entity:openai")],
                      sent=told) == []
    assert alerts_for(replace(STORY, title="UPDATE 2-OpenAI names new CEO", is_update=True),
                      [sub("entity:openai")], sent=told) == []  # only the wire prefix changed
    assert headline_key("EXCLUSIVE: Big  News") == "big news"


def test_silences_mute_subscriptions_stories_and_entities() -> None:
    subs = [sub("entity:openai", "A"), sub("topic:ai-safety", "B")]
    assert [a.subscription_id for a in alerts_for(
        STORY, subs, silences=Silences(subscriptions=frozenset({"a"})))] == ["b"]
    assert alerts_for(STORY, subs, silences=Silences(stories=frozenset({"story-1"}))) == []
    # Muting an entity mutes subscriptions that matched because of it, not topic ones.
    assert [a.subscription_id for a in alerts_for(
        STORY, subs, silences=Silences(entities=frozenset({"openai"})))] == ["b"]
    # Muting a source mutes its stories for everyone, whatever the query; others go on.
    muted = Silences(sources=frozenset({STORY.source.lower()}))
    assert alerts_for(STORY, subs, silences=muted) == []
    assert len(alerts_for(replace(STORY, source="Elsewhere"), subs, silences=muted)) == 2


def test_min_salience_ignores_passing_mentions() -> None:
    story = replace(STORY, salience={"openai": 0.3, "sam-altman": 1.0})
    assert alerts_for(story, [sub("entity:openai", min_salience=0.7)]) == []
    assert len(alerts_for(story, [sub("entity:sam-altman", min_salience=0.7)])) == 1
    assert len(alerts_for(story, [sub("entity:openai")])) == 1


def test_alert_carries_story_subscription_and_evidence() -> None:
    subscription = sub("entity:openai AND (topic:earnings OR topic:leadership-change) "
                       "AND NOT source:other", name="OpenAI leadership",
                       channels=("console", "team-slack"))
    (alert,) = alerts_for(STORY, [subscription])
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
    alerts = alerts_for(STORY, subscriptions)
    assert [a.subscription_id for a in alerts] == ["a", "c"]
    assert len({a.alert_id for a in alerts}) == 2


def test_alert_id_is_stable_per_subscription_and_story() -> None:
    subscription = sub("entity:openai")
    first = alerts_for(STORY, [subscription])[0]
    # another copy (different article, later time) of the same story: same ledger key
    again = match_story(replace(STORY, article_id="article-2"), [subscription],
                        now=datetime(2027, 1, 1, tzinfo=UTC))[0].alert
    assert first.alert_id == again.alert_id
    other_story = alerts_for(replace(STORY, story_id="story-2"), [subscription])[0]
    other_sub = alerts_for(STORY, [sub("entity:openai", "Other")])[0]
    assert len({first.alert_id, other_story.alert_id, other_sub.alert_id}) == 3


@pytest.mark.parametrize(("left", "right"), [
    (("ab", "c"), ("a", "bc")),  # the separator keeps the pair unambiguous
    (("s", "x"), ("x", "s")),
])
def test_alert_id_distinguishes_pairs(left: tuple[str, str], right: tuple[str, str]) -> None:
    assert alert_id(*left) != alert_id(*right)


def test_the_index_never_hides_a_subscription_that_matches() -> None:
    import random

    from wirewatch.alerts.matching import SubscriptionIndex, matches
    from wirewatch.alerts.query import parse_query

    draw = random.Random(5)
    values = {"topic": ["earnings", "layoffs", "ai-safety"],
              "entity": ["openai", "microsoft", "nvidia"], "source": ["wire", "blog"]}

    def query(depth: int) -> str:
        if depth == 0 or draw.random() < 0.3:
            field_name = draw.choice(list(values))
            return f"{field_name}:{draw.choice(values[field_name])}"
        operator = draw.choice(["AND", "OR", "NOT"])
        if operator == "NOT":
            return f"NOT ({query(depth - 1)})"
        return f"({query(depth - 1)} {operator} {query(depth - 1)})"

    subscriptions = []
    for number in range(300):
        text = query(3)
        parse_query(text)
        subscriptions.append(Subscription.create(name=f"s{number}", owner="", query=text))
    index = SubscriptionIndex(subscriptions)
    checked = looked_at = 0
    for _ in range(300):
        story = StoryView(
            story_id="s", article_id="a", title="t", url="u",
            source=draw.choice(values["source"]),
            topics=tuple(draw.sample(values["topic"], draw.randint(0, 2))),
            entities=tuple(draw.sample(values["entity"], draw.randint(0, 2))),
            is_duplicate=False)
        candidates = {s.id for s in index.candidates(story)}
        held = {s.id for s in subscriptions if matches(story, s) is not None}
        assert held <= candidates
        checked += len(held)
        looked_at += len(candidates)
    assert checked > 1000  # the random queries do match, so the check means something
    assert looked_at < 0.8 * 300 * 300  # and the index does leave subscriptions out
