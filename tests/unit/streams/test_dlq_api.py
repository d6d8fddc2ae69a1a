"""POST /api/v1/dlq/resend over real HTTP on loopback, dead letters on the test broker and a
fake resend: the bearer token, the body, refusals as JSON, and `wirewatch dlq replay`'s
client against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import click
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaProducer
from wirewatch.streams.dlq import DeadLetter
from wirewatch.streams.ops.activity import Activity
from wirewatch.streams.ops.auth import WebAuth
from wirewatch.streams.ops.dead_letters import DeadRecord
from wirewatch.streams.ops.monitor import Monitor
from wirewatch.streams.ops.web import CannotResend, WebConfig, operations_app
from wirewatch.streams.topics import TopicNames

from wirewatch.cli.dlq import Outcome, worker_sender

pytestmark = [pytest.mark.kafka, pytest.mark.redis]
TOKEN = "api-token"
STAGES = frozenset({"normalise", "deliver"})


@dataclass
class Worker:
    """The operations app of a worker: its URL, its dead letters and what it was asked."""

    url: str
    places: dict[str, tuple[int, int]]  # dead letter name -> (partition, offset)
    resent: list[tuple[str, bytes | None, bytes, dict[str, str]]] = field(default_factory=list)


async def write_dead_letters(bootstrap: str, topic: str) -> dict[str, tuple[int, int]]:
    """One dead letter of each kind the tests need, all on partition 0."""
    letters: dict[str, tuple[bytes | None, list[tuple[str, bytes]]]] = {
        "normalise": (b"{not json", DeadLetter("normalise", "DecodeError: bad", "raw", 1, 7,
                                               b"k", b"{not json").headers()),
        "deliver": (b'{"alert": 1, "title": "Nvidia <b>ships</b>"}',
                    [("stage", b"deliver"), ("channel", b"ops-hook")]),
        "gone": (b'{"alert": 2}', [("stage", b"deliver"), ("channel", b"gone")]),
        "tag": (b"{}", [("stage", b"tag")]),
        "empty": (None, [("stage", b"normalise")]),
    }
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        places = {}
        for name, (value, headers) in letters.items():
            sent = await producer.send_and_wait(topic, value, key=b"k", partition=0,
                                                headers=headers)
            places[name] = (sent.partition, sent.offset)
        return places
    finally:
        await producer.stop()


@pytest.fixture
async def serve(broker: Any, redis_client: aioredis.Redis, unique: str,
                topic_factory: Callable[..., Awaitable[TopicNames]],
                ) -> AsyncIterator[Callable[[WebAuth], Awaitable[Worker]]]:
    topics = await topic_factory(prefix=f"{unique}.")
    places = await write_dead_letters(broker.bootstrap, topics.dlq)
    servers: list[TestServer] = []

    async def start(auth: WebAuth) -> Worker:
        worker = Worker("", places)

        async def resend(stage: str, key: bytes | None, value: bytes,
                         headers: dict[str, str]) -> None:
            if headers.get("channel") == "gone":
                raise CannotResend("channel 'gone' is not configured on this worker")
            worker.resent.append((stage, key, value, headers))

        monitor = Monitor(bootstrap=broker.bootstrap, group="g", consumed=[], sized=[],
                          dlq_topic=topics.dlq, redis_client=redis_client,
                          redis_prefix=f"{unique}:", feeds=list)
        server = TestServer(operations_app(WebConfig(
            monitor=monitor, activity=Activity(redis_client, prefix=f"{unique}:"),
            bootstrap=broker.bootstrap, dlq_topic=topics.dlq, max_lag=10, auth=auth,
            resend=resend, resend_stages=STAGES)), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        worker.url = str(server.make_url("")).rstrip("/")
        return worker

    yield start
    for server in servers:
        await server.close()


async def post(url: str, body: Any, token: str | None = TOKEN) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with aiohttp.ClientSession() as http, http.post(
            f"{url}/api/v1/dlq/resend", json=body, headers=headers) as response:
        return response.status, await response.json()


def at(worker: Worker, name: str) -> dict[str, int]:
    partition, offset = worker.places[name]
    return {"partition": partition, "offset": offset}


async def test_a_dead_letter_goes_back_to_its_stage(serve: Any) -> None:
    worker: Worker = await serve(WebAuth(TOKEN))
    assert await post(worker.url, at(worker, "normalise")) == (
        200, {"stage": "normalise", "sent": True})
    [(stage, key, value, headers)] = worker.resent
    assert (stage, key, value) == ("normalise", b"k", b"{not json")
    assert headers["source_offset"] == "7"  # the headers reach the resend callable


async def test_a_failed_delivery_goes_back_with_its_channel(serve: Any) -> None:
    worker: Worker = await serve(WebAuth(TOKEN))
    assert await post(worker.url, at(worker, "deliver")) == (
        200, {"stage": "deliver", "sent": True})
    assert worker.resent[0][3]["channel"] == "ops-hook"


@pytest.mark.parametrize(("name", "status", "error"), [
    pytest.param("gone", 400, "channel 'gone' is not configured", id="resend-refuses"),
    pytest.param("tag", 400, "stage 'tag' cannot be re-run here", id="stage-not-resendable"),
    pytest.param("empty", 404, "no dead letter at", id="no-value"),
])
async def test_refusals_are_json_with_the_reason(serve: Any, name: str, status: int,
                                                 error: str) -> None:
    worker: Worker = await serve(WebAuth(TOKEN))
    code, answer = await post(worker.url, at(worker, name))
    assert code == status and error in answer["error"]
    assert worker.resent == []


@pytest.mark.parametrize("body", [
    pytest.param({"partition": 0}, id="no-offset"),
    pytest.param({"partition": "0", "offset": 1}, id="text"),
    pytest.param({"partition": True, "offset": 1}, id="boolean"),
    pytest.param({"partition": 0, "offset": -1}, id="negative"),
    pytest.param([0, 1], id="not-an-object"),
])
async def test_a_malformed_body_is_refused(serve: Any, body: Any) -> None:
    worker: Worker = await serve(WebAuth(TOKEN))
    code, answer = await post(worker.url, body)
    assert code == 400 and "partition" in answer["error"]


async def test_the_api_needs_the_web_token_as_bearer_token(serve: Any) -> None:
    worker: Worker = await serve(WebAuth(TOKEN))
    body = at(worker, "normalise")
    assert (await post(worker.url, body, token=None))[0] == 401
    assert (await post(worker.url, body, token="wrong"))[0] == 401
    async with aiohttp.ClientSession() as http, http.post(
            f"{worker.url}/api/v1/dlq/resend", json=body,
            headers={"Authorization": f"Basic {TOKEN}"}) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    closed: Worker = await serve(WebAuth())  # no web token configured: nobody may
    assert (await post(closed.url, body, token=""))[0] == 403
    assert worker.resent == closed.resent == []


async def test_the_form_still_needs_a_login_and_shares_the_logic(serve: Any) -> None:
    worker: Worker = await serve(WebAuth(TOKEN))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{worker.url}/dlq/resend", data=at(worker, "deliver"),
                             headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 403  # a bearer token is no login for the form
        async with http.post(f"{worker.url}/login", data={"token": TOKEN}) as response:
            assert response.status == 200
        async with http.get(f"{worker.url}/dlq") as response:
            page = await response.text()
            assert "send back to deliver" in page and "send back to tag" not in page
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        async with http.post(f"{worker.url}/dlq/resend", allow_redirects=False,
                             data={**at(worker, "deliver"), "csrf": csrf}) as response:
            assert response.status == 303 and "back+to+deliver" in response.headers["Location"]
        async with http.post(f"{worker.url}/dlq/resend",
                             data={**at(worker, "gone"), "csrf": csrf}) as response:
            assert response.status == 400 and "not configured" in await response.text()
    assert [stage for stage, *_ in worker.resent] == ["deliver"]


def place(worker: Worker, name: str) -> str:
    return "/".join(map(str, worker.places[name]))


async def test_the_page_filters_shows_titles_and_sends_back_in_bulk(serve: Any) -> None:
    worker: Worker = await serve(WebAuth(TOKEN))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{worker.url}/dlq?stage=deliver") as response:
            page = await response.text()
        assert "Dead letters (2 of the newest 5)" in page
        assert "Nvidia &lt;b&gt;ships&lt;/b&gt;" in page  # the title, escaped
        assert 'option value="ops-hook"' in page and 'option value="gone"' in page
        async with http.get(f"{worker.url}/dlq?channel=ops-hook") as response:
            assert "Dead letters (1 of the newest 5)" in await response.text()
        async with http.get(f"{worker.url}/dlq?stage=match") as response:
            assert "No dead letter matches this filter" in await response.text()
        async with http.post(f"{worker.url}/login", data={"token": TOKEN}) as response:
            assert response.status == 200
        async with http.get(f"{worker.url}/dlq") as response:
            page = await response.text()
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        assert page.count('type="checkbox"') == 4  # not the tag letter: it cannot go back
        async with http.post(f"{worker.url}/dlq/resend-many", data=[
                ("csrf", csrf), ("place", place(worker, "normalise")),
                ("place", place(worker, "deliver")), ("place", place(worker, "gone")),
                ("place", "x/y")]) as response:
            page = await response.text()
        assert "sent 2 back; 2 refused" in page and "not configured" in page
        async with http.post(f"{worker.url}/dlq/resend-many",
                             data={"place": place(worker, "deliver")}) as response:
            assert response.status == 403  # no CSRF token
    assert [stage for stage, *_ in worker.resent] == ["normalise", "deliver"]


async def test_an_empty_dead_letter_topic_says_so(
        broker: Any, redis_client: aioredis.Redis, unique: str,
        topic_factory: Callable[..., Awaitable[TopicNames]]) -> None:
    topics = await topic_factory(prefix=f"{unique}-empty.")
    monitor = Monitor(bootstrap=broker.bootstrap, group="g", consumed=[], sized=[],
                      dlq_topic=topics.dlq, redis_client=redis_client,
                      redis_prefix=f"{unique}:", feeds=list)
    server = TestServer(operations_app(WebConfig(
        monitor=monitor, activity=Activity(redis_client, prefix=f"{unique}:"),
        bootstrap=broker.bootstrap, dlq_topic=topics.dlq, max_lag=10)), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http, http.get(
                str(server.make_url("/dlq"))) as response:
            page = await response.text()
        assert "No dead letters: nothing has failed for good" in page
        assert "<table" not in page
    finally:
        await server.close()


def record(worker: Worker, name: str) -> DeadRecord:
    partition, offset = worker.places[name]
    return DeadRecord(partition, offset, 0.0, b"k", b"v", {"stage": name})


async def test_the_replay_client_reports_sent_refused_and_stops_on_auth(serve: Any) -> None:
    worker: Worker = await serve(WebAuth(TOKEN))
    async with aiohttp.ClientSession() as http:
        send = worker_sender(http, worker.url + "/", TOKEN)
        assert await send(record(worker, "normalise")) == Outcome("sent")
        refused = await send(record(worker, "tag"))
        assert refused.word == "refused" and "cannot be re-run" in refused.detail
        with pytest.raises(click.ClickException, match="refused: send the web token"):
            await worker_sender(http, worker.url, "wrong")(record(worker, "normalise"))
        with pytest.raises(click.ClickException, match="cannot reach the wirewatch worker"):
            await worker_sender(http, "http://127.0.0.1:1", TOKEN)(record(worker, "tag"))
