"""The Faust application: one agent runs the stages in turn, writing every topic on the way.

news.raw.v1 is the only topic the worker consumes. Each batch of raw items goes through
normalise (and dedupe), tag, match and deliver in one pass; every stage's outputs are still
written to its public topic (news.articles.v1, news.tagged.v1, news.alerts.v1) for anyone
downstream, but no Faust hop stands between two stages: a hop costs more CPU than the
stage's own work (BROKERS.md: ~2,500 records/s per consume-and-forward hop), and every hop
added about 50 ms of alert latency.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiokafka
import faust
import redis.asyncio as aioredis
import redis.exceptions
from aiohttp import web as aiohttp_web
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as FaustConsumer
from faust.transport.drivers.aiokafka import Producer as FaustProducer
from wirewatch.alerts.accounts import UserStore
from wirewatch.alerts.breaker import BreakerPolicy
from wirewatch.alerts.channels import SLACK_API_URL, Channels, load_channels
from wirewatch.alerts.dispatch import RetryPolicy
from wirewatch.alerts.logins import LoginLimits, LoginPolicy
from wirewatch.alerts.matching import Decision, Sent, decide, matches, sent_after, unit_of
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.probe import send_test_alert
from wirewatch.alerts.records import Alert, decode_alert, encode_alert
from wirewatch.alerts.state import SentStore
from wirewatch.alerts.store import LiveSubscriptions, SubscriptionStore
from wirewatch.alerts.subscriptions import Subscription
from wirewatch.connectors.feeds_file import FeedSpec
from wirewatch.connectors.publish import PRODUCER_MAX_BATCH_BYTES
from wirewatch.connectors.records import RawItem
from wirewatch.connectors.registry import FeedRegistry
from wirewatch.connectors.state import FeedStateStore
from wirewatch.connectors.unprocessed import UnprocessedItems
from wirewatch.streams import backoff, native
from wirewatch.streams.dedupe.service import StoryAssigner
from wirewatch.streams.dedupe.sketch import SKETCH_MEMO_SIZE, sketch
from wirewatch.streams.dedupe.stories import StoryStore
from wirewatch.streams.delivery import Delivery, deliver_until_cancelled
from wirewatch.streams.dlq import DeadLetter
from wirewatch.streams.events.log import EventLog
from wirewatch.streams.events.outlets import DEFAULT_MAJOR_OUTLETS
from wirewatch.streams.events.profile import language_of
from wirewatch.streams.events.service import EventAssigner, StoryItem
from wirewatch.streams.ops import metrics
from wirewatch.streams.ops.activity import Activity
from wirewatch.streams.ops.auth import WebAuth
from wirewatch.streams.ops.event_pages import EventPagesConfig
from wirewatch.streams.ops.feed_pages import FeedPagesConfig
from wirewatch.streams.ops.monitor import Monitor
from wirewatch.streams.ops.subscription_pages import SubscriptionPagesConfig
from wirewatch.streams.ops.trending import TrendCounter
from wirewatch.streams.ops.web import CannotResend, WebConfig, operations_app
from wirewatch.streams.records import Article, TaggedArticle, decode, encode
from wirewatch.streams.stages import (
    build_article,
    clean_raw,
    event_update,
    now_utc,
    story_view,
    tag_article,
)
from wirewatch.streams.tagging.reload import TaggerSource
from wirewatch.streams.tagging.tagger import MEMO_SIZE
from wirewatch.streams.topics import TopicNames
from wirewatch.streams.writes import Output, OutputWrites

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Batch:
    """A batched stage's outputs, one list per input event. `records`, in the same shape,
    holds the record each output was encoded from (match passes the Decision whose alert
    it is): the next step takes it instead of decoding the bytes."""

    outputs: list[list[Output]]
    records: list[list[Any]] | None = None


FETCH_MAX_WAIT_MS = 20


class QuickFetchConsumerThread(AIOKafkaConsumerThread):
    """Faust's consumer with a shorter fetch wait. Faust hard-codes 1,500 ms; a broker that
    holds a fetch until the wait runs out (the embedded one does) then adds up to 1.5 s to
    every alert. 20 ms took the median alert latency from 90 to 46 ms at 100 items/s
    (bench/alert_latency.py). On Apache Kafka a fetch returns as soon as data arrives, so
    this only costs more empty fetches while idle (50 a second, a few bytes each)."""

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the fetcher starts
        return consumer


class QuickFetchConsumer(FaustConsumer):
    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return QuickFetchConsumerThread(self, loop=self.loop, beacon=self.beacon)


class IdempotentProducer(FaustProducer):
    """Faust's producer with enable_idempotence (Faust only sets it inside transactions)."""

    def _settings_extra(self) -> dict[str, Any]:
        return {"acks": "all", "enable_idempotence": True}


def instance_name() -> str:
    """This process among a cluster's: host and pid."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class PipelineConfig:
    """Plain values the app needs; built once by the CLI from Settings and the endpoints."""

    app_id: str
    kafka_bootstrap: str
    redis_url: str
    idempotent: bool
    topics: TopicNames
    partitions: int
    redis_prefix: str
    dedupe_window_seconds: float
    tagger: TaggerSource
    subscriptions: list[Subscription]  # written to the shared store at start-up
    web_host: str
    web_port: int
    datadir: str
    channels: Channels = field(default_factory=lambda: load_channels(None))
    dashboard_url: str | None = None
    slack_api_url: str = SLACK_API_URL
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    ledger_days: float = 30.0
    subscriptions_refresh_seconds: float = 5.0
    on_delivered: Callable[[Alert], None] | None = None
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    feeds: Callable[[], list[FeedSpec]] = list  # the feeds this process polls (dashboard)
    watchlist_file: Path | None = None  # the dashboard's "watch this" writes here; None: off
    web_auth: WebAuth = WebAuth()  # who may log in to the web pages (no secret: nobody)
    login_policy: LoginPolicy = LoginPolicy()  # back-off of wrong passwords and tokens
    max_lag: int = 10_000
    monitor_seconds: float = 10.0
    instance: str = field(default_factory=instance_name)  # this worker, in shared counters
    track_unprocessed: bool = False  # an embedded broker: see wirewatch.connectors.unprocessed
    request_timeout_seconds: float = 30.0  # the producer's; see wirewatch.streams.writes
    deliver: bool = True  # False: `wirewatch deliver` processes send what this one queues
    event_window_seconds: float = 72 * 3600  # settings: event_window_hours
    major_outlets: tuple[str, ...] = DEFAULT_MAJOR_OUTLETS


def subscription_pages(store: SubscriptionStore, channels: Channels, tagger: TaggerSource, *,
                       dashboard_url: str | None, slack_api_url: str,
                       activity: Activity | None = None,
                       events: EventLog | None = None) -> SubscriptionPagesConfig:
    """The subscription pages wired to the store, the channels and the current rules; the
    activity gives each subscription's alert history, the event log the preview."""

    def tag_for_trial(title: str, body: str) -> tuple[list[str], dict[str, float]]:
        tags = tagger.current().tag(title, body)
        return list(tags.topics), {entity.id: entity.salience for entity in tags.entities}

    async def test_send(subscription: Subscription, title: str) -> dict[str, str]:
        return await send_test_alert(subscription, title, channels,
                                     dashboard_url=dashboard_url, slack_api_url=slack_api_url)

    return SubscriptionPagesConfig(store=store, channel_ids=channels.ids, test_send=test_send,
                                   tag=tag_for_trial, vocabulary=tagger.vocabulary,
                                   activity=activity, events=events)


def broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


def kafka_app(app_id: str, bootstrap: str, *, idempotent: bool, partitions: int,
              datadir: str, request_timeout_seconds: float = 30.0) -> faust.App:
    """A Faust app with the worker's Kafka settings and no agents yet. The worker builds on
    it, and so does bench/passthrough.py, the ceiling it is measured against."""
    app = faust.App(
        app_id,
        broker=broker_urls(bootstrap),
        store="memory://",
        processing_guarantee="at_least_once",
        broker_session_timeout=10,
        broker_heartbeat_interval=2,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        # Faust's default 2.8 s meant ~1,700 records processed again after a kill -9 at
        # 600/s (tests/reliability/test_worker_crash.py); one commit a second costs nothing.
        broker_commit_interval=1.0,
        # Faust's 20 minutes left a worker waiting that long on a connection the broker had
        # stopped reading (the embedded broker did, 17 minutes into a soak): past this the
        # request fails, the connection is renewed and wirewatch.streams.writes sends the records
        # again.
        producer_request_timeout=request_timeout_seconds,
        topic_partitions=partitions,
        # Faust's 16 KiB batches held four 4 KB articles, and a send that found one full
        # waited for the broker: 30 % of the batch loop was in producer.send
        # (bench/pipeline.py). 512 KiB holds a batch's records for a partition.
        producer_max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        web_enabled=False,  # wirewatch.streams.ops serves /metrics, probes and the dashboard
        datadir=datadir,
        autodiscover=False,
    )
    if idempotent:
        # Faust swaps a transport's client classes per instance; its types say per class.
        app.transport.Producer = IdempotentProducer  # type: ignore[misc]
    app.transport.Consumer = QuickFetchConsumer  # type: ignore[misc]
    return app


def pipeline_steps(names: TopicNames, taggers: TaggerSource, *, assigner: StoryAssigner,
                   stories: StoryStore, activity: Activity, live: LiveSubscriptions,
                   sent_store: SentStore, outbox: Outbox, events: EventAssigner,
                   majors: Sequence[str] = DEFAULT_MAJOR_OUTLETS,
                   event_log: EventLog | None = None,
                   trends: TrendCounter | None = None) -> list[Step]:
    """The worker's four steps: normalise (dedupe and events), tag, match, deliver (queue)."""

    async def normalise(items: list[RawItem]) -> Batch:
        """A batch of raw items in a few Redis round trips (dedupe, story copies, events)."""
        cleaned = [clean_raw(item) for item in items]
        assigned = await assigner.assign_many([
            (item.item_id, item.source, item.url, title, text)
            for item, (title, text) in zip(items, cleaned, strict=True)])
        outlets = await stories.record_copies([
            (story.story_id, item.item_id, item.source, item.url, item.fetched_at.timestamp(),
             len(text)) for item, (_, text), story in zip(items, cleaned, assigned,
                                                          strict=True)])
        started = time.perf_counter()
        # Every article's language, copies too (`lang:` in queries); events reuse it.
        langs = [language_of(title, text) for title, text in cleaned]
        placed = await events.place_many([
            StoryItem(story.story_id, not story.is_duplicate, title, text,
                      (item.published or item.fetched_at).timestamp(), lang)
            for item, (title, text), story, lang
            in zip(items, cleaned, assigned, langs, strict=True)])
        metrics.EVENTS_BATCH.observe(time.perf_counter() - started)
        articles = [build_article(item, title, text, story, count, place.event.event_id,
                                  place.stories, lang)
                    for item, (title, text), story, count, place, lang
                    in zip(items, cleaned, assigned, outlets, placed, langs, strict=True)]
        updates = [[(names.events, a.event_id.encode(), encode(event_update(a, place)))]
                   if not a.is_duplicate else []
                   for a, place in zip(articles, placed, strict=True)]
        metrics.EVENTS.labels("new").inc(sum(1 for a, p in zip(articles, placed, strict=True)
                                             if not a.is_duplicate and p.event.is_new))
        metrics.EVENTS.labels("joined").inc(sum(1 for a, p in zip(articles, placed, strict=True)
                                                if not a.is_duplicate and not p.event.is_new))
        duplicates = sum(article.is_duplicate for article in articles)
        metrics.ARTICLES.labels("duplicate").inc(duplicates)
        metrics.ARTICLES.labels("new_story").inc(len(articles) - duplicates)
        await activity.record_articles(articles)
        if event_log is not None:
            await event_log.record_articles(articles)
        # The event update goes first: records of the next step are the articles, by position.
        return Batch([[*update, (names.articles, a.story_id.encode(), encode(a))]
                      for a, update in zip(articles, updates, strict=True)],
                     records=[[*([None] * len(update)), a]
                              for a, update in zip(articles, updates, strict=True)])

    async def tag(articles: list[Article]) -> Batch:
        tagger = taggers.current()
        results = [tag_article(article, tagger) for article in articles]
        if event_log is not None:
            await event_log.record_tags(results)
        if trends is not None:  # names nobody watches yet, for the dashboard's trending
            await trends.record([r.discovered for r in results],
                                story_ids=[r.article.story_id for r in results])
        return Batch([[(names.tagged, r.article.story_id.encode(), encode(r))]
                      for r in results], records=[[r] for r in results])

    async def match(tagged: list[TaggedArticle]) -> Batch:
        views = [story_view(one, majors) for one in tagged]
        _, silences = await live.current()
        candidates = [[(s, held) for s in live.index.candidates(view)
                       if (held := matches(view, s, silences)) is not None] for view in views]
        sent = await sent_store.load_units([[(s.id, unit_of(view, s)) for s, _ in found]
                                            for view, found in zip(views, candidates,
                                                                   strict=True)])
        now = now_utc()
        decided: dict[tuple[str, str], Sent] = {}  # earlier copies in this same batch
        per_event: list[list[Decision]] = []
        for view, found, told in zip(views, candidates, sent, strict=True):
            here = []
            for s, held in found:
                unit = unit_of(view, s)
                before = decided.get((s.id, unit), told.get(s.id))
                decision = decide(view, s, held, before, now=now)
                if decision is not None:
                    decided[(s.id, unit)] = decision.sent
                    here.append(decision)
            per_event.append(here)
        # Not remembered here but by the deliver step once it has queued the alerts: a crash
        # in between then decides the same alerts again (same ids: the ledger drops
        # repeats). Remembered here, a crash in between lost them: the run again found the
        # story already told (tests/unit/streams/test_alert_steps.py).
        return Batch([[(names.alerts, d.alert.subscription_id.encode(), encode_alert(d.alert))
                       for d in found] for found in per_event],
                     records=[found for found in per_event])

    async def notify(taken: list[Decision | Alert]) -> Batch:
        # Match's decisions; alerts alone where nobody passed them on (a dead letter resent),
        # remembered as what the alert itself says was told.
        decisions = [one if isinstance(one, Decision) else Decision(one, sent_after(one))
                     for one in taken]
        # Queued in Redis before the offsets are committed; each channel's worker delivers
        # from there, so one slow or rate-limited channel never holds up the stream.
        await outbox.enqueue_many([decision.alert for decision in decisions])
        # Later copies of these stories stay quiet (the next batch's match loads this).
        await sent_store.record(decisions)
        return Batch([[] for _ in decisions])

    return [Step("normalise", names.raw, normalise, RawItem),
            Step("tag", names.articles, tag, Article),
            Step("match", names.tagged, match, TaggedArticle),
            Step("deliver", names.alerts, notify, Alert)]


def create_app(config: PipelineConfig) -> faust.App:
    """Build the Faust app with the normalise, tag, match and deliver agents."""
    native.warn_if_missing(log)
    app = kafka_app(config.app_id, config.kafka_bootstrap, idempotent=config.idempotent,
                    partitions=config.partitions, datadir=config.datadir,
                    request_timeout_seconds=config.request_timeout_seconds)
    setup_prometheus_sensors(app)

    redis_client = aioredis.Redis.from_url(config.redis_url)
    assigner = StoryAssigner(redis_client, prefix=config.redis_prefix,
                             window_seconds=config.dedupe_window_seconds)
    stories = StoryStore(redis_client, prefix=config.redis_prefix,
                         window_seconds=config.dedupe_window_seconds)
    events = EventAssigner(redis_client, prefix=config.redis_prefix,
                           window_seconds=config.event_window_seconds)
    event_log = EventLog(redis_client, prefix=config.redis_prefix,
                         window_seconds=config.event_window_seconds)
    trends = TrendCounter(redis_client, prefix=config.redis_prefix)
    # Bounded caches fill for a while after start: their fill levels say whether memory
    # that grows is a cache still filling (bench/soak.py) or something that never stops.
    boilerplate = assigner.engine.boilerplate
    metrics.watch_cache("boilerplate_lines", lambda: boilerplate.lines, boilerplate.max_lines)
    metrics.watch_cache("sketches", lambda: sketch.cache_info().currsize, SKETCH_MEMO_SIZE)
    metrics.watch_cache("tags", lambda: config.tagger.current().memo_entries, MEMO_SIZE)
    outbox = Outbox(redis_client, prefix=config.redis_prefix, ledger_days=config.ledger_days)
    store = SubscriptionStore(redis_client, prefix=config.redis_prefix)
    live = LiveSubscriptions(store,
                             refresh_seconds=config.subscriptions_refresh_seconds)
    sent_store = SentStore(redis_client, prefix=config.redis_prefix,
                           ttl_days=config.ledger_days)
    names = config.topics
    activity = Activity(redis_client, prefix=config.redis_prefix)

    def topic(name: str) -> faust.TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw", internal=False)

    raw, dlq = topic(names.raw), topic(names.dlq)
    for name in (names.articles, names.tagged, names.alerts, names.events):
        topic(name)  # declared, so Faust knows every topic it writes

    steps = pipeline_steps(names, config.tagger, assigner=assigner, stories=stories,
                           activity=activity, live=live, sent_store=sent_store, outbox=outbox,
                           events=events, majors=config.major_outlets,
                           event_log=event_log, trends=trends)
    metrics.initialise(step.stage for step in steps)
    unprocessed = UnprocessedItems(redis_client, prefix=config.redis_prefix)

    async def processed(keys: list[bytes]) -> None:
        if config.track_unprocessed:
            await _until_infrastructure_recovers("normalise", lambda: unprocessed.forget(keys))

    _register_pipeline(app, raw, steps, dlq, processed)

    monitor = Monitor.of_pipeline(bootstrap=config.kafka_bootstrap, group=config.app_id,
                                  topics=names, redis_client=redis_client,
                                  redis_prefix=config.redis_prefix, feeds=config.feeds,
                                  interval=config.monitor_seconds, instance=config.instance)

    async def resend(stage: str, key: bytes | None, value: bytes,
                     headers: dict[str, str]) -> None:
        if stage == "deliver":
            await requeue(value, headers.get("channel", ""))
            return
        index = [step.stage for step in steps].index(stage)
        origin = _origin(headers)  # failing again, it still points at the first record
        await run_batch(app, steps[index:], [(key, value)], dlq,
                        origins=[origin] if origin else None)

    async def requeue(value: bytes, channel: str) -> None:
        """A delivery dead letter goes back to the one channel that failed, not to all of
        the alert's channels: the others may have had it already."""
        if channel not in config.channels.ids:
            raise CannotResend(f"channel {channel!r} is not configured on this worker")
        try:
            alert = decode_alert(value)
        except ValueError as exc:  # msgspec's decode and validation errors
            raise CannotResend(f"not an alert: {exc}") from exc
        if not await outbox.requeue(alert, channel):
            raise CannotResend(f"alert {alert.alert_id} was sent to {channel} already")
        log.info("dead letter queued again", extra={"alert_id": alert.alert_id,
                                                    "channel": channel})

    def assignment() -> list[str]:
        try:
            assigned = app.consumer.assignment()
        except Exception:  # noqa: BLE001 - no consumer yet
            return []
        return sorted(f"{tp.topic}:{tp.partition}" for tp in assigned)

    joined = asyncio.Event()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # signal= comes in kwargs
    async def on_assigned(sender: faust.App, assigned: set[Any], **kwargs: Any) -> None:
        joined.set()

    def not_ready() -> list[str]:
        # Ready once the group gave this worker its share, even an empty one: a worker
        # beyond the partition count is a hot spare, and a rollout must be able to wait
        # for it.
        return [] if joined.is_set() else ["not yet assigned partitions by the group"]

    async def serve_operations() -> None:
        web_app = operations_app(WebConfig(
            monitor=monitor, activity=activity, bootstrap=config.kafka_bootstrap,
            dlq_topic=names.dlq, max_lag=config.max_lag, auth=config.web_auth,
            users=UserStore(redis_client, prefix=config.redis_prefix),
            limits=LoginLimits(redis_client, prefix=config.redis_prefix,
                               policy=config.login_policy),
            resend=resend, resend_stages=frozenset({"normalise", "tag", "match", "deliver"}),
            ready=not_ready, assignment=assignment,
            pages=EventPagesConfig(event_log, stories, activity), trends=trends,
            watchlist_file=config.watchlist_file,
            feeds=FeedPagesConfig(FeedRegistry(redis_client, config.redis_prefix),
                                  FeedStateStore(redis_client, config.redis_prefix),
                                  config.feeds),
            subscriptions=subscription_pages(
                store, config.channels, config.tagger, dashboard_url=config.dashboard_url,
                slack_api_url=config.slack_api_url, activity=activity, events=event_log)))
        runner = aiohttp_web.AppRunner(web_app, access_log=None)
        await runner.setup()
        try:
            await aiohttp_web.TCPSite(runner, config.web_host, config.web_port).start()
            await monitor.run()
        finally:
            await runner.cleanup()

    app.task(serve_operations)

    if config.deliver:
        async def send_dead_letter(key: bytes, value: bytes,
                                   headers: list[tuple[str, bytes]]) -> None:
            await dlq.send(key=key, value=value, headers=headers)

        delivery = Delivery(
            outbox=outbox, activity=activity, channels=config.channels,
            schedule_of=live.schedule_of, send_dead_letter=send_dead_letter,
            alerts_topic=names.alerts, retry=config.retry, dashboard_url=config.dashboard_url,
            slack_api_url=config.slack_api_url, on_delivered=config.on_delivered,
            breaker=config.breaker, instance=config.instance)
        app.task(lambda: deliver_until_cancelled(delivery))
    for job in config.background:
        app.task(job)
    return app


# Failures of the infrastructure, not of the record: the stage waits and retries the same
# record (its partition pauses, nothing is skipped) instead of dead-lettering it.
TRANSIENT = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
             redis.exceptions.BusyLoadingError)


async def _until_infrastructure_recovers(stage: str, call: Callable[[], Awaitable[T]]) -> T:
    for delay in backoff.delays():
        try:
            return await call()
        except TRANSIENT as exc:
            log.warning("stage waiting for Redis", extra={"stage": stage, "error": str(exc)})
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: backoff.delays() never ends")


BATCH = 256  # events per batch
BATCH_WAIT = 0.02  # seconds a batch may wait to fill: latency bought for throughput
Handler = Callable[[list[Any]], Awaitable[Batch]]
Keyed = tuple[bytes | None, bytes]  # a record's key and value
Origin = tuple[str, int, int]  # topic, partition and offset a record was consumed from


def _origin(headers: dict[str, str]) -> Origin | None:
    """Where a dead letter's record was consumed from, as its headers say."""
    try:
        return (headers["source_topic"], int(headers["source_partition"]),
                int(headers["source_offset"]))
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class Step:
    """A stage: its name, the topic its inputs are written to, its batch handler, and the
    record type the handler takes (None: the values' bytes as they are)."""

    stage: str
    source: str
    handler: Handler
    reads: type[Any] | None = None

    def inputs(self, values: list[bytes], records: list[Any] | None) -> list[Any]:
        """What the handler takes: the previous step's records where it passed them on,
        else the values decoded (a value that does not decode fails the handler's batch).
        Records passed on skip decoding's validation: they are what the step before built
        from validated inputs and just encoded (tests/unit/streams/test_records.py checks
        that the stages' records equal their own round trip)."""
        if self.reads is None:
            return values
        if records is not None:
            return records
        return [decode(value, self.reads) for value in values]


def _register_pipeline(app: faust.App, source: faust.TopicT, steps: list[Step],
                       dlq: faust.TopicT,
                       processed: Callable[[list[bytes]], Awaitable[None]]) -> None:
    """One agent over `source` that runs the steps in turn on each batch of events, then
    tells `processed` the keys of the batch."""

    async def pipeline(stream: faust.StreamT[bytes]) -> None:
        # take_events is faust-streaming's (Stream), missing from its StreamT interface.
        async for events in stream.take_events(BATCH, within=BATCH_WAIT):  # type: ignore[attr-defined]
            await run_batch(app, steps, [(event.key, event.value) for event in events], dlq,
                            origins=[(event.message.topic, event.message.partition,
                                      event.message.offset) for event in events])
            await processed([event.key for event in events if event.key is not None])

    app.agent(source, name="pipeline")(pipeline)


async def run_batch(app: faust.App, steps: list[Step], records: list[Keyed],
                    dlq: faust.TopicT, *, origins: list[Origin] | None = None) -> None:
    """Run the steps on a batch of records and return once the broker has every output
    (wirewatch.streams.writes): only then may the batch's offsets be committed."""
    writes = OutputWrites(app.producer)
    await _run_steps(app, steps, records, dlq, writes, origins=origins)
    await writes.confirm()


async def _run_steps(app: faust.App, steps: list[Step], records: list[Keyed],
                     dlq: faust.TopicT, writes: OutputWrites, *,
                     origins: list[Origin] | None = None,
                     decoded: list[Any] | None = None) -> None:
    """Run `steps[0]` on the records, write its outputs, and pass those bound for the next
    step's topic on to it, with the records they were encoded from (`decoded`). A batch
    that fails is retried one record at a time from the step that failed (earlier steps
    are not repeated), so only the bad record is dead-lettered, with the stage that
    refused it."""
    step = steps[0]
    started = time.perf_counter()
    try:
        batch = await _until_infrastructure_recovers(step.stage, lambda: step.handler(
            step.inputs([value for _, value in records], decoded)))
        _check_shape(step.stage, batch, len(records))
    except Exception as exc:  # noqa: BLE001 - the stage boundary: find the bad record
        if len(records) > 1:
            for index, record in enumerate(records):
                await _run_steps(app, steps, [record], dlq, writes,
                                 origins=[origins[index]] if origins else None,
                                 decoded=[decoded[index]] if decoded else None)
            return
        key, value = records[0]
        topic, partition, offset = origins[0] if origins else (step.source, -1, -1)
        letter = DeadLetter(step.stage, f"{type(exc).__name__}: {exc}", topic, partition,
                            offset, key, value)
        log.warning("dead-lettered", extra={"stage": step.stage, "topic": topic,
                                            "partition": partition, "offset": offset,
                                            "error": letter.error})
        await dlq.send(key=key, value=value, headers=letter.headers())
        metrics.DEAD_LETTERS.labels(step.stage).inc()
        return
    metrics.STAGE_SECONDS.labels(step.stage).observe(time.perf_counter() - started)
    metrics.STAGE_BATCH.labels(step.stage).observe(len(records))
    metrics.STAGE_ITEMS.labels(step.stage, "in").inc(len(records))
    metrics.STAGE_ITEMS.labels(step.stage, "out").inc(sum(map(len, batch.outputs)))
    await _send_outputs(writes, batch)
    if len(steps) > 1:
        following = [(index, position) for index, outputs in enumerate(batch.outputs)
                     for position, (topic, _, _) in enumerate(outputs)
                     if topic == steps[1].source]
        if following:
            await _run_steps(
                app, steps[1:], [batch.outputs[i][p][1:] for i, p in following], dlq, writes,
                decoded=None if batch.records is None
                else [batch.records[i][p] for i, p in following])


def _check_shape(stage: str, batch: Batch, events: int) -> None:
    """A handler's batch has one output list per input event, and its records (if any)
    match its outputs one for one: the next step is handed them by position."""
    if len(batch.outputs) != events or (batch.records is not None and [
            len(r) for r in batch.records] != [len(o) for o in batch.outputs]):
        raise ValueError(f"stage {stage} returned {len(batch.outputs)} output lists for "
                         f"{events} events, or records shaped unlike its outputs")


async def _send_outputs(writes: OutputWrites, batch: Batch) -> None:
    """Hand the outputs to the producer.

    app.producer.send queues the record in aiokafka's accumulator without Faust's
    per-message callbacks; run_batch waits for the broker's acknowledgements once, for the
    whole batch, so the stages never wait for the broker between them.
    """
    for outputs in batch.outputs:
        for output in outputs:
            await writes.send(output)
