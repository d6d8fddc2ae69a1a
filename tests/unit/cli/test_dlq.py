"""`wirewatch dlq`: which broker it reads, which dead letters a replay picks, and that the
replayed set in Redis sends each once (skipped on the next run, retried after a refusal,
--again, --dry-run)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from click.testing import CliRunner
from wirewatch.streams.ops.dead_letters import DeadRecord
from wirewatch.streams.topics import TopicNames

from wirewatch.cli.dlq import Outcome, dlq, parse_place, remembered_as, replay_records, select


def letter(partition: int, offset: int, stage: str, timestamp: float = 100.0) -> DeadRecord:
    return DeadRecord(partition, offset, timestamp, b"k", b"v", {"stage": stage})


LETTERS = [letter(1, 4, "tag", 300.0), letter(0, 9, "normalise", 200.0),
           letter(0, 2, "normalise", 100.0), letter(1, 3, "deliver", 200.0)]


@pytest.mark.parametrize(("stage", "expected"), [
    pytest.param(None, ["0/2", "0/9", "1/3", "1/4"], id="all-oldest-first"),
    pytest.param("normalise", ["0/2", "0/9"], id="one-stage"),
    pytest.param("match", [], id="none-of-that-stage"),
])
def test_select_picks_by_stage_in_the_order_they_failed(stage: str | None,
                                                        expected: list[str]) -> None:
    assert [f"{r.partition}/{r.offset}" for r in select(LETTERS, stage=stage)] == expected


@pytest.mark.parametrize(("text", "place"), [
    pytest.param("0/12", (0, 12), id="plain"), pytest.param(" 3/0 ", (3, 0), id="spaces")])
def test_places_read_partition_then_offset(text: str, place: tuple[int, int]) -> None:
    assert parse_place(text) == place


@pytest.mark.parametrize("text", ["12", "0/", "a/1", "-1/2", "0/1/2"])
def test_a_place_that_is_not_partition_slash_offset_is_refused(text: str) -> None:
    with pytest.raises(click.BadParameter, match="PARTITION/OFFSET"):
        parse_place(text)


def test_a_record_at_a_reused_place_is_a_new_record() -> None:
    # The embedded broker starts offsets over when it restarts.
    assert remembered_as(letter(0, 2, "tag", 100.0)) != remembered_as(letter(0, 2, "tag", 50.0))


def test_replay_needs_a_selection() -> None:
    result = CliRunner().invoke(dlq, ["replay"])
    assert result.exit_code == 2 and "--stage STAGE, --record P/O or --all" in result.output


def test_list_without_a_broker_says_why(tmp_path: Path) -> None:
    result = CliRunner().invoke(dlq, ["list"], env={"WIREWATCH_KAFKA_BOOTSTRAP": "",
                                                    "WIREWATCH_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "WIREWATCH_KAFKA_BOOTSTRAP is not set and no embedded broker is running" in \
        result.output


@pytest.mark.kafka
def test_list_finds_the_broker_of_a_running_wirewatch(
        broker: Any, unique: str, topic_factory: Callable[..., Awaitable[TopicNames]],
        tmp_path: Path) -> None:
    topics = asyncio.run(topic_factory(prefix=f"{unique}."))
    asyncio.run(produce(broker.bootstrap, topics.dlq))
    (tmp_path / "kafka.bootstrap").write_text(broker.bootstrap)  # as `wirewatch run` does
    result = CliRunner().invoke(dlq, ["list", "--json"], env={
        "WIREWATCH_KAFKA_BOOTSTRAP": "", "WIREWATCH_DATA_DIR": str(tmp_path),
        "WIREWATCH_TOPIC_PREFIX": f"{unique}."})
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["stage"] for line in result.output.splitlines()] == ["tag"]


async def produce(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", headers=[("stage", b"tag")])
    finally:
        await producer.stop()


class Worker:
    """A stand-in for the worker's API: refuses the stages it is told to, sends the rest."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.refuse = refuse
        self.sent: list[str] = []

    async def __call__(self, record: DeadRecord) -> Outcome:
        if record.stage in self.refuse:
            return Outcome("refused", f"stage {record.stage!r} cannot be re-run here")
        self.sent.append(f"{record.partition}/{record.offset}")
        return Outcome("sent")


async def replay(client: aioredis.Redis, key: str, worker: Worker, *, again: bool = False,
                 dry_run: bool = False) -> list[str]:
    return [f"{r.partition}/{r.offset} {outcome.word}" async for r, outcome in replay_records(
        client, key, select(LETTERS, stage="normalise"), worker, again=again,
        dry_run=dry_run)]


@pytest.mark.redis
async def test_a_replay_twice_sends_each_record_once(redis_client: aioredis.Redis,
                                                     unique: str) -> None:
    key, worker = f"{unique}:dlq:replayed", Worker()
    assert await replay(redis_client, key, worker, dry_run=True) == [
        "0/2 would send", "0/9 would send"]
    assert worker.sent == [] and not await redis_client.exists(key)
    assert await replay(redis_client, key, worker) == ["0/2 sent", "0/9 sent"]
    assert await replay(redis_client, key, worker) == ["0/2 skipped", "0/9 skipped"]
    assert await replay(redis_client, key, worker, dry_run=True) == [
        "0/2 skipped", "0/9 skipped"]
    assert await replay(redis_client, key, worker, again=True) == ["0/2 sent", "0/9 sent"]
    assert worker.sent == ["0/2", "0/9", "0/2", "0/9"]


@pytest.mark.redis
async def test_a_refused_record_may_be_tried_again(redis_client: aioredis.Redis,
                                                   unique: str) -> None:
    key = f"{unique}:dlq:replayed"
    assert await replay(redis_client, key, Worker(frozenset({"normalise"}))) == [
        "0/2 refused", "0/9 refused"]
    assert not await redis_client.exists(key)  # nothing was sent, nothing is remembered
    assert await replay(redis_client, key, Worker()) == ["0/2 sent", "0/9 sent"]


@pytest.mark.redis
async def test_a_worker_that_cannot_be_reached_leaves_nothing_remembered(
        redis_client: aioredis.Redis, unique: str) -> None:
    key = f"{unique}:dlq:replayed"

    async def unreachable(record: DeadRecord) -> Outcome:
        raise click.ClickException("cannot reach the wirewatch worker")

    with pytest.raises(click.ClickException):
        async for _ in replay_records(redis_client, key, LETTERS, unreachable):
            pass
    assert not await redis_client.exists(key)
