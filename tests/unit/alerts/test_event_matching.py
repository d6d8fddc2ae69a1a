"""Per-event subscriptions: one alert per event, updates by new stories or a major outlet."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from wirewatch.alerts.dispatch import digest_of
from wirewatch.alerts.errors import SubscriptionError
from wirewatch.alerts.matching import Sent, StoryView, alert_id, decide, sent_after, unit_of
from wirewatch.alerts.records import alert_unit, event_unit
from wirewatch.alerts.render import slack_message
from wirewatch.alerts.subscriptions import Subscription, from_mapping
from wirewatch.streams.events.outlets import DEFAULT_MAJOR_OUTLETS, is_major

from tests.support.alerts import make_alert

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
FIRST = StoryView(story_id="s1", article_id="a1", title="OpenAI safety leaders resign",
                  url="https://blog.example/a1", source="blog.example", topics=(),
                  entities=("openai",), is_duplicate=False, event_id="s1", event_stories=1)


def subscription(**kwargs: object) -> Subscription:
    return Subscription.create(name="OpenAI", owner="ana", query="entity:openai", **kwargs)  # type: ignore[arg-type]


def story(n: int, **kwargs: object) -> StoryView:
    return replace(FIRST, story_id=f"s{n}", article_id=f"a{n}", title=f"Headline {n}",
                   event_stories=n, **kwargs)  # type: ignore[arg-type]


def run(subscription: Subscription, stories: list[StoryView]) -> list[tuple[str, int]]:
    """(story id, update number) of each alert, remembering what was sent as the ledger does."""
    sent: dict[str, Sent] = {}  # by unit: the event, or the story
    out = []
    for view in stories:
        unit = unit_of(view, subscription)
        decision = decide(view, subscription, ["entity:openai"], sent.get(unit), now=NOW)
        if decision is not None:
            out.append((view.story_id, decision.alert.update))
            sent[unit] = decision.sent
            assert sent_after(decision.alert) == decision.sent
    return out


def test_new_subscriptions_are_per_event_and_stored_ones_keep_per_story() -> None:
    assert subscription().per == "event" and subscription().update_after_stories == 3
    stored = {"name": "Old", "query": "entity:openai"}  # written before events
    assert from_mapping(stored).per == "story"
    assert from_mapping(stored, default_per="event").per == "event"
    assert from_mapping(subscription(per="story").to_dict()).per == "story"
    round_trip = from_mapping(subscription(update_after_stories=5).to_dict())
    assert (round_trip.per, round_trip.update_after_stories) == ("event", 5)


@pytest.mark.parametrize(("fields", "message"), [
    ({"per": "article"}, "per must be one of"),
    ({"update_after_stories": 0}, "update_after_stories must be"),
    ({"update_after_stories": "3"}, "update_after_stories must be"),
])
def test_bad_per_event_settings_are_clear_errors(fields: dict[str, object], message: str) -> None:
    with pytest.raises(SubscriptionError, match=message):
        from_mapping({"name": "S", "query": "entity:openai", **fields})


def test_one_alert_per_event_then_an_update_every_n_new_stories() -> None:
    five = [story(n) for n in range(1, 6)]
    assert run(subscription(update_after_stories=2), five) == [("s1", 0), ("s3", 1), ("s5", 2)]
    assert run(subscription(), five) == [("s1", 0), ("s4", 1)]
    # A copy of a story adds no story to the event, so it never updates it.
    copies = [FIRST, replace(FIRST, article_id="copy", is_duplicate=True, outlets=9)]
    assert run(subscription(update_after_outlets=None), copies) == [("s1", 0)]


def test_a_major_outlets_own_headline_is_an_update_on_its_own() -> None:
    reuters = story(2, source="Reuters", url="https://www.reuters.com/x", major=True)
    assert run(subscription(), [FIRST, reuters]) == [("s1", 0), ("s2", 1)]
    same_headline = replace(reuters, title=FIRST.title)
    assert run(subscription(), [FIRST, same_headline]) == [("s1", 0)]


def test_per_story_subscriptions_alert_every_story_of_an_event() -> None:
    three = [story(n) for n in range(1, 4)]
    assert run(subscription(per="story"), three) == [("s1", 0), ("s2", 0), ("s3", 0)]


def test_event_units_have_their_own_ledger_ids() -> None:
    per_event, per_story = subscription(), subscription(per="story")
    assert unit_of(FIRST, per_event) == event_unit("s1") != unit_of(FIRST, per_story) == "s1"
    decision = decide(FIRST, per_event, [], None, now=NOW)
    assert decision is not None
    assert decision.alert.alert_id == alert_id("openai", event_unit("s1"))
    assert decision.alert.per_event and alert_unit(decision.alert) == event_unit("s1")
    # Before events (no event id), every subscription counts stories.
    assert unit_of(replace(FIRST, event_id=""), per_event) == "s1"


def test_a_digest_lists_each_event_once_with_its_stories() -> None:
    alerts = [make_alert(alert_id="e1", story_id="s1", event_id="s1", per_event=True,
                         event_stories=1, title="First"),
              make_alert(alert_id="e1-u1", story_id="s4", event_id="s1", per_event=True,
                         event_stories=4, title="Fourth", is_update=True, update=1,
                         created_at=datetime(2026, 1, 1, 1, tzinfo=UTC)),
              make_alert(alert_id="e2", story_id="s9", event_id="s9", per_event=True,
                         event_stories=1, title="Other")]
    digest = digest_of(alerts, "console")
    assert digest.title == "2 events for OpenAI"
    assert [(i.title, i.event_stories) for i in digest.digest] == [("Fourth", 4), ("Other", 1)]
    assert "4 stories" in slack_message(digest)["blocks"][0]["text"]["text"]


def test_major_outlets_match_by_feed_name_or_site() -> None:
    assert is_major("Reuters Business", "https://uk.reuters.com/a", DEFAULT_MAJOR_OUTLETS)
    assert is_major("reuters.com", "", DEFAULT_MAJOR_OUTLETS)
    assert not is_major("Fake Reuters", "https://reuters.com.evil.example/a",
                        DEFAULT_MAJOR_OUTLETS)
    assert not is_major("blog.example", "https://blog.example/a", DEFAULT_MAJOR_OUTLETS)
