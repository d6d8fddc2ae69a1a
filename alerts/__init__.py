"""Alerting: subscriptions and matching, the delivery ledger and notifiers (one per channel)."""

from wirewatch.alerts.errors import AlertsError, NotifierError, QueryError, SubscriptionError
from wirewatch.alerts.matching import StoryView, match_story
from wirewatch.alerts.query import parse_query
from wirewatch.alerts.records import Alert
from wirewatch.alerts.subscriptions import Subscription, load_subscriptions

__all__ = [
    "Alert",
    "AlertsError",
    "NotifierError",
    "QueryError",
    "StoryView",
    "Subscription",
    "SubscriptionError",
    "load_subscriptions",
    "match_story",
    "parse_query",
]
