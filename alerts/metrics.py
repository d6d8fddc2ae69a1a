"""Delivery metrics (Prometheus): what was sent, retried, failed and dead-lettered, by channel."""

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
