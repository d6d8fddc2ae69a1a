"""A batch's output records: handed to the producer, then confirmed written, resent if not.

Faust flushes the producer before it commits consumed offsets, but a flush also ends when
a batch of records *failed* (expired, or timed out on a connection the broker stopped
answering): the offsets would then be committed over records that were never written.
So a batch counts as done only once the broker acknowledged every output; what it did
not take is sent again (at least once: a timed-out record may have been written after
all, and every consumer downstream tolerates a repeat).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from aiokafka.errors import KafkaTimeoutError
from wirewatch.streams import backoff
from wirewatch.streams.ops import metrics

log = logging.getLogger(__name__)

Output = tuple[str, bytes | None, bytes]  # topic, key, value


class _Producer(Protocol):
    async def send(self, topic: str, key: bytes | None, value: bytes | None,
                   partition: int | None, timestamp: float | None,
                   headers: Any) -> Awaitable[Any]: ...


class OutputWrites:
    """The records one batch sent, and waiting until the broker has every one of them."""

    def __init__(self, producer: _Producer) -> None:
        self.producer = producer
        self._pending: list[tuple[Output, Awaitable[Any]]] = []

    async def send(self, output: Output) -> None:
        """Queue a record in the producer (returns once queued, not once written). While
        the broker is away the producer's buffer fills and queueing times out: wait and
        queue again, as the stages wait for Redis, rather than fail the batch."""
        topic, key, value = output
        for delay in backoff.delays():
            try:
                written = await self.producer.send(topic, key, value, None, None, None)
            except KafkaTimeoutError:
                log.warning("producer buffer full (broker unreachable?); queueing again in "
                            "%.1f s", delay)
                await asyncio.sleep(delay)
                continue
            self._pending.append((output, written))
            return

    async def confirm(self) -> int:
        """Wait until every record sent so far is written; send failed ones again, backing
        off (wirewatch.streams.backoff), until the broker takes them. Returns how many were
        resent."""
        resent, delays = 0, backoff.delays()
        while self._pending:
            pending, self._pending = self._pending, []
            results = await asyncio.gather(*(written for _, written in pending),
                                           return_exceptions=True)
            if any(isinstance(result, asyncio.CancelledError) for result in results):
                raise asyncio.CancelledError  # the producer is stopping: so is the worker
            failed = [(output, result) for (output, _), result in zip(pending, results,
                                                                        strict=True)
                      if isinstance(result, Exception)]
            if not failed:
                continue
            for (topic, _, _), _ in failed:
                metrics.WRITES_RETRIED.labels(topic).inc()
            delay = next(delays)
            log.warning("broker did not take %d records; sending them again in %.1f s",
                        len(failed), delay, extra={"error": repr(failed[0][1])})
            await asyncio.sleep(delay)
            for output, _ in failed:
                await self.send(output)
            resent += len(failed)
        return resent
