"""A batch's outputs count as written only once the broker acknowledged each: a record it
did not take (an expired batch, a request that timed out) is sent again, never dropped."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, RequestTimedOutError
from wirewatch.streams import backoff
from wirewatch.streams.writes import OutputWrites


class FlakyProducer:
    """Accepts every send; the broker 'fails' the listed values the first N times."""

    def __init__(self, failures: dict[bytes, int], error: Exception) -> None:
        self.failures, self.error = dict(failures), error
        self.sends: list[bytes] = []
        self.written: list[bytes] = []

    async def send(self, topic: str, key: bytes | None, value: bytes, *_: Any,
                   ) -> asyncio.Future[None]:
        self.sends.append(value)
        outcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failures.get(value, 0) > 0:
            self.failures[value] -= 1
            outcome.set_exception(self.error)
        else:
            self.written.append(value)
            outcome.set_result(None)
        return outcome


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backoff, "FIRST_SECONDS", 0.0)


async def test_records_the_broker_did_not_take_are_sent_again_until_it_does() -> None:
    producer = FlakyProducer({b"b": 2, b"c": 1}, RequestTimedOutError())
    batch = OutputWrites(producer)  # type: ignore[arg-type]
    for value in (b"a", b"b", b"c", b"d"):
        await batch.send(("news.articles.v1", b"k", value))
    assert await batch.confirm() == 3  # b twice, c once
    assert sorted(producer.written) == [b"a", b"b", b"c", b"d"]
    assert producer.sends == [b"a", b"b", b"c", b"d", b"b", b"c", b"b"]
    assert await batch.confirm() == 0  # nothing left pending


async def test_an_expired_batch_is_not_lost_either() -> None:
    producer = FlakyProducer({b"x": 1}, KafkaTimeoutError())
    batch = OutputWrites(producer)  # type: ignore[arg-type]
    await batch.send(("news.tagged.v1", None, b"x"))
    assert await batch.confirm() == 1
    assert producer.written == [b"x"]


async def test_a_cancelled_write_stops_the_batch_rather_than_resending() -> None:
    class StoppingProducer:
        async def send(self, *_: Any) -> asyncio.Future[None]:
            outcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            outcome.cancel()
            return outcome

    batch = OutputWrites(StoppingProducer())  # type: ignore[arg-type]
    await batch.send(("news.alerts.v1", None, b"y"))
    with pytest.raises(asyncio.CancelledError):
        await batch.confirm()


async def test_a_full_buffer_is_waited_out_not_raised() -> None:
    class FullThenFree(FlakyProducer):
        refusals = 2

        async def send(self, topic: str, key: bytes | None, value: bytes, *rest: Any,
                       ) -> asyncio.Future[None]:
            if self.refusals:
                self.refusals -= 1
                raise KafkaTimeoutError()  # aiokafka: no room in the batch within the timeout
            return await super().send(topic, key, value, *rest)

    producer = FullThenFree({}, RequestTimedOutError())
    batch = OutputWrites(producer)  # type: ignore[arg-type]
    await batch.send(("news.articles.v1", b"k", b"z"))
    assert await batch.confirm() == 0
    assert producer.written == [b"z"] and producer.refusals == 0
