"""Wire settings, embedded services, topics, connector and Faust worker into one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import faust
import redis.asyncio as aioredis
from aiohttp import web
from wirewatch.alerts.accounts import UserStore
from wirewatch.alerts.api import subscriptions_api
from wirewatch.alerts.channels import load_channels
from wirewatch.alerts.dispatch import RetryPolicy
from wirewatch.alerts.errors import SubscriptionError
from wirewatch.alerts.logins import LoginLimits
from wirewatch.alerts.records import Alert
from wirewatch.alerts.store import SubscriptionStore
from wirewatch.alerts.subscriptions import (
    Subscription,
    check_channels,
    check_terms,
    load_subscriptions,
)
from wirewatch.alerts.vocabulary import Vocabulary
from wirewatch.connectors import metrics as connector_metrics
from wirewatch.connectors.feeds_file import FeedSpec, load_feeds
from wirewatch.connectors.fetch import FetchLimits, new_session
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.pages import PageFetcher
from wirewatch.connectors.parse_pool import ParserPool
from wirewatch.connectors.poller import FeedPoller, poll_with_refresh
from wirewatch.connectors.publish import RawItemPublisher, new_producer
from wirewatch.connectors.registry import FeedRegistry
from wirewatch.connectors.schedule import ScheduleBounds
from wirewatch.connectors.state import FeedStateStore
from wirewatch.connectors.unprocessed import UnprocessedItems, republish
from wirewatch.connectors.websub import WebSubStore, WebSubSubscriber
from wirewatch.streams.app import PipelineConfig, create_app
from wirewatch.streams.embedded import Endpoints, RoleError, embedded_services
from wirewatch.streams.settings import Settings
from wirewatch.streams.topics import TopicNames, ensure_topics

log = logging.getLogger(__name__)


Drive = Callable[[FeedPoller], Awaitable[None]]


async def poll_forever(poller: FeedPoller) -> None:
    await poller.run_forever()


def connector_job(settings: Settings, endpoints: Endpoints, feeds: list[FeedSpec],
                  topics: TopicNames, idempotent: bool, *,
                  drive: Drive = poll_forever,
                  track_unprocessed: bool = False) -> Callable[[], Awaitable[None]]:
    """A background job that polls `feeds` and publishes to the raw topic until cancelled.
    `drive` runs the poller (`wirewatch connect` holds a shard lease around it);
    `track_unprocessed` keeps items in Redis until processed (an embedded broker)."""

    async def run_connector() -> None:
        connector_metrics.initialise()  # feed error counters at zero: increase() sees the first
        redis_client = aioredis.Redis.from_url(endpoints.redis_url)
        producer = new_producer(endpoints.kafka_bootstrap, idempotent=idempotent,
                                client_id=f"{settings.app_id}-connector")
        policy = AddressPolicy(settings.fetch_allow_networks)
        session = new_session(policy)
        parser = ParserPool(workers=settings.parse_workers, timeout=settings.parse_timeout_seconds,
                            memory_mb=settings.parse_memory_mb)
        limits = FetchLimits(deadline_seconds=settings.fetch_deadline_seconds,
                             max_body_bytes=settings.fetch_max_body_bytes)
        # Article pages share the feeds' session: the same guard and per-host connections.
        pages = PageFetcher(session, policy=policy, limits=limits, extract=parser.extract,
                            min_words=settings.full_text_min_words,
                            rate=settings.full_text_host_rate,
                            queue_size=settings.full_text_queue_size,
                            concurrency=settings.full_text_concurrency)
        await producer.start()
        try:
            poller = FeedPoller(
                feeds, session=session, publisher=RawItemPublisher(
                    producer, topics.raw, unprocessed=UnprocessedItems(
                        redis_client, prefix=settings.redis_prefix)
                    if track_unprocessed else None),
                store=FeedStateStore(redis_client, settings.redis_prefix), policy=policy,
                bounds=ScheduleBounds(min_seconds=settings.poll_min_seconds,
                                      max_seconds=settings.poll_max_seconds,
                                      default_seconds=settings.poll_default_seconds),
                limits=limits, parse=parser.parse, pages=pages,
            )
            callback = await start_websub(settings, poller, session, redis_client, policy)
            try:
                await drive(poller)
            finally:
                if callback is not None:
                    await callback.cleanup()
        finally:
            parser.close()
            await session.close()
            await producer.stop()
            await redis_client.aclose()

    return run_connector


async def start_websub(settings: Settings, poller: FeedPoller, session: aiohttp.ClientSession,
                       redis_client: aioredis.Redis, policy: AddressPolicy,
                       ) -> web.AppRunner | None:
    """Serve the WebSub callback and let the poller subscribe, when a public URL is set."""
    if not settings.websub_public_url:
        return None
    subscriber = WebSubSubscriber(
        session, WebSubStore(redis_client, settings.redis_prefix), settings.websub_public_url,
        poller.ingest, policy=policy, lease_seconds=settings.websub_lease_seconds)
    runner = web.AppRunner(subscriber.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.websub_host, settings.websub_port).start()
    poller.websub = subscriber
    return runner


async def registered_feeds(redis_url: str, prefix: str,
                           given: list[FeedSpec]) -> tuple[list[FeedSpec], list[FeedSpec]]:
    """Every known feed (for the dashboard) and those of them to poll (not disabled)."""
    client = aioredis.Redis.from_url(redis_url)
    registry = FeedRegistry(client, prefix)
    try:
        return await registry.merged(given), await registry.polled(given)
    finally:
        await client.aclose()


def refreshing(redis_url: str, prefix: str, given: list[FeedSpec], refresh_seconds: float,
               *, shown: list[FeedSpec]) -> Drive:
    """Poll the given feeds (file, demo) plus the registry's, re-read every `refresh_seconds`
    so that `wirewatch feeds add/remove` and the dashboard's disable/enable apply live;
    `shown` (what the dashboard lists) is every known feed, the disabled ones too."""

    async def drive(poller: FeedPoller) -> None:
        client = aioredis.Redis.from_url(redis_url)
        registry = FeedRegistry(client, prefix)

        async def current() -> list[FeedSpec]:
            shown[:] = await registry.merged(given)
            off = await registry.disabled()
            return [spec for spec in shown if spec.feed_id not in off]

        try:
            await poll_with_refresh(poller, current, refresh_seconds)
        finally:
            await client.aclose()

    return drive


async def republish_unprocessed(endpoints: Endpoints, prefix: str, raw_topic: str) -> int:
    """Publish again the items a previous embedded broker took with it unprocessed."""
    client = aioredis.Redis.from_url(endpoints.redis_url)
    producer = new_producer(endpoints.kafka_bootstrap, idempotent=False,
                            client_id="wirewatch-republish")
    try:
        unprocessed = UnprocessedItems(client, prefix=prefix)
        if not await unprocessed.count():
            return 0
        await producer.start()
        count = await republish(unprocessed, RawItemPublisher(producer, raw_topic,
                                                              unprocessed=unprocessed))
        log.warning("published %d items again that the embedded broker lost before they "
                    "were processed", count)
        return count
    finally:
        await producer.stop()
        await client.aclose()


def stop_after(count: int) -> Callable[[Alert], None]:
    """An on_delivered hook that shuts the worker down once `count` alerts were delivered."""
    delivered = 0

    def on_delivered(alert: Alert) -> None:
        nonlocal delivered
        delivered += 1
        if delivered == count:
            # The worker's own SIGTERM path stops every agent and commits cleanly.
            os.kill(os.getpid(), signal.SIGTERM)

    return on_delivered


async def store_subscriptions(redis_url: str, prefix: str, subscriptions: list[Subscription],
                              known_channels: frozenset[str], vocabulary: Vocabulary) -> None:
    """Write the file's (or demo's) subscriptions to the shared store (the file wins), then
    warn about stored subscriptions naming channels this process does not define, or topics
    and entities the rules no longer have (saved before a taxonomy or watchlist edit)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        store = SubscriptionStore(client, prefix=prefix)
        for subscription in subscriptions:
            await store.save(subscription)
        for subscription in await store.list():
            unknown = sorted(set(subscription.channels) - known_channels)
            if unknown:
                log.warning("subscription %r names undefined channel(s) %s: its alerts to "
                            "them will be dead-lettered", subscription.id, unknown)
            try:
                check_terms([subscription], vocabulary)
            except SubscriptionError as exc:
                log.warning("%s", exc)
    finally:
        await client.aclose()


def api_job(settings: Settings, redis_url: str,
            known_channels: frozenset[str]) -> Callable[[], Awaitable[None]]:
    """Serve the subscriptions API until the worker stops."""
    token = settings.api_token.get_secret_value() if settings.api_token else ""

    async def serve() -> None:
        client = aioredis.Redis.from_url(redis_url)
        store = SubscriptionStore(client, prefix=settings.redis_prefix)
        runner = web.AppRunner(subscriptions_api(
            store, token, known_channels, settings.tagger_source().vocabulary,
            users=UserStore(client, prefix=settings.redis_prefix),
            limits=LoginLimits(client, prefix=settings.redis_prefix,
                               policy=settings.login_policy())))
        await runner.setup()
        try:
            await web.TCPSite(runner, settings.web_host, settings.api_port).start()
            log.warning("subscriptions API on http://%s:%d/api/v1/", settings.web_host,
                        settings.api_port)
            await asyncio.Event().wait()  # until the worker cancels its tasks
        finally:
            await runner.cleanup()
            await client.aclose()

    return serve


def external_endpoints(settings: Settings, role: str) -> Endpoints:
    """Kafka and Redis of a cluster role: both must be configured. An embedded broker and
    Redis belong to one process, so a second process could not share them."""
    missing = [name for name, value in (("WIREWATCH_KAFKA_BOOTSTRAP", settings.kafka_bootstrap),
                                        ("WIREWATCH_REDIS_URL", settings.redis_url))
               if not value]
    if missing or settings.kafka_bootstrap is None or settings.redis_url is None:
        raise RoleError(f"wirewatch {role} needs {' and '.join(missing)}: the roles share "
                        "one Kafka and one Redis. On one machine, `wirewatch run` starts "
                        "everything in one process with embedded ones.")
    return Endpoints(settings.kafka_bootstrap, settings.redis_url.get_secret_value(),
                     embedded_kafka=False, embedded_redis=False)


def run_pipeline(settings: Settings, *, feeds: list[FeedSpec] | None = None,
                 subscriptions: list[Subscription] | None = None,
                 on_delivered: Callable[[Alert], None] | None = None,
                 announce: Callable[[Endpoints, Settings], None] | None = None,
                 worker_only: bool = False) -> int:
    """Run connectors and the stream worker until stopped; returns the exit code.
    `worker_only` is `wirewatch worker`: no connectors, no subscriptions API, and the
    cluster's Kafka and Redis (never embedded ones)."""
    feeds = feeds if feeds is not None else (
        load_feeds(settings.feeds_file) if settings.feeds_file else [])
    subscriptions = subscriptions if subscriptions is not None else (
        load_subscriptions(settings.subscriptions_file) if settings.subscriptions_file else [])
    tagger = settings.tagger_source()
    channels = load_channels(settings.channels_file)
    check_channels(subscriptions, channels.ids)
    check_terms(subscriptions, tagger.vocabulary())
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    services = (contextlib.nullcontext(external_endpoints(settings, "worker")) if worker_only
                else embedded_services(settings.kafka_bootstrap, redis_url, settings.data_dir))
    with services as endpoints:
        given = list(feeds)  # the file's (or the demo's); the registry's are read live
        shown, polled = asyncio.run(registered_feeds(endpoints.redis_url,
                                                     settings.redis_prefix, given))
        asyncio.run(store_subscriptions(endpoints.redis_url, settings.redis_prefix,
                                        subscriptions, channels.ids, tagger.vocabulary()))
        idempotent = (settings.kafka_idempotence if settings.kafka_idempotence is not None
                      else not endpoints.embedded_kafka)
        topics = TopicNames.with_prefix(settings.topic_prefix)
        asyncio.run(ensure_topics(endpoints.kafka_bootstrap, topics,
                                  partitions=settings.topic_partitions,
                                  replication=settings.topic_replication))
        if endpoints.embedded_kafka:  # a fresh broker: what it lost is published again
            asyncio.run(republish_unprocessed(endpoints, settings.redis_prefix, topics.raw))
        config = PipelineConfig(
            app_id=settings.app_id, kafka_bootstrap=endpoints.kafka_bootstrap,
            redis_url=endpoints.redis_url, idempotent=idempotent, topics=topics,
            partitions=settings.topic_partitions, redis_prefix=settings.redis_prefix,
            dedupe_window_seconds=settings.dedupe_window_days * 86400, tagger=tagger,
            watchlist_file=settings.user_watchlist,
            subscriptions=subscriptions, web_host=settings.web_host, web_port=settings.web_port,
            datadir=str(settings.data_dir / "faust"), on_delivered=on_delivered,
            channels=channels, slack_api_url=settings.slack_api_url,
            dashboard_url=settings.public_web_url(),
            retry=RetryPolicy(deadline=settings.alert_retry_deadline_seconds),
            breaker=settings.breaker_policy(),
            ledger_days=settings.ledger_days,
            subscriptions_refresh_seconds=settings.subscriptions_refresh_seconds,
            feeds=lambda: list(shown),
            web_auth=settings.web_auth_config(), login_policy=settings.login_policy(),
            max_lag=settings.status_max_lag, monitor_seconds=settings.monitor_seconds,
            track_unprocessed=endpoints.embedded_kafka,
            deliver=settings.worker_delivers or not worker_only,
            request_timeout_seconds=settings.kafka_request_timeout_seconds,
            event_window_seconds=settings.event_window_hours * 3600,
            major_outlets=tuple(settings.major_outlets),
        )
        if settings.api_token and settings.api_token.get_secret_value() and not worker_only:
            config.background.append(api_job(settings, endpoints.redis_url, channels.ids))
        if not worker_only:  # even with no feeds yet: `feeds add` may bring some
            config.background.append(connector_job(
                settings, endpoints, list(polled), topics, idempotent,
                drive=refreshing(endpoints.redis_url, settings.redis_prefix, given,
                                 settings.feeds_refresh_seconds, shown=shown),
                track_unprocessed=endpoints.embedded_kafka))
        app = create_app(config)
        if announce:
            announce(endpoints, settings)
        return _execute(app, settings.log_level)


# How long a SIGTERM'd worker may take to stop (drain its batch, flush the producer, commit,
# leave the group: a few seconds) before it gives up waiting and exits anyway. Below
# Kubernetes' default 30 s grace period, so the worker still logs why before a SIGKILL.
STOP_DEADLINE_SECONDS = 20.0
ASYNCIO_DIR = os.path.dirname(asyncio.__file__)


class BoundedStopWorker(faust.Worker):
    """Faust's worker with a deadline on the stop a signal starts.

    mode's Service.stop cancels each app task once and then waits for it with no timeout,
    so one task that swallows its cancellation kept a SIGTERM'd worker alive until it was
    killed (tests/reliability/test_rebalance.py). Past the deadline this logs what is still
    running and returns; the worker's shutdown then cancels every task, closes the loop
    and exits 0.
    """

    async def _stop_on_signal(self, signum: signal.Signals) -> None:
        stopping = asyncio.ensure_future(super()._stop_on_signal(signum))
        # asyncio.wait, not asyncio.timeout: mode shields and swallows cancellations
        # while it stops, so cancelling the stop would not end it.
        done, _ = await asyncio.wait({stopping}, timeout=STOP_DEADLINE_SECONDS)
        if not done:
            log.error("worker did not stop within %.0f s of %s; exiting anyway. Still "
                      "running: %s", STOP_DEADLINE_SECONDS, signum.name,
                      "; ".join(_describe_pending(stopping)) or "nothing")
            if self._starting_fut is not None and not self._starting_fut.done():
                self._starting_fut.cancel()  # what super()._stop_on_signal does last


def _describe_pending(stopping: asyncio.Future[None]) -> list[str]:
    """Each pending task of the loop but the stop itself: its name and the line it waits on."""
    described = []
    for task in asyncio.all_tasks():
        if task is stopping or task is asyncio.current_task():
            continue
        # Follow the awaits down to the innermost coroutine outside asyncio itself (an
        # asyncio.sleep or wait says nothing): that is the line it is stuck on.
        awaited: Any = task.get_coro()
        frame = None
        while awaited is not None:
            here = getattr(awaited, "cr_frame", None)
            if here is not None and not here.f_code.co_filename.startswith(ASYNCIO_DIR):
                frame = here
            awaited = getattr(awaited, "cr_await", None)
        where = f" at {frame.f_code.co_filename}:{frame.f_lineno}" if frame else ""
        described.append(f"{task.get_name()}{where}")
    return described


def _execute(app: faust.App, log_level: str) -> int:
    # Faust's worker installs its own signal handlers and owns the event loop from here on.
    asyncio.set_event_loop(asyncio.new_event_loop())
    # The command configured logging (level, text or JSON, on stderr); the worker's own
    # set-up would replace it with coloured lines on stdout, where console alerts go.
    worker = BoundedStopWorker(app, loglevel=log_level, quiet=True, redirect_stdouts=False,
                               override_logging=False)
    worker.spinner = None  # it draws terminal escape codes between alert lines
    try:
        worker.execute_from_commandline()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0

