"""Parse feeds in worker processes, bounded in CPU time and memory, off the event loop.

One hostile feed (a parser bomb, a pathological document) can use at most one worker for
`timeout` seconds and `memory_mb` of address space; then that worker alone is replaced and
the feed gets an error, while every other feed keeps being parsed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import resource
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from wirewatch.connectors.extract import Extraction, extraction
from wirewatch.connectors.lifetime import die_with_parent
from wirewatch.connectors.parse import ParsedFeed, parse_feed

log = logging.getLogger(__name__)
Result = TypeVar("Result", ParsedFeed, Extraction)


def _init_worker(memory_mb: int) -> None:  # pragma: no cover - runs in the worker
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    die_with_parent()  # no orphaned parsers, even when wirewatch is killed outright


def _parse_guarded(body: bytes, content_type: str) -> ParsedFeed:  # pragma: no cover - worker
    try:
        return parse_feed(body, content_type)
    except MemoryError:
        return ParsedFeed(error="MemoryError: feed needs more memory than allowed to parse")


class ParserPool:
    """Parser processes; `parse` and `extract` (an article page's main text) never raise
    and never block the event loop.

    Each worker is an executor of its own (a lane), used by one parse at a time: a parse
    that times out or kills its process takes only its own lane down, never a parse of
    another feed running beside it in another process.
    """

    def __init__(self, workers: int = 2, timeout: float = 10.0, memory_mb: int = 1024) -> None:
        self.workers = workers
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._lanes: list[concurrent.futures.ProcessPoolExecutor | None] = [None] * workers
        self._free: asyncio.Queue[int] | None = None

    def _lane(self, index: int) -> concurrent.futures.ProcessPoolExecutor:
        lane = self._lanes[index]
        if lane is None:
            # spawn: never fork a process that runs threads (aiohttp, Faust, Kafka), and keep
            # the workers direct children so that they can die with wirewatch.
            lane = self._lanes[index] = concurrent.futures.ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(self.memory_mb,))
        return lane

    async def parse(self, body: bytes, content_type: str = "") -> ParsedFeed:
        return await self._run("parse", _parse_guarded, (body, content_type),
                               lambda error: ParsedFeed(error=error))

    async def extract(self, page: bytes, url: str) -> Extraction:
        """The main text of an article page, under the same time and memory limits."""
        return await self._run("extraction", extraction, (page, url),
                               lambda error: Extraction(error=error))

    async def _run(self, what: str, function: Callable[..., Result], args: tuple[Any, ...],
                   failed: Callable[[str], Result]) -> Result:
        if self._free is None:
            self._free = asyncio.Queue()
            for index in range(self.workers):
                self._free.put_nowait(index)
        # One job per lane at a time: the timeout then measures the work, not queueing.
        index = await self._free.get()
        try:
            return await self._call(index, what, function, args, failed)
        finally:
            self._free.put_nowait(index)

    async def _call(self, index: int, what: str, function: Callable[..., Result],
                    args: tuple[Any, ...], failed: Callable[[str], Result]) -> Result:
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._lane(index), function, *args)
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            log.warning("%s timed out; replacing its parser process", what)
            self._replace(index)
            return failed(f"{what} took longer than {self.timeout:g}s")
        except BrokenProcessPool:
            self._replace(index)
            return failed("parser process died (memory or crash)")

    def _replace(self, index: int) -> None:
        lane, self._lanes[index] = self._lanes[index], None
        if lane is None:
            return
        # A running parse cannot be cancelled, only killed with its process.
        for process in list(getattr(lane, "_processes", {}).values()):
            process.kill()
        lane.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        lanes, self._lanes = self._lanes, [None] * self.workers
        for lane in lanes:
            if lane is not None:
                lane.shutdown(wait=True, cancel_futures=True)
