"""`wirewatch tail` on the session broker, as a user runs it: records from the beginning as
JSON, bad records skipped with a warning, and a follower that Ctrl-C ends cleanly."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from wirewatch.streams.topics import TopicNames

from tests.support.processes import stop, wait_for, wirewatch_env

pytestmark = pytest.mark.kafka


def alert(n: int) -> dict[str, Any]:
    return {"alert_id": f"a{n}", "subscription_id": "openai-leadership",
            "story_id": f"wire.example-{n}", "title": f"Story number {n}",
            "created_at": f"2026-12-01T08:0{n}:00+00:00"}


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:  # one partition: the order they are read back in is known
            await producer.send_and_wait(topic, value, key=b"k", partition=0)
    finally:
        await producer.stop()


@pytest.fixture
def topics(broker: Any, unique: str,
           topic_factory: Callable[..., Awaitable[TopicNames]]) -> TopicNames:
    return asyncio.run(topic_factory(prefix=f"{unique}."))


@pytest.fixture
def env(broker: Any, unique: str, tmp_path: Path) -> dict[str, str]:
    return wirewatch_env(WIREWATCH_KAFKA_BOOTSTRAP=broker.bootstrap,
                         WIREWATCH_TOPIC_PREFIX=f"{unique}.",
                         WIREWATCH_DATA_DIR=str(tmp_path / "data"))


def test_from_the_beginning_as_json_skipping_a_bad_record(broker: Any, topics: TopicNames,
                                                          env: dict[str, str]) -> None:
    values = [json.dumps(alert(1)).encode(), b"{not json", json.dumps(alert(2)).encode(),
              json.dumps(alert(3)).encode(), json.dumps(alert(4)).encode()]
    asyncio.run(produce(broker.bootstrap, topics.alerts, values))
    result = subprocess.run([sys.executable, "-m", "wirewatch", "tail", "alerts",
                             "--from-beginning", "-n", "3", "-o", "json"], env=env,
                            capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        alert(1), alert(2), alert(3)]
    assert f"skipped {topics.alerts} 0/1: not JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_follows_only_new_records_and_ctrl_c_ends_it_cleanly(
        broker: Any, topics: TopicNames, env: dict[str, str], tmp_path: Path) -> None:
    event = {"event_id": "e7", "story_id": "s7", "title": "Chip export rules tightened",
             "is_new_event": True, "published": "2026-12-01T09:30:00+00:00"}
    asyncio.run(produce(broker.bootstrap, topics.events, [b'{"title": "old news"}']))
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        follower = subprocess.Popen([sys.executable, "-m", "wirewatch", "tail", "events"],
                                    env=env, stdout=stdout, stderr=stderr, text=True)
    try:
        wait_for(lambda: "following" in err.read_text(), 60, "tail to be assigned")
        asyncio.run(produce(broker.bootstrap, topics.events, [json.dumps(event).encode()]))
        wait_for(lambda: "e7" in out.read_text(), 30, "the new event to be printed")
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=30) == 0
    finally:
        stop(follower)
    assert out.read_text().splitlines() == [
        "2026-12-01T09:30:00+00:00  e7 (new)  Chip export rules tightened"]
    assert "Traceback" not in err.read_text() and "KeyboardInterrupt" not in err.read_text()


def test_a_missing_topic_is_named(env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-m", "wirewatch", "tail", "stories"],
                            env={**env, "WIREWATCH_TOPIC_PREFIX": "nowhere."},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "topic 'nowhere.news.articles.v1' does not exist" in result.stderr
    assert "Traceback" not in result.stderr
