"""Every labelled counter the alert rules watch is exported at zero from a role's start, so
Prometheus' `increase()` sees the first failure (a series that appears already at 1 has
no earlier sample to count from)."""

from __future__ import annotations

from typing import Any, cast

import aiohttp
import pytest
from prometheus_client import REGISTRY, generate_latest
from wirewatch.alerts import metrics as alert_metrics
from wirewatch.alerts.channels import Channels
from wirewatch.alerts.dispatch import RetryPolicy
from wirewatch.connectors import metrics as connector_metrics
from wirewatch.streams import runner
from wirewatch.streams.app import pipeline_steps
from wirewatch.streams.delivery import Delivery, deliver_until_cancelled
from wirewatch.streams.embedded import Endpoints
from wirewatch.streams.ops import metrics as stream_metrics
from wirewatch.streams.settings import Settings
from wirewatch.streams.topics import TopicNames


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def scraped() -> str:
    return generate_latest(REGISTRY).decode()


def worker_stages() -> list[str]:
    """The stage names the worker really runs (building the steps touches none of these)."""
    unused = cast(Any, None)
    steps = pipeline_steps(TopicNames.with_prefix(""), unused, assigner=unused, stories=unused,
                           activity=unused, live=unused, sent_store=unused, outbox=unused,
                           events=unused)
    return [step.stage for step in steps]


def test_the_worker_stages_are_the_four_of_the_pipeline() -> None:
    assert worker_stages() == ["normalise", "tag", "match", "deliver"]


def test_stage_counters_start_at_zero_for_every_stage() -> None:
    fresh = "deploy-test-stage"  # no other test touches it: its value must be exactly 0
    assert sample("wirewatch_stage_dead_lettered_total", stage=fresh) is None
    stream_metrics.initialise([*worker_stages(), fresh])
    for stage in [*worker_stages(), fresh]:
        assert sample("wirewatch_stage_dead_lettered_total", stage=stage) is not None, stage
        for direction in stream_metrics.DIRECTIONS:
            assert sample("wirewatch_stage_items_total", stage=stage,
                          direction=direction) is not None, (stage, direction)
    text = scraped()
    assert f'wirewatch_stage_dead_lettered_total{{stage="{fresh}"}} 0.0' in text
    assert f'wirewatch_stage_items_total{{direction="in",stage="{fresh}"}} 0.0' in text
    for kind in stream_metrics.ARTICLE_KINDS:
        assert sample("wirewatch_articles_total", kind=kind) is not None


def test_initialising_again_keeps_what_was_counted() -> None:
    stage = "deploy-test-counted"
    stream_metrics.initialise([stage])
    stream_metrics.DEAD_LETTERS.labels(stage).inc()
    stream_metrics.initialise([stage])
    assert sample("wirewatch_stage_dead_lettered_total", stage=stage) == 1.0


def test_delivery_counters_start_at_zero_for_every_channel() -> None:
    channels = ["deploy-test-slack", "deploy-test-mail"]
    alert_metrics.initialise(channels)
    text = scraped()
    for channel in channels:
        assert f'wirewatch_alerts_sent_total{{channel="{channel}"}} 0.0' in text
        assert f'wirewatch_alerts_skipped_total{{channel="{channel}"}} 0.0' in text
        for reason in alert_metrics.KNOWN_REASONS:
            for name in ("wirewatch_alerts_dead_lettered_total", "wirewatch_alerts_retried_total"):
                assert sample(name, channel=channel, reason=reason) == 0.0, (name, reason)


def test_feed_error_counters_start_at_zero_for_every_known_class() -> None:
    connector_metrics.initialise()
    for error_class in connector_metrics.KNOWN_ERROR_CLASSES:
        assert sample("wirewatch_feed_errors_total", error_class=error_class) is not None
    for status in connector_metrics.KNOWN_STATUSES:
        assert sample("wirewatch_feed_responses_total", status=status) is not None
    assert "FetchError" in connector_metrics.KNOWN_ERROR_CLASSES


# --- the call sites: each role initialises its series as it starts -------------------------

class Started(Exception):
    """Stops the delivery loop at its first step after the metrics."""


class StoppingChannels:
    """The channel ids of a channels file; building the notifiers stops the test."""

    ids = frozenset({"deploy-test-webhook", "deploy-test-console"})

    def notifiers(self, session: aiohttp.ClientSession, **kwargs: Any) -> Any:
        raise Started


async def test_delivery_initialises_the_configured_channels() -> None:
    unused = cast(Any, None)
    delivery = Delivery(outbox=unused, activity=unused,
                        channels=cast(Channels, StoppingChannels()), schedule_of=unused,
                        send_dead_letter=unused, alerts_topic="news.alerts.v1",
                        retry=RetryPolicy(), dashboard_url=None, slack_api_url="")
    with pytest.raises(Started):
        await deliver_until_cancelled(delivery)
    for channel in StoppingChannels.ids:
        assert sample("wirewatch_alerts_sent_total", channel=channel) == 0.0
        assert sample("wirewatch_alerts_dead_lettered_total", channel=channel,
                      reason="timeout") == 0.0


async def test_every_connector_initialises_the_feed_error_classes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`run` and `connect` both poll through connector_job: it zeroes the counters first."""
    started: list[str] = []

    def new_producer(*args: object, **kwargs: object) -> None:
        started.append("producer")  # the connector's first I/O: stop here
        raise Started

    monkeypatch.setattr(connector_metrics, "initialise", lambda: started.append("metrics"))
    monkeypatch.setattr(runner, "new_producer", new_producer)
    settings = Settings(kafka_bootstrap="kafka:9092", redis_url="redis://redis:6379/0")
    job = runner.connector_job(settings, Endpoints("kafka:9092", "redis://redis:6379/0",
                                                   embedded_kafka=False, embedded_redis=False),
                               [], TopicNames.with_prefix(""), idempotent=False)
    with pytest.raises(Started):
        await job()
    assert started == ["metrics", "producer"]
