"""The dashboard at a glance and the feed pages: the verdict, channel cards, charts with
axes, and add/disable/enable/poll-now over real HTTP on loopback with a real Redis."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from wirewatch.connectors.feeds_file import FeedSpec
from wirewatch.connectors.registry import FeedRegistry
from wirewatch.connectors.state import FETCHES_KEPT, FeedState, FeedStateStore, FetchRecord
from wirewatch.streams.ops.activity import Activity, Circuit, Delivery
from wirewatch.streams.ops.auth import WebAuth
from wirewatch.streams.ops.charts import line_chart, nice_top
from wirewatch.streams.ops.feed_pages import FeedPagesConfig
from wirewatch.streams.ops.monitor import Monitor, Problem, Snapshot, verdict
from wirewatch.streams.ops.trending import TrendCounter
from wirewatch.streams.ops.web import WebConfig, channel_cards, operations_app
from wirewatch.streams.records import DiscoveredEntity
from wirewatch.streams.tagging import load_entities

TOKEN = "feed-token"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]*)"')
NOW = 1_700_000_000.0


def test_the_verdict_is_down_on_a_critical_problem_degraded_on_a_warning() -> None:
    assert verdict([]).state == "healthy"
    warning = Problem("warning", "1 feed(s) failing: Wire")
    assert verdict([warning]) .state == "degraded"
    down = verdict([Problem("critical", "Kafka unreachable"), warning])
    assert down.state == "down"
    assert down.reasons == ["Kafka unreachable", "1 feed(s) failing: Wire"]


def snapshot(**changes: Any) -> Snapshot:
    values: dict[str, Any] = {
        "taken_at": NOW, "kafka_ok": True, "redis_ok": True, "errors": [], "lag": [],
        "topic_records": {}, "feeds": [], "stages": {}, "dead_lettered": {},
        "alerts": {"sent": 0.0, "retried": 0.0, "dead_lettered": 0.0}, "articles": {}}
    return Snapshot(**(values | changes))


def test_a_channel_card_shows_counts_and_the_error_that_matters() -> None:
    shot = snapshot(
        channels={"hook": {"sent": 4.0, "retried": 2.0, "dead_lettered": 1.0},
                  "mail": {"sent": 3.0, "retried": 0.0, "dead_lettered": 0.0}},
        circuits=[Circuit("slack", "open", NOW - 5, 6, "HTTP 503 from slack", "w1"),
                  Circuit("mail", "closed", NOW - 50, 0, "", "w1")])
    deliveries = [Delivery(NOW - 1, "mail", "s1", "st1", "Fine", "sent", ""),
                  Delivery(NOW - 2, "hook", "s1", "st2", "Bad", "dead-lettered", "HTTP 410"),
                  Delivery(NOW - 3, "hook", "s1", "st3", "Older", "dead-lettered", "old")]
    cards = {card.channel: card for card in channel_cards(shot, deliveries)}
    assert list(cards) == ["hook", "mail", "slack"]
    assert (cards["hook"].sent, cards["hook"].retried, cards["hook"].dead_lettered) == (4, 2, 1)
    assert cards["hook"].last_error == "dead-lettered: HTTP 410"  # the latest failure
    assert cards["mail"].last_error == "" and cards["mail"].circuit == "closed"
    # A paused channel's card says why it is paused, even with no counts yet.
    assert cards["slack"].circuit == "open" and cards["slack"].last_error == "HTTP 503 from slack"
    assert channel_cards(None, deliveries) == []


def test_nice_tops_round_up_to_one_two_or_five() -> None:
    assert [nice_top(v) for v in (0, 0.3, 1, 1.2, 3, 7, 120, 4999)] == [
        1, 0.5, 1, 2, 5, 10, 200, 5000]


def test_a_chart_has_axes_with_units_a_legend_and_escapes_names() -> None:
    points = [(NOW - 600 + 60 * i, float(i)) for i in range(11)]
    svg = line_chart({"<normalise>": points, "tag": points[:1]}, now=NOW, unit="records/s",
                     label="throughput")
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1  # one point: a dot
    ticks = re.findall(r'class="tick[^"]*"[^>]*>([^<]*)<', svg)
    assert {"0", "5", "10", "-60 min", "-30 min", "now", "records/s", "tag"} <= set(ticks)
    assert "&lt;normalise&gt;" in svg and "<normalise>" not in svg
    # Points older than the hour are left out rather than drawn off the chart.
    old = line_chart({"lag": [(NOW - 7200, 99.0), (NOW, 1.0)]}, now=NOW, unit="records",
                     label="lag")
    assert "99" not in old and "<circle" in old
    assert "no data yet" in line_chart({"lag": []}, now=NOW, unit="records", label="lag")


async def test_the_monitor_keeps_lag_and_failures_in_its_history(
        redis_client: aioredis.Redis, unique: str) -> None:
    monitor = Monitor(bootstrap="127.0.0.1:1", group="g", consumed=[], sized=[],
                      dlq_topic="dlq", redis_client=redis_client, redis_prefix=f"{unique}:",
                      feeds=list)
    monitor._samples.append((NOW - 10, {}, 5, 2.0))
    monitor._samples.append((NOW, {}, 7, 4.0))
    [point] = monitor.history()
    assert point["lag"] == 7
    assert point["failures_per_min"] == 12.0  # 2 failures in 10 s


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


FILE_FEED = FeedSpec(url="https://file.example/feed.xml", name="From the file")


@pytest.fixture
async def site(redis_client: aioredis.Redis,
               unique: str) -> AsyncIterator[Callable[[], Any]]:
    prefix = f"{unique}:"
    registry, states = FeedRegistry(redis_client, prefix), FeedStateStore(redis_client, prefix)
    monitor = Monitor(bootstrap="127.0.0.1:1", group="g", consumed=[], sized=[],
                      dlq_topic="dlq", redis_client=redis_client, redis_prefix=prefix,
                      feeds=lambda: [FILE_FEED])
    server = TestServer(operations_app(WebConfig(
        monitor=monitor, activity=Activity(redis_client, prefix=prefix),
        bootstrap="127.0.0.1:1", dlq_topic="dlq", max_lag=10, auth=WebAuth(TOKEN),
        feeds=FeedPagesConfig(registry, states, lambda: [FILE_FEED]))), host="127.0.0.1")
    await server.start_server()
    yield lambda: (str(server.make_url("")).rstrip("/"), registry, states)
    await server.close()


async def logged_in(http: aiohttp.ClientSession, base: str) -> str:
    async with http.post(f"{base}/login", data={"token": TOKEN}) as response:
        assert response.status == 200
    async with http.get(f"{base}/feeds") as response:
        return CSRF.findall(await response.text())[-1]


async def test_feeds_are_added_disabled_enabled_and_polled_from_the_pages(site: Any) -> None:
    base, registry, states = site()
    async with session() as http:
        async with http.get(f"{base}/feeds") as response:  # readable, but no actions
            page = await response.text()
            assert "From the file" in page and "Log in" in page and "poll now" not in page
        async with http.post(f"{base}/feeds", data={"url": "https://x.example/rss"}) as refused:
            assert refused.status == 403  # no login, no CSRF token
        csrf = await logged_in(http, base)
        async with http.post(f"{base}/feeds", data={"csrf": csrf, "url": "ftp://bad/feed",
                                                     "name": "Typed <name>"}) as response:
            assert response.status == 400
            page = await response.text()
            assert "must be http(s)" in page
            assert 'value="ftp://bad/feed"' in page and "Typed &lt;name&gt;" in page
        async with http.post(f"{base}/feeds", data={
                "csrf": csrf, "url": "https://new.example/rss", "name": "New wire"}) as response:
            assert response.status == 200 and "Added" in await response.text()
        new = FeedSpec(url="https://new.example/rss", name="New wire")
        assert await registry.find(new.feed_id) == new

        async def act(spec: FeedSpec, action: str) -> tuple[int, str]:
            async with http.post(f"{base}/feeds/{spec.feed_id}/{action}",
                                 data={"csrf": csrf}) as response:
                return response.status, await response.text()

        # A file's feed can be paused too: the set of disabled ids covers every feed.
        status, page = await act(FILE_FEED, "disable")
        assert status == 200 and "Disabled" in page and "enable</button>" in page
        assert await registry.disabled() == {FILE_FEED.feed_id}
        assert await registry.polled([FILE_FEED]) == [new]
        status, page = await act(FILE_FEED, "poll")
        assert status == 409 and "enable it first" in page
        status, _ = await act(FILE_FEED, "enable")
        assert status == 200 and await registry.disabled() == set()

        await states.save(new.feed_id, FeedState(next_poll=time.time() + 3600, error_streak=4))
        status, page = await act(new, "poll")
        assert status == 200 and "Polling now" in page
        assert (await states.load(new.feed_id)).next_poll == 0.0
        async with http.post(f"{base}/feeds/unknown/poll", data={"csrf": csrf}) as response:
            assert response.status == 404
        async with http.post(f"{base}/feeds/{new.feed_id}/poll",
                             data={"csrf": "wrong"}) as response:
            assert response.status == 403


async def test_a_feed_page_shows_its_last_polls_newest_first(site: Any) -> None:
    base, _, states = site()
    for n in range(FETCHES_KEPT + 3):
        await states.save(FILE_FEED.feed_id, FeedState(last_attempt=NOW + n, error_streak=1,
                                                       last_error="HTTP 503"),
                          FetchRecord(NOW + n, 503 if n % 2 else 200, n, "HTTP 503"
                                      if n % 2 else None, 0.25))
    fetches = await states.fetches(FILE_FEED.feed_id)
    assert len(fetches) == FETCHES_KEPT and fetches[0].published == FETCHES_KEPT + 2
    async with session() as http:
        async with http.get(f"{base}/feeds/{FILE_FEED.feed_id}") as response:
            page = await response.text()
        assert response.status == 200
        assert "From the file" in page and "the feeds file" in page and "HTTP 503" in page
        assert page.count("<tr") == FETCHES_KEPT + 1  # the header row and each poll kept
        async with http.get(f"{base}/feeds/nothing-here") as response:
            assert response.status == 404


async def test_scripts_run_only_with_a_nonce_fresh_for_each_response(site: Any) -> None:
    base, _, _ = site()
    nonces = []
    async with session() as http:
        for _ in range(2):
            async with http.get(f"{base}/feeds") as response:
                policy = response.headers["Content-Security-Policy"]
                page = await response.text()
            [nonce] = re.findall(r"script-src 'nonce-([^']+)'", policy)
            assert "unsafe-inline" not in policy and f"style-src 'nonce-{nonce}'" in policy
            assert re.findall(r'<script nonce="([^"]+)"', page) == [nonce]
            assert " on" + "click=" not in page  # inline handlers would be refused
            nonces.append(nonce)
    assert nonces[0] != nonces[1]


async def test_forms_sent_from_another_site_are_refused(site: Any) -> None:
    base, registry, _ = site()
    async with session() as http:
        async with http.post(f"{base}/login", data={"token": TOKEN},
                             headers={"Origin": "https://evil.example"}) as response:
            assert response.status == 403  # no logging in a victim as the attacker
        csrf = await logged_in(http, base)
        form = {"csrf": csrf, "url": "https://x.example/rss"}
        for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                        {"Referer": "https://evil.example/page"}):
            async with http.post(f"{base}/feeds", data=form, headers=headers) as response:
                assert response.status == 403, headers
                assert "another site" in await response.text()
        assert await registry.list() == []
        host = base.removeprefix("http://")
        async with http.post(f"{base}/feeds", data=form,
                             headers={"Origin": f"http://{host}"}) as response:
            assert response.status == 200  # the same site, as a browser says it
        assert [spec.url for spec in await registry.list()] == ["https://x.example/rss"]


async def test_session_cookies_are_secure_behind_a_proxy_that_says_https(site: Any) -> None:
    base, _, _ = site()
    async with aiohttp.ClientSession() as http:
        for proto, secure in (("", False), ("https", True)):
            async with http.post(f"{base}/login", data={"token": TOKEN},
                                 headers={"X-Forwarded-Proto": proto} if proto else {},
                                 allow_redirects=False) as response:
                cookie = response.headers["Set-Cookie"]
            assert ("Secure" in cookie) is secure and "HttpOnly" in cookie


async def test_trending_names_show_and_one_click_watches_them(
        redis_client: aioredis.Redis, unique: str, tmp_path: Any) -> None:
    prefix = f"{unique}:"
    trends = TrendCounter(redis_client, prefix=prefix)
    named = [DiscoveredEntity(name="Ilya Sutskever", type="person", mentions=2, salience=1.0)]
    await trends.record([named, named, named])  # three articles today, none before
    await trends.record([[DiscoveredEntity(name="Once Only", type="person", mentions=1,
                                           salience=0.3)]])
    watchlist = tmp_path / "watchlist.yaml"
    monitor = Monitor(bootstrap="127.0.0.1:1", group="g", consumed=[], sized=[],
                      dlq_topic="dlq", redis_client=redis_client, redis_prefix=prefix,
                      feeds=list)
    server = TestServer(operations_app(WebConfig(
        monitor=monitor, activity=Activity(redis_client, prefix=prefix),
        bootstrap="127.0.0.1:1", dlq_topic="dlq", max_lag=10, auth=WebAuth(TOKEN),
        trends=trends, watchlist_file=watchlist)), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        async with session() as http:
            async with http.get(f"{base}/") as response:
                page = await response.text()
            rows = re.findall(r'<table class="sortable" id="trending-table">(.*?)</table>',
                              page, re.S)[0]
            assert "Ilya Sutskever" in rows and "Once Only" not in rows  # 3 today, not 1
            assert "watch this" not in rows  # only for a logged-in operator
            async with http.post(f"{base}/login", data={"password": TOKEN}) as response:
                assert response.status == 200
            async with http.get(f"{base}/") as response:
                page = await response.text()
            csrf = CSRF.findall(page)[-1]
            assert "watch this" in page
            async with http.post(f"{base}/trending/watch", data={
                    "csrf": csrf, "name": "Ilya Sutskever", "type": "person",
                    "company": ""}) as response:
                assert response.status == 200
                assert "Ilya Sutskever (ilya-sutskever) is now watched" in await response.text()
        [entity] = [e for e in load_entities([watchlist]) if e.id == "ilya-sutskever"]
        assert (entity.id, entity.type, entity.aliases) == (
            "ilya-sutskever", "person", ("Ilya Sutskever",))
    finally:
        await server.close()
