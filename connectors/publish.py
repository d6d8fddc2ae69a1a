"""Publish RawItems to Kafka: acks=all, keyed by item id, feed id and fetch time in headers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from wirewatch.connectors.records import RawItem, encode_raw_item
from wirewatch.connectors.unprocessed import UnprocessedItems


class RawItemPublisher:
    """Sends RawItems to the raw topic and waits until the broker has acknowledged them."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, *,
                 unprocessed: UnprocessedItems | None = None) -> None:
        self.producer = producer
        self.topic = topic
        self.unprocessed = unprocessed  # set with the embedded broker: see its module

    async def publish(self, items: Sequence[RawItem]) -> list[tuple[RawItem, str]]:
        """Send every item and wait until the broker acknowledged each.

        Returns the items Kafka refuses for good (too large, say) with the reason: retrying
        them cannot help, and they must not block the rest of their feed. Anything that may
        succeed later (the broker unreachable) is raised, and the caller retries it all.
        """
        futures: list[asyncio.Future[object]] = []
        refused: list[tuple[RawItem, str]] = []
        records = [(item.item_id.encode(), encode_raw_item(item)) for item in items]
        if self.unprocessed is not None:
            await self.unprocessed.remember(records)
        try:
            for item, (key, value) in zip(items, records, strict=True):
                try:
                    futures.append(await self.producer.send(
                        self.topic, key=key, value=value,
                        headers=[("feed_id", item.feed_id.encode()),
                                 ("fetched_at", item.fetched_at.isoformat().encode())]))
                except KafkaError as exc:
                    if exc.retriable:
                        raise
                    refused.append((item, f"{type(exc).__name__}: {exc}"))
        finally:
            # Whatever happens, wait for what was already handed to the producer.
            outcomes = await asyncio.gather(*futures, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return refused


# aiokafka fills one batch per partition while the one before it is in flight, and a send
# that finds it full waits for the broker's answer. The default 16 KiB holds four 4 KB
# articles, so a feed's 50 items took a dozen round trips in turn; 512 KiB takes them in one
# (bench/feed_cycle.py: 721-777 to 969-1,034 feeds/s, connector CPU -30 %). It stays under
# Kafka's default 1 MiB message.max.bytes (and the 1 MB or more of the managed services); a
# broker or topic set below 512 KiB would refuse full batches as too large.
# The stream worker's producer uses it too (wirewatch.streams.app).
PRODUCER_MAX_BATCH_BYTES = 512 * 1024


def new_producer(bootstrap: str, *, idempotent: bool, client_id: str) -> AIOKafkaProducer:
    """A producer with acks=all; idempotence only where the broker supports it."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=idempotent,
        linger_ms=5,
        max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        request_timeout_ms=30000,
    )
