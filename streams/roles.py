"""`wirewatch connect`, `deliver` and `web`: the roles of a cluster that run no Faust worker.

`wirewatch worker` is the stream worker alone (wirewatch.streams.runner.run_pipeline, worker_only);
`wirewatch run` is all of them in one process for a laptop. Every role serves /healthz,
/readyz and /metrics on WIREWATCH_WEB_HOST:WIREWATCH_WEB_PORT.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from aiohttp import web
from wirewatch.alerts.accounts import UserStore
from wirewatch.alerts.channels import load_channels
from wirewatch.alerts.dispatch import RetryPolicy
from wirewatch.alerts.logins import LoginLimits
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.store import LiveSubscriptions, SubscriptionStore
from wirewatch.connectors.feeds_file import FeedSpec, load_feeds
from wirewatch.connectors.lease import LeaseStatus, ShardLease, poll_while_held
from wirewatch.connectors.poller import FeedPoller
from wirewatch.connectors.publish import new_producer
from wirewatch.connectors.registry import FeedRegistry
from wirewatch.connectors.shard import Shard, parse_shard
from wirewatch.connectors.state import FeedStateStore
from wirewatch.streams.app import instance_name, subscription_pages
from wirewatch.streams.delivery import Delivery, deliver_until_cancelled
from wirewatch.streams.ops.activity import Activity
from wirewatch.streams.ops.feed_pages import FeedPagesConfig
from wirewatch.streams.ops.monitor import Monitor
from wirewatch.streams.ops.probes import probes_app
from wirewatch.streams.ops.trending import TrendCounter
from wirewatch.streams.ops.web import WebConfig, operations_app
from wirewatch.streams.runner import api_job, connector_job, external_endpoints
from wirewatch.streams.settings import Settings
from wirewatch.streams.topics import TopicNames, ensure_topics

log = logging.getLogger(__name__)


def run_connect(settings: Settings) -> int:
    """Poll this instance's shard of the feeds (file and registry) until stopped."""
    endpoints = external_endpoints(settings, "connect")
    shard = parse_shard(settings.shard)
    file_feeds = load_feeds(settings.feeds_file) if settings.feeds_file else []
    topics = TopicNames.with_prefix(settings.topic_prefix)
    idempotent = cluster_idempotence(settings)
    status = LeaseStatus(str(shard))

    async def connect() -> None:
        await ensure_topics(endpoints.kafka_bootstrap, topics,
                            partitions=settings.topic_partitions,
                            replication=settings.topic_replication)
        client = aioredis.Redis.from_url(endpoints.redis_url)
        lease = ShardLease(client, prefix=settings.redis_prefix, shard=str(shard),
                           holder=instance_name(), ttl_seconds=settings.shard_lease_seconds)

        async def drive(poller: FeedPoller) -> None:
            await poll_while_held(
                poller, lease, lambda: shard_feeds(client, settings.redis_prefix, file_feeds,
                                                   shard),
                refresh_seconds=settings.feeds_refresh_seconds, status=status)

        job = connector_job(settings, endpoints, [], topics, idempotent, drive=drive)
        try:
            await serve(probes_app(status.not_ready, status.to_json), settings, job)
        finally:
            await client.aclose()

    log.warning("wirewatch connect: shard %s, probes on http://%s:%d", shard,
                settings.web_host, settings.web_port)
    return run_until_stopped(connect)


async def shard_feeds(client: aioredis.Redis, prefix: str, file_feeds: list[FeedSpec],
                      shard: Shard) -> list[FeedSpec]:
    """The feeds of the file and the registry that this shard polls."""
    every = await FeedRegistry(client, prefix).polled(file_feeds)
    return shard.select(every, lambda spec: spec.feed_id)


def run_web(settings: Settings) -> int:
    """Serve the dashboard, the subscription pages and the subscriptions API until stopped."""
    endpoints = external_endpoints(settings, "web")
    topics = TopicNames.with_prefix(settings.topic_prefix)
    channels = load_channels(settings.channels_file)
    file_feeds = load_feeds(settings.feeds_file) if settings.feeds_file else []
    tagger = settings.tagger_source()
    dashboard_url = settings.public_web_url()

    async def web_role() -> None:
        client = aioredis.Redis.from_url(endpoints.redis_url)
        known: list[FeedSpec] = list(file_feeds)
        monitor = Monitor.of_pipeline(bootstrap=endpoints.kafka_bootstrap,
                                      group=settings.app_id, topics=topics,
                                      redis_client=client, redis_prefix=settings.redis_prefix,
                                      feeds=lambda: known, interval=settings.monitor_seconds)

        async def watch() -> None:
            registry = FeedRegistry(client, settings.redis_prefix)
            while True:
                try:
                    known[:] = await registry.merged(file_feeds)
                except Exception:  # noqa: BLE001 - the monitor reports Redis being down
                    log.exception("could not read the feed registry")
                await asyncio.sleep(settings.feeds_refresh_seconds)

        pages = operations_app(WebConfig(
            monitor=monitor, activity=Activity(client, prefix=settings.redis_prefix),
            bootstrap=endpoints.kafka_bootstrap, dlq_topic=topics.dlq,
            max_lag=settings.status_max_lag, auth=settings.web_auth_config(),
            users=UserStore(client, prefix=settings.redis_prefix),
            limits=LoginLimits(client, prefix=settings.redis_prefix,
                               policy=settings.login_policy()),
            feeds=FeedPagesConfig(FeedRegistry(client, settings.redis_prefix),
                                  FeedStateStore(client, settings.redis_prefix),
                                  lambda: known),
            trends=TrendCounter(client, prefix=settings.redis_prefix),
            watchlist_file=settings.user_watchlist,
            subscriptions=subscription_pages(
                SubscriptionStore(client, prefix=settings.redis_prefix), channels, tagger,
                dashboard_url=dashboard_url, slack_api_url=settings.slack_api_url)))
        jobs: list[Callable[[], Awaitable[None]]] = [watch, monitor.run]
        if settings.api_token and settings.api_token.get_secret_value():
            jobs.append(api_job(settings, endpoints.redis_url, channels.ids))
        try:
            await serve(pages, settings, *jobs)
        finally:
            await client.aclose()

    log.warning("wirewatch web: dashboard on %s", dashboard_url)
    return run_until_stopped(web_role)


def run_deliver(settings: Settings) -> int:
    """Send the alerts the stream workers queue, on every configured channel, until stopped.

    Out of the stream worker's process, a worker's crash never repeats an alert: only a
    deliver process's own crash can, and only the deliveries it had in flight."""
    endpoints = external_endpoints(settings, "deliver")
    topics = TopicNames.with_prefix(settings.topic_prefix)
    channels = load_channels(settings.channels_file)
    idempotent = cluster_idempotence(settings)
    started = asyncio.Event()

    def not_ready() -> list[str]:
        return [] if started.is_set() else ["connecting to Kafka and Redis"]

    def status() -> dict[str, object]:
        return {"role": "deliver", "channels": sorted(channels.ids), "ready": not not_ready()}

    async def deliver() -> None:
        await ensure_topics(endpoints.kafka_bootstrap, topics,
                            partitions=settings.topic_partitions,
                            replication=settings.topic_replication)
        client = aioredis.Redis.from_url(endpoints.redis_url)
        producer = new_producer(endpoints.kafka_bootstrap, idempotent=idempotent,
                                client_id=f"{settings.app_id}-deliver")

        async def send_dead_letter(key: bytes, value: bytes,
                                   headers: list[tuple[str, bytes]]) -> None:
            await producer.send_and_wait(topics.dlq, value, key=key, headers=headers)

        live = LiveSubscriptions(SubscriptionStore(client, prefix=settings.redis_prefix),
                                 refresh_seconds=settings.subscriptions_refresh_seconds)
        delivery = Delivery(
            outbox=Outbox(client, prefix=settings.redis_prefix,
                          ledger_days=settings.ledger_days),
            activity=Activity(client, prefix=settings.redis_prefix), channels=channels,
            schedule_of=live.schedule_of, send_dead_letter=send_dead_letter,
            alerts_topic=topics.alerts,
            retry=RetryPolicy(deadline=settings.alert_retry_deadline_seconds),
            dashboard_url=settings.public_web_url(), slack_api_url=settings.slack_api_url,
            breaker=settings.breaker_policy(), instance=instance_name())

        async def run() -> None:
            await producer.start()
            await client.ping()
            started.set()
            await deliver_until_cancelled(delivery)

        try:
            await serve(probes_app(not_ready, status), settings, run)
        finally:
            await producer.stop()
            await client.aclose()

    log.warning("wirewatch deliver: channels %s, probes on http://%s:%d",
                ", ".join(sorted(channels.ids)), settings.web_host, settings.web_port)
    return run_until_stopped(deliver)


def cluster_idempotence(settings: Settings) -> bool:
    """Idempotent producers unless turned off: a cluster's broker is Apache Kafka."""
    return settings.kafka_idempotence is not False


async def serve(app: web.Application, settings: Settings,
                *jobs: Callable[[], Awaitable[None]]) -> None:
    """Serve `app` on the web port while the jobs run; the first job to fail ends it all."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.web_host, settings.web_port).start()
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(_until_done(job))
    finally:
        await runner.cleanup()


def run_until_stopped(main: Callable[[], Awaitable[None]]) -> int:
    """Run `main` until SIGTERM or SIGINT cancels it; exit code 0 for a clean stop."""

    async def supervised() -> int:
        task = asyncio.ensure_future(main())
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            return 0
        return 0

    return asyncio.run(supervised())


async def _until_done(job: Callable[[], Awaitable[None]]) -> None:
    """A job as a coroutine, which is what a task group runs."""
    await job()
