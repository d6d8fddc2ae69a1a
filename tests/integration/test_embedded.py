"""Embedded services: Redis persists under the data dir; a second wirewatch shares it."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from wirewatch.streams.embedded import EmbeddedServiceError, embedded_services, start_redis

pytestmark = pytest.mark.redis


def test_embedded_redis_keeps_its_data_across_restarts(tmp_path: Path):
    child, url = start_redis(tmp_path, tmp_path / "logs")
    try:
        with redis.Redis.from_url(url) as client:
            client.set("ww:test", "kept")
    finally:
        child.stop()  # SIGTERM: redis-server writes its AOF before exiting
    child, url = start_redis(tmp_path, tmp_path / "logs")
    try:
        with redis.Redis.from_url(url) as client:
            assert client.get("ww:test") == b"kept"
    finally:
        child.stop()


def test_second_process_on_one_data_dir_uses_the_running_redis(tmp_path: Path):
    with embedded_services("unused:9092", None, tmp_path) as first:
        assert first.embedded_redis
        with embedded_services("unused:9092", None, tmp_path, need_kafka=False) as second:
            assert second.redis_url == first.redis_url
            assert not second.embedded_redis
    assert not (tmp_path / "redis.url").exists()


def test_a_stale_lock_holder_without_redis_is_reported(tmp_path: Path):
    with embedded_services("unused:9092", None, tmp_path) as first:
        (tmp_path / "redis.url").write_text("redis://127.0.0.1:1/0")
        with pytest.raises(EmbeddedServiceError, match="not reachable"):
            with embedded_services("unused:9092", None, tmp_path):
                pass
        assert first.embedded_redis
