"""Publish RawItems to Kafka: acks=all, keyed by item id, feed id and fetch time in headers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from connectors.records import RawItem, encode_raw_item


class RawItemPublisher:
    """Sends RawItems to the raw topic and waits until the broker has acknowledged them."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    async def publish(self, items: Sequence[RawItem]) -> None:
        """Send every item; returns only when all are acknowledged (raises otherwise)."""
        futures = [
            await self.producer.send(
                self.topic,
                key=item.item_id.encode(),
                value=encode_raw_item(item),
                headers=[
                    ("feed_id", item.feed_id.encode()),
                    ("fetched_at", item.fetched_at.isoformat().encode()),
                ],
            )
            for item in items
        ]
        if futures:
            await asyncio.gather(*futures)


def new_producer(bootstrap: str, *, idempotent: bool, client_id: str) -> AIOKafkaProducer:
    """A producer with acks=all; idempotence only where the broker supports it."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=idempotent,
        linger_ms=5,
        request_timeout_ms=30000,
    )
