"""The operations web server: /metrics, /healthz, /readyz, the dashboard and its JSON,
dead letters and the subscription pages.

Server-rendered HTML (Jinja2 with autoescaping: every value from a feed is escaped), one
small inline script for sorting, filtering and auto-refresh, no CDN. State-changing
actions (a dead letter sent back to its stage, subscription changes) need a login (web
token or HTTP basic auth) and carry a CSRF token tied to the session. The one JSON action,
POST /api/v1/dlq/resend (for `wirewatch dlq replay`), takes the web token (or an operator's
API key) as a bearer token instead: no cookie is involved, so there is nothing to forge and
no CSRF token. Sending dead letters back needs the operator role.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from wirewatch.alerts.accounts import UserStore
from wirewatch.alerts.logins import TOKEN_ACCOUNT, LoginLimits, bearer_user
from wirewatch.streams.ops import dead_letters
from wirewatch.streams.ops.activity import Activity, Delivery
from wirewatch.streams.ops.auth import (
    BOOTSTRAP_ADMIN,
    REFUSED,
    SESSION_COOKIE,
    SESSION_SECONDS,
    WebAuth,
    local_path,
    refusal,
)
from wirewatch.streams.ops.charts import line_chart, sparkline
from wirewatch.streams.ops.event_pages import EventPagesConfig, add_event_pages
from wirewatch.streams.ops.feed_pages import FeedPagesConfig, add_feed_pages
from wirewatch.streams.ops.monitor import Monitor, Snapshot, problems, verdict
from wirewatch.streams.ops.probes import healthz, metrics_view, readiness
from wirewatch.streams.ops.site import Site, same_origin, secure_cookies
from wirewatch.streams.ops.subscription_pages import SubscriptionPagesConfig, add_subscription_pages
from wirewatch.streams.ops.trending import Trend, TrendCounter, watch_entry
from wirewatch.streams.tagging.files import TaxonomyError, put_entity

MAX_BULK = 50  # dead letters one bulk resend sends back (the page lists 50)

# stage, key, value, headers of a dead letter
Resend = Callable[[str, bytes | None, bytes, dict[str, str]], Awaitable[None]]


class CannotResend(Exception):
    """Raised by a Resend callable for a record it cannot send back; the message says why."""


def _json_error(status: int, message: str,
                headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _place(body: object) -> tuple[int, int] | None:
    """(partition, offset) of a JSON body `{"partition": 0, "offset": 12}`, else None."""
    if not isinstance(body, dict):
        return None
    partition, offset = body.get("partition"), body.get("offset")
    if type(partition) is not int or type(offset) is not int or min(partition, offset) < 0:
        return None  # `type() is` and not isinstance: JSON true is no partition
    return partition, offset


@dataclass(frozen=True)
class ChannelCard:
    """One channel's deliveries at a glance: counts since start, its circuit, last error."""

    channel: str
    sent: float
    retried: float
    dead_lettered: float
    circuit: str  # closed, half-open, open ("" when no deliver process reported one)
    last_error: str
    last_error_at: float | None


def channel_cards(snapshot: Snapshot | None, deliveries: list[Delivery]) -> list[ChannelCard]:
    """A card per channel that has counts or a circuit; the last error is the circuit's when
    it is paused, else the latest failed delivery's among `deliveries` (newest first)."""
    if snapshot is None:
        return []
    circuits = {c.channel: c for c in snapshot.circuits}
    cards = []
    for channel in sorted(set(snapshot.channels) | set(circuits)):
        counts = snapshot.channels.get(channel, {})
        circuit = circuits.get(channel)
        failed = next((d for d in deliveries if d.channel == channel and d.outcome != "sent"),
                      None)
        if circuit is not None and circuit.state != "closed":
            error, at = circuit.last_error, circuit.since
        elif failed is not None:
            error, at = f"{failed.outcome}: {failed.detail}", failed.at
        else:
            error, at = "", None
        cards.append(ChannelCard(channel, counts.get("sent", 0.0), counts.get("retried", 0.0),
                                 counts.get("dead_lettered", 0.0),
                                 circuit.state if circuit else "", error, at))
    return cards


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
    assignment: Callable[[], list[str]] = lambda: []  # this worker's partitions, topic:n
    pages: EventPagesConfig | None = None  # None: no event and story pages
    feeds: FeedPagesConfig | None = None  # None: no feed pages or feed actions
    trends: TrendCounter | None = None  # None: no trending entities on the dashboard
    watchlist_file: Path | None = None  # where "watch this" writes; None: no button
    users: UserStore | None = None  # accounts; None: only the web token logs in
    limits: LoginLimits | None = None  # shared (Redis) login limits; None: this process's


def operations_app(config: WebConfig) -> web.Application:
    site = Site(config.auth, config.users, config.limits)
    render = site.render

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
        return readiness(reasons)

    async def status_json(request: web.Request) -> web.Response:
        snapshot = config.monitor.latest
        found = problems(snapshot, max_lag=config.max_lag, dlq_records=config.dlq_topic)
        return web.json_response({
            "healthy": not any(p.severity == "critical" for p in found),
            "verdict": verdict(found).state,
            "problems": [{"severity": p.severity, "what": p.what} for p in found],
            "assigned": config.assignment(),
            "snapshot": snapshot.to_json() if snapshot else None})

    async def visible(request: web.Request, deliveries: list[Delivery]) -> list[Delivery]:
        """The deliveries this visitor may see: all to operators and admins, and to anyone
        where nobody can log in (a one-person set-up); a subscriber their own; else none
        (which subscription got which story is the subscriber's business)."""
        account = site.gate.current(request)
        if account is not None and account.sees_all:
            return deliveries
        if account is None:
            nobody_logs_in = not (config.auth.enabled or config.auth.mode == "proxy"
                                  or config.users is not None)
            return deliveries if nobody_logs_in else []
        if config.subscriptions is None:
            return []
        own = {s.id for s in await config.subscriptions.store.list() if account.owns(s.owner)}
        return [d for d in deliveries if d.subscription_id in own]

    async def dashboard(request: web.Request) -> web.Response:
        snapshot = config.monitor.latest
        found = problems(snapshot, max_lag=config.max_lag, dlq_records=config.dlq_topic)
        history = snapshot.history if snapshot else []
        now = snapshot.taken_at if snapshot else time.time()
        stages = list(snapshot.stages) if snapshot else []
        charts = {stage: sparkline([point["rates"].get(stage, 0.0) for point in history],
                                   label=f"{stage} records/s, last hour")
                  for stage in stages}
        plots = {
            "throughput": line_chart(
                {stage: [(p["at"], p["rates"].get(stage, 0.0)) for p in history]
                 for stage in stages}, now=now, unit="records/s",
                label="Records in per second, by stage, last hour"),
            "lag": line_chart({"lag": [(p["at"], p.get("lag", 0)) for p in history]},
                              now=now, unit="records", label="Consumer lag, last hour"),
            "failures": line_chart(
                {"failures": [(p["at"], p.get("failures_per_min", 0.0)) for p in history]},
                now=now, unit="per min",
                label="Failures per minute (dead letters, alert retries, feed errors)")}
        every_delivery = await config.activity.recent_deliveries(200)
        deliveries = await visible(request, every_delivery)
        extra: dict[str, Any] = {}
        if config.trends is not None:
            extra["trending"] = await config.trends.trending()
            if config.watchlist_file is not None:
                extra["watch_url"] = "/trending/watch"
        return render("dashboard.html", request, **extra, message=request.query.get("m", ""),
                      snapshot=snapshot, problems=found,
                      verdict=verdict(found), charts=charts, plots=plots,
                      channels=channel_cards(snapshot, every_delivery),
                      hidden_deliveries=len(every_delivery) > len(deliveries),
                      stories=await config.activity.recent_stories(30),
                      deliveries=deliveries[:30], dlq_topic=config.dlq_topic)

    async def dlq_page(request: web.Request) -> web.Response:
        records = await dead_letters.latest(config.bootstrap, config.dlq_topic, limit=200)
        stage, channel = request.query.get("stage", ""), request.query.get("channel", "")
        shown = [r for r in records if (not stage or r.stage == stage)
                 and (not channel or r.channel == channel)]
        return render("dlq.html", request, records=shown[:50], total=len(records),
                      matching=len(shown), stage=stage, channel=channel,
                      stages=sorted({r.stage for r in records if r.stage}),
                      channels=sorted({r.channel for r in records if r.channel}),
                      message=request.query.get("m", ""), resend_stages=config.resend_stages)

    async def login_page(request: web.Request) -> web.Response:
        target = local_path(request.query.get("next"))
        if site.auth.mode != "token":
            site.require_user(request)  # the browser asks (basic), or the proxy said who
            raise web.HTTPSeeOther(target)
        return render("login.html", request, error="", next=target)

    async def login(request: web.Request) -> web.Response:
        if not same_origin(request):  # no logging a victim into the attacker's session
            raise web.HTTPForbidden(text="refused: this form was sent from another site")
        form = await request.post()
        target = local_path(str(form.get("next", "")))
        name = str(form.get("user", "")).strip().lower()
        secret = str(form.get("password", "") or form.get("token", ""))
        user = (await site.gate.password(request, name or TOKEN_ACCOUNT, secret)
                if site.auth.mode == "token" else None)
        if user is None:
            if REFUSED in request:  # this address and account back off; others may go on
                raise refusal(float(request[REFUSED]))
            return render("login.html", request, status=401, next=target,
                          error="wrong user name or password" if name else "wrong token")
        response = web.HTTPSeeOther(target)
        response.set_cookie(SESSION_COOKIE, site.auth.new_session(user.name), httponly=True,
                            samesite="Strict", max_age=SESSION_SECONDS,
                            secure=secure_cookies(request))
        raise response

    async def logout(request: web.Request) -> web.Response:
        await site.form(request)
        response = web.HTTPSeeOther("/")
        response.del_cookie(SESSION_COOKIE)
        raise response

    async def send_back(partition: int, offset: int) -> str:
        """Send the dead letter at partition/offset back to its stage; returns the stage.
        A refusal is raised as 404 or 400 with the reason as its text."""
        record = await dead_letters.one(config.bootstrap, config.dlq_topic, partition, offset)
        if record is None or record.value is None:
            raise web.HTTPNotFound(text=f"no dead letter at {partition}/{offset}")
        if config.resend is None or record.stage not in config.resend_stages:
            raise web.HTTPBadRequest(text=f"stage {record.stage!r} cannot be re-run here")
        try:
            await config.resend(record.stage, record.key, record.value, record.headers)
        except CannotResend as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        return record.stage

    async def resend(request: web.Request) -> web.Response:
        form = await site.form(request, needs="operator")
        try:
            partition, offset = int(form["partition"]), int(form["offset"])
        except (KeyError, ValueError) as exc:
            raise web.HTTPBadRequest(text="partition and offset must be numbers") from exc
        stage = await send_back(partition, offset)
        raise web.HTTPSeeOther(f"/dlq?m=sent+{partition}%2F{offset}+back+to+{stage}")

    async def resend_many(request: web.Request) -> web.Response:
        form = await site.form(request, needs="operator")
        places = form.getall("place", [])
        if not places:
            raise web.HTTPSeeOther("/dlq?m=" + quote("tick the dead letters to send back"))
        sent, refused = 0, []
        for place in places[:MAX_BULK]:
            partition, _, offset = place.partition("/")
            try:
                await send_back(int(partition), int(offset))
                sent += 1
            except ValueError:
                refused.append(f"{place}: not a partition/offset")
            except (web.HTTPNotFound, web.HTTPBadRequest) as exc:
                refused.append(f"{place}: {exc.text}")
        message = f"sent {sent} back" + (f"; {len(refused)} refused: " + "; ".join(refused[:3])
                                         if refused else "")
        raise web.HTTPSeeOther("/dlq?m=" + quote(message))

    async def watch(request: web.Request) -> web.Response:
        """Write a trending name into the watchlist file workers reload (aliases prefilled)."""
        form = await site.form(request, needs="operator")
        name = form.get("name", "").strip()
        if config.watchlist_file is None or not name:
            raise web.HTTPBadRequest(text="nothing to watch")
        entity = watch_entry(Trend(name, form.get("type", "other"), form.get("company", ""),
                                   0, 0.0, 0.0))
        try:
            replaced = await asyncio.to_thread(put_entity, config.watchlist_file, entity)
        except TaxonomyError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        done = "now replaced" if replaced else "now watched"
        raise web.HTTPSeeOther("/?m=" + quote(f"{entity.name} ({entity.id}) is {done}: "
                                              "workers apply it within seconds") + "#trending")

    async def resend_json(request: web.Request) -> web.Response:
        if not site.auth.secret and site.gate.users is None:
            return _json_error(403, "the worker has no web token (WIREWATCH_WEB_TOKEN)")
        scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
        user, wait = await bearer_user(
            offered.strip() if scheme.lower() == "bearer" else "", token=site.auth.secret,
            users=site.gate.users, limits=site.gate.limits, address=request.remote or "",
            token_name=BOOTSTRAP_ADMIN)
        if wait > 0:
            seconds = str(max(1, int(wait + 0.999)))
            return _json_error(429, f"too many wrong tokens from this address: wait {seconds} s",
                               {"Retry-After": seconds})
        if user is None:
            return _json_error(401, "send the web token as 'Authorization: Bearer <token>' "
                                    "(or an operator's API key)",
                               {"WWW-Authenticate": 'Bearer realm="wirewatch"'})
        if not user.at_least("operator"):
            return _json_error(403, f"sending dead letters back needs the operator role; "
                                    f"{user.name} is {user.role}")
        try:
            place = _place(await request.json())
        except ValueError:
            place = None
        if place is None:
            return _json_error(400, 'send JSON {"partition": <int>, "offset": <int>}')
        try:
            stage = await send_back(*place)
        except (web.HTTPNotFound, web.HTTPBadRequest) as exc:
            return _json_error(exc.status, exc.text or exc.reason)
        return web.json_response({"stage": stage, "sent": True})

    app = web.Application(middlewares=[site.gate.middleware])
    app.on_startup.append(site.gate.start)
    app.router.add_get("/", dashboard)
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/v1/status", status_json)
    app.router.add_get("/dlq", dlq_page)
    app.router.add_post("/dlq/resend", resend)
    app.router.add_post("/dlq/resend-many", resend_many)
    app.router.add_post("/trending/watch", watch)
    app.router.add_post("/api/v1/dlq/resend", resend_json)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    if config.subscriptions is not None:
        add_subscription_pages(app, site, config.subscriptions)
    if config.pages is not None:
        add_event_pages(app, site, dataclasses.replace(config.pages, visible=visible))
    if config.feeds is not None:
        add_feed_pages(app, site, config.feeds)
    return app
