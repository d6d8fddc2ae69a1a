"""A record as replay reads it, from Kafka or from the archive: everything Kafka keeps."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceRecord:
    """One Kafka record, byte for byte: key, value, headers and timestamp as written."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_type: int = 0  # 0 CreateTime (set by the producer), 1 LogAppendTime


def from_consumer_record(message: object) -> SourceRecord:
    """An aiokafka ConsumerRecord as a SourceRecord."""
    return SourceRecord(
        topic=message.topic, partition=message.partition,  # type: ignore[attr-defined]
        offset=message.offset, timestamp_ms=message.timestamp,  # type: ignore[attr-defined]
        key=message.key, value=message.value,  # type: ignore[attr-defined]
        headers=tuple((k, bytes(v)) for k, v in message.headers or ()),  # type: ignore[attr-defined]
        timestamp_type=message.timestamp_type)  # type: ignore[attr-defined]
