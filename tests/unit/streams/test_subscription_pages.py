"""Subscription pages over real HTTP on loopback, a real Redis behind them and a loopback
Slack for test sends: login (token and basic), CSRF, create, edit, mute, test, delete, the
term picker, the preview against the event log, alert history and the silences page."""

from __future__ import annotations

import base64
import html
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from wirewatch.alerts.channels import parse_channels
from wirewatch.alerts.probe import send_test_alert
from wirewatch.alerts.store import SubscriptionStore
from wirewatch.alerts.subscriptions import Subscription, from_mapping
from wirewatch.alerts.vocabulary import Vocabulary
from wirewatch.streams.events.log import EventLog
from wirewatch.streams.ops.activity import Activity
from wirewatch.streams.ops.auth import BOOTSTRAP_ADMIN, WebAuth, local_path
from wirewatch.streams.ops.monitor import Monitor
from wirewatch.streams.ops.subscription_form import BLANK, form_to_mapping, subscription_to_form
from wirewatch.streams.ops.subscription_pages import SubscriptionPagesConfig
from wirewatch.streams.ops.web import WebConfig, operations_app
from wirewatch.streams.records import Article, EntityTag, TaggedArticle

from tests.support.alerts import make_alert
from tests.support.slack_peer import SlackPeer, server_error

pytestmark = pytest.mark.redis
TOKEN = "page-token"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]*)"')


@dataclass
class Pages:
    url: str
    store: SubscriptionStore
    slack: SlackPeer
    activity: Activity
    events: EventLog


def tag(title: str, body: str) -> tuple[list[str], dict[str, float]]:
    """A stand-in tagger: earnings when the text says so, Microsoft when it is named."""
    text = f"{title} {body}".lower()
    topics = ["earnings"] if "quarterly" in text else []
    return topics, ({"microsoft": 0.9} if "microsoft" in text else {})


VOCABULARY = Vocabulary.of(["earnings", "layoffs"], {"microsoft": ["Microsoft", "NASDAQ:MSFT"]})


def pages_app(store: SubscriptionStore, client: aioredis.Redis, auth: WebAuth,
              slack: SlackPeer, activity: Activity, events: EventLog) -> Any:
    channels = parse_channels({"channels": [
        {"id": "team-slack", "kind": "slack-webhook", "url": slack.webhook_url("team")}]},
        "test channels", env={})

    async def test_send(subscription: Subscription, title: str) -> dict[str, str]:
        return await send_test_alert(subscription, title, channels)

    monitor = Monitor(bootstrap="127.0.0.1:1", group="g", consumed=[], sized=[],
                      dlq_topic="dlq", redis_client=client, redis_prefix="unused:",
                      feeds=list)
    return operations_app(WebConfig(
        monitor=monitor, activity=activity, bootstrap="127.0.0.1:1",
        dlq_topic="dlq", max_lag=10, auth=auth, subscriptions=SubscriptionPagesConfig(
            store=store, channel_ids=channels.ids, test_send=test_send, tag=tag,
            vocabulary=lambda: VOCABULARY, activity=activity, events=events)))


@pytest.fixture
async def serve(redis_client: aioredis.Redis,
                unique: str) -> AsyncIterator[Callable[[WebAuth], Any]]:
    servers: list[TestServer] = []
    async with SlackPeer() as slack:
        store = SubscriptionStore(redis_client, prefix=f"{unique}:")
        activity = Activity(redis_client, prefix=f"{unique}:")
        events = EventLog(redis_client, prefix=f"{unique}:")

        async def start(auth: WebAuth) -> Pages:
            server = TestServer(pages_app(store, redis_client, auth, slack, activity, events),
                                host="127.0.0.1")
            await server.start_server()
            servers.append(server)
            return Pages(str(server.make_url("")).rstrip("/"), store, slack, activity, events)

        yield start
        for server in servers:
            await server.close()


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def csrf_of(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return CSRF.findall(await response.text())[-1]


async def log_in(http: aiohttp.ClientSession, base: str) -> None:
    # Not following the redirect: the dashboard it leads to is not these pages' business.
    async with http.post(f"{base}/login", data={"token": TOKEN},
                         allow_redirects=False) as response:
        assert response.status == 303 and "wirewatch_session" in response.cookies


FORM = {"name": "Microsoft earnings", "owner": "ana", "query": "entity:microsoft AND "
        "topic:earnings", "channels": "team-slack", "mode": "daily", "at": "07:30",
        "timezone": "Europe/Paris", "quiet_start": "22:00", "quiet_end": "07:00",
        "rate_cap_per_hour": "", "min_salience": "0.5", "group_wait_seconds": "0",
        "group_interval_seconds": "300", "update_after_outlets": "5",
        "update_on_new_headline": "on"}


async def test_pages_need_a_login_and_forms_a_csrf_token(serve: Any) -> None:
    pages: Pages = await serve(WebAuth(TOKEN))
    async with session() as http:
        async with http.get(f"{pages.url}/subscriptions", allow_redirects=False) as response:
            assert response.status == 303
            location = urlsplit(response.headers["Location"])
            assert location.path == "/login"
            assert parse_qs(location.query) == {"next": ["/subscriptions"]}
        async with http.post(f"{pages.url}/subscriptions/new", data=FORM) as response:
            assert response.status == 403
        async with http.post(f"{pages.url}/login", allow_redirects=False,
                             data={"token": TOKEN, "next": "//evil.example/"}) as response:
            assert response.headers["Location"] == "/"  # not an open redirect
        async with http.post(f"{pages.url}/subscriptions/new", data=FORM) as response:
            assert response.status == 403 and "CSRF" in await response.text()
        async with http.post(f"{pages.url}/subscriptions/new",
                             data={**FORM, "csrf": "0" * 64}) as response:
            assert response.status == 403
    assert await pages.store.list() == []


async def test_create_edit_mute_test_and_delete_through_the_pages(serve: Any) -> None:
    pages: Pages = await serve(WebAuth(TOKEN))
    async with session() as http:
        await log_in(http, pages.url)
        csrf = await csrf_of(http, f"{pages.url}/subscriptions/new")

        # A mistake comes back with its reason and everything typed; nothing is saved.
        async with http.post(f"{pages.url}/subscriptions/new",
                             data={**FORM, "csrf": csrf, "query": "entity:"}) as response:
            page = await response.text()
            assert response.status == 400 and "unexpected" in page
            assert 'value="Microsoft earnings"' in page and 'value="Europe/Paris"' in page
        async with http.post(f"{pages.url}/subscriptions/new",  # a query that cannot fire
                             data={**FORM, "csrf": csrf,
                                   "query": "entity:msft AND topic:earnings"}) as response:
            page = await response.text()
            assert response.status == 400
            assert "unknown entity &#39;msft&#39; at column 1" in page
            assert "did you mean entity:microsoft?" in page
        assert await pages.store.list() == []

        async with http.post(f"{pages.url}/subscriptions/new", data={**FORM, "csrf": csrf},
                             allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == ("/subscriptions?done=created&"
                                                    "id=microsoft-earnings")
        [created] = await pages.store.list()
        assert created.id == "microsoft-earnings" and created.channels == ("team-slack",)
        assert created.schedule.mode == "daily" and created.schedule.at == "07:30"
        assert created.schedule.quiet_hours == ("22:00", "07:00")
        assert created.min_salience == 0.5
        async with http.post(f"{pages.url}/subscriptions/new",
                             data={**FORM, "csrf": csrf}) as response:
            assert response.status == 400 and "exists already" in await response.text()

        # Edit: the id stays, the fields change.
        async with http.post(f"{pages.url}/subscriptions/microsoft-earnings",
                             data={**FORM, "csrf": csrf, "owner": "bo", "mode": "immediate",
                                   "quiet_start": "", "quiet_end": ""}) as response:
            assert response.status == 200 and "Saved microsoft-earnings." in await response.text()
        edited = await pages.store.get("microsoft-earnings")
        assert edited is not None and edited.owner == "bo"
        assert edited.schedule.mode == "immediate" and edited.schedule.quiet_hours is None

        # Mute for an hour, then unmute.
        async with http.post(f"{pages.url}/subscriptions/microsoft-earnings/mute",
                             data={"csrf": csrf, "seconds": "3600"}) as response:
            assert "muted</span> until" in await response.text()
        assert "subscription:microsoft-earnings" in await pages.store.silences()
        async with http.post(f"{pages.url}/subscriptions/microsoft-earnings/unmute",
                             data={"csrf": csrf}) as response:
            assert "Unmuted microsoft-earnings." in await response.text()
        assert await pages.store.silences() == {}

        # Check whether an article would fire, then send a test alert to Slack.
        test_url = f"{pages.url}/subscriptions/microsoft-earnings/test"
        async with http.post(test_url, data={"csrf": csrf, "action": "check",
                                             "title": "Microsoft quarterly results"}) as r:
            page = await r.text()
            assert "Would fire" in page and 'id="outcome-table"' not in page
        async with http.post(test_url, data={"csrf": csrf, "action": "check",
                                             "title": "Apple quarterly results"}) as r:
            assert "Would not fire" in await r.text()
        async with http.post(test_url, data={"csrf": csrf, "action": "send",
                                             "title": "Microsoft quarterly results"}) as r:
            page = await r.text()
        [request] = await pages.slack.wait_for_requests(1)
        assert "[test] Microsoft quarterly results" in request.raw.decode()
        assert re.search(r"team-slack</td><td class=\"ok\">sent", page)
        pages.slack.script(None, server_error())
        async with http.post(test_url, data={"csrf": csrf, "action": "send"}) as r:
            assert re.search(r"team-slack</td><td class=\"failing\">failed", await r.text())

        async with http.post(f"{pages.url}/subscriptions/microsoft-earnings/delete",
                             data={"csrf": csrf}) as response:
            assert "Deleted microsoft-earnings." in await response.text()
        assert await pages.store.list() == []
        async with http.get(f"{pages.url}/subscriptions/microsoft-earnings") as response:
            assert response.status == 404

        # Logging out ends the session: the old CSRF token and cookie no longer work.
        async with http.post(f"{pages.url}/logout", data={"csrf": csrf}) as response:
            assert response.status == 200
        async with http.get(f"{pages.url}/subscriptions", allow_redirects=False) as response:
            assert response.status == 303


async def test_basic_auth_mode(serve: Any) -> None:
    pages: Pages = await serve(WebAuth(TOKEN, mode="basic", user="ops"))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{pages.url}/subscriptions") as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith('Basic realm="wirewatch"')
        async with http.get(f"{pages.url}/subscriptions", headers={
                "Authorization": basic_auth("ops", "wrong")}) as response:
            assert response.status == 401
    async with aiohttp.ClientSession(headers={
            "Authorization": basic_auth("ops", TOKEN)}) as http:
        page_url = f"{pages.url}/subscriptions/new"
        async with http.get(page_url) as response:
            page = await response.text()
            assert response.status == 200 and 'value="ops"' in page  # owner: the user
        async with http.post(page_url, data=FORM) as response:
            assert response.status == 403  # basic auth alone is not enough: CSRF still counts
        async with http.post(page_url, data={**FORM, "csrf": CSRF.findall(page)[-1]}) as r:
            assert r.status == 200 and "Created microsoft-earnings." in await r.text()


async def test_without_a_web_token_nobody_logs_in(serve: Any) -> None:
    pages: Pages = await serve(WebAuth())
    async with session() as http:
        async with http.get(f"{pages.url}/subscriptions") as response:
            assert response.status == 403 and "WIREWATCH_WEB_TOKEN" in await response.text()
        async with http.post(f"{pages.url}/login", data={"token": ""}) as response:
            assert response.status == 401


def test_sessions_expire_and_are_signed() -> None:
    now = [1_000_000.0]
    auth = WebAuth(TOKEN, clock=lambda: now[0])
    cookie = auth.new_session()

    class Request:
        def __init__(self, value: str) -> None:
            self.cookies = {"wirewatch_session": value}
            self.headers: dict[str, str] = {}

    assert auth.user_of(Request(cookie)) == BOOTSTRAP_ADMIN  # type: ignore[arg-type]
    assert auth.user_of(Request(auth.new_session("ana"))) == "ana"  # type: ignore[arg-type]
    assert auth.csrf(Request(cookie)) != auth.csrf(Request(auth.new_session()))  # type: ignore[arg-type]
    # The last hex digit of the signature changed (to another digit: one cookie in 16 ends
    # in "0", which made a fixed replacement no change at all).
    tampered = cookie[:-1] + ("1" if cookie.endswith("0") else "0")
    assert auth.user_of(Request(tampered)) is None  # type: ignore[arg-type]
    assert WebAuth("other").user_of(Request(cookie)) is None  # type: ignore[arg-type]
    now[0] += 13 * 3600
    assert auth.user_of(Request(cookie)) is None  # type: ignore[arg-type]


def test_local_path_refuses_other_sites() -> None:
    assert local_path("/subscriptions?x=1") == "/subscriptions?x=1"
    for target in ("//evil.example", "https://evil.example", "/\\evil.example", "", None):
        assert local_path(target) == "/"


def test_form_round_trips_a_subscription() -> None:
    subscription = from_mapping({**form_to_mapping(FORM, ["team-slack"]), "id": "x"})
    assert from_mapping(form_to_mapping(subscription_to_form(subscription),
                                        ["team-slack"])) == subscription
    blank = {**BLANK, "name": "All earnings", "query": "topic:earnings"}
    plain = from_mapping(form_to_mapping(blank, ["console"]))
    assert plain.schedule.mode == "immediate" and plain.update_after_outlets == 5


@pytest.mark.parametrize(("change", "message"), [
    ({"name": " "}, "Name is required"),
    ({"quiet_end": ""}, "Quiet hours need both a start and an end"),
    ({"rate_cap_per_hour": "ten"}, "Rate cap: 'ten' is not a whole number"),
    ({"min_salience": "high"}, "Minimum salience: 'high' is not a number"),
])
def test_form_mistakes_name_the_field(change: dict[str, str], message: str) -> None:
    from wirewatch.alerts.errors import SubscriptionError

    with pytest.raises(SubscriptionError, match=re.escape(message)):
        form_to_mapping({**FORM, **change}, ["team-slack"])
    with pytest.raises(SubscriptionError, match="at least one channel"):
        form_to_mapping(FORM, [])


async def test_failed_logins_back_off_one_address_and_account_for_a_while() -> None:
    from wirewatch.alerts.logins import LoginLimits, LoginPolicy

    now = [0.0]
    limits = LoginLimits(policy=LoginPolicy(free=3, base=60), clock=lambda: now[0])
    for _ in range(3):
        assert await limits.wait("10.0.0.1", "") == 0
        await limits.failed("10.0.0.1", "")
    assert await limits.wait("10.0.0.1", "") == 60
    assert await limits.wait("10.0.0.2", "") == 0 and await limits.wait("10.0.0.1", "ana") == 0
    now[0] += 61
    assert await limits.wait("10.0.0.1", "") == 0


async def test_guessing_the_token_is_throttled(serve: Any) -> None:
    pages: Pages = await serve(WebAuth(TOKEN))
    async with session() as http:
        for _ in range(10):
            async with http.post(f"{pages.url}/login", data={"token": "guess"}) as response:
                assert response.status == 401
        async with http.post(f"{pages.url}/login", data={"token": TOKEN}) as response:
            assert response.status == 429 and "Retry-After" in response.headers
    basic: Pages = await serve(WebAuth(TOKEN, mode="basic", user="ops"))
    async with aiohttp.ClientSession() as http:
        for _ in range(10):
            async with http.get(f"{basic.url}/subscriptions",
                                headers={"Authorization": basic_auth("ops", "guess")}) as r:
                assert r.status == 401
        async with http.get(f"{basic.url}/subscriptions",
                            headers={"Authorization": basic_auth("ops", TOKEN)}) as r:
            assert r.status == 429


def page_text(page: str) -> str:
    """A page's text as a reader sees it: tags gone, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


async def test_the_form_completes_terms_and_says_which_fields_apply(serve: Any) -> None:
    pages: Pages = await serve(WebAuth(TOKEN))
    async with session() as http:
        await log_in(http, pages.url)
        async with http.get(f"{pages.url}/subscriptions/new") as response:
            page = await response.text()
    # The picker completes over the ids in force, entities with their display names.
    datalist = re.search(r'<datalist id="terms">(.*?)</datalist>', page, re.S)
    assert datalist is not None
    assert re.findall(r'<option value="([^"]+)">([^<]*)</option>', datalist.group(1)) == [
        ("topic:earnings", "topic"), ("topic:layoffs", "topic"),
        ("entity:microsoft", "Microsoft")]
    assert 'list="terms"' in page
    # Fields that apply to one schedule or one "once per" only say so for the script.
    assert re.search(r'<input [^>]*id="at"[^>]*data-show="mode=daily"', page)
    assert re.search(r'<input [^>]*id="rate_cap_per_hour"[^>]*data-show="mode=immediate"', page)
    assert re.search(r'<input [^>]*id="update_after_stories"[^>]*data-show="per=event"', page)
    assert re.search(r'<input [^>]*id="update_after_outlets"[^>]*data-show="per=story"', page)
    # Without the script nothing is hidden but the picker, which needs it.
    assert not re.search(r'data-show="[^"]*"[^>]* hidden', page)
    # Quiet hours are one line; group wait and interval say what they do.
    quiet = re.search(r'<span class="quiet" id="quiet-hours">(.*?)</span></span>', page, re.S)
    assert quiet is not None and 'name="quiet_start"' in quiet.group(1) \
        and 'name="quiet_end"' in quiet.group(1)
    assert "go out with it as one message" in page and "Only with a group wait" in page


async def test_the_test_title_is_a_placeholder(serve: Any) -> None:
    pages: Pages = await serve(WebAuth(TOKEN))
    async with session() as http:
        await log_in(http, pages.url)
        csrf = await csrf_of(http, f"{pages.url}/subscriptions/new")
        async with http.post(f"{pages.url}/subscriptions/new",
                             data={**FORM, "csrf": csrf}) as response:
            assert response.status == 200
        test_url = f"{pages.url}/subscriptions/microsoft-earnings/test"
        async with http.get(test_url) as response:
            page = await response.text()
        assert re.search(r'id="title" name="title" value="" placeholder="wirewatch test alert"',
                         page)
        async with http.post(test_url, data={"csrf": csrf, "action": "send",
                                             "title": "  "}) as response:
            page = await response.text()
        [request] = await pages.slack.wait_for_requests(1)
        assert "[test] wirewatch test alert" in request.raw.decode()
        assert 'name="title" value=""' in page  # nothing was typed, nothing is filled in


def tagged(event_id: str, story_id: str, title: str, source: str, published: float, *,
           topics: list[str], entities: list[str]) -> TaggedArticle:
    moment = datetime.fromtimestamp(published, UTC)
    article = Article(article_id=f"a-{story_id}", story_id=story_id, is_duplicate=False,
                      duplicate_of=None, similarity=0.0, feed_id="f", source=source,
                      url=f"https://{source.lower()}.example/{story_id}", title=title,
                      text="", fetched_at=moment, published=moment, event_id=event_id)
    return TaggedArticle(article=article, topics=topics, entities=[
        EntityTag(id=e, name=e.title(), type="company", salience=0.9) for e in entities])


async def seed_event(client: aioredis.Redis, events: EventLog, event_id: str,
                     stories: list[TaggedArticle], *, now: float) -> None:
    """An event as the worker leaves it: the index's head and recent set (written here as
    streams/events/index.py writes them), then the event log's own records."""
    published = [s.article.published.timestamp() for s in stories if s.article.published]
    await client.hset(f"{events.prefix}e:{event_id}", mapping={
        "first_seen": min(published), "last_seen": max(published), "stories": len(stories)})
    await client.zadd(f"{events.prefix}recent", {event_id: now})
    await events.record_articles([s.article for s in stories])
    await events.record_tags(stories)


async def seed_news(pages: Pages, client: aioredis.Redis, now: float) -> None:
    hour = 3600.0
    await seed_event(client, pages.events, "ev-msft", [
        tagged("ev-msft", "ev-msft", "Microsoft <b>beats</b> estimates", "Wire", now - 5 * hour,
               topics=["earnings"], entities=["microsoft"]),
        tagged("ev-msft", "st-2", "Microsoft quarterly cloud revenue up", "Daily",
               now - 4 * hour, topics=["earnings"], entities=["microsoft"])], now=now)
    await seed_event(client, pages.events, "ev-cuts", [
        tagged("ev-cuts", "ev-cuts", "Carmaker cuts 2,000 jobs", "Wire", now - 2 * hour,
               topics=["layoffs"], entities=[])], now=now)


async def test_the_preview_matches_the_kept_events_and_says_what_it_covered(
        serve: Any, redis_client: aioredis.Redis) -> None:
    pages: Pages = await serve(WebAuth(TOKEN))
    await seed_news(pages, redis_client, time.time())
    async with session() as http:
        await log_in(http, pages.url)
        csrf = await csrf_of(http, f"{pages.url}/subscriptions/new")
        async with http.post(f"{pages.url}/subscriptions/new/preview", data=FORM) as response:
            assert response.status == 403  # no CSRF token
        async with http.post(f"{pages.url}/subscriptions/new/preview",
                             data={**FORM, "csrf": csrf}) as response:
            page = await response.text()
            assert response.status == 200
        text = page_text(page)
        assert "What this would have sent in the last 72 h" in text
        assert "1 alert (one per event), from 2 events checked." in text
        assert "Stories kept: last 72 h (the event window), so this covers 72 h, not 7 days" in text
        rows = re.findall(r'<a href="/stories/([^"]+)">([^<]*)</a>', page)
        assert rows == [("ev-msft", "Microsoft &lt;b&gt;beats&lt;/b&gt; estimates")]  # escaped
        assert 'value="Microsoft earnings"' in page  # the form keeps what was typed
        # Once per story: each matching story is an alert, the latest first.
        async with http.post(f"{pages.url}/subscriptions/new/preview",
                             data={**FORM, "csrf": csrf, "per": "story"}) as response:
            page = await response.text()
        assert "2 alerts (one per story)" in page_text(page)
        assert [r[0] for r in re.findall(r'<a href="/stories/([^"]+)">([^<]*)</a>', page)] \
            == ["st-2", "ev-msft"]
        # A source term holds on each story's own outlet.
        async with http.post(f"{pages.url}/subscriptions/new/preview", data={
                **FORM, "csrf": csrf, "per": "story",
                "query": "source:daily OR topic:layoffs"}) as response:
            rows = re.findall(r'<a href="/stories/([^"]+)">', await response.text())
        assert rows == ["ev-cuts", "st-2"]
        # A query that could never match is refused as on save, and nothing is saved.
        async with http.post(f"{pages.url}/subscriptions/new/preview",
                             data={**FORM, "csrf": csrf, "query": "entity:msft"}) as response:
            page = await response.text()
            assert response.status == 400 and "did you mean entity:microsoft?" in page
            assert 'id="preview-result"' not in page
    assert await pages.store.list() == []


async def test_the_preview_of_a_longer_event_window_covers_the_week(
        serve: Any, redis_client: aioredis.Redis, unique: str) -> None:
    pages: Pages = await serve(WebAuth(TOKEN))
    pages.events.window = 10 * 86400  # a deployment that keeps events longer than a week
    now = time.time()
    await seed_event(redis_client, pages.events, "old", [
        tagged("old", "old", "Microsoft results, eight days ago", "Wire", now - 8 * 86400,
               topics=["earnings"], entities=["microsoft"])], now=now)
    await seed_news(pages, redis_client, now)
    async with session() as http:
        await log_in(http, pages.url)
        csrf = await csrf_of(http, f"{pages.url}/subscriptions/new")
        async with http.post(f"{pages.url}/subscriptions/new/preview",
                             data={**FORM, "csrf": csrf, "per": "story"}) as response:
            page = await response.text()
    text = page_text(page)
    assert "What this would have sent in the last 7 days" in text
    assert "Stories kept" not in text
    assert "eight days ago" not in text and "2 alerts" in text


async def test_each_subscription_shows_its_alert_history_and_last_fired(
        serve: Any, redis_client: aioredis.Redis) -> None:
    pages: Pages = await serve(WebAuth(TOKEN))
    await seed_news(pages, redis_client, time.time())
    async with session() as http:
        await log_in(http, pages.url)
        csrf = await csrf_of(http, f"{pages.url}/subscriptions/new")
        async with http.post(f"{pages.url}/subscriptions/new",
                             data={**FORM, "csrf": csrf}) as response:
            page = await response.text()
        assert re.search(r'<td class="fired" data-value="0">never</td>', page)
        history_url = f"{pages.url}/subscriptions/microsoft-earnings/history"
        async with http.get(history_url) as response:
            text = page_text(await response.text())
        assert "Last fired: not among the latest 1000 deliveries." in text
        assert "No alert of this subscription" in text

        mine = make_alert(subscription_id="microsoft-earnings", story_id="ev-msft",
                          title="Microsoft <b>beats</b> estimates")
        await pages.activity.record_delivery(mine, "team-slack", "sent")
        before = time.time()
        await pages.activity.record_delivery(make_alert(subscription_id="other", title="Not mine"),
                                             "team-slack", "sent")
        await pages.activity.record_delivery(mine, "mail", "dead-lettered", "550 no such user")
        async with http.get(history_url) as response:
            page = await response.text()
        rows = re.findall(r"<tr><td data-value=\"([\d.]+)\">.*?</td><td>(.*?)</td>"
                          r"<td><a href=\"/stories/(.*?)\">(.*?)</a></td><td class=\"(\w+)\">",
                          page)
        assert [row[1:] for row in rows] == [
            ("mail", "ev-msft", "Microsoft &lt;b&gt;beats&lt;/b&gt; estimates", "failing"),
            ("team-slack", "ev-msft", "Microsoft &lt;b&gt;beats&lt;/b&gt; estimates", "ok")]
        assert "Not mine" not in page and "550 no such user" in page
        fired = float(rows[1][0])
        assert fired <= before
        # Last fired is the latest delivery that reached its channel, not the failed one.
        assert f"Last fired: {datetime.fromtimestamp(fired, UTC):%Y-%m-%d %H:%M:%S}" \
            in page_text(page)
        assert "1 alert (one per event)" in page_text(page)  # the saved query's preview
        async with http.get(f"{pages.url}/subscriptions") as response:
            listed = await response.text()
        assert re.search(rf'<td class="fired" data-value="{re.escape(rows[1][0])}">\d+ s ago</td>',
                         listed)
        async with http.get(f"{pages.url}/subscriptions/nobody/history") as response:
            assert response.status == 404


HOSTILE = '<img src=x onerror="alert(1)"> & "quotes"'


async def test_the_silences_page_adds_lists_and_expires_silences(serve: Any) -> None:
    pages: Pages = await serve(WebAuth(TOKEN))
    async with session() as http:
        async with http.get(f"{pages.url}/silences", allow_redirects=False) as response:
            assert response.status == 303  # a login first
        await log_in(http, pages.url)
        csrf = await csrf_of(http, f"{pages.url}/silences")
        added = {"csrf": csrf, "kind": "entity", "value": "Microsoft", "duration": "2h",
                 "until": "", "comment": HOSTILE}
        for refused in ({k: v for k, v in added.items() if k != "csrf"},
                        {**added, "csrf": "0" * 64}):
            async with http.post(f"{pages.url}/silences", data=refused) as response:
                assert response.status == 403
        assert await pages.store.silences() == {}

        async with http.post(f"{pages.url}/silences", data=added,
                             allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/silences?done=added&what=entity+microsoft"
        async with http.get(f"{pages.url}/silences?done=added&what=entity+microsoft") as r:
            page = await r.text()
        assert "Silenced entity microsoft." in page
        # The comment is text, never markup.
        assert "<img" not in page.split('id="silence-table"')[1].split("</table>")[0]
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; &#34;quotes&#34;" in page
        row = page_text(re.search(r'<tr data-silence="entity:microsoft">(.*?)</tr>', page,
                                  re.S).group(1))  # type: ignore[union-attr]
        assert row.startswith("entity microsoft web token <img src=x")
        assert "in 2.0 h" in row and "expire now" in row
        [silence] = await pages.store.silence_list()
        assert silence.created_by == "web token" and silence.comment == HOSTILE
        assert 7190 < silence.until - time.time() <= 7200

        # Any duration, or an end time (UTC unless it says otherwise).
        until = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)
        async with http.post(f"{pages.url}/silences", data={
                **added, "kind": "story", "value": "st-9", "duration": "",
                "until": until.strftime("%Y-%m-%dT%H:%M"), "comment": ""}) as response:
            assert response.status == 200
        async with http.post(f"{pages.url}/silences", data={
                **added, "kind": "entity", "duration": "1w2d"}) as response:
            assert response.status == 200
        ends = {s.value: s.until for s in await pages.store.silence_list()}
        assert ends["st-9"] == until.timestamp()
        assert 9 * 86400 - 10 < ends["microsoft"] - time.time() <= 9 * 86400  # replaced

        # Expire now: gone at once, from the page and from what workers read.
        expire = {"csrf": csrf, "kind": "story", "value": "st-9"}
        async with http.post(f"{pages.url}/silences/expire",
                             data={**expire, "csrf": ""}) as response:
            assert response.status == 403
        async with http.post(f"{pages.url}/silences/expire", data=expire) as response:
            page = await response.text()
        assert "Expired the silence of story st-9." in page and "st-9</a>" not in page
        assert list(await pages.store.silences()) == ["entity:microsoft"]

        # An expired silence is not shown.
        await pages.store.mute("story", "gone", datetime.now(UTC) - timedelta(seconds=1))
        async with http.get(f"{pages.url}/silences") as response:
            assert 'data-silence="story:gone"' not in await response.text()


@pytest.mark.parametrize(("change", "message"), [
    ({"value": "msft"}, "unknown entity 'msft': did you mean microsoft?"),
    ({"kind": "subscription", "value": "nobody"}, "no subscription 'nobody'"),
    ({"kind": "planet"}, "Kind: mute one of subscription, entity, story"),
    ({"value": " "}, "Say what to mute"),
    ({"duration": "soon"}, "For: 'soon' is not a duration; write e.g. 30m, 2h, 1d12h or 1w"),
    ({"duration": ""}, "Say for how long (e.g. 2h) or until when"),
    ({"until": "2020-01-01T00:00"}, "Until: 2020-01-01T00:00 is past already"),
    ({"until": "tomorrow"}, "Until: 'tomorrow' is not a time"),
    ({"comment": "x" * 501}, "comment is at most 500 characters"),
], ids=["unknown-entity", "unknown-subscription", "unknown-kind", "no-value", "bad-duration",
        "no-duration", "past-end", "bad-end", "long-comment"])
async def test_a_refused_silence_says_why_and_keeps_what_was_typed(
        serve: Any, change: dict[str, str], message: str) -> None:
    pages: Pages = await serve(WebAuth(TOKEN))
    async with session() as http:
        await log_in(http, pages.url)
        csrf = await csrf_of(http, f"{pages.url}/silences")
        typed = {"csrf": csrf, "kind": "entity", "value": "microsoft", "duration": "45m",
                 "until": "", "comment": "too <noisy>", **change}
        async with http.post(f"{pages.url}/silences", data=typed) as response:
            page = await response.text()
            assert response.status == 400
    error = re.search(r'<p class="failing" id="error" role="alert">(.*?)</p>', page)
    assert error is not None and message in html.unescape(error.group(1))
    assert f'value="{html.escape(typed["value"], quote=True)}"' in page
    assert f'value="{typed["duration"]}"' in page
    if len(typed["comment"]) < 100:
        assert 'value="too &lt;noisy&gt;"' in page
    assert await pages.store.silences() == {}


async def test_the_mute_button_records_who_and_why(serve: Any) -> None:
    pages: Pages = await serve(WebAuth(TOKEN, mode="basic", user="ops"))
    async with aiohttp.ClientSession(headers={"Authorization": basic_auth("ops", TOKEN)}) as http:
        async with http.get(f"{pages.url}/subscriptions/new") as response:
            csrf = CSRF.findall(await response.text())[-1]
        async with http.post(f"{pages.url}/subscriptions/new",
                             data={**FORM, "csrf": csrf}) as response:
            assert response.status == 200
        mute_url = f"{pages.url}/subscriptions/microsoft-earnings/mute"
        async with http.post(mute_url, data={"csrf": csrf, "seconds": "3600",
                                             "comment": " on holiday "}) as response:
            assert "muted</span> until" in await response.text()
        async with http.post(mute_url, data={"seconds": "3600"}) as response:
            assert response.status == 403
        async with http.post(mute_url, data={"csrf": csrf, "seconds": "3600",
                                             "comment": "x" * 501}) as response:
            assert response.status == 400
        [silence] = await pages.store.silence_list()
        assert (silence.kind, silence.value, silence.created_by, silence.comment) == (
            "subscription", "microsoft-earnings", "ops", "on holiday")
        async with http.get(f"{pages.url}/silences") as response:
            assert "on holiday" in await response.text()
        # A silence of a subscription set here shows on its history page too.
        async with http.get(f"{pages.url}/subscriptions/microsoft-earnings/history") as r:
            assert "Muted until" in page_text(await r.text())
