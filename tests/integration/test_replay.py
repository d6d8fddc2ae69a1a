"""Replay over a known history on the session's broker and Redis: exact matches, no live
writes in a dry run, interrupt and resume, and no repeated alert after live processing."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from wirewatch.alerts.store import SubscriptionStore
from wirewatch.alerts.subscriptions import Subscription
from wirewatch.connectors.records import encode_raw_item
from wirewatch.streams.demo import serve_loopback
from wirewatch.streams.replay.engine import run_id
from wirewatch.streams.replay.report import Report
from wirewatch.streams.replay.run import (
    Checkpoint,
    ReplayPlan,
    Services,
    checkpoint_path,
    run_replay,
)
from wirewatch.streams.settings import Settings
from wirewatch.streams.topics import TopicNames

from tests.support.processes import stop, wait_for, wirewatch_env
from tests.support.replay_corpus import T0, history

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

SUBSCRIPTIONS = [
    Subscription.create(name="OpenAI leadership", owner="ana",
                        query="entity:openai AND topic:leadership-change"),
    Subscription.create(name="Microsoft earnings", owner="bo",
                        query="entity:microsoft AND topic:earnings")]
EXPECTED = {("openai-leadership", "wire.example-2"), ("microsoft-earnings", "markets.example-6")}
WINDOW = (T0.isoformat(), (T0 + timedelta(hours=3)).isoformat())


@dataclass
class History:
    topics: TopicNames
    prefix: str
    services: Services


async def _produce_history(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for item in history():
            await producer.send_and_wait(
                topic, key=item.item_id.encode(), value=encode_raw_item(item),
                timestamp_ms=int(item.fetched_at.timestamp() * 1000))
    finally:
        await producer.stop()


@pytest.fixture
async def recorded(broker: Any, redis_server: str, redis_client: aioredis.Redis, unique: str,
                   topic_factory: Any, tmp_path: Path) -> History:
    topics = await topic_factory(prefix=f"{unique}.")
    await _produce_history(broker.bootstrap, topics.raw)
    store = SubscriptionStore(redis_client, prefix=f"{unique}:")
    for subscription in SUBSCRIPTIONS:
        await store.save(subscription)
    services = Services(kafka_bootstrap=broker.bootstrap, redis_url=redis_server,
                        redis_prefix=f"{unique}:", tagger=Settings().tagger_source(),
                        dedupe_window_seconds=7 * 86400, ledger_days=30, out_dir=tmp_path)
    return History(topics, f"{unique}:", services)


def plan_for(recorded: History, **changes: Any) -> ReplayPlan:
    return ReplayPlan(**{"run_id": run_id(), "start": WINDOW[0], "end": WINDOW[1],
                         "topic": recorded.topics.raw, **changes})


def found(report: Report) -> set[tuple[str, str]]:
    return {(m.subscription, m.story_id) for m in report.matches}


async def test_dry_run_reports_exactly_the_window_and_writes_nothing_live(
        recorded: History, redis_client: aioredis.Redis) -> None:
    plan = plan_for(recorded)
    report = await run_replay(plan, recorded.services, stop=asyncio.Event())
    assert report.complete and found(report) == EXPECTED
    assert len(report.matches) == 2 and not any(m.already_sent for m in report.matches)
    counts = report.counts
    assert (counts["articles"], counts["new_stories"], counts["duplicates"]) == (7, 3, 4)
    assert counts["records"] - counts["outside_window"] == 7
    assert report.by_topic["leadership-change"] == {"articles": 3, "stories": 1}
    assert report.by_topic["earnings"] == {"articles": 2, "stories": 1}
    assert report.by_entity["openai"]["articles"] == 3
    assert report.by_source["wire.example"]["articles"] == 3
    markdown = report.to_markdown()
    assert "[OpenAI names new head of its safety team" in markdown
    assert "https://wire.example/news/2" in report.to_csv()
    # Nothing live was touched, and the scratch dedupe index is gone.
    assert [k async for k in redis_client.scan_iter(match=f"{recorded.prefix}*")] != []
    for pattern in ("dd*", "sent:*", "outbox*", "replay:*"):
        assert [k async for k in redis_client.scan_iter(
            match=f"{recorded.prefix}{pattern}")] == [], pattern

    only_msft = await run_replay(plan_for(recorded, subscriptions=["microsoft-earnings"],
                                          feeds=["markets.example"]),
                                 recorded.services, stop=asyncio.Event())
    assert found(only_msft) == {("microsoft-earnings", "markets.example-6")}
    assert only_msft.counts["articles"] == 1 and only_msft.counts["filtered_out"] == 6


async def test_interrupted_replay_resumes_and_processes_every_item_once(
        recorded: History) -> None:
    stop_now = asyncio.Event()
    seen: list[int] = []

    def progress(done: int, total: int | None) -> None:
        seen.append(done)
        if done >= 2:
            stop_now.set()  # as Ctrl-C does: the batch in hand finishes, then it stops

    plan = plan_for(recorded)
    first = await run_replay(plan, recorded.services, stop=stop_now, progress=progress,
                             batch_size=2)
    assert not first.complete and first.counts["records"] < 7
    checkpoint = Checkpoint.load(checkpoint_path(recorded.services.out_dir))
    assert checkpoint.done == first.counts["records"] and checkpoint.total == 7
    resumed = await run_replay(checkpoint.plan, recorded.services, stop=asyncio.Event(),
                               resume=checkpoint, batch_size=2,
                               progress=lambda done, total: seen.append(done))
    assert resumed.complete
    assert resumed.counts["records"] == 7 and resumed.counts["articles"] == 7
    assert (resumed.counts["new_stories"], resumed.counts["duplicates"]) == (3, 4)
    assert found(resumed) == EXPECTED and len(resumed.matches) == 2
    assert seen == sorted(seen) and seen[-1] == 7


async def test_deliver_queues_each_alert_once(recorded: History) -> None:
    first = await run_replay(plan_for(recorded, deliver=True), recorded.services,
                             stop=asyncio.Event())
    assert first.counts["queued"] == 2 and [m.queued for m in first.matches] == [
        ["console"], ["console"]]
    again = await run_replay(plan_for(recorded, deliver=True), recorded.services,
                             stop=asyncio.Event())
    assert found(again) == EXPECTED
    assert again.counts["queued"] == 0 and again.counts["already_sent"] == 2


class _Hook(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        self.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    _Hook.bodies = []
    with serve_loopback(_Hook, "webhook") as url:
        yield f"{url}/hook"


def test_replay_after_live_processing_sends_nothing_new(recorded: History, broker: Any,
                                                       hook: str, tmp_path: Path,
                                                       unique: str) -> None:
    channels = tmp_path / "channels.yaml"
    channels.write_text(json.dumps({"channels": [
        {"id": "hook", "kind": "webhook", "url": hook, "secret": "s"}]}))
    subscriptions = tmp_path / "subscriptions.yaml"
    subscriptions.write_text(json.dumps({"subscriptions": [
        {**s.to_dict(), "channels": ["hook"]} for s in SUBSCRIPTIONS]}))
    env = wirewatch_env(
        WIREWATCH_KAFKA_BOOTSTRAP=broker.bootstrap, WIREWATCH_REDIS_URL=recorded.services.redis_url,
        WIREWATCH_TOPIC_PREFIX=f"{unique}.", WIREWATCH_APP_ID=f"ww-{unique}",
        WIREWATCH_REDIS_PREFIX=recorded.prefix, WIREWATCH_DATA_DIR=str(tmp_path / "data"),
        WIREWATCH_CHANNELS_FILE=str(channels), WIREWATCH_WEB_PORT="0",
        WIREWATCH_KAFKA_IDEMPOTENCE=str(broker.idempotent).lower())
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([sys.executable, "-m", "wirewatch", "run", "--subscriptions",
                               str(subscriptions), "--exit-after-alerts", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_for(lambda: len(_Hook.bodies) >= 2, 90, "the live worker's two alerts")
        assert worker.wait(timeout=60) == 0
    finally:
        stop(worker)
        log.close()

    def wirewatch(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wirewatch", *args], env=env, text=True,
                              capture_output=True, timeout=120)

    # Live processing met the copies in its own order, so a story's id is whichever copy
    # it saw first; the replay must agree with live, whatever that was.
    live = {(a["subscription_id"], a["story_id"]) for a in map(json.loads, _Hook.bodies)}
    assert {subscription for subscription, _ in live} == {s.id for s in SUBSCRIPTIONS}
    reports = tmp_path / "reports"
    dry = wirewatch("replay", "--from", WINDOW[0], "--to", WINDOW[1], "--report-dir",
                    str(reports / "dry"), "--json")
    assert dry.returncode == 0, dry.stderr
    document = json.loads(dry.stdout)
    assert {(m["subscription"], m["story_id"]) for m in document["matches"]} == live
    assert all(m["already_sent"] for m in document["matches"])
    assert (reports / "dry" / "report.md").exists() and (reports / "dry" / "matches.csv").exists()

    delivered = wirewatch("replay", "--from", WINDOW[0], "--to", WINDOW[1], "--deliver",
                          "--report-dir", str(reports / "deliver"))
    assert delivered.returncode == 0, delivered.stderr
    assert "queued for delivery now: 0 (already sent live: 2)" in delivered.stdout
    assert len(_Hook.bodies) == 2

    backtest = wirewatch("subscriptions", "backtest", "microsoft-earnings", "--from",
                         WINDOW[0], "--to", WINDOW[1], "--json")
    assert backtest.returncode == 0, backtest.stderr
    [line] = backtest.stdout.splitlines()
    assert ("microsoft-earnings", json.loads(line)["story_id"]) in live
    assert json.loads(line)["event_id"]  # backtests report the story's event too

    bad = wirewatch("replay", "--from", "yesterday-ish")
    assert bad.returncode == 2 and "is not a time" in bad.stderr


def test_archive_then_replay_from_it_finds_what_kafka_replay_finds(
        recorded: History, broker: Any, tmp_path: Path, unique: str) -> None:
    env = wirewatch_env(
        WIREWATCH_KAFKA_BOOTSTRAP=broker.bootstrap, WIREWATCH_REDIS_URL=recorded.services.redis_url,
        WIREWATCH_TOPIC_PREFIX=f"{unique}.", WIREWATCH_APP_ID=f"ww-{unique}",
        WIREWATCH_REDIS_PREFIX=recorded.prefix, WIREWATCH_DATA_DIR=str(tmp_path / "data"))

    def wirewatch(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wirewatch", *args], env=env, text=True,
                              capture_output=True, timeout=120)

    archived = wirewatch("archive", "--dir", str(tmp_path / "archive"), "--once")
    assert archived.returncode == 0, archived.stderr
    documents = []
    for source in ([], ["--from-archive", str(tmp_path / "archive")]):
        replayed = wirewatch("replay", "--from", WINDOW[0], "--to", WINDOW[1], *source,
                             "--report-dir", str(tmp_path / f"report{len(documents)}"),
                             "--json")
        assert replayed.returncode == 0, replayed.stderr
        documents.append(json.loads(replayed.stdout))
    from_kafka, from_archive = documents
    assert from_archive["source"].startswith("archive ")
    assert {(m["subscription"], m["story_id"]) for m in from_archive["matches"]} == EXPECTED
    for key in ("matches", "by_topic", "by_entity", "by_source"):
        assert from_archive[key] == from_kafka[key], key
    assert from_archive["counts"]["articles"] == from_kafka["counts"]["articles"] == 7


async def test_a_missing_topic_is_named_and_not_created(recorded: History, broker: Any) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from wirewatch.streams.replay.run import ReplayError

    missing = f"{recorded.topics.raw}.typo"
    with pytest.raises(ReplayError, match="does not exist"):
        await run_replay(plan_for(recorded, topic=missing), recorded.services,
                         stop=asyncio.Event())
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        assert missing not in await admin.list_topics()
    finally:
        await admin.close()


async def test_the_report_carries_the_runs_wall_clock_duration(recorded: History) -> None:
    began = time.monotonic()
    report = await run_replay(plan_for(recorded, rate=5.0), recorded.services,
                              stop=asyncio.Event(), batch_size=2)
    wall = time.monotonic() - began
    # Seven records at five a second: the rate holds the run back for 1.4 s at least.
    assert report.complete and report.run_records == 7
    assert 1.4 <= report.run_seconds <= wall
    assert report.elapsed_seconds == report.run_seconds  # one run: the total is this run
    assert f"- Elapsed: {report.run_seconds:.1f} s\n" in report.to_markdown()

    # Interrupted and resumed: each run reports its own records and time, and the total
    # adds the interrupted run's time.
    stop_now = asyncio.Event()
    first = await run_replay(plan_for(recorded), recorded.services, stop=stop_now,
                             progress=lambda done, total: stop_now.set() if done else None,
                             batch_size=2)
    checkpoint = Checkpoint.load(checkpoint_path(recorded.services.out_dir))
    resumed = await run_replay(checkpoint.plan, recorded.services, stop=asyncio.Event(),
                               resume=checkpoint, batch_size=2)
    assert first.run_records + resumed.run_records == resumed.counts["records"] == 7
    assert resumed.elapsed_seconds == pytest.approx(first.elapsed_seconds
                                                    + resumed.run_seconds)
    assert "over every run; the last read" in resumed.to_markdown()


def test_the_summary_says_how_long_the_replay_took(recorded: History, broker: Any,
                                                   tmp_path: Path, unique: str) -> None:
    env = wirewatch_env(
        WIREWATCH_KAFKA_BOOTSTRAP=broker.bootstrap, WIREWATCH_REDIS_URL=recorded.services.redis_url,
        WIREWATCH_TOPIC_PREFIX=f"{unique}.", WIREWATCH_REDIS_PREFIX=recorded.prefix,
        WIREWATCH_DATA_DIR=str(tmp_path / "data"))
    began = time.monotonic()
    replayed = subprocess.run([sys.executable, "-m", "wirewatch", "replay", "--from", WINDOW[0],
                               "--to", WINDOW[1], "--rate", "5", "--report-dir",
                               str(tmp_path / "report")], env=env, text=True,
                              capture_output=True, timeout=120)
    wall = time.monotonic() - began
    assert replayed.returncode == 0, replayed.stderr
    summary = re.search(r"^replayed 7 records in (\d+\.\d) s: 7 articles in the window "
                        r"\(3 stories\)$", replayed.stdout, re.MULTILINE)
    assert summary, replayed.stdout
    assert 1.4 <= float(summary[1]) <= wall  # one batch of seven, held back by --rate 5
