"""Topics are created explicitly with the configured partition count, and creation is idempotent."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from wirewatch.streams.topics import TopicNames, ensure_topics

pytestmark = pytest.mark.kafka


async def test_creates_every_topic_with_the_configured_partitions(broker, unique):
    names = TopicNames.with_prefix(f"{unique}.")
    counts = await ensure_topics(broker.bootstrap, names, partitions=3, replication=1)
    assert counts == {name: 3 for name in names.all()}

    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        listed = set(await admin.list_topics())
    finally:
        await admin.close()
    assert set(names.all()) <= listed


async def test_second_creation_keeps_existing_topics(broker, unique):
    names = TopicNames.with_prefix(f"{unique}.")
    await ensure_topics(broker.bootstrap, names, partitions=2, replication=1)
    again = await ensure_topics(broker.bootstrap, names, partitions=5, replication=1)
    assert set(again.values()) == {2}  # never re-created or silently changed
