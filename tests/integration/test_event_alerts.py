# ruff: noqa: E501  (fixture prose keeps one sentence per line, as articles have)
"""Alerts per event through the worker's own steps, delivered to a loopback Slack and SMTP,
and a replay of the same items.

Five outlets write their own articles about one event (plus a syndicated copy and unrelated
news). A per-event subscription gets one alert and two updates, threaded under the first
Slack message and replying to the first e-mail; a per-story subscription gets one alert per
write-up, as before events; a replay of the same items sends nothing new and finds the
same events, over the live indexes or, as a backfill, from nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import redis.asyncio as aioredis
from wirewatch.alerts.dispatch import Dispatcher, RetryPolicy
from wirewatch.alerts.notifiers.email import EmailNotifier, SmtpServer
from wirewatch.alerts.notifiers.slack_api import SlackApiNotifier
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.records import Alert
from wirewatch.alerts.state import SentStore
from wirewatch.alerts.store import LiveSubscriptions, SubscriptionStore
from wirewatch.alerts.subscriptions import Subscription
from wirewatch.connectors.records import RawItem
from wirewatch.streams.app import Step, pipeline_steps, run_batch
from wirewatch.streams.dedupe.engine import NearDupEngine
from wirewatch.streams.dedupe.index import RedisStoryIndex
from wirewatch.streams.dedupe.service import StoryAssigner
from wirewatch.streams.dedupe.stories import StoryStore
from wirewatch.streams.events.engine import EventEngine
from wirewatch.streams.events.index import RedisEventIndex
from wirewatch.streams.events.service import EventAssigner
from wirewatch.streams.ops.activity import Activity
from wirewatch.streams.records import Article, EventUpdate, decode, encode
from wirewatch.streams.replay.dedupe import LayeredIndex
from wirewatch.streams.replay.engine import Replayer, Window
from wirewatch.streams.replay.events import LayeredEventIndex
from wirewatch.streams.replay.report import Report
from wirewatch.streams.replay.source import SourceRecord
from wirewatch.streams.tagging.reload import TaggerSource
from wirewatch.streams.topics import TopicNames

from tests.support.slack_peer import SlackPeer
from tests.support.smtp_peer import SmtpPeer
from tests.unit.streams.test_events import BLOG, REUTERS, UNRELATED, VERGE
from tests.unit.streams.test_pipeline_steps import App, DeadLetters

pytestmark = [pytest.mark.redis]

FOURTH = ("OpenAI's Jan Leike resigns, citing safety concerns",
          "Jan Leike, a senior safety researcher at OpenAI, said he resigned because the company put shiny products ahead of safety. "
          "His departure follows that of Ilya Sutskever, OpenAI's co-founder, who also led the superalignment team. "
          "OpenAI chief executive Sam Altman said he was grateful for Leike's work.")
FIFTH = ("Superalignment team at OpenAI loses both leaders",
         "OpenAI's superalignment team, set up to steer future AI systems, has lost both of its leaders, Ilya Sutskever and Jan Leike. "
         "Leike wrote on X that safety culture at OpenAI had taken a back seat. Sam Altman promised a longer response on OpenAI's safety work.")
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def item(item_id: str, site: str, title: str, text: str, minutes: int) -> RawItem:
    return RawItem(item_id=item_id, feed_id=site, feed_url=f"https://{site}/rss", source=site,
                   url=f"https://{site}/{item_id}", title=title, content=text,
                   fetched_at=T0 + timedelta(minutes=minutes),
                   published=T0 + timedelta(minutes=minutes))


# In arrival order: five write-ups of one event, a syndicated copy of the first (a copy adds
# no story to the event), and unrelated news mentioning OpenAI's investor.
ITEMS = [item("w1", "wire.example", *REUTERS, 0),
         item("c1", "blog.example", REUTERS[0], REUTERS[1] + "\nSource link", 1),
         item("w2", "verge.example", *VERGE, 5),
         item("w3", "tech.example", *BLOG, 10),
         item("x1", "cloud.example", UNRELATED[0], UNRELATED[1] + " OpenAI was not involved.", 12),
         item("w4", "daily.example", *FOURTH, 20),
         item("w5", "weekly.example", *FIFTH, 30)]


@pytest.fixture
async def client(redis_server: str) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.Redis.from_url(redis_server)
    yield connection
    await connection.aclose()


def worker_steps(client: aioredis.Redis, prefix: str, names: TopicNames) -> list[Step]:
    store = SubscriptionStore(client, prefix=prefix)
    return pipeline_steps(
        names, TaggerSource(),
        assigner=StoryAssigner(client, prefix=prefix, window_seconds=86400),
        stories=StoryStore(client, prefix=prefix, window_seconds=86400),
        activity=Activity(client, prefix=prefix), live=LiveSubscriptions(store, refresh_seconds=0),
        sent_store=SentStore(client, prefix=prefix), outbox=Outbox(client, prefix=prefix),
        events=EventAssigner(client, prefix=prefix))


async def run_items(steps: list[Step], items: list[RawItem]) -> App:
    """Each item in its own batch, as a feed delivers them one poll at a time."""
    app, dead = App(), DeadLetters()
    for one in items:
        await run_batch(app, steps, [(one.item_id.encode(), encode(one))], dead)  # type: ignore[arg-type]
    assert dead.letters == []
    return app


async def queued(outbox: Outbox, channel: str) -> list[Alert]:
    await outbox.ensure_group(channel)
    taken = await outbox.take(channel, "reader", count=100, block_ms=100)
    return [pending.alert for pending in taken]


async def test_a_five_story_event_sends_one_alert_and_two_threaded_updates(
        client: aioredis.Redis, unique: str) -> None:
    prefix, names = f"{unique}:", TopicNames.with_prefix(f"{unique}.")
    store = SubscriptionStore(client, prefix=prefix)
    await store.save(Subscription.create(name="OpenAI", owner="ana", query="entity:openai",
                                         channels=("bot", "mail"), update_after_stories=2))
    await store.save(Subscription.create(name="OpenAI stories", owner="bo", query="entity:openai",
                                         channels=("storybot",), per="story",
                                         update_after_outlets=None))
    steps = worker_steps(client, prefix, names)
    app = await run_items(steps, ITEMS)

    # news.events.v1: one update per new story, keyed by its event.
    updates = [decode(value, EventUpdate) for topic, _, value in app.producer.sent
               if topic == names.events]
    assert [(u.story_id, u.event_id, u.stories) for u in updates] == [
        ("w1", "w1", 1), ("w2", "w1", 2), ("w3", "w1", 3), ("x1", "x1", 1), ("w4", "w1", 4),
        ("w5", "w1", 5)]
    assert [u.is_new_event for u in updates] == [True, False, False, True, False, False]

    outbox = Outbox(client, prefix=prefix)
    per_event = await queued(outbox, "bot")
    # The first story alerts; the third and fifth are updates (every two new stories); the
    # copy and the second and fourth stories stay quiet. The unrelated story is its own event.
    event_alerts = [a for a in per_event if a.event_id == "w1"]
    assert [(a.story_id, a.update, a.event_stories) for a in event_alerts] == [
        ("w1", 0, 1), ("w3", 1, 3), ("w5", 2, 5)]
    assert all(a.thread_of == event_alerts[0].alert_id for a in event_alerts[1:])
    assert [a.story_id for a in per_event if a.event_id != "w1"] == ["x1"]
    per_story = await queued(outbox, "storybot")
    assert sorted(a.story_id for a in per_story) == ["w1", "w2", "w3", "w4", "w5", "x1"]

    # A replay of every item (say, after a crash or from an archive) sends nothing new.
    await run_items(steps, ITEMS)
    assert await queued(outbox, "bot") == [] and await queued(outbox, "storybot") == []

    # Delivered: the updates thread under the first Slack message and reply to the first mail.
    async with SlackPeer() as slack, aiohttp.ClientSession() as session:
        with SmtpPeer() as smtp:
            notifiers = {
                "bot": SlackApiNotifier("bot", slack.token, "C1", session,
                                        base_url=slack.api_base_url),
                "mail": EmailNotifier("mail", SmtpServer(
                    host=smtp.host, port=smtp.port, security="none",
                    sender="alerts@wirewatch.example", timeout=5.0), ["ana@example.org"])}
            dispatcher = Dispatcher(outbox, notifiers, dead_letter=_no_dead_letters,
                                    policy=RetryPolicy(deadline=5.0))
            for channel in ("bot", "mail"):
                await outbox.ensure_group(channel)
                # The reader above took them; delivery takes them over as a crashed reader's.
                for pending in await outbox.take(channel, "deliverer", count=100,
                                                 block_ms=100, reclaim_idle_ms=0):
                    assert await dispatcher.deliver(pending) == "sent"
            posted = [json.loads(request.raw) for request in slack.requests]
            mails = [m.message for m in smtp.messages]
    first_ts = "1700000000.000100"
    event_posts = [p for p in posted if "Leike" in json.dumps(p) or "OpenAI" in p["text"]]
    assert "thread_ts" not in event_posts[0]
    assert [p.get("thread_ts") for p in posted].count(first_ts) == 2
    first_mail = next(m for m in mails if not m["In-Reply-To"] and "Update" not in m["Subject"]
                      and "safety" in m["Subject"].lower())
    first_id = str(first_mail["Message-ID"]).strip()
    replies = [m for m in mails if str(m["In-Reply-To"] or "").strip() == first_id]
    assert len(replies) == 2
    assert all(str(m["References"]).strip() == first_id for m in replies)
    assert all(str(m["Subject"]).startswith("[wirewatch] Update: ") for m in replies)


async def _no_dead_letters(alert: Alert, channel: str, reason: str, detail: str) -> None:
    raise AssertionError(f"dead-lettered {alert.alert_id} on {channel}: {reason} {detail}")


def replayer(client: aioredis.Redis, live_prefix: str, scratch: str,
             subscriptions: list[Subscription]) -> tuple[Replayer, Report]:
    """A dry-run replay as `wirewatch replay` wires it: live indexes read, scratch written."""
    report = Report(run_id="test", source="test", window={"from": None, "to": None},
                    mode="dry-run", filters={})
    stories = NearDupEngine(LayeredIndex(RedisStoryIndex(client, prefix=live_prefix),
                                         RedisStoryIndex(client, prefix=scratch)))
    events = EventEngine(LayeredEventIndex(RedisEventIndex(client, prefix=live_prefix),
                                           RedisEventIndex(client, prefix=scratch)))
    tagger = TaggerSource()
    return Replayer(engine=stories, events=events, tagger=tagger.current,
                    subscriptions=subscriptions, sent_store=SentStore(client, prefix=live_prefix),
                    window=Window(0), report=report), report


def records(items: list[RawItem]) -> list[SourceRecord]:
    return [SourceRecord("raw", 0, n, int(one.fetched_at.timestamp() * 1000),
                         one.item_id.encode(), encode(one)) for n, one in enumerate(items)]


async def test_a_replay_yields_the_same_events(client: aioredis.Redis, unique: str) -> None:
    prefix, names = f"{unique}:", TopicNames.with_prefix(f"{unique}.")
    subscription = Subscription.create(name="OpenAI", owner="ana", query="entity:openai",
                                       channels=("bot",), update_after_stories=2)
    await SubscriptionStore(client, prefix=prefix).save(subscription)
    app = await run_items(worker_steps(client, prefix, names), ITEMS)
    live = {decode(value, Article).article_id: decode(value, Article).event_id
            for topic, _, value in app.producer.sent if topic == names.articles}

    # Over what the live stream saw: the same events, and the ledger knows the alerts.
    again, report = replayer(client, prefix, f"{unique}:replay1:", [subscription])
    await again.process(records(ITEMS))
    assert {(m.story_id, m.event_id) for m in report.matches} == {("w1", "w1"), ("x1", "x1")}
    assert all(m.already_sent for m in report.matches)
    assert report.counts["events"] == 2 and report.counts["updates"] == 2

    # A backfill nobody saw live (an empty live index): the same grouping, built afresh.
    fresh, backfill = replayer(client, f"{unique}:empty:", f"{unique}:replay2:",
                               [subscription])
    await fresh.process(records(ITEMS[:4]))
    await fresh.process(records(ITEMS[4:]))
    assert {(m.story_id, m.event_id) for m in backfill.matches} == {("w1", "w1"), ("x1", "x1")}
    assert not any(m.already_sent for m in backfill.matches)
    assert backfill.counts["events"] == 2
    assert set(live.values()) == {"w1", "x1"}
