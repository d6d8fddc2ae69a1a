"""Delivery metrics (Prometheus): what was sent, retried, failed and dead-lettered, by channel."""

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

SENT = Counter("wirewatch_alerts_sent", "Alerts delivered.", ["channel"])
RETRIED = Counter("wirewatch_alerts_retried", "Delivery attempts that will be retried.",
                  ["channel", "reason"])
DEAD_LETTERED = Counter("wirewatch_alerts_dead_lettered",
                        "Alerts that failed for good and went to the DLQ.", ["channel", "reason"])
SKIPPED = Counter("wirewatch_alerts_skipped", "Alerts not sent again: the ledger had them.",
                  ["channel"])
LATENCY = Histogram("wirewatch_alert_delivery_seconds",
                    "From the alert's creation to its delivery.", ["channel"],
                    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
CIRCUIT = Gauge("wirewatch_channel_circuit_state",
                "A channel's circuit breaker: 0 closed (sending), 1 half-open (probing), "
                "2 open (paused after failures in a row).", ["channel"])

# The reasons every notifier can give (alerts.notifiers); status-specific ones such as
# "http_404" or "smtp_550" cannot be listed ahead, so the rules also catch new series.
KNOWN_REASONS = ("connection", "timeout", "rate_limited", "internal_error", "error")


def initialise(channels: Iterable[str]) -> None:
    """Export every channel's counters at zero, so `increase()` sees the first failure.

    prometheus_client only exports a labelled series once it is touched; a series that
    appears already at 1 has no earlier sample, and `increase()` over it is empty."""
    for channel in channels:
        SENT.labels(channel)
        SKIPPED.labels(channel)
        for reason in KNOWN_REASONS:
            RETRIED.labels(channel, reason)
            DEAD_LETTERED.labels(channel, reason)
