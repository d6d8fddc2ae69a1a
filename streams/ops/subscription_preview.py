"""What a subscription would have sent lately, matched against the events Redis still keeps.

The CLI's `wirewatch replay backtest` replays the raw archive through the whole pipeline:
exact, but minutes of work. A page cannot wait that long, so this matches the query against
the event log the event pages read (streams/events/log.py): each story's headline and outlet
with the topics and entities tagged on its event. That is close, not exact: tags are the
event's most frequent (8 of each kind), salience is not kept, and the window is the event
log's (72 h by default), which the page says.
"""

from __future__ import annotations

from dataclasses import dataclass

from wirewatch.alerts.matching import StoryView, matches
from wirewatch.alerts.subscriptions import Subscription
from wirewatch.streams.events.log import EventLog, EventSummary

WANTED_SECONDS = 7 * 86400
MAX_EVENTS = 500  # a page's worth of Redis round trips; more is the backtest's job


@dataclass(frozen=True)
class PreviewMatch:
    """One alert the subscription would have sent: a story, or an event's first story."""

    story_id: str
    event_id: str
    title: str
    url: str
    source: str
    at: float  # publication time, Unix
    held: list[str]  # the query terms that held
    event_stories: int


@dataclass(frozen=True)
class Preview:
    matches: list[PreviewMatch]  # the latest first
    covered_seconds: float  # how far back the preview could look
    events_checked: int
    capped: bool  # MAX_EVENTS events were read: older ones were not
    per: str  # the subscription's: "event" (one alert per event) or "story"

    @property
    def covers_the_week(self) -> bool:
        return self.covered_seconds >= WANTED_SECONDS

    @property
    def covered_hours(self) -> int:
        return round(self.covered_seconds / 3600)


def _views(summary: EventSummary, stories: list[tuple[str, str, str, str, str, float]],
           ) -> list[StoryView]:
    return [StoryView(story_id=story_id, article_id=article_id, title=title, url=url,
                      source=source, topics=tuple(summary.topics),
                      entities=tuple(summary.entities), is_duplicate=False,
                      event_id=summary.event_id, event_stories=summary.stories)
            for story_id, article_id, title, url, source, _ in stories]


async def preview(subscription: Subscription, events: EventLog, *, now: float,
                  limit: int = MAX_EVENTS) -> Preview:
    """The alerts `subscription` would have sent for the events of the last 7 days (or of
    the event log's window, if shorter): one per event for per-event subscriptions, one per
    matching story otherwise. Silences and schedules are left out: this is what matches."""
    since = now - min(WANTED_SECONDS, events.window)
    summaries = await events.recent(limit, now=now)
    found: list[PreviewMatch] = []
    for summary in summaries:
        if summary.last_seen < since:
            continue
        detail = await events.load(summary.event_id)
        if detail is None:
            continue  # expired between the two reads
        stories = [(s.story_id, s.article_id, s.title, s.url, s.source, s.published)
                   for s in detail.timeline if s.published >= since]
        for view, story in zip(_views(summary, stories), stories, strict=True):
            held = matches(view, subscription)
            if held is None:
                continue
            found.append(PreviewMatch(view.story_id, summary.event_id, view.title, view.url,
                                      view.source, story[5], held, summary.stories))
            if subscription.per == "event":
                break  # the event's first matching story is its one alert
    found.sort(key=lambda m: (-m.at, m.story_id))
    return Preview(found, now - since, len(summaries), len(summaries) >= limit,
                   subscription.per)
