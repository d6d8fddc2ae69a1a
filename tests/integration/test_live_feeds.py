"""Feeds added or removed with `wirewatch feeds` while `wirewatch run` is up apply live,
within WIREWATCH_FEEDS_REFRESH_SECONDS; `feeds list` shows the feeds file's too."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from wirewatch.streams.demo import SAMPLES, serve_samples
from wirewatch.streams.embedded import free_port

from tests.support.processes import wait_for, wirewatch_env

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

SUBSCRIPTION = """
subscriptions:
  - {name: Microsoft earnings, owner: test, query: 'entity:microsoft AND topic:earnings'}
"""


def wirewatch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wirewatch", *args], env=env,
                          capture_output=True, text=True, timeout=60, input="")


def test_a_feed_added_while_running_is_polled_and_one_removed_is_dropped(
        broker, redis_server, unique, tmp_path: Path) -> None:
    subscriptions = tmp_path / "subscriptions.yaml"
    subscriptions.write_text(SUBSCRIPTION)
    env = wirewatch_env(
        WIREWATCH_KAFKA_BOOTSTRAP=broker.bootstrap, WIREWATCH_REDIS_URL=redis_server,
        WIREWATCH_TOPIC_PREFIX=f"{unique}.", WIREWATCH_APP_ID=f"ww-{unique}",
        WIREWATCH_REDIS_PREFIX=f"{unique}:", WIREWATCH_DATA_DIR=str(tmp_path / "data"),
        WIREWATCH_WEB_PORT=str(free_port()), WIREWATCH_FEEDS_REFRESH_SECONDS="1",
        WIREWATCH_KAFKA_IDEMPOTENCE=str(broker.idempotent).lower())
    log = tmp_path / "run.log"
    with serve_samples(SAMPLES) as base, log.open("w") as log_file:
        # no feeds at all when it starts; the sample server is on loopback, allowed here
        running = subprocess.Popen(
            [sys.executable, "-m", "wirewatch", "run", "--subscriptions", str(subscriptions),
             "--allow-network", "127.0.0.0/8"],
            env=env, stdout=subprocess.PIPE, stderr=log_file, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(running.stdout or []),
                                  daemon=True)
        reader.start()
        try:
            # the registry is read at start-up, then announced: a feed added after that is
            # one the running pipeline has to pick up by itself
            wait_for(lambda: "wirewatch: web http" in log.read_text(), 60, "the pipeline")
            url = f"{base}/marketbrief.json"
            added = wirewatch("feeds", "add", url, "--name", "MarketBrief", env=env)
            assert added.returncode == 0, added.stderr
            wait_for(lambda: any(line.startswith("ALERT [Microsoft earnings]")
                                 for line in list(lines)), 90,
                     "the alert from the feed added while running")
            assert "feeds changed: 1 added, 0 removed" in log.read_text()
            removed = wirewatch("feeds", "remove", url, "--yes", env=env)
            assert removed.returncode == 0, removed.stderr
            wait_for(lambda: "feeds changed: 0 added, 1 removed" in log.read_text(), 30,
                     "the removed feed to be dropped")
        finally:
            running.terminate()
            running.wait(timeout=60)
            reader.join(10)
            if running.stdout is not None:
                running.stdout.close()
    assert running.returncode == 0, log.read_text()[-3000:]


def test_feeds_list_shows_file_feeds_marked_and_every_feeds_health(
        redis_server, unique, tmp_path: Path) -> None:
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(json.dumps({"feeds": [{"url": "https://file.example/rss",
                                                 "name": "From the file"}]}))
    env = wirewatch_env(WIREWATCH_REDIS_URL=redis_server, WIREWATCH_REDIS_PREFIX=f"{unique}:",
                        WIREWATCH_FEEDS_FILE=str(feeds_file))
    assert wirewatch("feeds", "add", "https://registry.example/rss", "--name", "Added",
                     env=env).returncode == 0
    listed = [json.loads(line) for line in
              wirewatch("feeds", "list", "--json", env=env).stdout.splitlines()]
    assert [(f["name"], f["source"], f["health"]) for f in listed] == [
        ("Added", "registry", "new"), ("From the file", "file", "new")]
    table = wirewatch("feeds", "list", env=env)
    assert "file" in table.stdout and "https://file.example/rss" in table.stdout
    assert table.stderr.strip() == "2 feed(s)"
