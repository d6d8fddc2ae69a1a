"""The framework's ceiling: a Faust worker shaped like wirewatch's (one agent on the raw
topic, batches of the same size, every record written on to the three topics below it)
that does no work at all. Its Faust app is the worker's (wirewatch.streams.app.kafka_app: the same
consumer, producer and commit settings, idempotent where WIREWATCH_KAFKA_IDEMPOTENCE is
"true"), so a setting that speeds up the framework raises the ceiling too.

With HOPS 4 it is instead the shape of ../shared/DESIGN.md's picture, one agent per stage
and a topic hop between stages (raw -> articles -> tagged -> alerts -> a last agent that
reads the alerts), again doing no work: roughly the ceiling wirewatch would have without
its one-hop design (it writes every record to every topic). Run by bench/pipeline.py as
`python bench/passthrough.py BOOTSTRAP TOPIC_PREFIX APP_ID DATADIR [HOPS]` (HOPS 1 or 4).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

import faust
from wirewatch.streams.app import BATCH, BATCH_WAIT, kafka_app
from wirewatch.streams.eventloop import install
from wirewatch.streams.topics import TopicNames


def passthrough_app(bootstrap: str, names: TopicNames, app_id: str, datadir: str, *,
                    idempotent: bool, hops: int = 1) -> faust.App:
    # partitions only sizes topics Faust creates itself; bench/pipeline.py made these already
    app = kafka_app(app_id, bootstrap, idempotent=idempotent, partitions=4, datadir=datadir)

    def topic(name: str) -> faust.TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw", internal=False)

    def forwarding(below: tuple[str, ...]) -> Callable[[faust.StreamT[bytes]], Awaitable[None]]:
        async def forward(stream: faust.StreamT[bytes]) -> None:
            async for events in stream.take_events(BATCH, within=BATCH_WAIT):
                for event in events:
                    for name in below:
                        await app.producer.send(name, event.key, event.value, None, None, None)
        return forward

    stages = (names.raw, names.articles, names.tagged, names.alerts)
    if hops == 1:  # wirewatch's shape: one agent writes the three topics below raw
        app.agent(topic(names.raw), name="pipeline")(forwarding(stages[1:]))
    elif hops == len(stages):  # the design picture's: each agent writes the next topic
        for source, below in zip(stages, [(name,) for name in stages[1:]] + [()], strict=True):
            app.agent(topic(source), name=f"hop-{source}")(forwarding(below))
    else:
        raise ValueError(f"hops must be 1 or {len(stages)}, not {hops}")
    return app


def main() -> None:
    bootstrap, prefix, app_id, datadir = sys.argv[1:5]
    hops = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    install()  # the same loop as the workers it is the ceiling of (WIREWATCH_EVENT_LOOP)
    asyncio.set_event_loop(asyncio.new_event_loop())
    app = passthrough_app(bootstrap, TopicNames.with_prefix(prefix), app_id, datadir,
                          idempotent=os.environ.get("WIREWATCH_KAFKA_IDEMPOTENCE") == "true",
                          hops=hops)
    worker = faust.Worker(app, loglevel="ERROR", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
