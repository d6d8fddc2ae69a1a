"""The event and story pages: developing events, one event's timeline, one story's copies.

Read-only and server-rendered like the dashboard (every feed value escaped by Jinja2);
/stories/{id} is the page every alert links to.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from wirewatch.streams.dedupe.stories import StoryStore
from wirewatch.streams.events.log import EventLog
from wirewatch.streams.ops.activity import Activity, Delivery
from wirewatch.streams.ops.site import Site

MAX_ID = 128  # longer ids are not ours: answered 404 without a Redis lookup


Visible = Callable[[web.Request, list[Delivery]], Awaitable[list[Delivery]]]


async def _everything(request: web.Request, deliveries: list[Delivery]) -> list[Delivery]:
    return deliveries


@dataclass(frozen=True)
class EventPagesConfig:
    events: EventLog
    stories: StoryStore
    activity: Activity
    visible: Visible = _everything  # which deliveries the visitor may see (the web app's)


def _alerts_about(deliveries: list[Delivery], *, event_id: str = "",
                  story_ids: frozenset[str] = frozenset()) -> list[Delivery]:
    return [d for d in deliveries
            if (event_id and d.event_id == event_id) or d.story_id in story_ids]


def add_event_pages(app: web.Application, site: Site, config: EventPagesConfig) -> None:
    def not_found(request: web.Request, what: str, ident: str) -> web.Response:
        return site.render("not_found.html", request, status=404, what=what, ident=ident)

    async def events_page(request: web.Request) -> web.Response:
        events = await config.events.recent(100, now=time.time())
        return site.render("events.html", request, events=events)

    async def event_page(request: web.Request) -> web.Response:
        event_id = request.match_info["id"]
        detail = await config.events.load(event_id) if len(event_id) <= MAX_ID else None
        if detail is None:
            return not_found(request, "event", event_id)
        copies = {story.story_id: await config.stories.load(story.story_id)
                  for story in detail.timeline}
        alerts = _alerts_about(await config.visible(
            request, await config.activity.recent_deliveries(1000)),
            event_id=event_id, story_ids=frozenset(copies))
        return site.render("event.html", request, detail=detail, copies=copies,
                           alerts=alerts)

    async def story_page(request: web.Request) -> web.Response:
        story_id = request.match_info["id"]
        story = await config.stories.load(story_id) if len(story_id) <= MAX_ID else None
        if story is None:
            return not_found(request, "story", story_id)
        event_id = await config.events.event_of(story_id)
        detail = await config.events.load(event_id) if event_id else None
        mine = next((s for s in detail.timeline if s.story_id == story_id), None) \
            if detail else None
        alerts = _alerts_about(await config.visible(
            request, await config.activity.recent_deliveries(1000)),
            story_ids=frozenset({story_id}))
        return site.render("story.html", request, story=story, headline=mine, event=detail,
                           alerts=alerts)

    app.router.add_get("/events", events_page)
    app.router.add_get("/events/{id}", event_page)
    app.router.add_get("/stories/{id}", story_page)
