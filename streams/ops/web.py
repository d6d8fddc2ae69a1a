"""The operations web server: /metrics, /healthz, /readyz, the dashboard and its JSON.

Server-rendered HTML (Jinja2 with autoescaping: every value from a feed is escaped), one
small inline script for sorting, filtering and auto-refresh, no CDN. State-changing
actions (sending a dead letter back to its stage) need a login with the web token and
carry a CSRF token tied to the session.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from streams.ops import dead_letters
from streams.ops.activity import Activity
from streams.ops.charts import sparkline
from streams.ops.monitor import Monitor, problems
from streams.ops.when import ago, when

TEMPLATES = Path(__file__).with_name("templates")
SESSION_COOKIE = "wirewatch_session"
Resend = Callable[[str, bytes | None, bytes], Awaitable[None]]


@dataclass
class WebConfig:
    monitor: Monitor
    activity: Activity
    bootstrap: str
    dlq_topic: str
    max_lag: int
    token: str = ""  # empty: actions are off, the dashboard is read-only
    resend: Resend | None = None  # runs a record through the stages from the one named
    resend_stages: frozenset[str] = frozenset()
    ready: Callable[[], list[str]] = lambda: []  # what keeps the worker from being ready


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                                     autoescape=True, undefined=jinja2.StrictUndefined)
    environment.filters["when"] = when
    environment.filters["ago"] = ago
    return environment


def _session_value(token: str) -> str:
    return hmac.new(token.encode(), b"wirewatch-session", hashlib.sha256).hexdigest()


def _csrf(token: str) -> str:
    return hmac.new(token.encode(), b"wirewatch-csrf", hashlib.sha256).hexdigest()


def operations_app(config: WebConfig) -> web.Application:
    environment = _environment()

    def logged_in(request: web.Request) -> bool:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return bool(config.token) and hmac.compare_digest(cookie, _session_value(config.token))

    def render(name: str, request: web.Request, **values: Any) -> web.Response:
        html = environment.get_template(name).render(
            logged_in=logged_in(request), actions=bool(config.token),
            csrf=_csrf(config.token) if config.token else "", **values)
        return web.Response(text=html, content_type="text/html", headers={
            "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                       "style-src 'unsafe-inline'; img-src 'self' data:",
            "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"})

    async def metrics_view(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(request: web.Request) -> web.Response:
        snapshot = config.monitor.latest
        reasons = list(config.ready())
        if snapshot is None:
            reasons.append("no health snapshot yet")
        else:
            if not snapshot.kafka_ok:
                reasons.append("Kafka unreachable")
            if not snapshot.redis_ok:
                reasons.append("Redis unreachable")
            if time.time() - snapshot.taken_at > 3 * config.monitor.interval + 10:
                reasons.append("health snapshot is stale")
        return web.json_response({"ready": not reasons, "reasons": reasons},
                                 status=503 if reasons else 200)

    async def status_json(request: web.Request) -> web.Response:
        snapshot = config.monitor.latest
        found = problems(snapshot, max_lag=config.max_lag, dlq_records=config.dlq_topic)
        return web.json_response({
            "healthy": not any(p.severity == "critical" for p in found),
            "problems": [{"severity": p.severity, "what": p.what} for p in found],
            "snapshot": snapshot.to_json() if snapshot else None})

    async def dashboard(request: web.Request) -> web.Response:
        snapshot = config.monitor.latest
        found = problems(snapshot, max_lag=config.max_lag, dlq_records=config.dlq_topic)
        history = snapshot.history if snapshot else []
        charts = {stage: sparkline([point["rates"].get(stage, 0.0) for point in history],
                                   label=f"{stage} records/s, last hour")
                  for stage in (snapshot.stages if snapshot else {})}
        return render("dashboard.html", request, snapshot=snapshot, problems=found,
                      charts=charts, stories=await config.activity.recent_stories(30),
                      deliveries=await config.activity.recent_deliveries(30),
                      dlq_topic=config.dlq_topic)

    async def dlq_page(request: web.Request) -> web.Response:
        records = await dead_letters.latest(config.bootstrap, config.dlq_topic, limit=50)
        return render("dlq.html", request, records=records, message=request.query.get("m", ""),
                      resend_stages=config.resend_stages)

    async def login_page(request: web.Request) -> web.Response:
        return render("login.html", request, error="")

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        offered = str(form.get("token", ""))
        if not config.token or not hmac.compare_digest(offered.encode(), config.token.encode()):
            response = render("login.html", request, error="wrong token")
            response.set_status(401)
            return response
        response = web.HTTPSeeOther("/")
        response.set_cookie(SESSION_COOKIE, _session_value(config.token), httponly=True,
                            samesite="Strict")
        return response

    async def checked_form(request: web.Request) -> dict[str, str]:
        """The posted form of a logged-in user with the right CSRF token, else 403."""
        form = await request.post()
        if not logged_in(request):
            raise web.HTTPForbidden(text="log in first")
        if not hmac.compare_digest(str(form.get("csrf", "")).encode(),
                                   _csrf(config.token).encode()):
            raise web.HTTPForbidden(text="missing or wrong CSRF token")
        return {k: str(v) for k, v in form.items()}

    async def resend(request: web.Request) -> web.Response:
        form = await checked_form(request)
        try:
            partition, offset = int(form["partition"]), int(form["offset"])
        except (KeyError, ValueError) as exc:
            raise web.HTTPBadRequest(text="partition and offset must be numbers") from exc
        record = await dead_letters.one(config.bootstrap, config.dlq_topic, partition, offset)
        if record is None or record.value is None:
            raise web.HTTPNotFound(text=f"no dead letter at {partition}/{offset}")
        if config.resend is None or record.stage not in config.resend_stages:
            raise web.HTTPBadRequest(text=f"stage {record.stage!r} cannot be re-run here")
        await config.resend(record.stage, record.key, record.value)
        raise web.HTTPSeeOther(f"/dlq?m=sent+{partition}%2F{offset}+back+to+{record.stage}")

    app = web.Application()
    app.router.add_get("/", dashboard)
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/v1/status", status_json)
    app.router.add_get("/dlq", dlq_page)
    app.router.add_post("/dlq/resend", resend)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    return app
