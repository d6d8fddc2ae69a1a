"""Wirewatch roles as subprocesses under load, and reading back what reached the topics."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from wirewatch.alerts.records import Alert, decode_alert
from wirewatch.connectors.records import RawItem, encode_raw_item
from wirewatch.streams.demo import serve_loopback
from wirewatch.streams.embedded import free_port
from wirewatch.streams.records import Article, decode

from bench.harness import start_webhook_sink, write_sink_channel
from tests.support.processes import stop, wirewatch_env


def status_of(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=5) as r:
            return json.loads(r.read())
    except OSError:
        return None


class Role:
    """One wirewatch role as a subprocess, its port and its log."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.port = int(env["WIREWATCH_WEB_PORT"])
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "wirewatch", *args], env=env,
                                        stdout=self._log_file, stderr=subprocess.STDOUT,
                                        text=True)

    def status(self) -> dict[str, object]:
        return status_of(self.port) or {}

    def assigned(self) -> set[str]:
        return set(self.status().get("assigned", []))  # type: ignore[arg-type]

    def close(self) -> None:
        stop(self.process, timeout=60)
        self._log_file.close()


async def article_ids(bootstrap: str, topic: str, expected: set[str],
                      timeout: float) -> Counter[str]:
    """Article ids on the topic (with repeats), once every expected id is there."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen: Counter[str] = Counter()
    try:
        async with asyncio.timeout(timeout):
            while not expected <= seen.keys():
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    seen.update(decode(m.value, Article).article_id for m in messages)
    except TimeoutError:
        missing = sorted(expected - seen.keys())
        raise AssertionError(
            f"{len(missing)} items never reached {topic}: {missing[:5]}") from None
    finally:
        await consumer.stop()
    return seen


async def raw_ids(bootstrap: str, topic: str, count: int, timeout: float) -> set[str]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    ids: set[str] = set()
    try:
        async with asyncio.timeout(timeout):
            while len(ids) < count:
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    ids.update(m.key.decode() for m in messages)
    finally:
        await consumer.stop()
    return ids




def metric_value(port: int, name: str, **labels: str) -> float:
    """One sample of a role's /metrics (0 when absent or the role does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return 0.0
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample == (f"{name}{{{wanted}}}" if labels else name):
            return float(value)
    return 0.0


class ArticleLog:
    """Reads news.articles.v1 in the background: how often each id came, and its story."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.seen: Counter[str] = Counter()
        self.story_of: dict[str, str] = {}
        self.title_of: dict[str, str] = {}

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        try:
            while True:
                for messages in (await consumer.getmany(timeout_ms=200)).values():
                    for message in messages:
                        article = decode(message.value, Article)
                        self.seen[article.article_id] += 1
                        self.story_of[article.article_id] = article.story_id
                        self.title_of[article.article_id] = article.title
        finally:
            await consumer.stop()


def sink_subscription(directory: Path, sink_port: int) -> tuple[Path, Path]:
    """A channels file with the webhook sink and one subscription to Microsoft on it."""
    channels, subscriptions = directory / "channels.yaml", directory / "subscriptions.yaml"
    write_sink_channel(channels, sink_port)
    subscriptions.write_text(json.dumps({"subscriptions": [{
        "name": "Microsoft", "owner": "test", "query": "entity:microsoft",
        "channels": ["sink"]}]}))
    return channels, subscriptions


def expected_stories(articles: ArticleLog, ids: set[str]) -> set[str]:
    """The stories the Microsoft subscription must alert on (bench/corpus.py titles start
    with the company), as the pipeline grouped them."""
    return {articles.story_of[i] for i in ids if articles.title_of[i].startswith("Microsoft ")}


def pipeline_env(*, bootstrap: str, redis_url: str, unique: str, directory: Path,
                 idempotent: bool, partitions: int, **extra: str) -> dict[str, str]:
    """The environment of a `wirewatch worker` under test: its own names everywhere."""
    return wirewatch_env(
        WIREWATCH_KAFKA_BOOTSTRAP=bootstrap, WIREWATCH_REDIS_URL=redis_url,
        WIREWATCH_TOPIC_PREFIX=f"{unique}.", WIREWATCH_APP_ID=f"ww-{unique}",
        WIREWATCH_REDIS_PREFIX=f"{unique}:", WIREWATCH_TOPIC_PARTITIONS=str(partitions),
        WIREWATCH_KAFKA_IDEMPOTENCE=str(idempotent).lower(),
        WIREWATCH_DATA_DIR=str(directory / "data"), **extra)


async def alerting_worker_env(directory: Path, delivered: list[Alert], *, bootstrap: str,
                              redis_url: str, unique: str, idempotent: bool, partitions: int,
                              **extra: str) -> tuple[web.AppRunner, dict[str, str]]:
    """A loopback webhook sink that appends each alert it receives to `delivered`, the
    Microsoft subscription on it, and the environment of a worker alerting it (with its
    own web port); stop the sink with `.cleanup()`."""
    sink, port = await start_webhook_sink(lambda body: delivered.append(decode_alert(body)))
    channels, subscriptions = sink_subscription(directory, port)
    return sink, pipeline_env(
        bootstrap=bootstrap, redis_url=redis_url, unique=unique, directory=directory,
        idempotent=idempotent, partitions=partitions, WIREWATCH_CHANNELS_FILE=str(channels),
        WIREWATCH_SUBSCRIPTIONS_FILE=str(subscriptions), WIREWATCH_WEB_PORT=str(free_port()),
        **extra)


async def produce_steadily(bootstrap: str, topic: str, items: list[RawItem],
                           per_second: float) -> None:
    """Produce the items at about `per_second`, a tenth of a second's worth at a time."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        step = max(int(per_second / 10), 1)
        started = time.monotonic()
        for start in range(0, len(items), step):
            await asyncio.gather(*[
                await producer.send(topic, key=item.item_id.encode(),
                                    value=encode_raw_item(item))
                for item in items[start:start + step]])
            delay = started + (start + step) / per_second - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the load, not waiting for a condition
    finally:
        await producer.stop()


@contextmanager
def serve_feeds(body_of: Callable[[str], bytes], name: str = "feeds") -> Iterator[str]:
    """An RSS server on loopback: GET /<name>.xml answers body_of(name); yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server interface
            body = body_of(self.path.strip("/").removesuffix(".xml"))
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serve_loopback(Handler, name) as base:
        yield base
