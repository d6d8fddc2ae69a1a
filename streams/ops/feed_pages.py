"""The feed pages: every feed with its health, one feed's recent polls, and the operator's
actions (add a feed, disable, re-enable, poll now) behind a login with the operator role.

Actions write the same Redis the CLI writes (the registry, its set of disabled feeds, the
feed's state); connectors apply them within `WIREWATCH_FEEDS_REFRESH_SECONDS` (add,
disable, enable) or at their next one-second tick (poll now).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web
from wirewatch.connectors.errors import FeedFileError
from wirewatch.connectors.feeds_file import FeedSpec, spec_from_mapping
from wirewatch.connectors.registry import FeedRegistry
from wirewatch.connectors.state import FeedStateStore
from wirewatch.streams.ops.monitor import FeedRow, feed_rows
from wirewatch.streams.ops.site import Site

MAX_ID = 128  # longer ids are not ours: answered 404 without a Redis lookup
DONE = {"added": "Added: the connectors poll it within the feeds refresh interval.",
        "disabled": "Disabled: no more polls until it is enabled again.",
        "enabled": "Enabled: polled again from the next refresh.",
        "polling": "Polling now: the result shows here within a few seconds."}


@dataclass(frozen=True)
class FeedPagesConfig:
    registry: FeedRegistry
    states: FeedStateStore
    known: Callable[[], list[FeedSpec]]  # every feed this process knows (file and registry)


async def rows_of(config: FeedPagesConfig, specs: list[FeedSpec]) -> list[FeedRow]:
    return await feed_rows(specs, config.states, config.registry, time.time())


def add_feed_pages(app: web.Application, site: Site, config: FeedPagesConfig) -> None:
    async def everything() -> list[FeedSpec]:
        # Feeds added a moment ago are in the registry before the next refresh shows them.
        known = {spec.feed_id: spec for spec in config.known()}
        for spec in await config.registry.list():
            known.setdefault(spec.feed_id, spec)
        return sorted(known.values(), key=lambda spec: (spec.name.lower(), spec.url))

    async def find(feed_id: str) -> tuple[FeedSpec, str] | None:
        """The feed and where it comes from ("file" or "registry")."""
        if len(feed_id) > MAX_ID:
            return None
        registered = await config.registry.find(feed_id)
        given = next((spec for spec in config.known() if spec.feed_id == feed_id), None)
        if given is not None and (registered is None or given != registered):
            return given, "file"
        return (registered, "registry") if registered is not None else None

    def list_page(request: web.Request, rows: list[FeedRow], *, status: int = 200,
                  error: str = "", url: str = "", name: str = "") -> web.Response:
        return site.render("feeds.html", request, status=status, feeds=rows, error=error,
                           typed_url=url, typed_name=name,
                           message=DONE.get(request.query.get("done", ""), ""))

    async def feeds_page(request: web.Request) -> web.Response:
        return list_page(request, await rows_of(config, await everything()))

    async def feed_page(request: web.Request) -> web.Response:
        found = await find(request.match_info["id"])
        if found is None:
            return site.render("not_found.html", request, status=404, what="feed",
                               ident=request.match_info["id"])
        spec, source = found
        [row] = await rows_of(config, [spec])
        return site.render("feed.html", request, feed=row, source=source,
                           fetches=await config.states.fetches(spec.feed_id),
                           message=DONE.get(request.query.get("done", ""), ""))

    async def add(request: web.Request) -> web.Response:
        form = await site.form(request, needs="operator")
        url, name = form.get("url", "").strip(), form.get("name", "").strip()
        try:
            spec = spec_from_mapping({"url": url, "name": name}, "the new feed")
        except FeedFileError as exc:
            return list_page(request, await rows_of(config, await everything()), status=400,
                             error=str(exc).removeprefix("the new feed: "), url=url,
                             name=name)
        await config.registry.add([spec])
        raise web.HTTPSeeOther(f"/feeds/{quote(spec.feed_id)}?done=added")

    async def act(request: web.Request) -> web.Response:
        await site.form(request, needs="operator")
        found = await find(request.match_info["id"])
        if found is None:
            raise web.HTTPNotFound(text=f"no feed {request.match_info['id']!r}")
        spec, _ = found
        action = request.match_info["action"]
        if action == "disable":
            await config.registry.disable(spec.feed_id)
            done = "disabled"
        elif action == "enable":
            await config.registry.enable(spec.feed_id)
            done = "enabled"
        else:
            if spec.feed_id in await config.registry.disabled():
                raise web.HTTPConflict(text="the feed is disabled: enable it first")
            await config.states.poll_soon(spec.feed_id)
            done = "polling"
        raise web.HTTPSeeOther(f"/feeds/{quote(spec.feed_id)}?done={done}")

    app.router.add_get("/feeds", feeds_page)
    app.router.add_post("/feeds", add)
    app.router.add_get("/feeds/{id}", feed_page)
    app.router.add_post(r"/feeds/{id}/{action:disable|enable|poll}", act)
