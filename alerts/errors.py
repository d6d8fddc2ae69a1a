"""Errors of the alerts package; notifier errors say whether a retry can succeed."""


class AlertsError(Exception):
    """Base class for alerts errors."""


class QueryError(AlertsError):
    """A subscription query does not parse; the message points at the offending token."""


class SubscriptionError(AlertsError):
    """A subscription (or subscriptions file) is invalid."""


class NotifierError(AlertsError):
    """Delivery failed. `retryable` tells the retry loop whether to try again; `reason` is a
    short code for metrics and the dead-letter record (e.g. "rate_limited", "http_404")."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None,
                 reason: str = "error") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.reason = reason


class ChannelError(AlertsError):
    """A channels file or channel definition is invalid."""
