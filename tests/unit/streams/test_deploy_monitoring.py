"""The Grafana dashboard and Prometheus rules in deploy/ use only metrics wirewatch exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import wirewatch.alerts.metrics  # noqa: F401 - registers the delivery metrics
import wirewatch.connectors.metrics  # noqa: F401
import wirewatch.streams.ops.metrics  # noqa: F401
import yaml
from prometheus_client import REGISTRY

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
            "gauge": ("",)}


def exported() -> set[str]:
    """Every series name the registry can produce, labelled children or not."""
    return {family.name + suffix for family in REGISTRY.collect()
            for suffix in SUFFIXES.get(family.type, ("",))}


def names_in(expressions: list[str]) -> set[str]:
    return {name for e in expressions for name in re.findall(r"\bwirewatch_\w+", e)}


def test_grafana_panels_query_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "wirewatch.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = names_in(expressions)
    assert len(used) >= 10
    assert not used - exported()


def test_alert_rules_use_exported_metrics() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "wirewatch-rules.yml").read_text())
    expressions = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    assert {"WirewatchLagGrowing", "WirewatchFeedsFailing", "WirewatchDeliveriesFailing"} <= {
        r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert not {n for n in names_in(expressions) if n not in exported()}
