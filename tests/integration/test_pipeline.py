"""End to end: local feeds -> raw -> articles -> tagged -> alerts -> console, in a real worker.

`wirewatch run` runs as a subprocess against the session's broker and Redis; the test reads
every topic back and checks what each stage wrote.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaProducer
from wirewatch.alerts.records import decode_alert
from wirewatch.streams.demo import SAMPLE_FEEDS, SAMPLES, serve_samples
from wirewatch.streams.embedded import free_port
from wirewatch.streams.records import Article, TaggedArticle, decode

from tests.integration.test_connector import read_all
from tests.support.processes import wait_for, wirewatch_env

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

SUBSCRIPTIONS = """
subscriptions:
  - name: OpenAI safety and leadership
    owner: test
    query: entity:openai AND (topic:ai-safety OR topic:leadership-change)
  - name: Microsoft earnings
    owner: test
    query: entity:microsoft AND topic:earnings
  - name: Never matches
    owner: test
    query: entity:openai AND NOT entity:openai
"""


async def test_feed_items_flow_to_exactly_one_alert_per_story(
        broker, redis_server, unique, topic_factory, tmp_path: Path):
    topics = await topic_factory(prefix=f"{unique}.")
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:  # a record no stage can read must end in the DLQ, not stop the stream
        await producer.send_and_wait(topics.raw, key=b"bad", value=b"{not json")
    finally:
        await producer.stop()

    subscriptions = tmp_path / "subscriptions.yaml"
    subscriptions.write_text(SUBSCRIPTIONS)
    with serve_samples(SAMPLES) as base:
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(json.dumps({"feeds": [{"url": f"{base}/{name}", "name": title}
                                               for name, title in SAMPLE_FEEDS]}))
        env = wirewatch_env(
            WIREWATCH_KAFKA_BOOTSTRAP=broker.bootstrap, WIREWATCH_REDIS_URL=redis_server,
            WIREWATCH_TOPIC_PREFIX=f"{unique}.", WIREWATCH_APP_ID=f"ww-{unique}",
            WIREWATCH_REDIS_PREFIX=f"{unique}:", WIREWATCH_DATA_DIR=str(tmp_path / "data"),
            WIREWATCH_WEB_PORT=str(free_port()),
            WIREWATCH_FETCH_ALLOW_NETWORKS='["127.0.0.0/8"]',
            WIREWATCH_KAFKA_IDEMPOTENCE=str(broker.idempotent).lower(),
        )
        log_file = (tmp_path / "worker.log").open("w")
        worker = subprocess.Popen(
            [sys.executable, "-m", "wirewatch", "run", "--feeds", str(feeds),
             "--subscriptions", str(subscriptions)],
            env=env, stdout=subprocess.PIPE, stderr=log_file, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(worker.stdout or []), daemon=True)
        reader.start()
        try:
            # Every stage has written all it will once the DLQ, tagged and alerts topics are
            # complete; the console then shows both alerts. Waits end on those conditions.
            dead = await read_all(broker.bootstrap, topics.dlq, expected=1, timeout=90)
            tagged_records = await read_all(broker.bootstrap, topics.tagged, expected=7,
                                            timeout=90)
            await asyncio.to_thread(wait_for, lambda: sum(
                line.startswith("ALERT ") for line in list(lines)) >= 2, 60, "two alerts")
        finally:
            worker.terminate()
            worker.wait(timeout=60)
            reader.join(10)  # the reader thread owns stdout: every line lands in `lines`
            if worker.stdout is not None:
                worker.stdout.close()
            log_file.close()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()[-3000:]
    alert_lines = [line.rstrip("\n") for line in lines if line.startswith("ALERT ")]
    # Feeds are fetched concurrently, so whichever copy of a story comes first alerts.
    assert len(alert_lines) == 2
    microsoft_line, openai_line = sorted(alert_lines)
    assert microsoft_line == ("ALERT [Microsoft earnings] Microsoft quarterly profit rose 18% "
                              "on cloud demand")
    assert openai_line.startswith("ALERT [OpenAI safety and leadership] ")
    assert "OpenAI disbands its superalignment safety team" in openai_line

    raw = await read_all(broker.bootstrap, topics.raw, expected=8)
    articles = [decode(r.value, Article) for r in
                await read_all(broker.bootstrap, topics.articles, expected=7)]
    tagged = [decode(r.value, TaggedArticle) for r in tagged_records]
    alerts = [decode_alert(r.value) for r in
              await read_all(broker.bootstrap, topics.alerts, expected=2)]

    assert len(raw) == 8  # 7 feed items plus the bad record
    assert len(articles) == 7 and len(tagged) == 7
    stories = {a.story_id for a in articles}
    assert len(stories) == 4  # OpenAI x3 and Microsoft x2 fold into one story each
    assert sum(a.is_duplicate for a in articles) == 2 + 1
    for article in articles:
        if article.is_duplicate:
            assert article.duplicate_of == article.story_id != article.article_id
    by_title = {t.article.title: t for t in tagged if not t.article.is_duplicate}
    microsoft = by_title["Microsoft quarterly profit rose 18% on cloud demand"]
    assert "earnings" in microsoft.topics
    assert [e.id for e in microsoft.entities] == ["microsoft"]
    assert sorted(a.subscription_id for a in alerts) == [
        "microsoft-earnings", "openai-safety-and-leadership"]
    assert len({a.story_id for a in alerts}) == 2

    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["stage"] == "normalise"
    assert headers["source_topic"] == topics.raw
    assert dead[0].value == b"{not json"
    msgspec.json.decode(json.dumps(headers))  # headers are plain text a non-Python reader gets
