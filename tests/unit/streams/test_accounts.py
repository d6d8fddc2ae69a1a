"""Accounts, roles and login limits: the user store and the limits on a real Redis, then the
pages over real HTTP on loopback with a subscriber, an operator and the web token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from wirewatch.alerts.accounts import AccountError, UserStore
from wirewatch.alerts.logins import LoginLimits, LoginPolicy
from wirewatch.alerts.store import SubscriptionStore
from wirewatch.alerts.subscriptions import Subscription
from wirewatch.alerts.vocabulary import Vocabulary
from wirewatch.connectors.registry import FeedRegistry
from wirewatch.connectors.state import FeedStateStore
from wirewatch.streams.ops.activity import Activity
from wirewatch.streams.ops.auth import BOOTSTRAP_ADMIN, WebAuth
from wirewatch.streams.ops.feed_pages import FeedPagesConfig
from wirewatch.streams.ops.monitor import Monitor
from wirewatch.streams.ops.subscription_pages import SubscriptionPagesConfig
from wirewatch.streams.ops.web import WebConfig, operations_app

pytestmark = pytest.mark.redis
TOKEN = "bootstrap-token"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]*)"')
PASSWORDS = {"ana": "ana-password", "bo": "bo-password", "op": "op-password"}
VOCABULARY = Vocabulary.of(["earnings"], {"microsoft": ["Microsoft"]})
FORM = {"name": "Ana earnings", "owner": "", "query": "topic:earnings",
        "channels": "console", "mode": "immediate", "at": "", "timezone": "UTC",
        "quiet_start": "", "quiet_end": "", "rate_cap_per_hour": "", "min_salience": "0",
        "group_wait_seconds": "0", "group_interval_seconds": "300",
        "update_after_outlets": "5"}


def subscription(name: str, owner: str) -> Subscription:
    return Subscription.create(name=name, owner=owner, query="topic:earnings",
                               channels=("console",))


# -- the store -------------------------------------------------------------------------


async def test_passwords_are_argon2id_and_keys_are_kept_hashed(redis_client: aioredis.Redis,
                                                               unique: str) -> None:
    users = UserStore(redis_client, prefix=f"{unique}:")
    await users.add("ana", "subscriber", "s3cret-pass")
    stored = await redis_client.hget(users.key, "ana")
    assert stored is not None and b"$argon2id$" in stored and b"s3cret-pass" not in stored
    assert (await users.verify("ana", "s3cret-pass")) is not None
    assert await users.verify("ana", "wrong") is None
    assert await users.verify("nobody", "s3cret-pass") is None
    with pytest.raises(AccountError, match="exists already"):
        await users.add("ana", "admin", "other-pass")
    with pytest.raises(AccountError, match="role 'root'"):
        await users.add("bo", "root")
    with pytest.raises(AccountError, match="user name"):
        await users.add("Web Token", "admin")

    key = await users.create_key("ana")
    raw = await redis_client.hgetall(users.keys_key)
    assert key.startswith("wwk_") and all(key.encode() not in k + v for k, v in raw.items())
    assert (found := await users.user_of_key(key)) is not None and found.name == "ana"
    assert await users.user_of_key(key[:-1] + "x") is None
    [listed] = await users.keys_of("ana")
    assert await users.revoke_key("ana", listed.key_id)
    assert await users.user_of_key(key) is None

    await users.set_role("ana", "operator")
    assert (changed := await users.get("ana")) is not None and changed.role == "operator"
    again = await users.create_key("ana")
    assert await users.remove("ana") and await users.get("ana") is None
    assert await users.user_of_key(again) is None and await redis_client.hlen(users.keys_key) == 0


async def test_migration_gives_exact_owners_to_a_user_only_when_asked(
        redis_client: aioredis.Redis, unique: str) -> None:
    store = SubscriptionStore(redis_client, prefix=f"{unique}:")
    for name, owner in (("One", "Ana Lima"), ("Two", "ana lima"), ("Three", "")):
        await store.save(subscription(name, owner))
    assert await store.reassign("Ana Lima", "ana", dry_run=True) == ["one"]
    assert {s.id: s.owner for s in await store.list()}["one"] == "Ana Lima"
    assert await store.reassign("Ana Lima", "ana") == ["one"]
    assert {s.id: s.owner for s in await store.list()} == {"one": "ana", "two": "ana lima",
                                                           "three": ""}


# -- the limits ------------------------------------------------------------------------


@pytest.mark.parametrize(("pair", "account", "expected"), [
    (1, 1, 0.0), (9, 9, 0.0), (10, 10, 30.0), (11, 11, 60.0), (20, 20, 900.0),
    (1, 100, 30.0), (2, 150, 60.0)], ids=["first", "ninth", "tenth", "eleventh", "capped",
                                          "account-under-attack", "doubling-under-attack"])
def test_the_back_off_doubles_per_pair_and_loses_free_tries_under_attack(
        pair: int, account: int, expected: float) -> None:
    assert LoginPolicy().delay(pair, account) == expected


async def test_redis_limits_match_the_policy_and_are_shared_by_replicas(
        redis_client: aioredis.Redis, unique: str) -> None:
    policy = LoginPolicy(free=3, base=10, longest=100, account_failures=8)
    now = [1000.0]
    one = LoginLimits(redis_client, prefix=f"{unique}:", policy=policy, clock=lambda: now[0])
    two = LoginLimits(redis_client, prefix=f"{unique}:", policy=policy, clock=lambda: now[0])
    waits = [await (one if n % 2 else two).failed("10.0.0.1", "ana") for n in range(6)]
    assert waits == [policy.delay(n, n) for n in range(1, 7)] == [0, 0, 10, 20, 40, 80]
    assert await two.wait("10.0.0.1", "ana") == 80
    # Only the pair backs off: the same address for another account, and another
    # address for the same account, go on.
    assert await one.wait("10.0.0.1", "bo") == 0 and await one.wait("10.0.0.2", "ana") == 0
    await one.failed("10.0.0.2", "ana")  # the account's 7th failure: still free
    assert await one.wait("10.0.0.2", "ana") == 0
    assert await one.failed("10.0.0.3", "ana") == 10  # the 8th: no more free tries
    assert await one.wait("10.0.0.4", "ana") == 0  # never failed: never refused
    await one.succeeded("10.0.0.1", "ana")
    assert await two.wait("10.0.0.1", "ana") == 0


# -- the pages -------------------------------------------------------------------------


@dataclass
class Site:
    url: str
    store: SubscriptionStore
    users: UserStore
    registry: FeedRegistry


@pytest.fixture
async def site(redis_client: aioredis.Redis,
               unique: str) -> AsyncIterator[Callable[..., Any]]:
    prefix = f"{unique}:"
    store, users = SubscriptionStore(redis_client, prefix=prefix), UserStore(redis_client,
                                                                             prefix=prefix)
    registry = FeedRegistry(redis_client, prefix)
    for name, role in (("ana", "subscriber"), ("bo", "subscriber"), ("op", "operator")):
        await users.add(name, role, PASSWORDS[name])
    await store.save(subscription("Ana earnings", "ana"))
    await store.save(subscription("Bo earnings", "bo"))
    servers: list[TestServer] = []

    async def start(auth: WebAuth | None = None,
                    policy: LoginPolicy | None = None) -> Site:
        async def test_send(subscription: Subscription, title: str) -> dict[str, str]:
            return {}

        monitor = Monitor(bootstrap="127.0.0.1:1", group="g", consumed=[], sized=[],
                          dlq_topic="dlq", redis_client=redis_client, redis_prefix=prefix,
                          feeds=list)
        server = TestServer(operations_app(WebConfig(
            monitor=monitor, activity=Activity(redis_client, prefix=prefix),
            bootstrap="127.0.0.1:1", dlq_topic="dlq", max_lag=10, auth=auth or WebAuth(TOKEN),
            users=users,
            limits=LoginLimits(redis_client, prefix=prefix, policy=policy),
            feeds=FeedPagesConfig(registry, FeedStateStore(redis_client, prefix), list),
            subscriptions=SubscriptionPagesConfig(
                store=store, channel_ids=frozenset({"console"}), test_send=test_send,
                tag=lambda title, body: ([], {}), vocabulary=lambda: VOCABULARY))),
            host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return Site(str(server.make_url("")).rstrip("/"), store, users, registry)

    yield start
    for server in servers:
        await server.close()


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def log_in(http: aiohttp.ClientSession, base: str, name: str,
                 password: str | None = None) -> int:
    async with http.post(f"{base}/login", allow_redirects=False, data={
            "user": name, "password": PASSWORDS.get(name, "") if password is None
            else password}) as response:
        return response.status


async def csrf_of(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return CSRF.findall(await response.text())[-1]


async def status_of(http: aiohttp.ClientSession, method: str, url: str,
                    **kwargs: Any) -> int:
    async with http.request(method, url, allow_redirects=False, **kwargs) as response:
        return response.status


async def test_a_subscriber_sees_and_changes_only_their_own(site: Any) -> None:
    pages: Site = await site()
    async with session() as http:
        assert await log_in(http, pages.url, "ana") == 303
        async with http.get(f"{pages.url}/subscriptions") as response:
            page = await response.text()
        assert "Ana earnings" in page and "Bo earnings" not in page
        assert '<span id="who">ana</span> (subscriber)' in page
        csrf = CSRF.findall(page)[-1]
        bo = f"{pages.url}/subscriptions/bo-earnings"
        for method, url, data in (
                ("GET", bo, None), ("GET", f"{bo}/history", None), ("GET", f"{bo}/test", None),
                ("POST", bo, {**FORM, "name": "Bo earnings", "csrf": csrf}),
                ("POST", f"{bo}/mute", {"csrf": csrf, "seconds": "3600"}),
                ("POST", f"{bo}/unmute", {"csrf": csrf}),
                ("POST", f"{bo}/test", {"csrf": csrf, "title": "x"}),
                ("POST", f"{bo}/preview", {**FORM, "csrf": csrf}),
                ("POST", f"{bo}/delete", {"csrf": csrf})):
            assert await status_of(http, method, url, data=data) == 404, (method, url)
        assert (kept := await pages.store.get("bo-earnings")) is not None
        assert kept.owner == "bo" and kept.query == "topic:earnings"

        # A new one is theirs, whatever owner was typed.
        assert await status_of(http, "POST", f"{pages.url}/subscriptions/new", data={
            **FORM, "name": "Mine", "owner": "bo", "csrf": csrf}) == 303
        assert (mine := await pages.store.get("mine")) is not None and mine.owner == "ana"

        # Silences: only their subscriptions' (an entity silence would mute everybody).
        until = datetime.now(UTC) + timedelta(hours=1)
        await pages.store.mute("subscription", "bo-earnings", until, created_by="bo")
        await pages.store.mute("entity", "microsoft", until, created_by="op")
        async with http.get(f"{pages.url}/silences") as response:
            page = await response.text()
        assert "bo-earnings" not in page and "microsoft</" not in page
        for kind, value in (("entity", "microsoft"), ("subscription", "bo-earnings")):
            async with http.post(f"{pages.url}/silences", data={
                    "csrf": csrf, "kind": kind, "value": value, "duration": "2h"}) as r:
                assert r.status == 400
            assert await status_of(http, "POST", f"{pages.url}/silences/expire", data={
                "csrf": csrf, "kind": kind, "value": value}) == 404
        assert set(await pages.store.silences()) == {"subscription:bo-earnings",
                                                     "entity:microsoft"}
        assert await status_of(http, "POST", f"{pages.url}/silences", data={
            "csrf": csrf, "kind": "subscription", "value": "ana-earnings",
            "duration": "2h"}) == 303
        [own] = [s for s in await pages.store.silence_list() if s.value == "ana-earnings"]
        assert own.created_by == "ana"

        # Feeds and dead letters are an operator's.
        assert await status_of(http, "POST", f"{pages.url}/feeds", data={
            "csrf": csrf, "url": "https://x.example/rss", "name": "X"}) == 403
        assert await status_of(http, "POST", f"{pages.url}/dlq/resend", data={
            "csrf": csrf, "partition": "0", "offset": "1"}) == 403
    assert await pages.registry.list() == []


async def test_an_operator_sees_everything_and_manages_feeds(site: Any) -> None:
    pages: Site = await site()
    async with session() as http:
        assert await log_in(http, pages.url, "op") == 303
        async with http.get(f"{pages.url}/subscriptions") as response:
            page = await response.text()
        assert "Ana earnings" in page and "Bo earnings" in page and "(operator)" in page
        csrf = CSRF.findall(page)[-1]
        assert await status_of(http, "GET", f"{pages.url}/subscriptions/bo-earnings") == 200
        assert await status_of(http, "POST", f"{pages.url}/feeds", data={
            "csrf": csrf, "url": "https://x.example/rss", "name": "X"}) == 303
    assert [spec.url for spec in await pages.registry.list()] == ["https://x.example/rss"]


async def test_the_web_token_still_logs_in_as_an_admin(site: Any) -> None:
    pages: Site = await site()
    async with session() as http:
        async with http.post(f"{pages.url}/login", data={"token": TOKEN}) as response:
            page = await response.text()
        assert f'<span id="who">{BOOTSTRAP_ADMIN}</span> (admin)' in page
        async with http.get(f"{pages.url}/subscriptions") as response:
            page = await response.text()
        assert "Ana earnings" in page and "Bo earnings" in page


async def test_removal_and_role_changes_apply_to_open_sessions_at_once(site: Any) -> None:
    pages: Site = await site()
    async with session() as http:
        assert await log_in(http, pages.url, "ana") == 303
        csrf = await csrf_of(http, f"{pages.url}/subscriptions")
        feed = {"csrf": csrf, "url": "https://y.example/rss", "name": "Y"}
        assert await status_of(http, "POST", f"{pages.url}/feeds", data=feed) == 403
        await pages.users.set_role("ana", "operator")
        assert await status_of(http, "POST", f"{pages.url}/feeds", data=feed) == 303
        await pages.users.remove("ana")
        assert await status_of(http, "GET", f"{pages.url}/subscriptions") == 303  # to /login
        assert await status_of(http, "POST", f"{pages.url}/feeds", data=feed) == 403


async def test_wrong_passwords_back_off_the_pair_and_never_a_valid_session(site: Any) -> None:
    pages: Site = await site(policy=LoginPolicy(free=3, base=300))
    async with session() as ana_tab, session() as guesser, session() as bo_tab:
        assert await log_in(ana_tab, pages.url, "ana") == 303
        for _ in range(3):  # all from 127.0.0.1, the address everyone shares here
            assert await log_in(guesser, pages.url, "ana", "guess") == 401
        async with guesser.post(f"{pages.url}/login", data={
                "user": "ana", "password": PASSWORDS["ana"]}) as refused:
            assert refused.status == 429 and refused.headers["Retry-After"] == "300"
        # The logged-in session goes on; another account from the same address logs in.
        assert await status_of(ana_tab, "GET", f"{pages.url}/subscriptions") == 200
        csrf = await csrf_of(ana_tab, f"{pages.url}/subscriptions")
        assert await status_of(ana_tab, "POST", f"{pages.url}/subscriptions/new", data={
            **FORM, "name": "Still here", "csrf": csrf}) == 303
        assert await log_in(bo_tab, pages.url, "bo") == 303
        # The web token is an account of its own: ana's back-off does not touch it.
        async with guesser.post(f"{pages.url}/login", data={"token": TOKEN},
                                allow_redirects=False) as response:
            assert response.status == 303


async def test_basic_auth_takes_accounts_too(site: Any) -> None:
    pages: Site = await site(WebAuth(TOKEN, mode="basic", user="ops"))
    right = {"Authorization": aiohttp.encode_basic_auth("ana", PASSWORDS["ana"])}
    async with aiohttp.ClientSession(headers=right) as http:
        async with http.get(f"{pages.url}/subscriptions") as response:
            page = await response.text()
        assert response.status == 200 and "Ana earnings" in page and "Bo earnings" not in page
    wrong = {"Authorization": aiohttp.encode_basic_auth("ana", "wrong")}
    async with aiohttp.ClientSession(headers=wrong) as http:
        assert await status_of(http, "GET", f"{pages.url}/subscriptions") == 401


@pytest.mark.parametrize(("proxies", "header", "expected"), [
    (frozenset({"127.0.0.1"}), "bo", 200),
    (frozenset({"127.0.0.1"}), "stranger", 403),  # no account, no proxy_role: refused
    (frozenset({"10.9.9.9"}), "bo", 403),  # not from the proxy: the header is ignored
], ids=["trusted", "unknown-name", "untrusted-address"])
async def test_proxy_mode_trusts_the_header_only_from_the_proxy(
        site: Any, proxies: frozenset[str], header: str, expected: int) -> None:
    pages: Site = await site(WebAuth(mode="proxy", proxy_from=proxies))
    async with aiohttp.ClientSession(headers={"X-Forwarded-User": header}) as http:
        async with http.get(f"{pages.url}/subscriptions") as response:
            page = await response.text()
        assert response.status == expected
        if expected == 200:
            assert "Bo earnings" in page and "Ana earnings" not in page
            csrf = CSRF.findall(page)[-1]
            assert await status_of(http, "POST", f"{pages.url}/subscriptions/new", data={
                **FORM, "name": "Via proxy", "csrf": csrf}) == 303
            assert (made := await pages.store.get("via-proxy")) is not None
            assert made.owner == "bo"
