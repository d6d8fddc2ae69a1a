"""A local HTTP server that misbehaves on purpose, one path per scenario, for fetch tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gzip
import struct
import threading
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import brotli
from aiohttp import web

RSS = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Local</title>'
       b"<item><title>One</title><link>https://local.example/1</link><guid>1</guid></item>"
       b"</channel></rss>")
ETAG = '"v1"'
LAST_MODIFIED = "Fri, 27 Nov 2026 12:00:00 GMT"


async def ok(request: web.Request) -> web.Response:
    if request.headers.get("If-None-Match") == ETAG:
        return web.Response(status=304)
    return web.Response(body=RSS, content_type="application/rss+xml",
                        headers={"ETag": ETAG, "Last-Modified": LAST_MODIFIED,
                                 "Cache-Control": "max-age=900"})


async def status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    headers = {"Retry-After": "120"} if code in (429, 503) else {}
    return web.Response(status=code, text=f"status {code}", headers=headers)


async def chain(request: web.Request) -> web.Response:
    hops = int(request.match_info["hops"])
    if hops == 0:
        return await ok(request)
    raise web.HTTPFound(f"/chain/{hops - 1}")


async def loop(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/loop")


async def redirect_to(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.query["to"])


async def slow_drip(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
    await response.prepare(request)
    for byte in RSS:
        await response.write(bytes([byte]))
        await asyncio.sleep(0.2)
    return response


async def hang(request: web.Request) -> web.Response:
    await asyncio.sleep(3600)
    return web.Response()


async def big(request: web.Request) -> web.Response:
    return web.Response(body=RSS[:-17] + b"<!--" + b"x" * 2_000_000 + b"-->" + RSS[-17:],
                        content_type="application/rss+xml")


async def gzip_bomb(request: web.Request) -> web.Response:
    # 50 MB of zeros compress to about 50 KB: only a cap after decompression stops it.
    return web.Response(body=gzip.compress(b"\0" * 50_000_000, 9),
                        headers={"Content-Encoding": "gzip", "Content-Type": "application/xml"})


async def compressed(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    body = brotli.compress(RSS) if kind == "br" else gzip.compress(RSS)
    return web.Response(body=body, headers={"Content-Encoding": kind,
                                            "Content-Type": "application/rss+xml"})


async def html(request: web.Request) -> web.Response:
    return web.Response(text="<!doctype html><html><head><title>Home</title></head><body><p>"
                             "Welcome to our site</p></body></html>", content_type="text/html")


async def empty(request: web.Request) -> web.Response:
    return web.Response(body=b"", content_type="application/rss+xml")


async def wrong_type(request: web.Request) -> web.Response:
    return web.Response(body=RSS, content_type="image/png")


# --- hostile scenarios (tests/reliability/test_hostile_feeds.py) ---------------------------


@dataclass(frozen=True)
class Seen:
    """One request as the server received it: the local address it arrived on, and when."""

    local: str
    path: str
    at: float


REQUESTS = web.AppKey("requests", list[Seen])
SENT = web.AppKey("sent", dict[str, int])  # streamed scenarios: path -> body bytes written
FINISHED = web.AppKey("finished", set[str])  # streamed scenarios written to their end


@web.middleware
async def _log_requests(request: web.Request,
                        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                        ) -> web.StreamResponse:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    request.app[REQUESTS].append(Seen(str(sockname[0]) if sockname else "", request.path_qs,
                                      time.monotonic()))
    return await handler(request)


def good_rss(name: str) -> bytes:
    """A healthy two-item feed whose GUIDs carry `name`."""
    items = b"".join(
        b"<item><title>Good %s %d</title><link>https://good.example/%s/%d</link>"
        b"<guid>%s-%d</guid><description>A healthy story.</description></item>"
        % (name.encode(), n, name.encode(), n, name.encode(), n) for n in (1, 2))
    return (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title>'
            + items + b"</channel></rss>")


async def good(request: web.Request) -> web.Response:
    return web.Response(body=good_rss(request.match_info["name"]),
                        content_type="application/rss+xml")


def billion_laughs(version: str = "2.0", levels: int = 9) -> bytes:
    """The classic entity bomb: 10**levels copies of "lol" if entities were expanded."""
    entities = "".join(f'<!ENTITY lol{n} "' + f"&lol{n - 1};" * 10 + '">'
                       for n in range(1, levels + 1))
    return (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">{entities}]>'
            f'<rss version="{version}"><channel><title>Laughs</title>'
            f"<item><title>Boom &lol{levels};</title><guid>laughs-1</guid>"
            f"<description>&lol{levels};</description></item></channel></rss>").encode()


async def laughs(request: web.Request) -> web.Response:
    return web.Response(body=billion_laughs(request.query.get("version", "2.0")),
                        content_type="application/rss+xml")


def xxe_feed(version: str, file_url: str, canary_url: str) -> bytes:
    """External entities: a local file, an out-of-band URL, and a parameter entity."""
    return (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY file SYSTEM "{file_url}">'
            f'<!ENTITY oob SYSTEM "{canary_url}"><!ENTITY % dtd SYSTEM "{canary_url}">%dtd;]>'
            f'<rss version="{version}"><channel><title>XXE</title>'
            f"<item><title>Leak &file;</title><guid>xxe-1</guid>"
            f"<description>&file; &oob;</description></item></channel></rss>").encode()


async def xxe(request: web.Request) -> web.Response:
    canary = f"http://{request.host}/xxe-canary"
    return web.Response(body=xxe_feed(request.query.get("version", "2.0"),
                                      request.query["file"], canary),
                        content_type="application/rss+xml")


async def xxe_canary(request: web.Request) -> web.Response:
    return web.Response(text="XXE-CANARY-FETCHED")


INVALID_UTF8 = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bytes \xff\xfe'
    b"</title><item><title>Caf\xe9 \xc3\x28 lone \xed\xa0\x80 end</title><guid>utf8-1</guid>"
    b"<description>cut \xe2\x82</description></item><item><title>Fine</title>"
    b"<guid>utf8-2</guid></item></channel></rss>")


async def invalid_utf8(request: web.Request) -> web.Response:
    return web.Response(body=INVALID_UTF8, content_type="application/rss+xml")


async def _stream(request: web.Request, chunks: Iterator[bytes], headers: dict[str, str], *,
                  trailer: Callable[[], Awaitable[bytes]] | None = None) -> web.StreamResponse:
    """Write `chunks` as they are generated (chunked encoding), counting the bytes written;
    a client that goes away (a size cap, a deadline) just ends the stream."""
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    sent = request.app[SENT]
    sent[request.path] = 0
    request.app[FINISHED].discard(request.path)
    try:
        for chunk in chunks:
            await response.write(chunk)  # waits while the client does not read
            sent[request.path] += len(chunk)
        if trailer is not None:
            await response.write(await trailer())
        await response.write_eof()
        request.app[FINISHED].add(request.path)
    except ConnectionResetError:
        pass
    return response


GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # no name, no mtime


def gzip_bomb_chunks(decompressed_bytes: int, segment: int = 1 << 20,
                     per_chunk: int = 64) -> Iterator[bytes]:
    """A gzip stream of `decompressed_bytes` zeros, about 1/1000 of that on the wire, without
    its trailer (see `gzip_bomb_trailer`).

    One MiB of zeros is deflated once and ended with a full flush (no reference reaches back
    across it), so the same bytes repeated decode to the next MiB: nothing large is built.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(segment)) + compressor.flush(zlib.Z_FULL_FLUSH)
    yield GZIP_HEADER
    total = decompressed_bytes // segment
    for start in range(0, total, per_chunk):
        yield block * min(per_chunk, total - start)


def gzip_bomb_trailer(decompressed_bytes: int, segment: int = 1 << 20) -> bytes:
    """The final empty block, CRC-32 and size ending `gzip_bomb_chunks` (seconds of CPU for
    gigabytes: only computed for a client that read the whole stream)."""
    zeros, crc = bytes(segment), 0
    for _ in range(decompressed_bytes // segment):
        crc = zlib.crc32(zeros, crc)
    size = (decompressed_bytes // segment) * segment
    return zlib.compressobj(9, zlib.DEFLATED, -15).flush() + struct.pack(
        "<II", crc, size & 0xFFFFFFFF)


async def gzip_bomb_stream(request: web.Request) -> web.StreamResponse:
    size = int(float(request.query.get("gigabytes", "10")) * 1024**3)
    return await _stream(request, gzip_bomb_chunks(size), {
        "Content-Type": "application/rss+xml", "Content-Encoding": "gzip"},
        trailer=lambda: asyncio.to_thread(gzip_bomb_trailer, size))


def huge_chunks(total_bytes: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """A well-formed one-item feed of `total_bytes`, its description padded with "x"."""
    head = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Huge</title>'
            b"<item><title>Huge</title><guid>huge-1</guid><description>")
    tail = b"</description></item></channel></rss>"
    yield head
    remaining = total_bytes - len(head) - len(tail)
    filler = b"x" * chunk
    while remaining > 0:
        yield filler[:remaining]
        remaining -= chunk
    yield tail


async def huge(request: web.Request) -> web.StreamResponse:
    size = int(float(request.query.get("megabytes", "100")) * 1024**2)
    return await _stream(request, huge_chunks(size), {"Content-Type": "application/rss+xml"})


def many_items_chunks(count: int, kind: str, per_chunk: int = 10_000) -> Iterator[bytes]:
    """A feed of `count` tiny items, generated as sent: "rss" (2.0), "rss094", "json" (JSON
    Feed) or "rss-same" (the same item `count` times)."""
    if kind == "json":
        yield b'{"version":"https://jsonfeed.org/version/1.1","title":"Many","items":['
        for start in range(0, count, per_chunk):
            part = b",".join(b'{"id":"m%d"}' % n
                             for n in range(start, min(count, start + per_chunk)))
            yield (b"," if start else b"") + part
        yield b"]}"
        return
    version = b"0.94" if kind == "rss094" else b"2.0"
    yield b'<?xml version="1.0"?><rss version="%s"><channel><title>Many</title>' % version
    for start in range(0, count, per_chunk):
        if kind == "rss-same":  # one story, listed again and again (no GUID, no link)
            yield b"<item><title>Same story</title><description>Same body.</description></item>" \
                * (min(count, start + per_chunk) - start)
            continue
        yield b"".join(b"<item><guid>m%d</guid></item>" % n
                       for n in range(start, min(count, start + per_chunk)))
    yield b"</channel></rss>"


async def many_items(request: web.Request) -> web.StreamResponse:
    kind = request.query.get("kind", "rss")
    content_type = "application/feed+json" if kind == "json" else "application/rss+xml"
    return await _stream(request, many_items_chunks(int(request.match_info["count"]), kind),
                         {"Content-Type": content_type})


def make_app() -> web.Application:
    app = web.Application(middlewares=[_log_requests])
    app[REQUESTS] = []
    app[SENT] = {}
    app[FINISHED] = set()
    app.router.add_get("/ok", ok)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/chain/{hops}", chain)
    app.router.add_get("/loop", loop)
    app.router.add_get("/redirect", redirect_to)
    app.router.add_get("/slow", slow_drip)
    app.router.add_get("/hang", hang)
    app.router.add_get("/big", big)
    app.router.add_get("/bomb", gzip_bomb)
    app.router.add_get("/compressed/{kind}", compressed)
    app.router.add_get("/html", html)
    app.router.add_get("/empty", empty)
    app.router.add_get("/wrong-type", wrong_type)
    app.router.add_get("/good/{name}", good)
    app.router.add_get("/billion-laughs", laughs)
    app.router.add_get("/xxe", xxe)
    app.router.add_get("/xxe-canary", xxe_canary)
    app.router.add_get("/invalid-utf8", invalid_utf8)
    app.router.add_get("/gzip-bomb-stream", gzip_bomb_stream)
    app.router.add_get("/huge", huge)
    app.router.add_get("/many/{count}", many_items)
    return app


@asynccontextmanager
async def feed_server(hosts: tuple[str, ...] = ("127.0.0.1",),
                      app: web.Application | None = None) -> AsyncIterator[int]:
    """Serve the scenarios on one free port on each of `hosts`; yields the port.

    Pass your own `make_app()` to read what it saw (`app[REQUESTS]`, `app[SENT]`,
    `app[FINISHED]`).
    """
    runner = web.AppRunner(app or make_app(), handler_cancellation=True)
    await runner.setup()
    first = web.TCPSite(runner, hosts[0], 0)
    await first.start()
    port = first._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    for host in hosts[1:]:
        await web.TCPSite(runner, host, port).start()
    try:
        yield port
    finally:
        await runner.cleanup()


@contextmanager
def feed_server_thread(hosts: tuple[str, ...] = ("127.0.0.1",),
                       app: web.Application | None = None) -> Iterator[int]:
    """`feed_server` on an event loop of its own in a thread: the server's own work (building
    or compressing streamed bodies) then never delays the loop of the client under test."""
    started: concurrent.futures.Future[int] = concurrent.futures.Future()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        try:
            async with feed_server(hosts, app) as port:
                started.set_result(port)
                await stop.wait()
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
            raise

    def run() -> None:
        try:
            loop.run_until_complete(serve())
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    thread = threading.Thread(target=run, name="feed-server", daemon=True)
    thread.start()
    try:
        yield started.result(timeout=30)
    finally:
        if thread.is_alive():
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
