"""A local HTTP server that misbehaves on purpose, one path per scenario, for fetch tests."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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


def make_app() -> web.Application:
    app = web.Application()
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
    return app


@asynccontextmanager
async def feed_server(hosts: tuple[str, ...] = ("127.0.0.1",)) -> AsyncIterator[int]:
    """Serve the scenarios on one free port on each of `hosts`; yields the port."""
    runner = web.AppRunner(make_app(), handler_cancellation=True)
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
