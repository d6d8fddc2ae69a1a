"""Wirewatch roles as subprocesses, and reading back which items reached a topic."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from streams.records import Article, decode
from tests.support.processes import stop


def status_of(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=5) as r:
            return json.loads(r.read())
    except OSError:
        return None


class Role:
    """One wirewatch role as a subprocess, its port and its log."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.port = int(env["WIREWATCH_WEB_PORT"])
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "streams", *args], env=env,
                                        stdout=self._log_file, stderr=subprocess.STDOUT,
                                        text=True)

    def status(self) -> dict[str, object]:
        return status_of(self.port) or {}

    def assigned(self) -> set[str]:
        return set(self.status().get("assigned", []))  # type: ignore[arg-type]

    def close(self) -> None:
        stop(self.process, timeout=60)
        self._log_file.close()


async def article_ids(bootstrap: str, topic: str, expected: set[str],
                      timeout: float) -> Counter[str]:
    """Article ids on the topic (with repeats), once every expected id is there."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen: Counter[str] = Counter()
    try:
        async with asyncio.timeout(timeout):
            while not expected <= seen.keys():
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    seen.update(decode(m.value, Article).article_id for m in messages)
    except TimeoutError:
        missing = sorted(expected - seen.keys())
        raise AssertionError(
            f"{len(missing)} items never reached {topic}: {missing[:5]}") from None
    finally:
        await consumer.stop()
    return seen


async def raw_ids(bootstrap: str, topic: str, count: int, timeout: float) -> set[str]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    ids: set[str] = set()
    try:
        async with asyncio.timeout(timeout):
            while len(ids) < count:
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    ids.update(m.key.decode() for m in messages)
    finally:
        await consumer.stop()
    return ids




def metric_value(port: int, name: str, **labels: str) -> float:
    """One sample of a role's /metrics (0 when absent or the role does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return 0.0
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample == (f"{name}{{{wanted}}}" if labels else name):
            return float(value)
    return 0.0
