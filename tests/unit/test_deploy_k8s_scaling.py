"""Kubernetes scaling and disruption: a PodDisruptionBudget per role that selects exactly
that role's pods and never blocks a drain, a plain HorizontalPodAutoscaler for the workers
in the default kustomization, and the KEDA ScaledObject in an overlay that swaps it in for
the HPA. Parsed with PyYAML; `kubectl kustomize` builds both where kubectl is installed."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
import yaml
from wirewatch.streams.topics import TopicNames

from tests.unit.test_deploy_files import (
    CLUSTER_ROLES,
    K8S,
    KEDA_OVERLAY,
    containers,
    k8s,
    k8s_documents,
    kustomization,
    run_tool,
    settings_env,
    workload_with_role,
    workloads,
)


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return dict(workload["spec"]["template"]["metadata"]["labels"])


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) == {"matchLabels"}, "matchLabels only, so this test can read it"
    return dict(selector["matchLabels"]).items() <= labels.items()


def overlay() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((KEDA_OVERLAY / "kustomization.yaml").read_text())
    return loaded


def overlay_documents() -> list[dict[str, Any]]:
    found = []
    for resource in overlay()["resources"]:
        path = KEDA_OVERLAY / resource
        if path.is_file():
            found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def hpa() -> dict[str, Any]:
    (found,) = k8s("HorizontalPodAutoscaler")
    return found


# --- PodDisruptionBudgets --------------------------------------------------------------------

def test_every_role_has_one_disruption_budget_selecting_only_its_pods() -> None:
    budgets = k8s("PodDisruptionBudget")
    assert len(budgets) == len(CLUSTER_ROLES)
    for role in CLUSTER_ROLES:
        workload = workload_with_role(role)
        mine = [b for b in budgets if selects(b["spec"]["selector"], pod_labels(workload))]
        assert len(mine) == 1, role
        (budget,) = mine
        # ... and no other role's pods.
        others = [w for w in workloads() if w is not workload
                  and selects(budget["spec"]["selector"], pod_labels(w))]
        assert not others, budget["metadata"]["name"]
        # The same selector as the workload's own: the budget counts the pods it manages.
        assert budget["spec"]["selector"] == workload["spec"]["selector"], role


@pytest.mark.parametrize("role", CLUSTER_ROLES)
def test_a_disruption_budget_never_blocks_a_drain(role: str) -> None:
    """A budget that allows no eviction at the role's smallest size would hang every drain
    of the node its pod is on."""
    workload = workload_with_role(role)
    (budget,) = [b for b in k8s("PodDisruptionBudget")
                 if selects(b["spec"]["selector"], pod_labels(workload))]
    spec = budget["spec"]
    assert ("minAvailable" in spec) != ("maxUnavailable" in spec), "exactly one of the two"
    fewest = (workload["spec"]["replicas"] if "replicas" in workload["spec"]
              else hpa()["spec"]["minReplicas"])
    allowed = (spec["maxUnavailable"] if "maxUnavailable" in spec
               else fewest - spec["minAvailable"])
    assert isinstance(allowed, int) and allowed >= 1, (role, fewest, spec)
    # A pod that is not ready serves nothing: it must not hold a drain up either.
    assert spec["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


# --- The default: a HorizontalPodAutoscaler --------------------------------------------------

def test_the_workers_scale_with_a_plain_hpa_up_to_the_partitions() -> None:
    env = settings_env()
    worker = workload_with_role("worker")
    assert worker["kind"] == "Deployment"
    assert "replicas" not in worker["spec"], "the autoscaler owns the worker count"
    # A spare worker is ready (wirewatch.streams.app), so rollouts start the replacement first.
    assert worker["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    autoscaler = hpa()
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    spec = autoscaler["spec"]
    target = spec["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", worker["metadata"]["name"])
    assert spec["maxReplicas"] == int(env["WIREWATCH_TOPIC_PARTITIONS"])
    assert spec["minReplicas"] >= 1  # the DLQ resend endpoint and the worker metrics
    (metric,) = spec["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    # Utilisation is a share of the request: the worker must request CPU for it to mean much.
    (container,) = containers(worker)
    assert "cpu" in container["resources"]["requests"]
    assert 0 < metric["resource"]["target"]["averageUtilization"] <= 100
    assert spec["behavior"]["scaleDown"]["policies"] == [
        {"type": "Pods", "value": 1, "periodSeconds": 120}]


def test_the_default_kustomization_has_no_keda_resource() -> None:
    """The base applies to a cluster without the KEDA operator (its CRDs)."""
    assert not [doc for _, doc in k8s_documents() if doc["apiVersion"].startswith("keda.sh/")]
    assert "worker-hpa.yaml" in kustomization()["resources"]
    assert "disruption-budgets.yaml" in kustomization()["resources"]


# --- The KEDA overlay ------------------------------------------------------------------------

def test_the_keda_overlay_builds_on_the_base_and_deletes_its_hpa() -> None:
    config = overlay()
    assert config["namespace"] == kustomization()["namespace"]
    assert config["labels"] == kustomization()["labels"]
    bases = [r for r in config["resources"] if (KEDA_OVERLAY / r).is_dir()]
    assert [(KEDA_OVERLAY / b).resolve() for b in bases] == [K8S]
    for resource in config["resources"]:
        assert (KEDA_OVERLAY / resource).exists(), resource
    (patch,) = config["patches"]
    deleted = yaml.safe_load(patch["patch"])
    assert deleted["$patch"] == "delete"
    assert (deleted["apiVersion"], deleted["kind"], deleted["metadata"]["name"]) == (
        hpa()["apiVersion"], "HorizontalPodAutoscaler", hpa()["metadata"]["name"])


def test_the_keda_overlay_scales_workers_on_consumer_lag_up_to_the_partitions() -> None:
    env = settings_env()
    worker = workload_with_role("worker")
    (scaled,) = [d for d in overlay_documents() if d["kind"] == "ScaledObject"]
    target = scaled["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", worker["metadata"]["name"])
    assert scaled["spec"]["maxReplicaCount"] == int(env["WIREWATCH_TOPIC_PARTITIONS"])
    assert scaled["spec"]["minReplicaCount"] == hpa()["spec"]["minReplicas"] >= 1
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert all(isinstance(v, str) for v in metadata.values()), "KEDA metadata are strings"
    assert metadata["consumerGroup"] == env["WIREWATCH_APP_ID"]
    assert metadata["topic"] == TopicNames.with_prefix(
        env.get("WIREWATCH_TOPIC_PREFIX", "")).raw == "news.raw.v1"
    assert metadata["bootstrapServers"] == env["WIREWATCH_KAFKA_BOOTSTRAP"]
    assert int(metadata["lagThreshold"]) > 0
    assert metadata["offsetResetPolicy"] == "earliest"  # as the workers' consumer
    assert metadata.get("allowIdleConsumers", "false") == "false"


# --- kubectl kustomize, where installed ------------------------------------------------------

def built(directory: str) -> list[dict[str, Any]]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not installed")
    result = run_tool("kubectl", "kustomize", directory)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def kinds(documents: list[dict[str, Any]]) -> list[str]:
    return sorted(d["kind"] for d in documents)


def test_kubectl_kustomize_swaps_the_hpa_for_the_scaledobject() -> None:
    base = built(str(K8S))
    keda = built(str(KEDA_OVERLAY))
    assert "HorizontalPodAutoscaler" in kinds(base) and "ScaledObject" not in kinds(base)
    expected = [k for k in kinds(base) if k != "HorizontalPodAutoscaler"] + ["ScaledObject"]
    assert kinds(keda) == sorted(expected)
    assert kinds(base).count("PodDisruptionBudget") == len(CLUSTER_ROLES)
    (scaled,) = [d for d in keda if d["kind"] == "ScaledObject"]
    assert scaled["metadata"]["namespace"] == kustomization()["namespace"]
    assert scaled["metadata"]["labels"]["app.kubernetes.io/part-of"] == "wirewatch"
