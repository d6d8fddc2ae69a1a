"""Dead-letter records: what failed, where it came from, and why (in Kafka headers)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeadLetter:
    """An input a stage could not process, with enough context to replay it later."""

    stage: str
    error: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    attempts: int = 1

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("stage", self.stage.encode()),
            ("error", self.error[:1000].encode("utf-8", "replace")),
            ("source_topic", self.topic.encode()),
            ("source_partition", str(self.partition).encode()),
            ("source_offset", str(self.offset).encode()),
            ("attempts", str(self.attempts).encode()),
        ]
