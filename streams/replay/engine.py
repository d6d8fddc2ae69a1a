"""A replay's work on one batch of raw records: the live stages' own functions (normalise,
dedupe, events, tag, match), with replay's layered dedupe and events; nothing live is
written unless asked.

A dry run reports the first alert each subscription would send per story (or per event, for
per-event subscriptions), with the story's event, and whether the
live ledger shows it sent already; current silences are ignored ("what would have fired").
Delivering queues only first alerts the ledger has never seen, respecting silences;
updates are counted, never delivered by a replay.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from wirewatch.alerts.matching import (
    Decision,
    Sent,
    Silences,
    StoryView,
    SubscriptionIndex,
    decide,
    matches,
    unit_of,
)
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.state import SentStore
from wirewatch.alerts.subscriptions import Subscription
from wirewatch.connectors.records import RawItem
from wirewatch.streams.dedupe.engine import Doc, NearDupEngine, StoryAssignment
from wirewatch.streams.dedupe.service import dedupe_text, url_key
from wirewatch.streams.events.engine import EventEngine
from wirewatch.streams.events.profile import build_profiles, language_of
from wirewatch.streams.records import decode
from wirewatch.streams.replay.report import Match, Report
from wirewatch.streams.replay.source import SourceRecord
from wirewatch.streams.stages import build_article, clean_raw, now_utc, story_view, with_tags
from wirewatch.streams.tagging import Tagger, Tags


@dataclass(frozen=True)
class Window:
    """Which records count: [start, end) by record time, and from which feeds."""

    start_ms: int
    end_ms: int | None = None
    feeds: frozenset[str] = frozenset()  # feed ids or URLs; empty: every feed

    def holds(self, timestamp_ms: int) -> bool:
        return timestamp_ms >= self.start_ms and (self.end_ms is None
                                                   or timestamp_ms < self.end_ms)


@dataclass
class Delivery:
    """What delivering needs: the outbox (ledger and queues) and the silences to honour."""

    outbox: Outbox
    silences: Silences


class Replayer:
    def __init__(self, *, engine: NearDupEngine, events: EventEngine,
                 tagger: Callable[[], Tagger], subscriptions: list[Subscription],
                 sent_store: SentStore, window: Window, report: Report,
                 delivery: Delivery | None = None) -> None:
        self.engine, self.events, self.tagger = engine, events, tagger
        self.index = SubscriptionIndex(subscriptions)
        self.sent_store, self.window, self.report = sent_store, window, report
        self.delivery = delivery
        # What this replay decided per (subscription, unit); rebuilt from the report on
        # --resume, so a resumed run does not report a first alert twice.
        self.decided: dict[tuple[str, str], Sent] = {
            (m.subscription, m.unit or m.story_id): Sent(m.title, 1, 0, 1)
            for m in report.matches}
        self.outlets: dict[str, set[str]] = {}  # story -> sources seen in this replay
        self.event_stories: dict[str, set[str]] = {}  # event -> its stories in this replay

    def _kept(self, records: list[SourceRecord]) -> list[RawItem]:
        counts, window = self.report.counts, self.window
        items = []
        for record in records:
            counts["records"] += 1
            if not window.holds(record.timestamp_ms):
                counts["outside_window"] += 1
                continue
            try:
                item = decode(record.value or b"", RawItem)
            except (msgspec.DecodeError, msgspec.ValidationError):
                counts["undecodable"] += 1
                continue
            if window.feeds and not {item.feed_id, item.feed_url} & window.feeds:
                counts["filtered_out"] += 1
                continue
            items.append(item)
        return items

    async def process(self, records: list[SourceRecord]) -> None:
        items = self._kept(records)
        if not items:
            return
        cleaned = [clean_raw(item) for item in items]
        langs = [language_of(title, text) for title, text in cleaned]  # once, as live
        tagger = self.tagger()
        # Dedupe waits on Redis round trips and tagging needs no story: run them together, so
        # the waits (and Redis's own work, in its own process) overlap the tagging.
        dedupe = asyncio.ensure_future(self.engine.assign_many([
            Doc(item.item_id, item.source, dedupe_text(title, text), url_key(item.url))
            for item, (title, text) in zip(items, cleaned, strict=True)]))
        try:
            found = await _tag_all(tagger, cleaned, langs)
            stories = await dedupe
        except BaseException:
            dedupe.cancel()
            raise
        event_of = await self._events(items, cleaned, stories, langs)
        views = []
        for item, (title, text), story, tags, lang in zip(items, cleaned, stories, found,
                                                           langs, strict=True):
            outlets = self.outlets.setdefault(story.story_id, set())
            outlets.add(item.source)
            event_id = event_of.get(story.story_id, story.story_id)
            members = self.event_stories.setdefault(event_id, set())
            new_event = not members
            members.add(story.story_id)
            tagged = with_tags(build_article(item, title, text, story, len(outlets), event_id,
                                             len(members), lang), tags)
            self.report.count_article(topics=tagged.topics,
                                      entities=[e.id for e in tagged.entities],
                                      source=item.source, new_story=not story.is_duplicate,
                                      new_event=new_event)
            views.append((item, story_view(tagged)))
        await self._match(views)

    async def _events(self, items: list[RawItem], cleaned: list[tuple[str, str]],
                      stories: list[StoryAssignment], langs: list[str]) -> dict[str, str]:
        """The event of each story of the batch: new stories assigned, others looked up."""
        firsts: dict[str, int] = {}
        for position, story in enumerate(stories):
            firsts.setdefault(story.story_id, position)
        order = sorted(firsts.values())
        profiles = build_profiles([
            (cleaned[p][0], cleaned[p][1], (items[p].published or items[p].fetched_at)
             .timestamp()) for p in order], [langs[p] for p in order])
        placed = await self.events.assign_many(
            [(stories[p].story_id, profile) for p, profile in zip(order, profiles, strict=True)])
        return {stories[p].story_id: event.event_id
                for p, event in zip(order, placed, strict=True)}

    async def _match(self, views: list[tuple[RawItem, StoryView]]) -> None:
        silences = self.delivery.silences if self.delivery else Silences()
        found = [[(s, held) for s in self.index.candidates(view)
                  if (held := matches(view, s, silences)) is not None]
                 for _, view in views]
        told = await self.sent_store.load_units([
            [(s.id, unit_of(view, s)) for s, _ in here]
            for (_, view), here in zip(views, found, strict=True)])
        counts, now = self.report.counts, now_utc()
        to_queue: list[tuple[Match, Decision]] = []
        for (item, view), here, live in zip(views, found, told, strict=True):
            for subscription, held in here:
                key = (subscription.id, unit_of(view, subscription))
                decision = decide(view, subscription, held, self.decided.get(key), now=now)
                if decision is None:
                    continue
                self.decided[key] = decision.sent
                if decision.alert.is_update:
                    counts["updates"] += 1
                    continue
                counts["alerts"] += 1
                already = subscription.id in live
                counts["already_sent"] += already
                moment = item.published or item.fetched_at
                match = Match(subscription=subscription.id, story_id=decision.alert.story_id,
                              title=decision.alert.title, url=decision.alert.url,
                              source=decision.alert.source,
                              time=moment.astimezone(UTC).isoformat(timespec="seconds"),
                              because=held, already_sent=already, event_id=view.event_id,
                              unit=key[1])
                self.report.matches.append(match)
                if self.delivery is not None and not already:
                    to_queue.append((match, decision))
        if to_queue and self.delivery is not None:
            decisions = [decision for _, decision in to_queue]
            queued = await self.delivery.outbox.enqueue_many([d.alert for d in decisions])
            # Remembered like live decisions, so the live stream stays quiet about them too.
            await self.sent_store.record(decisions)
            for (match, _), channels in zip(to_queue, queued, strict=True):
                match.queued = channels
                counts["queued"] += bool(channels)


TAG_SLICE = 50  # articles tagged between two chances for dedupe to go on (~10 ms)


async def _tag_all(tagger: Tagger, cleaned: list[tuple[str, str]],
                   langs: list[str]) -> list[Tags]:
    """Tags of each (title, text) in its language, handing the loop over every slice so a
    concurrent dedupe can send its next Redis call or take its reply."""
    found: list[Tags] = []
    for start in range(0, len(cleaned), TAG_SLICE):
        await asyncio.sleep(0)
        found += [tagger.tag(title, text, lang) for (title, text), lang
                  in zip(cleaned[start:start + TAG_SLICE], langs[start:start + TAG_SLICE],
                         strict=True)]
    return found


def run_id(now: datetime | None = None) -> str:
    """A sortable, readable id for a replay run."""
    moment = now or datetime.now(UTC)
    return f"{moment:%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"
