"""Items published to an embedded broker and not yet processed, kept in Redis until they are.

The embedded broker keeps topics in memory: a restart loses every record on them. Feed state
in Redis already says those items were fetched, so the next poll would not bring them back,
and an item published but not yet processed would be lost. With the embedded broker the
connector therefore writes each item here before publishing it, the worker deletes it once
its batch went through every stage, and a pipeline that starts a fresh embedded broker
publishes whatever is left again (wirewatch.streams.runner). Apache Kafka keeps what it
acknowledged, so none of this runs there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from wirewatch.connectors.records import decode_raw_item

if TYPE_CHECKING:  # publish imports this module
    from wirewatch.connectors.publish import RawItemPublisher


class UnprocessedItems:
    """Raw item records by id, from before their publish until their batch is processed."""

    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self.client = client
        self.key = f"{prefix}unprocessed"

    async def remember(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Keep (item id, record) pairs; called before they are handed to the producer."""
        if records:
            await self.client.hset(self.key, mapping=dict(records))

    async def forget(self, item_ids: Sequence[bytes]) -> None:
        if item_ids:
            await self.client.hdel(self.key, *item_ids)

    async def count(self) -> int:
        return int(await self.client.hlen(self.key))

    async def scan(self, batch: int = 500) -> AsyncIterator[list[tuple[bytes, bytes]]]:
        """Everything kept, a batch at a time."""
        cursor = 0
        while True:
            cursor, found = await self.client.hscan(self.key, cursor, count=batch)
            if found:
                yield list(found.items())
            if cursor == 0:
                return


async def republish(unprocessed: UnprocessedItems, publisher: RawItemPublisher) -> int:
    """Publish every kept item again (after a fresh embedded broker); returns how many.
    A record that no longer decodes is dropped from the set: nothing could process it."""
    count = 0
    async for batch in unprocessed.scan():
        items, broken = [], []
        for item_id, value in batch:
            try:
                items.append(decode_raw_item(value))
            except ValueError:
                broken.append(item_id)
        await unprocessed.forget(broken)
        refused = await publisher.publish(items)
        count += len(items) - len(refused)
    return count
