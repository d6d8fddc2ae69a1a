"""Notifiers, one module per channel; each has `async notify(alert)` and raises NotifierError."""

from typing import Protocol

from alerts.records import Alert


class Notifier(Protocol):
    """A delivery channel."""

    async def notify(self, alert: Alert) -> None: ...
