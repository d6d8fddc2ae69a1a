"""Alerts for tests: a realistic default, any field overridden."""

from __future__ import annotations

from datetime import UTC, datetime

from wirewatch.alerts.records import Alert


def make_alert(**overrides: object) -> Alert:
    fields: dict[str, object] = dict(
        alert_id="a1", subscription_id="s", subscription_name="OpenAI", owner="ana",
        channels=["console"], story_id="st", article_id="ar", title="OpenAI names new CEO",
        url="https://example.com/a", source="Example", topics=["leadership-change"],
        entities=["openai"], created_at=datetime(2026, 1, 1, tzinfo=UTC),
        evidence=["entity:openai"], outlets=2)
    fields.update(overrides)
    return Alert(**fields)  # type: ignore[arg-type]
