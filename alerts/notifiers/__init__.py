"""Notifiers, one module per channel: `async notify(alert, thread)` returns a message
reference (Slack ts, Message-ID) or None, and raises NotifierError on failure."""

from wirewatch.alerts.dispatch import Notifier

__all__ = ["Notifier"]
