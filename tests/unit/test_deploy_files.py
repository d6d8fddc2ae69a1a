"""The deployment files (deploy/: Dockerfile, compose.yaml, k8s/, Prometheus, Alertmanager,
Grafana) keep their promises: three KRaft brokers with replication 3 and min ISR 2, every
wirewatch role started with the right command against the cluster and healthy only when
ready, probes on /healthz and /readyz at the role's web port, a non-root image, no real
secret in the repository, and every file a deployment mounts present. Autoscaling and
disruption budgets: test_deploy_k8s_scaling.py; the image's Rust build: test_deploy_image.py.

Pure Python and fast. Where the tools are installed, the files also go through them,
client-side only (no Docker engine, no cluster): `docker compose config`, `kubectl
kustomize` and `kubernetes-validate --strict`. Each of those skips, saying why, when its
tool is absent.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from wirewatch.alerts.channels import load_channels, parse_channels
from wirewatch.alerts.subscriptions import check_channels, load_subscriptions
from wirewatch.connectors.feeds_file import load_feeds
from wirewatch.connectors.shard import parse_shard
from wirewatch.streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "k8s"
KEDA_OVERLAY = DEPLOY / "k8s-overlays" / "keda"
SECRET_EXAMPLE = K8S / "secret.example.yaml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"
GRAFANA = DEPLOY / "grafana"

ROLES = ("run", "connect", "worker", "deliver", "web")
CLUSTER_ROLES = ("connect", "worker", "deliver", "web")
PLACEHOLDER = "CHANGE_ME"
WORKER_MEMORY_BUDGET = 500e6  # bytes: the measured budget (peak RSS 255 MB)
WORKER_PEAK_RSS = 255e6
KNOWN_SETTINGS = {f"WIREWATCH_{name.upper()}" for name in Settings.model_fields}


# --- helpers ---------------------------------------------------------------------------------

@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def role_of(service: dict[str, Any]) -> str | None:
    command = service.get("command")
    if isinstance(command, str):
        command = command.split()
    if service.get("image", "").startswith("${WIREWATCH_IMAGE") and command:
        return str(command[0])
    return None


def role_services(role: str) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items() if role_of(s) == role}


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with no variable set: the default."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment as a mapping, please"
    return {key: None if value is None else interpolate(str(value))
            for key, value in env.items()}


def active(service: dict[str, Any], profile: str | None) -> bool:
    profiles = service.get("profiles")
    return not profiles or profile in profiles


@cache
def k8s_documents() -> tuple[tuple[Path, dict[str, Any]], ...]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        found += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return tuple(found)


def k8s(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in k8s_documents() if doc["kind"] == kind]


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def config_map(name: str) -> dict[str, str]:
    (found,) = [doc for doc in k8s("ConfigMap") if doc["metadata"]["name"] == name]
    return found["data"]


def settings_env() -> dict[str, str]:
    return config_map("wirewatch-config")


def workloads() -> list[dict[str, Any]]:
    return k8s("Deployment") + k8s("StatefulSet")


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return workload["spec"]["template"]["spec"]["containers"]


def workload_with_role(role: str) -> dict[str, Any]:
    (found,) = [w for w in workloads() if containers(w)[0]["args"][0] == role]
    return found


def quantity(text: str | int) -> float:
    """A Kubernetes quantity (500M, 512Mi, 250m, 2) as a number."""
    match = re.fullmatch(r"([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?", str(text))
    assert match, f"{text!r} is not a Kubernetes quantity"
    scale = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}[match[2]]
    return float(match[1]) * scale


def stage_named(name: str) -> list[tuple[str, str]]:
    """The instructions of the stage `FROM ... AS name`."""
    (found,) = [stage for stage in dockerfile_stages()[1:]
                if stage[0][1].split()[-1] == name and " AS " in stage[0][1].upper()]
    return found


@cache
def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions (continuations joined), grouped by stage."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    preamble: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stages.append([])
        (stages[-1] if stages else preamble).append((keyword, rest.strip()))
    stages.insert(0, preamble)
    return stages


def dockerignored(path: str) -> bool:
    """Docker's .dockerignore rules: the last matching pattern wins; `!` re-includes; a
    pattern matching a directory covers everything under it."""
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        regex = regex.replace(r"\[", "[").replace(r"\]", "]")
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            ignored = not negated
    return ignored


def run_tool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=60,
                          cwd=ROOT, check=False)


# --- Compose: Kafka and Redis ----------------------------------------------------------------

def kafka_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items()
            if s.get("image", "").startswith("apache/kafka:")}


def test_compose_runs_three_kraft_brokers_with_rf3_and_min_isr2() -> None:
    kafka = kafka_services()
    assert len(kafka) == 3
    envs = {name: environment(s) for name, s in kafka.items()}
    node_ids = {name: int(env["KAFKA_NODE_ID"]) for name, env in envs.items()}
    assert sorted(node_ids.values()) == [1, 2, 3]
    voters = {f"{node_ids[name]}@{kafka[name].get('hostname', name)}:9093" for name in kafka}
    for name, service in kafka.items():
        env = envs[name]
        image_version = interpolate(service["image"]).split(":", 1)[1]
        assert image_version.startswith("4."), f"{name}: Apache Kafka 4.x, not {image_version}"
        assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert f"PLAINTEXT://{name}:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
        assert env["KAFKA_LOG_DIRS"] in {v.split(":")[1] for v in service["volumes"]}
        assert "healthcheck" in service and not service.get("profiles")
    assert len({env["CLUSTER_ID"] for env in envs.values()}) == 1


def test_compose_redis_persists_and_never_evicts() -> None:
    redis = services()["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert "/data" in {v.split(":")[1] for v in redis["volumes"]}
    assert redis["volumes"][0].split(":")[0] in compose()["volumes"]  # a named volume
    assert "healthcheck" in redis and not redis.get("profiles")


# --- Compose: the wirewatch roles ------------------------------------------------------------

def test_compose_runs_every_role_with_its_command() -> None:
    assert {role_of(s) for s in services().values()} - {None} == set(ROLES)
    connectors = role_services("connect")
    shards = [environment(s)["WIREWATCH_SHARD"] for s in connectors.values()]
    counts = {int(str(shard).split("/")[1]) for shard in shards}
    assert counts == {len(connectors)} == {2}
    assert sorted(parse_shard(str(shard)).index for shard in shards) == [0, 1]
    (worker,) = role_services("worker").values()
    assert worker["deploy"]["replicas"] == "${WIREWATCH_WORKERS:-2}"
    assert quantity(worker["deploy"]["resources"]["limits"]["memory"]) <= WORKER_MEMORY_BUDGET
    (web,) = role_services("web").values()
    published = {p.rsplit(":", 1)[1] for p in web["ports"]}
    assert {"6066", "6068"} <= published


def test_compose_roles_use_the_cluster_and_wait_for_it() -> None:
    kafka = kafka_services()
    for name, service in services().items():
        if role_of(service) is None:
            continue
        env = environment(service)
        bootstrap = env["WIREWATCH_KAFKA_BOOTSTRAP"]
        assert bootstrap is not None
        assert sorted(bootstrap.split(",")) == sorted(f"{k}:9092" for k in kafka), name
        assert env["WIREWATCH_REDIS_URL"] == "redis://redis:6379/0", name
        assert env["WIREWATCH_TOPIC_PARTITIONS"] == "6", name
        assert env["WIREWATCH_TOPIC_REPLICATION"] == "3", name
        assert env["WIREWATCH_WEB_HOST"] == "0.0.0.0", name
        # Secrets are passed through from the shell, never written here.
        assert env["WIREWATCH_WEB_TOKEN"] is None and env["WIREWATCH_API_TOKEN"] is None
        waits = {dep: cond["condition"] for dep, cond in service["depends_on"].items()}
        assert waits == {dep: "service_healthy" for dep in [*kafka, "redis"]}, name
        assert "healthcheck" in service, name


def test_compose_roles_are_healthy_only_when_ready() -> None:
    """`service_healthy` and `ps` mean ready (/readyz), not merely alive (/healthz)."""
    for name, service in services().items():
        if role_of(service) is None:
            continue
        test = service["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"], f"{name}: the image has no curl"
        port = environment(service)["WIREWATCH_WEB_PORT"]
        assert f"'http://127.0.0.1:{port}/readyz'" in test[3], name
        compile(test[3], f"{name} healthcheck", "exec")  # the one-liner is valid Python


def test_compose_settings_are_real_settings_and_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """A misspelt WIREWATCH_* variable would be silently ignored (extra="ignore")."""
    for name, service in services().items():
        if role_of(service) is None:
            continue
        env = environment(service)
        unknown = {key for key in env if key.startswith("WIREWATCH_")} - KNOWN_SETTINGS
        assert not unknown, f"{name}: not wirewatch settings: {sorted(unknown)}"
        with monkeypatch.context() as patch:
            for key in KNOWN_SETTINGS:
                patch.delenv(key, raising=False)
            for key, value in env.items():
                if value is not None:
                    patch.setenv(key, value)
            Settings()  # raises on a value of the wrong type or shape


def test_compose_profiles() -> None:
    def enabled(profile: str | None) -> set[str]:
        return {name for name, s in services().items() if active(s, profile)}

    for service in services().values():
        assert set(service.get("profiles") or []) <= {"minimal", "full"}
    infrastructure = {*kafka_services(), "redis"}
    assert enabled(None) == infrastructure
    assert {role_of(services()[n]) for n in enabled("minimal")} - {None} == {"run"}
    assert {role_of(services()[n]) for n in enabled("full")} - {None} == set(CLUSTER_ROLES)
    assert {"mailpit"} <= enabled("minimal")
    assert {"mailpit", "prometheus", "grafana"} <= enabled("full")
    # A dependency must be running in every profile its dependant runs in.
    for name, service in services().items():
        for dependency in service.get("depends_on") or {}:
            for profile in (None, "minimal", "full"):
                if active(service, profile):
                    assert active(services()[dependency], profile), (name, dependency, profile)


def test_compose_files_it_references_exist() -> None:
    for name, service in services().items():
        build = service.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            assert context == ROOT, name
            assert (context / build["dockerfile"]).resolve() == DOCKERFILE, name
        mounts = {}
        for volume in service.get("volumes") or []:
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                host = (DEPLOY / source).resolve()
                assert host.exists(), f"{name}: {source} does not exist"
                assert host.is_relative_to(ROOT), f"{name}: {source} is outside the repo"
                mounts[target] = host
            else:
                assert source in compose()["volumes"], f"{name}: volume {source} undeclared"
        # Every WIREWATCH_*_FILE points into a mounted directory, at a file that is there.
        for key, value in environment(service).items():
            if key.endswith("_FILE") and value:
                directory, file = value.rsplit("/", 1)
                assert directory in mounts, f"{name}: {key}={value} is not mounted"
                assert (mounts[directory] / file).is_file(), f"{name}: {key}={value} missing"


def test_compose_example_config_loads_with_wirewatch() -> None:
    config = DEPLOY / "config"
    assert load_feeds(config / "feeds.yaml")
    channels = load_channels(config / "channels.yaml", env={})
    subscriptions = load_subscriptions(config / "subscriptions.yaml")
    check_channels(subscriptions, channels.ids)
    assert channels.smtp is not None and channels.smtp.host in services()
    assert services()[channels.smtp.host]["image"].startswith("axllent/mailpit:")


# --- Prometheus and Grafana ------------------------------------------------------------------

def test_prometheus_scrapes_every_role_and_loads_the_rules() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "wirewatch"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    names = {n for sd in job["dns_sd_configs"] for n in sd["names"]}
    ports = {sd["port"] for sd in job["dns_sd_configs"]}
    full_roles = {name for name, s in services().items()
                  if role_of(s) in CLUSTER_ROLES and active(s, "full")}
    assert names == full_roles
    assert ports == {6066}
    # WirewatchWorkerDown fires on up{job="wirewatch"}.
    rules_text = (DEPLOY / "prometheus" / "wirewatch-rules.yml").read_text()
    assert 'job="wirewatch"' in rules_text
    prometheus = services()["prometheus"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in prometheus["volumes"]}
    config_dir = "/etc/prometheus"
    assert mounted[f"{config_dir}/prometheus.yml"] == "./prometheus/prometheus.yml"
    for rule_file in config["rule_files"]:
        assert f"{config_dir}/{rule_file}" in mounted
        assert (PROMETHEUS.parent / rule_file).is_file()


def test_prometheus_sends_alerts_to_the_compose_alertmanager() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    targets = [target for manager in config["alerting"]["alertmanagers"]
               for static in manager["static_configs"] for target in static["targets"]]
    assert targets == ["alertmanager:9093"]
    alertmanager = services()["alertmanager"]
    assert alertmanager["image"].startswith("prom/alertmanager:")
    assert alertmanager["profiles"] == services()["prometheus"]["profiles"]
    assert "/-/ready" in " ".join(alertmanager["healthcheck"]["test"])
    mounted = {v.split(":")[1]: v.split(":")[0] for v in alertmanager["volumes"]}
    config_file = next(arg.split("=", 1)[1] for arg in alertmanager["command"]
                       if arg.startswith("--config.file="))
    assert (DEPLOY / mounted[config_file]).resolve() == ALERTMANAGER


def test_alertmanager_routes_to_receivers_it_defines() -> None:
    config = yaml.safe_load(ALERTMANAGER.read_text())
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}

    def routed(route: dict[str, Any]) -> list[str]:
        return [route["receiver"], *(name for child in route.get("routes", [])
                                     for name in routed(child))]

    assert set(routed(config["route"])) <= set(receivers)
    # Out of the box the alerts land in Mailpit, which runs in the same profile.
    (email,) = receivers[config["route"]["receiver"]]["email_configs"]
    host = email["smarthost"].split(":")[0]
    assert services()[host]["image"].startswith("axllent/mailpit:")
    assert active(services()[host], "full")
    # group_by names labels the rules really give their alerts (or their series carry).
    rules = yaml.safe_load((DEPLOY / "prometheus" / "wirewatch-rules.yml").read_text())
    expressions = " ".join(r["expr"] + json.dumps(r.get("annotations", {}))
                           for g in rules["groups"] for r in g["rules"])
    for label in set(config["route"]["group_by"]) - {"alertname"}:
        assert label in expressions, label


def test_grafana_provisions_the_datasource_and_the_dashboard() -> None:
    grafana = services()["grafana"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    assert mounted["/etc/grafana/provisioning"] == "./grafana/provisioning"
    provisioning = GRAFANA / "provisioning"
    (datasource,) = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"]
    assert datasource["type"] == "prometheus" and datasource["isDefault"] is True
    assert datasource["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load(
        (provisioning / "dashboards" / "wirewatch.yaml").read_text())["providers"]
    dashboard_dir = provider["options"]["path"]
    assert mounted[f"{dashboard_dir}/wirewatch.json"] == "./grafana/wirewatch.json"
    assert json.loads((GRAFANA / "wirewatch.json").read_text())["uid"] == "wirewatch"


# --- The image -------------------------------------------------------------------------------

def test_dockerfile_is_multi_stage_slim_and_runs_as_non_root() -> None:
    preamble, *stages = dockerfile_stages()
    args = dict(rest.split("=", 1) for keyword, rest in preamble if keyword == "ARG")
    bases = set()
    for stage in stages:
        keyword, rest = stage[0]
        base = rest.split()[0]
        for name, value in args.items():
            base = base.replace(f"${{{name}}}", value)
        bases.add(base)
    # A stage may start from an earlier one (FROM toolchain AS build): follow it to its image.
    aliases = {rest.split()[-1]: rest.split()[0] for (_, rest), *_ in stages
               if " AS " in rest.upper()}
    while bases & aliases.keys():
        bases = {aliases.get(base, base) for base in bases}
        for name, value in args.items():
            bases = {base.replace(f"${{{name}}}", value) for base in bases}
    assert len(stages) >= 2 and bases == {"python:3.11-slim"}
    final = stages[-1]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "the final stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    run_lines = " ".join(rest for keyword, rest in final if keyword == "RUN")
    assert "apt-get install" not in run_lines, "no packages (compilers) in the final stage"
    assert "--no-index" in run_lines and "from=build" in run_lines  # only the built wheels
    env_lines = " ".join(rest for keyword, rest in final if keyword == "ENV")
    assert "PIP_NO_CACHE_DIR=1" in env_lines or "--no-cache-dir" in run_lines
    assert not [rest for keyword, rest in final if keyword in {"COPY", "ADD"}]
    instructions = dict(final)
    assert json.loads(instructions["ENTRYPOINT"]) == ["wirewatch"]
    assert json.loads(instructions["CMD"]) == ["run"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "wirewatch" in scripts
    # Kubernetes runs the pods as the image's user.
    for workload in workloads():
        assert str(workload["spec"]["template"]["spec"]["securityContext"]["runAsUser"]) == user


def test_dockerignore_keeps_the_context_to_what_the_wheel_needs() -> None:
    for path in (".git/config", ".venv/bin/python", "tests/unit/test_x.py",
                 "tests/fixtures/tagging/labelled.jsonl", "bench/out.json", "docs/dashboard.png",
                 "wirewatch.egg-info/PKG-INFO", "streams/__pycache__/app.cpython-311.pyc",
                 "alerts/x.pyc", "data/redis.aof", "deploy/compose.yaml",
                 "native/target/release/x.so",
                 "streams/_native.cpython-311-x86_64-linux-gnu.so"):
        assert dockerignored(path), f"{path} would be sent to the Docker build"
    for path in ("pyproject.toml", "README.md", "wirewatch/cli/main.py", "streams/app.py",
                 "streams/defaults/taxonomy.yaml",
                 "connectors/fetch.py", "alerts/templates/alert.html", "native/Cargo.toml",
                 "native/Cargo.lock", "deploy/rust-toolchain.toml", "native/src/lib.rs"):
        assert not dockerignored(path), f"{path} is needed by the build"
    for keyword, rest in [line for stage in dockerfile_stages()[1:] for line in stage]:
        if keyword == "COPY" and "--from" not in rest:
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists() and not dockerignored(source), source


def test_the_wheel_carries_every_data_file_of_the_packages() -> None:
    """The image installs only the wheel: a data file package-data misses is not in it."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_data: dict[str, list[str]] = tool.get("package-data", {})
    folders: dict[str, str] = tool["package-dir"]
    missing = []
    for package, folder in folders.items():
        for path in sorted((ROOT / folder).rglob("*")):
            relative = path.relative_to(ROOT / folder).as_posix()
            # Python files, and the native scan the build compiles into the wheel itself.
            if (path.is_dir() or path.suffix in {".py", ".pyc", ".so", ".pyd"}
                    or "__pycache__" in relative):
                continue
            patterns = package_data.get(package, []) + package_data.get("*", [])
            regexes = [re.escape(p).replace(r"\*", "[^/]*") for p in patterns]
            if not any(re.fullmatch(r, relative) for r in regexes):
                missing.append(f"{folder}/{relative}")
    assert not missing, f"not in the wheel: {missing}"


# --- Kubernetes ------------------------------------------------------------------------------

def test_k8s_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    resources = kustomization()["resources"]
    for resource in resources:
        assert (K8S / resource).is_file(), resource
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    # Re-applying the kustomization must never reset the real Secret to the placeholders.
    assert set(resources) == manifests - {SECRET_EXAMPLE.name}
    (namespace,) = k8s("Namespace")
    assert kustomization()["namespace"] == namespace["metadata"]["name"]
    (secret,) = k8s("Secret")
    assert secret["metadata"]["namespace"] == namespace["metadata"]["name"]
    images = {image["name"] for image in kustomization()["images"]}
    for workload in workloads():
        for container in containers(workload):
            assert container["image"] in images


def test_k8s_every_role_has_probes_resources_and_a_locked_down_container() -> None:
    env = settings_env()
    web_port = int(env["WIREWATCH_WEB_PORT"])
    assert {containers(w)[0]["args"][0] for w in workloads()} == set(CLUSTER_ROLES)
    for workload in workloads():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                get = container[probe]["httpGet"]
                assert get["path"] == path, where
                assert ports.get(get["port"], get["port"]) == web_port, where
            for kind in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    quantity(container["resources"][kind][resource])
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            # A read-only root needs the data dir and /tmp writable.
            if security.get("readOnlyRootFilesystem"):
                mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                for writable in (env["WIREWATCH_DATA_DIR"], "/tmp"):  # noqa: S108
                    assert "emptyDir" in volumes[mounts[writable]], (where, writable)
            refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
            assert refs == {"wirewatch-config", "wirewatch-secrets"}, where


def test_k8s_worker_resources_follow_the_measurements() -> None:
    (container,) = containers(workload_with_role("worker"))
    resources = container["resources"]
    assert quantity(resources["limits"]["memory"]) <= WORKER_MEMORY_BUDGET
    assert quantity(resources["requests"]["memory"]) >= WORKER_PEAK_RSS


def test_k8s_settings_are_real_settings_and_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    env = settings_env()
    unknown = set(env) - KNOWN_SETTINGS
    assert not unknown, f"not wirewatch settings: {sorted(unknown)}"
    assert env["WIREWATCH_TOPIC_PARTITIONS"] == "6"
    assert env["WIREWATCH_TOPIC_REPLICATION"] == "3"
    assert env["WIREWATCH_WEB_HOST"] == "0.0.0.0"
    for key in env:
        assert not re.search(r"TOKEN|PASSWORD|SECRET|REDIS_URL", key), f"{key} is a secret"
    secret = yaml.safe_load(SECRET_EXAMPLE.read_text())["stringData"]
    with monkeypatch.context() as patch:
        for key in KNOWN_SETTINGS:
            patch.delenv(key, raising=False)
        for key, value in (env | secret).items():
            patch.setenv(key, value)
        for workload in workloads():
            for item in containers(workload)[0].get("env", []):
                patch.setenv(item["name"], item["value"])
            Settings()


def test_k8s_files_mounted_in_the_pods_exist_and_load() -> None:
    env = settings_env()
    secret = yaml.safe_load(SECRET_EXAMPLE.read_text())["stringData"]
    for workload in workloads():
        pod = workload["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in containers(workload):
            mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
            for key in ("WIREWATCH_FEEDS_FILE", "WIREWATCH_CHANNELS_FILE"):
                directory, file = env[key].rsplit("/", 1)
                assert file in config_map(mounts[directory]["configMap"]["name"]), key
    files = config_map("wirewatch-files")
    assert yaml.safe_load(files["feeds.yaml"])["feeds"]
    # The channels' *_env secrets are all in the Secret (loading fails on a missing one).
    channels = parse_channels(yaml.safe_load(files["channels.yaml"]), "channels.yaml",
                              env=secret)
    assert channels.ids > {"console"}


def test_k8s_connectors_are_sharded_by_pod_ordinal() -> None:
    connect = workload_with_role("connect")
    assert connect["kind"] == "StatefulSet"
    replicas = connect["spec"]["replicas"]
    (container,) = containers(connect)
    shard = {e["name"]: e["value"] for e in container["env"]}["WIREWATCH_SHARD"]
    assert shard == f"ordinal/{replicas}"
    name = connect["metadata"]["name"]
    owned = sorted(parse_shard(shard, hostname=f"{name}-{i}").index for i in range(replicas))
    assert owned == list(range(replicas))
    services_by_name = {s["metadata"]["name"]: s for s in k8s("Service")}
    governing = services_by_name[connect["spec"]["serviceName"]]
    assert governing["spec"]["clusterIP"] == "None"


def test_k8s_services_select_their_pods() -> None:
    for service in k8s("Service"):
        selector = service["spec"]["selector"].items()
        matched = [w for w in workloads()
                   if selector <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matched) == 1, service["metadata"]["name"]
        ports = {p["name"] for c in containers(matched[0]) for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports
    web = workload_with_role("web")
    assert any(set(s["spec"]["selector"].items())
               <= web["spec"]["template"]["metadata"]["labels"].items()
               for s in k8s("Service"))


def test_k8s_secret_example_holds_no_real_secret() -> None:
    (secret,) = k8s("Secret")
    assert "data" not in secret, "base64 `data` could hide a real value: use stringData"
    values = secret["stringData"]
    assert {"WIREWATCH_REDIS_URL", "WIREWATCH_WEB_TOKEN", "WIREWATCH_API_TOKEN"} <= set(values)
    for key, value in values.items():
        assert PLACEHOLDER in value, f"{key} is not a placeholder"
        assert len(value.replace(PLACEHOLDER, "")) < 60, f"{key} hides more than a placeholder"


# --- The tools, where installed (client-side only) -------------------------------------------

def compose_cli() -> list[str]:
    if shutil.which("docker") is None:
        pytest.skip("docker CLI not installed")
    if run_tool("docker", "compose", "version").returncode != 0:
        pytest.skip("the docker CLI has no compose plugin (`docker compose version` fails)")
    return ["docker", "compose", "-f", str(COMPOSE)]


def test_amtool_accepts_the_alertmanager_config() -> None:
    if shutil.which("amtool") is None:
        pytest.skip("amtool not installed (github.com/prometheus/alertmanager/cmd/amtool)")
    checked = run_tool("amtool", "check-config", str(ALERTMANAGER))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("profile", [None, "minimal", "full"])
def test_docker_compose_config_accepts_each_profile(profile: str | None) -> None:
    command = compose_cli() + (["--profile", profile] if profile else [])
    checked = run_tool(*command, "config", "-q")
    assert checked.returncode == 0, checked.stderr
    listed = run_tool(*command, "config", "--services")
    assert listed.returncode == 0, listed.stderr
    expected = {name for name, s in services().items() if active(s, profile)}
    assert set(listed.stdout.split()) == expected


def test_kubectl_kustomize_builds_the_manifests() -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not installed")
    # Offline, only the client-side build works: `kubectl apply --dry-run=client` still asks
    # the API server for its resource types and fails without a cluster.
    built = run_tool("kubectl", "kustomize", str(K8S))
    assert built.returncode == 0, built.stderr
    documents = [d for d in yaml.safe_load_all(built.stdout) if d]
    kinds = sorted(d["kind"] for d in documents)
    assert kinds == sorted(doc["kind"] for _, doc in k8s_documents() if doc["kind"] != "Secret")
    image = kustomization()["images"][0]
    for document in documents:
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == kustomization()["namespace"]
        if document["kind"] in {"Deployment", "StatefulSet"}:
            for container in containers(document):
                assert container["image"] == f"{image['newName']}:{image['newTag']}"


def test_kubernetes_validate_strict() -> None:
    # The test extra installs it into the suite's own venv, which need not be on PATH.
    tool = shutil.which("kubernetes-validate", path=str(Path(sys.executable).parent))
    if tool is None:
        pytest.skip("kubernetes-validate not installed (pip install kubernetes-validate)")
    files = sorted({str(path) for path, _ in k8s_documents()}
                   | {str(path) for path in KEDA_OVERLAY.glob("*.yaml")
                      if path.name != "kustomization.yaml"})
    checked = run_tool(tool, "--strict", "--quiet", *files)
    # Kinds it has no schema for (KEDA's ScaledObject) are a warning, not a failure.
    assert checked.returncode == 0, checked.stdout + checked.stderr
