"""Alerting: subscriptions and matching, the delivery ledger and notifiers (one per channel)."""

from alerts.errors import AlertsError, NotifierError, QueryError, SubscriptionError
from alerts.matching import StoryView, match_story
from alerts.query import parse_query
from alerts.records import Alert
from alerts.subscriptions import Subscription, load_subscriptions

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
