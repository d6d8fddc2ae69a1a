"""Run a CLI action against the configured Redis, or the embedded one under the data dir."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
import redis.asyncio as aioredis

from alerts.errors import AlertsError
from connectors.errors import ConnectorError
from streams.embedded import EmbeddedServiceError, embedded_services
from streams.settings import Settings

T = TypeVar("T")


def with_redis(action: Callable[[aioredis.Redis, Settings], Awaitable[T]]) -> T:
    """Run `action(client, settings)`; input and service errors become one clear line."""
    settings = Settings()
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    try:
        with embedded_services(None, redis_url, settings.data_dir, need_kafka=False) as ends:
            async def run() -> T:
                client = aioredis.Redis.from_url(ends.redis_url)
                try:
                    return await action(client, settings)
                finally:
                    await client.aclose()

            return asyncio.run(run())
    except (EmbeddedServiceError, ConnectorError, AlertsError) as exc:
        raise click.ClickException(str(exc)) from exc
