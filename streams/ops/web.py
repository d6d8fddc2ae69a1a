"""The operations web server: /metrics, /healthz, /readyz, the dashboard and its JSON,
dead letters and the subscription pages.

Server-rendered HTML (Jinja2 with autoescaping: every value from a feed is escaped), one
small inline script for sorting, filtering and auto-refresh, no CDN. State-changing
actions (a dead letter sent back to its stage, subscription changes) need a login (web
token or HTTP basic auth) and carry a CSRF token tied to the session.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from streams.ops import dead_letters
from streams.ops.activity import Activity
from streams.ops.auth import SESSION_COOKIE, SESSION_SECONDS, WebAuth, local_path
from streams.ops.charts import sparkline
from streams.ops.monitor import Monitor, problems
from streams.ops.site import Site
from streams.ops.subscription_pages import SubscriptionPagesConfig, add_subscription_pages

Resend = Callable[[str, bytes | None, bytes], Awaitable[None]]


@dataclass
class WebConfig:
    monitor: Monitor
    activity: Activity
    bootstrap: str
    dlq_topic: str
    max_lag: int
    auth: WebAuth = WebAuth()  # no secret: nobody logs in, the pages are read-only
    resend: Resend | None = None  # runs a record through the stages from the one named
    resend_stages: frozenset[str] = frozenset()
    ready: Callable[[], list[str]] = lambda: []  # what keeps the worker from being ready
    subscriptions: SubscriptionPagesConfig | None = None  # None: no subscription pages


def operations_app(config: WebConfig) -> web.Application:
    site = Site(config.auth)
    render = site.render

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
        target = local_path(request.query.get("next"))
        if config.auth.mode == "basic":
            site.require_user(request)  # the browser asks for the user name and password
            raise web.HTTPSeeOther(target)
        return render("login.html", request, error="", next=target)

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        target = local_path(str(form.get("next", "")))
        if config.auth.mode != "token" or not config.auth.check_token(str(form.get("token", ""))):
            return render("login.html", request, error="wrong token", next=target, status=401)
        response = web.HTTPSeeOther(target)
        response.set_cookie(SESSION_COOKIE, config.auth.new_session(), httponly=True,
                            samesite="Strict", max_age=SESSION_SECONDS)
        raise response

    async def logout(request: web.Request) -> web.Response:
        await site.form(request)
        response = web.HTTPSeeOther("/")
        response.del_cookie(SESSION_COOKIE)
        raise response

    async def resend(request: web.Request) -> web.Response:
        form = await site.form(request)
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
    app.router.add_post("/logout", logout)
    if config.subscriptions is not None:
        add_subscription_pages(app, site, config.subscriptions)
    return app
