"""The whole stream pipeline against the framework's ceiling, 1 and 2 workers.

Starts the embedded broker and Redis, then for each configuration a fresh set of topics
(4 partitions), its worker processes and N raw items (bench/corpus.py: 2-4 KB stories with
1-4 outlets each), produced as fast as the producer goes once the workers are ready:
- pipeline: the cluster layout (deploy/): `wirewatch worker` processes (normalise, dedupe,
  tag, match, queue alerts; 50 subscriptions, the shipped watchlist plus synthetic
  companies up to 1,000 aliases) and one `wirewatch deliver` sending the alerts to a
  loopback webhook sink; `--layout run` runs `wirewatch run` workers instead, which
  deliver themselves;
- passthrough: bench/passthrough.py, the same Faust shape doing no work (the ceiling);
- chain (1 worker only): bench/passthrough.py with 4 hops, the design picture's shape (one
  agent per stage, a topic between stages) doing no work: roughly the ceiling without
  wirewatch's one-hop design, so the cost of that choice is measured, not assumed.
The clock runs from the first record produced until the group has committed every offset.
Prints JSON: records/s per configuration, the pipeline/passthrough ratio, 2-worker speed-up
(of the pipeline and of the passthrough: what the framework itself gains from a second
worker on this machine), the pipeline/chain ratio,
p50/p99 milliseconds each stage spent on a batch while the clock ran (the workers' own
histograms),
peak RSS and CPU seconds per 1,000 records per worker (and of the deliver process), the
whole machine's CPU seconds per 1,000 records (workers, broker, Redis, producer: what bounds
the 2-worker speed-up on two cores) and how busy its cores were, Redis bytes per record.
Usage: python bench/pipeline.py [--items 100000] [--workers 1 2] [--kafka HOST:PORT]
       [--layout cluster|run]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis
from aiokafka.errors import KafkaError
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import COMPANIES, raw_items  # noqa: E402
from harness import produce_items, start_webhook_sink, write_sink_channel  # noqa: E402
from replay import subscriptions  # noqa: E402
from tagging import synthetic_entities  # noqa: E402
from wirewatch.streams.embedded import embedded_services, free_port  # noqa: E402
from wirewatch.streams.eventloop import install  # noqa: E402
from wirewatch.streams.ops.lag import measure  # noqa: E402
from wirewatch.streams.tagging.files import Entity, load_entities, write_watchlist  # noqa: E402
from wirewatch.streams.topics import TopicNames, ensure_topics  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 4
NO_WORK = ("passthrough", "chain")  # bench/passthrough.py, one hop or four


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def machine_cpu_seconds() -> float:
    """CPU seconds every process on the machine has used (/proc/stat: all but idle and
    iowait), the bound two workers on two cores run into."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def committed_all(bootstrap: str, group: str, topic: str, count: int,
                        timeout: float) -> float:
    """Seconds until the group has committed `count` records of the topic."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            lags, _ = await measure(bootstrap, group, [topic], [])
        except KafkaError as exc:  # a broker just started has no group coordinator yet
            if not exc.retriable:
                raise
        else:
            if sum(p.committed or 0 for p in lags) >= count:
                return time.monotonic() - started
        await asyncio.sleep(0.5)  # a polling interval, not a synchronisation
    raise TimeoutError(f"{group} did not commit {count} records in {timeout:.0f} s")


async def all_ready(ports: list[int], timeout: float) -> None:
    """Wait until every worker's /readyz says it joined the group (200)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        for port in ports:
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass  # its operations server is not listening yet
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the worker on port {port} was not ready in {timeout} s")
                await asyncio.sleep(0.2)  # a polling interval, not a synchronisation


async def stage_buckets(ports: list[int]) -> dict[str, dict[float, float]]:
    """The workers' wirewatch_stage_batch_seconds histograms, summed: cumulative counts by
    upper bound, per stage (read from /metrics), plus "events" (event assignment, inside
    normalise) from wirewatch_events_batch_seconds. Each stage's total seconds are kept
    under the bound -1."""
    buckets: dict[str, dict[float, float]] = {}
    async with aiohttp.ClientSession() as session:
        for port in ports:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                text = await response.text()
            for family in text_string_to_metric_families(text):
                if family.name not in ("wirewatch_stage_batch_seconds",
                                       "wirewatch_events_batch_seconds"):
                    continue
                for sample in family.samples:
                    name = sample.labels.get("stage", "events")
                    if sample.name.endswith("_bucket"):
                        bound = float(sample.labels["le"])
                    elif sample.name.endswith("_sum"):
                        bound = TOTAL
                    else:
                        continue
                    stage = buckets.setdefault(name, {})
                    stage[bound] = stage.get(bound, 0.0) + sample.value
    return buckets


TOTAL = -1.0  # where stage_buckets keeps a stage's summed seconds


def stage_shares(before: dict[str, dict[float, float]], after: dict[str, dict[float, float]],
                 ) -> dict[str, float]:
    """Each stage's share of the time the four stages took; "events" is part of normalise's."""
    spent = {stage: after[stage].get(TOTAL, 0.0) - before.get(stage, {}).get(TOTAL, 0.0)
             for stage in after}
    total = sum(seconds for stage, seconds in spent.items() if stage != "events")
    return {stage: round(seconds / total, 3) for stage, seconds in sorted(spent.items())
            if total > 0}


async def event_memory(client: aioredis.Redis, prefix: str) -> dict[str, float]:
    """Events made, stories placed in them, and the Redis bytes their keys hold (MEMORY
    USAGE of every ev: key) per event and per story."""
    used, stories = 0, 0
    async for key in client.scan_iter(f"{prefix}ev:*", count=1000):
        used += int(await client.memory_usage(key) or 0)
        stories += key.startswith(f"{prefix}ev:s:".encode())
    events = int(await client.zcard(f"{prefix}ev:recent"))  # one entry per event
    return {"events": events, "event_stories": stories,
            "redis_bytes_per_event": round(used / max(1, events)),
            "redis_bytes_per_event_story": round(used / max(1, stories))}


def stage_latency(before: dict[str, dict[float, float]], after: dict[str, dict[float, float]],
                  ) -> dict[str, dict[str, float]]:
    """p50 and p99 milliseconds a batch spent in each stage between two readings
    (interpolated within a bucket, as histogram_quantile does)."""
    latency = {}
    for stage, counts in sorted(after.items()):
        earlier = before.get(stage, {})
        during = {bound: count - earlier.get(bound, 0.0) for bound, count in counts.items()
                  if bound != TOTAL}
        latency[stage] = {"p50_ms": _quantile(during, 0.5), "p99_ms": _quantile(during, 0.99)}
    return latency


def _quantile(cumulative: dict[float, float], q: float) -> float:
    """A quantile of a Prometheus histogram (cumulative counts by upper bound), as
    histogram_quantile computes it: linear within the bucket it falls in."""
    bounds = sorted(cumulative)
    total = cumulative[bounds[-1]]
    if not total:
        return 0.0
    rank, lower, below = q * total, 0.0, 0.0
    for bound in bounds:
        if cumulative[bound] >= rank:
            if bound == float("inf"):
                return round(lower * 1000, 1)
            share = (rank - below) / max(cumulative[bound] - below, 1e-9)
            return round((lower + (bound - lower) * share) * 1000, 1)
        lower, below = bound, cumulative[bound]
    return round(lower * 1000, 1)


def start(kind: str, number: int, env: dict[str, str], names: TopicNames, app_id: str,
          scratch: Path) -> subprocess.Popen[bytes]:
    """kind: passthrough, chain, or a wirewatch command (run, worker, deliver). The process's
    operations port is in its `web_port` attribute."""
    data = scratch / f"{app_id}-{kind}-{number}"
    data.mkdir(parents=True, exist_ok=True)
    if kind in NO_WORK:
        command = [sys.executable, str(ROOT / "bench" / "passthrough.py"),
                   env["WIREWATCH_KAFKA_BOOTSTRAP"], env["WIREWATCH_TOPIC_PREFIX"], app_id,
                   str(data / "faust"), "4" if kind == "chain" else "1"]
    else:
        command = [sys.executable, "-m", "wirewatch", kind]
    port = int(env.get("WIREWATCH_WEB_PORT") or free_port())
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=(data / "log").open("w"),
                               env={**env, "WIREWATCH_DATA_DIR": str(data),
                                    "WIREWATCH_WEB_PORT": str(port)})
    process.web_port = port  # type: ignore[attr-defined]
    return process


async def one_run(kind: str, workers: int, count: int, ends: object, base_env: dict[str, str],
                  scratch: Path, run: int, layout: str = "cluster") -> dict[str, object]:
    bootstrap, redis_url = ends.kafka_bootstrap, ends.redis_url  # type: ignore[attr-defined]
    tag = f"{run}-{os.getpid()}"  # fresh topics even on a long-lived broker
    prefix, app_id = f"b{tag}.", f"bench-{kind}-{workers}-{tag}"
    names = TopicNames.with_prefix(prefix)
    await ensure_topics(bootstrap, names, partitions=PARTITIONS, replication=1)
    client = aioredis.Redis.from_url(redis_url)
    memory_before = int((await client.info("memory"))["used_memory"])
    env = {**base_env, "WIREWATCH_TOPIC_PREFIX": prefix, "WIREWATCH_APP_ID": app_id,
           "WIREWATCH_REDIS_PREFIX": f"b{run}:"}
    role = kind if kind in NO_WORK else "worker" if layout == "cluster" else "run"
    # Done when the last agent has committed every record: the chain's reads the alerts.
    last_topic = names.alerts if kind == "chain" else names.raw
    if role == "worker":
        env["WIREWATCH_WORKER_DELIVERS"] = "false"  # the deliver process sends
    processes = [start(role, n, env, names, app_id, scratch) for n in range(workers)]
    helpers = [start("deliver", 0, env, names, app_id, scratch)] if role == "worker" else []
    try:
        # One item first: every worker joined, assigned and warm before the clock starts.
        await produce_items(bootstrap, names.raw, raw_items(1, seed=run + 1000))
        await committed_all(bootstrap, app_id, last_topic, 1, timeout=120)
        ports = [p.web_port for p in processes]  # type: ignore[attr-defined]
        probed = kind not in NO_WORK  # those serve no probes and no metrics
        if probed:
            await all_ready(ports, timeout=120)
        buckets_before = await stage_buckets(ports) if probed else {}
        cpu_before = [cpu_seconds(p.pid) for p in processes]
        helper_cpu_before = [cpu_seconds(p.pid) for p in helpers]
        machine_before = machine_cpu_seconds()
        started = time.monotonic()
        await produce_items(bootstrap, names.raw, raw_items(count, seed=run))
        await committed_all(bootstrap, app_id, last_topic, count + 1, timeout=3600)
        seconds = time.monotonic() - started
        machine = machine_cpu_seconds() - machine_before
        drained = (await outbox_drained(client, env["WIREWATCH_REDIS_PREFIX"], timeout=600)
                   if helpers else 0.0)
        cpu = [cpu_seconds(p.pid) - before for p, before in zip(processes, cpu_before,
                                                                 strict=True)]
        rss = [peak_rss_mb(p.pid) for p in processes]
        helper_cpu = [cpu_seconds(p.pid) - before for p, before in zip(
            helpers, helper_cpu_before, strict=True)]
        helper_rss = [peak_rss_mb(p.pid) for p in helpers]
        buckets_after = await stage_buckets(ports) if probed else {}
        latency = stage_latency(buckets_before, buckets_after) if probed else {}
        shares = stage_shares(buckets_before, buckets_after) if probed else {}
    finally:
        for process in processes + helpers:
            process.send_signal(signal.SIGTERM)
        for process in processes + helpers:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    memory_after = int((await client.info("memory"))["used_memory"])
    events_memory = await event_memory(client, env["WIREWATCH_REDIS_PREFIX"]) if latency else {}
    await client.aclose()
    result: dict[str, object] = {
        "kind": kind, "command": role, "workers": workers, "records": count,
        "records_per_s": round(count / seconds), "seconds": round(seconds, 1),
        "peak_rss_mb_per_worker": rss,
        "cpu_s_per_1000_records": round(sum(cpu) / count * 1000, 2),
        "machine_cpu_s_per_1000_records": round(machine / count * 1000, 2),
        "machine_busy": round(machine / seconds / (os.cpu_count() or 1), 2),
        "redis_bytes_per_record": round((memory_after - memory_before) / count)}
    if latency:
        result["stage_batch_latency"] = latency
        result["stage_time_share"] = shares
        result.update(events_memory)
    if helpers:
        result["alerts_sent_within_s_of_commit"] = round(drained, 1)
        result["deliver_cpu_s_per_1000_records"] = round(sum(helper_cpu) / count * 1000, 2)
        result["deliver_peak_rss_mb"] = helper_rss
    return result


async def outbox_drained(client: aioredis.Redis, prefix: str, timeout: float) -> float:
    """Seconds until the deliver process has sent (and removed) every queued alert."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        streams = [key async for key in client.scan_iter(f"{prefix}outbox:*", _type="stream")]
        if sum([await client.xlen(key) for key in streams]) == 0:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise TimeoutError(f"alerts still queued after {timeout} s")


def corpus_companies() -> list[Entity]:
    """The corpus's companies the shipped watchlist lacks: without them a fifth of the
    subscriptions could never fire (and are refused as such)."""
    shipped = {entity.id for entity in load_entities()}
    return [Entity(name.lower(), name, "organization", (name,)) for name in COMPANIES
            if name.lower() not in shipped]


def worker_env(scratch: Path, sink_port: int, ends: object) -> dict[str, str]:
    """The benchmark workers' settings: 50 subscriptions alerting a loopback webhook sink,
    the shipped watchlist plus synthetic companies up to 1,000 aliases."""
    write_sink_channel(scratch / "channels.yaml", sink_port)
    (scratch / "subscriptions.yaml").write_text(json.dumps({"subscriptions": [
        {**s.to_dict(), "channels": ["sink"]} for s in subscriptions()]}), encoding="utf-8")
    write_watchlist(scratch / "watchlist.yaml", corpus_companies() + synthetic_entities(980),
                    extends_defaults=True)
    return {**os.environ, "WIREWATCH_KAFKA_BOOTSTRAP": ends.kafka_bootstrap,  # type: ignore[attr-defined]
            "WIREWATCH_REDIS_URL": ends.redis_url,  # type: ignore[attr-defined]
            "WIREWATCH_CHANNELS_FILE": str(scratch / "channels.yaml"),
            "WIREWATCH_SUBSCRIPTIONS_FILE": str(scratch / "subscriptions.yaml"),
            "WIREWATCH_WATCHLIST_FILE": str(scratch / "watchlist.yaml"),
            "WIREWATCH_TOPIC_PARTITIONS": str(PARTITIONS),
            "WIREWATCH_KAFKA_IDEMPOTENCE": "false",
            "WIREWATCH_LOG_LEVEL": "ERROR"}


async def bench(count: int, worker_counts: list[int], scratch: Path,
                kafka: str | None = None, layout: str = "cluster") -> dict[str, object]:
    received = [0]

    def on_alert(body: bytes) -> None:
        received[0] += 1

    runner, sink_port = await start_webhook_sink(on_alert)
    results = []
    try:
        with embedded_services(kafka, None, scratch / "services") as ends:
            base_env = worker_env(scratch, sink_port, ends)
            if kafka:  # Apache Kafka: idempotent producers, as in production
                base_env["WIREWATCH_KAFKA_IDEMPOTENCE"] = "true"
            run = 0
            for workers in worker_counts:
                kinds = ("passthrough", "pipeline") + (("chain",) if workers == 1 else ())
                for kind in kinds:
                    run += 1
                    print(f"{kind}, {workers} worker(s), {count:,} records...", file=sys.stderr)
                    results.append(await one_run(kind, workers, count, ends, base_env,
                                                 scratch, run, layout))
                    print(json.dumps(results[-1]), file=sys.stderr)
    finally:
        await runner.cleanup()
    rate = {(r["kind"], r["workers"]): r["records_per_s"] for r in results}
    summary: dict[str, object] = {"broker": f"Apache Kafka at {kafka}" if kafka
                                  else "embedded (Tansu)", "partitions": PARTITIONS,
                                  "cores": os.cpu_count(), "alerts_delivered": received[0],
                                  "layout": layout,
                                  "runs": results}
    for workers in worker_counts:
        summary[f"ratio_pipeline_to_passthrough_{workers}w"] = round(
            rate[("pipeline", workers)] / rate[("passthrough", workers)], 3)  # type: ignore[operator]
    if 1 in worker_counts:
        summary["ratio_pipeline_to_four_hop_chain_1w"] = round(
            rate[("pipeline", 1)] / rate[("chain", 1)], 3)  # type: ignore[operator]
    if 1 in worker_counts and 2 in worker_counts:
        summary["speedup_2_workers"] = round(
            rate[("pipeline", 2)] / rate[("pipeline", 1)], 2)  # type: ignore[operator]
        summary["passthrough_speedup_2_workers"] = round(
            rate[("passthrough", 2)] / rate[("passthrough", 1)], 2)  # type: ignore[operator]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--kafka", default=None, help="bootstrap of a running Kafka (e.g. "
                        "`bash deploy/kafka/kafka.sh start`) instead of the embedded broker")
    parser.add_argument("--layout", choices=["cluster", "run"], default="cluster",
                        help="cluster: `wirewatch worker` processes and one `wirewatch "
                        "deliver` (deploy/'s layout); run: `wirewatch run` workers")
    args = parser.parse_args()
    loop = install()  # what the workers' `wirewatch` commands install from the same setting
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-pipeline-") as scratch:
        result = {"event_loop": loop, **asyncio.run(bench(
            args.items, args.workers, Path(scratch), args.kafka, args.layout))}
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
