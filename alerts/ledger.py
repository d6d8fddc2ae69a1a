"""The delivery ledger in Redis: which (subscription, story) alerts were already sent."""

from __future__ import annotations

import time

import redis.asyncio as aioredis


class DeliveryLedger:
    """Checked before sending and written after, so a replay never re-sends an alert.

    A crash between sending and recording can repeat one alert; it can never lose one.
    """

    def __init__(self, client: aioredis.Redis, prefix: str = "ww:") -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, alert_id: str, channel: str) -> str:
        return f"{self.prefix}ledger:{alert_id}:{channel}"

    async def was_sent(self, alert_id: str, channel: str) -> bool:
        return bool(await self.client.exists(self._key(alert_id, channel)))

    async def record_sent(self, alert_id: str, channel: str) -> None:
        await self.client.set(self._key(alert_id, channel), str(time.time()))
