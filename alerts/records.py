"""The Alert wire record: one subscription matched one story, the payload of news.alerts.v1."""

from __future__ import annotations

from datetime import datetime

import msgspec


class DigestItem(msgspec.Struct, frozen=True, kw_only=True):
    """One story in a digest (or in a group of alerts sent as one message)."""

    alert_id: str
    story_id: str
    title: str
    url: str
    source: str
    outlets: int = 1
    is_update: bool = False
    event_stories: int = 0  # per-event alerts: the event's stories so far


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """An alert to deliver: which subscription, which story, and why it matched."""

    alert_id: str
    subscription_id: str
    subscription_name: str
    owner: str
    channels: list[str]
    story_id: str
    article_id: str
    title: str
    url: str
    source: str
    topics: list[str]
    entities: list[str]
    created_at: datetime
    evidence: list[str] = []
    outlets: int = 1
    is_update: bool = False  # a material change of a story already alerted
    update: int = 0  # which update of the story this is (0: the first alert)
    thread_of: str | None = None  # the alert this one updates (replies in its thread)
    digest: list[DigestItem] = []  # set when this message stands for several alerts
    event_id: str = ""  # the event the story reports ("" before events)
    per_event: bool = False  # the subscription is told once per event, not per story
    event_stories: int = 0  # per-event alerts: the event's stories so far


def event_unit(event_id: str) -> str:
    """An event as a ledger unit: apart from story ids (an event's id is its first story's)."""
    return f"event:{event_id}"


def alert_unit(alert: Alert) -> str:
    """What the ledger counts "once" for: the event (per-event subscriptions) or story."""
    return event_unit(alert.event_id) if alert.per_event and alert.event_id else alert.story_id


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Alert)


def encode_alert(alert: Alert) -> bytes:
    """Serialise an Alert to JSON bytes."""
    return _encoder.encode(alert)


def decode_alert(data: bytes) -> Alert:
    """Parse and validate JSON bytes as an Alert."""
    return _decoder.decode(data)
