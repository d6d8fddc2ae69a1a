"""Subscription pages over real HTTP on loopback, a real Redis behind them and a loopback
Slack for test sends: login (token and basic), CSRF, create, edit, mute, test, delete."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
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
from wirewatch.streams.ops.activity import Activity
from wirewatch.streams.ops.auth import WebAuth, local_path
from wirewatch.streams.ops.monitor import Monitor
from wirewatch.streams.ops.subscription_form import BLANK, form_to_mapping, subscription_to_form
from wirewatch.streams.ops.subscription_pages import SubscriptionPagesConfig
from wirewatch.streams.ops.web import WebConfig, operations_app

from tests.support.slack_peer import SlackPeer, server_error

pytestmark = pytest.mark.redis
TOKEN = "page-token"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]*)"')


@dataclass
class Pages:
    url: str
    store: SubscriptionStore
    slack: SlackPeer


def tag(title: str, body: str) -> tuple[list[str], dict[str, float]]:
    """A stand-in tagger: earnings when the text says so, Microsoft when it is named."""
    text = f"{title} {body}".lower()
    topics = ["earnings"] if "quarterly" in text else []
    return topics, ({"microsoft": 0.9} if "microsoft" in text else {})


VOCABULARY = Vocabulary.of(["earnings", "layoffs"], {"microsoft": ["Microsoft", "NASDAQ:MSFT"]})


def pages_app(store: SubscriptionStore, client: aioredis.Redis, auth: WebAuth,
              slack: SlackPeer) -> Any:
    channels = parse_channels({"channels": [
        {"id": "team-slack", "kind": "slack-webhook", "url": slack.webhook_url("team")}]},
        "test channels", env={})

    async def test_send(subscription: Subscription, title: str) -> dict[str, str]:
        return await send_test_alert(subscription, title, channels)

    monitor = Monitor(bootstrap="127.0.0.1:1", group="g", consumed=[], sized=[],
                      dlq_topic="dlq", redis_client=client, redis_prefix="unused:",
                      feeds=list)
    return operations_app(WebConfig(
        monitor=monitor, activity=Activity(client, prefix="unused:"), bootstrap="127.0.0.1:1",
        dlq_topic="dlq", max_lag=10, auth=auth, subscriptions=SubscriptionPagesConfig(
            store=store, channel_ids=channels.ids, test_send=test_send, tag=tag,
            vocabulary=lambda: VOCABULARY)))


@pytest.fixture
async def serve(redis_client: aioredis.Redis,
                unique: str) -> AsyncIterator[Callable[[WebAuth], Any]]:
    servers: list[TestServer] = []
    async with SlackPeer() as slack:
        store = SubscriptionStore(redis_client, prefix=f"{unique}:")

        async def start(auth: WebAuth) -> Pages:
            server = TestServer(pages_app(store, redis_client, auth, slack), host="127.0.0.1")
            await server.start_server()
            servers.append(server)
            return Pages(str(server.make_url("")).rstrip("/"), store, slack)

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
    async with http.post(f"{base}/login", data={"token": TOKEN}) as response:
        assert response.status == 200  # followed the redirect to the dashboard


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

    assert auth.user_of(Request(cookie)) == "token"  # type: ignore[arg-type]
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


def test_failed_logins_block_an_address_for_a_while() -> None:
    from wirewatch.streams.ops.auth import FailedLogins

    now = [0.0]
    failed = FailedLogins(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert not failed.blocked("10.0.0.1")
        failed.record("10.0.0.1")
    assert failed.blocked("10.0.0.1") and not failed.blocked("10.0.0.2")
    now[0] += 61
    assert not failed.blocked("10.0.0.1")


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
