"""The subscription web form: its fields to the mapping `from_mapping` reads, and back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wirewatch.alerts.errors import SubscriptionError
from wirewatch.alerts.subscriptions import NEW_PER, Subscription

FIELDS = ("id", "name", "owner", "query", "mode", "at", "timezone", "quiet_start", "quiet_end",
          "rate_cap_per_hour", "min_salience", "group_wait_seconds", "group_interval_seconds",
          "update_after_outlets", "update_on_new_headline", "per", "update_after_stories")
BLANK: dict[str, str] = {"mode": "immediate", "at": "08:00", "timezone": "UTC",
                         "min_salience": "0", "group_wait_seconds": "0",
                         "group_interval_seconds": "300", "update_after_outlets": "5",
                         "update_on_new_headline": "on", "per": NEW_PER,
                         "update_after_stories": "3"}


def _number(fields: Mapping[str, str], key: str, label: str, kind: type[int] | type[float],
            default: float | None) -> Any:
    text = fields.get(key, "").strip()
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        whole = "a whole number" if kind is int else "a number"
        raise SubscriptionError(f"{label}: {text!r} is not {whole}") from None


def form_to_mapping(fields: Mapping[str, str], channels: Sequence[str]) -> dict[str, Any]:
    """What the form says, as a subscription mapping; mistakes name the field."""
    for key, label in (("name", "Name"), ("query", "Query")):
        if not fields.get(key, "").strip():
            raise SubscriptionError(f"{label} is required")
    if not channels:
        raise SubscriptionError("Pick at least one channel")
    schedule: dict[str, Any] = {"mode": fields.get("mode", "immediate"),
                                "timezone": fields.get("timezone", "").strip() or "UTC",
                                "at": fields.get("at", "").strip() or "08:00"}
    quiet = (fields.get("quiet_start", "").strip(), fields.get("quiet_end", "").strip())
    if any(quiet):
        if not all(quiet):
            raise SubscriptionError("Quiet hours need both a start and an end")
        schedule["quiet_hours"] = list(quiet)
    cap = _number(fields, "rate_cap_per_hour", "Rate cap", int, None)
    if cap is not None:
        schedule["rate_cap_per_hour"] = cap
    schedule["group_wait_seconds"] = _number(fields, "group_wait_seconds", "Group wait",
                                             float, 0.0)
    schedule["group_interval_seconds"] = _number(fields, "group_interval_seconds",
                                                 "Group interval", float, 300.0)
    mapping: dict[str, Any] = {
        "name": fields["name"].strip(), "owner": fields.get("owner", "").strip(),
        "query": fields["query"].strip(), "channels": list(channels), "schedule": schedule,
        "min_salience": _number(fields, "min_salience", "Minimum salience", float, 0.0),
        "update_after_outlets": _number(fields, "update_after_outlets", "Update after outlets",
                                        int, None),
        "update_on_new_headline": bool(fields.get("update_on_new_headline")),
        "per": fields.get("per", NEW_PER) or NEW_PER,
        "update_after_stories": _number(fields, "update_after_stories",
                                        "Update after stories", int, 3)}
    if fields.get("id", "").strip():
        mapping["id"] = fields["id"].strip()
    return mapping


def subscription_to_form(subscription: Subscription) -> dict[str, str]:
    """A stored subscription as the form's field values (what `form_to_mapping` reads)."""
    schedule = subscription.schedule
    quiet = schedule.quiet_hours or ("", "")
    return {
        "id": subscription.id, "name": subscription.name, "owner": subscription.owner,
        "query": subscription.query, "mode": schedule.mode, "at": schedule.at,
        "timezone": schedule.timezone, "quiet_start": quiet[0], "quiet_end": quiet[1],
        "rate_cap_per_hour": str(schedule.rate_cap_per_hour or ""),
        "min_salience": f"{subscription.min_salience:g}",
        "group_wait_seconds": f"{schedule.group_wait_seconds:g}",
        "group_interval_seconds": f"{schedule.group_interval_seconds:g}",
        "update_after_outlets": str(subscription.update_after_outlets or ""),
        "update_on_new_headline": "on" if subscription.update_on_new_headline else "",
        "per": subscription.per, "update_after_stories": str(subscription.update_after_stories)}
