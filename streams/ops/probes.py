"""/healthz, /readyz and /metrics: the probes every role serves (the dashboard adds more)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest


async def healthz(request: web.Request) -> web.Response:
    """Alive while the process answers at all."""
    return web.json_response({"status": "alive"})


async def metrics_view(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(REGISTRY),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


def readiness(reasons: list[str]) -> web.Response:
    """200 when nothing keeps the process from being ready, else 503 with the reasons."""
    return web.json_response({"ready": not reasons, "reasons": reasons},
                             status=503 if reasons else 200)


def probes_app(not_ready: Callable[[], list[str]],
               status: Callable[[], dict[str, object]] = dict) -> web.Application:
    """The three probes alone, for a process with no dashboard (`wirewatch connect`), and
    `status()` as JSON at /api/v1/status."""

    async def status_json(request: web.Request) -> web.Response:
        return web.json_response(status())

    async def readyz(request: web.Request) -> web.Response:
        return readiness(not_ready())

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/api/v1/status", status_json)
    return app
