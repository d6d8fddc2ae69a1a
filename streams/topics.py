"""Topic names and their explicit creation at start-up (never left to broker auto-create)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import astuple, dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicNames:
    """The public topics, in the order data flows through them, plus the dead-letter queue."""

    raw: str
    articles: str
    tagged: str
    alerts: str
    dlq: str
    events: str  # event updates (news.events.v1), beside the flow: nothing downstream reads it

    @classmethod
    def with_prefix(cls, prefix: str = "") -> TopicNames:
        return cls(raw=f"{prefix}news.raw.v1", articles=f"{prefix}news.articles.v1",
                   tagged=f"{prefix}news.tagged.v1", alerts=f"{prefix}news.alerts.v1",
                   dlq=f"{prefix}news.dlq.v1", events=f"{prefix}news.events.v1")

    def all(self) -> tuple[str, ...]:
        return astuple(self)


async def ensure_topics(bootstrap: str, names: TopicNames, *, partitions: int,
                        replication: int, timeout: float = 60.0) -> dict[str, int]:
    """Create missing topics; return each topic's partition count as the broker reports it.

    Retries while the broker is still starting, up to `timeout` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="wirewatch-admin",
                                    request_timeout_ms=15000)
        try:
            await admin.start()
            return await _create_and_describe(admin, names, partitions, replication)
        except KafkaConnectionError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


async def _partition_counts(admin: AIOKafkaAdminClient, names: TopicNames,
                            timeout: float = 30.0) -> dict[str, int]:
    """Partition count per topic, waiting until a new topic's metadata has spread.

    Right after creation a broker may still describe a topic with no partitions.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        described = await admin.describe_topics(list(names.all()))
        counts = {entry["topic"]: len(entry["partitions"]) for entry in described}
        if all(counts.get(name) for name in names.all()) or loop.time() > deadline:
            return counts
        await asyncio.sleep(0.1)


async def _create_and_describe(admin: AIOKafkaAdminClient, names: TopicNames, partitions: int,
                               replication: int) -> dict[str, int]:
    existing = set(await admin.list_topics())
    missing = [name for name in names.all() if name not in existing]
    if missing:
        try:
            await admin.create_topics([
                NewTopic(name=name, num_partitions=partitions, replication_factor=replication)
                for name in missing
            ])
        except TopicAlreadyExistsError:
            pass  # another process created them between our list and create
    counts = await _partition_counts(admin, names)
    for name, count in counts.items():
        if count != partitions:
            log.warning("topic %s has %d partitions, settings ask for %d; keeping the topic",
                        name, count, partitions)
    return counts
