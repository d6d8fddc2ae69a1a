"""Pieces the benchmarks share: producing raw items fast, and a loopback webhook sink."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path

from aiohttp import web
from aiokafka import AIOKafkaProducer
from wirewatch.connectors.records import RawItem, encode_raw_item
from wirewatch.streams.embedded import free_port


async def produce_items(bootstrap: str, topic: str, items: Iterable[RawItem], *,
                        stamped: bool = False) -> None:
    """Write the items keyed by id, 5,000 in flight at most; `stamped`: each record's
    timestamp is its item's fetch time (else the producer's clock)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                                max_batch_size=1 << 20)
    await producer.start()
    try:
        pending = []
        for item in items:
            stamp = int(item.fetched_at.timestamp() * 1000) if stamped else None
            pending.append(await producer.send(topic, key=item.item_id.encode(),
                                               value=encode_raw_item(item), timestamp_ms=stamp))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def start_webhook_sink(on_body: Callable[[bytes], None]) -> tuple[web.AppRunner, int]:
    """An HTTP server on a free loopback port that hands each POST /hook body to `on_body`;
    returns its runner (clean it up) and port."""

    async def sink(request: web.Request) -> web.Response:
        on_body(await request.read())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", sink)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


def write_sink_channel(path: Path, port: int) -> None:
    """A channels file with one unpaced webhook channel `sink` pointing at the sink."""
    path.write_text(
        f"channels:\n  - {{id: sink, kind: webhook, url: 'http://127.0.0.1:{port}/hook',"
        " secret: bench, pace_seconds: 0}\n", encoding="utf-8")
