"""Console notifier: prints one readable block per alert to a text stream."""

from __future__ import annotations

import sys
from typing import TextIO

from wirewatch.alerts.records import Alert
from wirewatch.alerts.render import link_or_note


def format_alert(alert: Alert) -> str:
    """A terminal rendering of an alert; control characters from feeds are removed."""
    def clean(text: str) -> str:
        return "".join(ch for ch in text if ch.isprintable())

    lines = [
        f"ALERT [{clean(alert.subscription_name)}] {clean(alert.title)}",
        f"  {clean(link_or_note(alert.url))}  ({clean(alert.source)}, "
        f"{alert.outlets} outlet(s))",
        f"  topics: {clean(', '.join(alert.topics)) or '-'}   "
        f"entities: {clean(', '.join(alert.entities)) or '-'}",
    ]
    if alert.evidence:
        lines.append(f"  why: {clean('; '.join(alert.evidence))}")
    return "\n".join(lines)


class ConsoleNotifier:
    """Writes alerts to stdout (or any stream); never fails for reasons worth retrying."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    async def notify(self, alert: Alert, thread: str | None = None) -> str | None:
        print(format_alert(alert), file=self.stream, flush=True)
        return None
