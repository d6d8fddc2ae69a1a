"""The Grafana dashboard and Prometheus rules in deploy/ use only metrics wirewatch exports,
and the counters the rules take increase() of are exported at zero from a role's start."""

from __future__ import annotations

import json
import re
from pathlib import Path

import wirewatch.alerts.metrics  # registers the delivery metrics
import wirewatch.connectors.metrics
import wirewatch.streams.ops.metrics
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


def test_counters_the_rules_take_increase_of_are_exported_from_the_start() -> None:
    """increase() misses the first failure of a series that appears already at 1: each
    counter a rule takes increase() of is one the roles' start-up calls export at zero."""
    rules = yaml.safe_load((DEPLOY / "prometheus" / "wirewatch-rules.yml").read_text())
    expressions = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    increased = {name for e in expressions
                 for name in re.findall(r"increase\((wirewatch_\w+)", e)}
    assert increased
    wirewatch.streams.ops.metrics.initialise(["normalise"])
    wirewatch.alerts.metrics.initialise(["console"])
    wirewatch.connectors.metrics.initialise()
    for name in increased:
        samples = [s for family in REGISTRY.collect() for s in family.samples
                   if s.name == name]
        assert samples, f"{name}: no series until the first increment"
