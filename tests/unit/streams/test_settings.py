"""Settings: WIREWATCH_* environment variables, masked secrets, documented fields."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError
from wirewatch.streams.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("WIREWATCH_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(("variable", "value", "field", "expected"), [
    ("WIREWATCH_KAFKA_BOOTSTRAP", "k1:9092,k2:9092", "kafka_bootstrap", "k1:9092,k2:9092"),
    ("WIREWATCH_KAFKA_IDEMPOTENCE", "true", "kafka_idempotence", True),
    ("WIREWATCH_KAFKA_IDEMPOTENCE", "0", "kafka_idempotence", False),
    ("WIREWATCH_TOPIC_PREFIX", "staging.", "topic_prefix", "staging."),
    ("WIREWATCH_TOPIC_PARTITIONS", "8", "topic_partitions", 8),
    ("WIREWATCH_DATA_DIR", "/tmp/ww", "data_dir", Path("/tmp/ww")),
    ("WIREWATCH_FETCH_ALLOW_NETWORKS", '["127.0.0.0/8", "10.0.0.0/8"]',
     "fetch_allow_networks", ["127.0.0.0/8", "10.0.0.0/8"]),
    ("WIREWATCH_DEDUPE_WINDOW_DAYS", "1.5", "dedupe_window_days", 1.5),
    ("wirewatch_web_port", "8080", "web_port", 8080),  # case-insensitive names
])
def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, variable: str,
                                        value: str, field: str, expected: object) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(Settings(), field) == expected


def test_variables_without_the_prefix_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPIC_PREFIX", "nope.")
    monkeypatch.setenv("WIREWATCH_NOT_A_SETTING", "x")
    assert Settings().topic_prefix == ""


@pytest.mark.parametrize(("variable", "value"), [
    ("WIREWATCH_TOPIC_PARTITIONS", "0"),
    ("WIREWATCH_WEB_PORT", "70000"),
    ("WIREWATCH_FETCH_DEADLINE_SECONDS", "0"),
    ("WIREWATCH_POLL_MIN_SECONDS", "-1"),
    ("WIREWATCH_TOPIC_REPLICATION", "many"),
])
def test_invalid_values_are_rejected(monkeypatch: pytest.MonkeyPatch, variable: str,
                                     value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()


def test_effective_masks_the_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIREWATCH_REDIS_URL", "redis://:hunter2@db:6379/0")
    settings = Settings()
    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == "redis://:hunter2@db:6379/0"
    shown = settings.effective()
    assert shown["redis_url"] == "**********"
    assert "hunter2" not in repr(shown)
    assert "hunter2" not in repr(settings)


def test_effective_lists_every_field_as_plain_values() -> None:
    shown = Settings().effective()
    assert set(shown) == set(Settings.model_fields)
    assert shown["redis_url"] is None
    assert isinstance(shown["data_dir"], str)
    assert shown["taxonomy_file"] is None  # unset: <data_dir>/taxonomy.yaml when it exists


def test_user_rule_files_default_to_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.user_taxonomy == tmp_path / "taxonomy.yaml"
    assert settings.user_watchlist == tmp_path / "watchlist.yaml"
    mine = Settings(data_dir=tmp_path, watchlist_file=tmp_path / "w.yaml")
    assert mine.user_watchlist == tmp_path / "w.yaml"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_field_is_described(name: str) -> None:
    assert Settings().describe()[name].strip()


def test_alert_links_never_point_at_a_wildcard_address() -> None:
    import socket

    assert Settings(web_host="0.0.0.0", web_port=7000).public_web_url() == (
        f"http://{socket.gethostname()}:7000")
    assert Settings(web_host="127.0.0.1", web_port=7000).public_web_url() == (
        "http://127.0.0.1:7000")
    assert Settings(dashboard_url="https://ww.example").public_web_url() == "https://ww.example"
