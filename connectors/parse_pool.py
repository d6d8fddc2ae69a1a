"""Parse feeds in worker processes, bounded in CPU time and memory, off the event loop.

One hostile feed (a parser bomb, a pathological document) can use at most one worker for
`timeout` seconds and `memory_mb` of address space; then its worker is replaced and the feed
gets an error, while every other feed keeps being parsed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import resource
from concurrent.futures.process import BrokenProcessPool

from connectors.lifetime import die_with_parent
from connectors.parse import ParsedFeed, parse_feed

log = logging.getLogger(__name__)


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
    """A pool of parser processes; `parse` never raises and never blocks the event loop."""

    def __init__(self, workers: int = 2, timeout: float = 10.0, memory_mb: int = 1024) -> None:
        self.workers = workers
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._executor is None:
            # spawn: never fork a process that runs threads (aiohttp, Faust, Kafka), and keep
            # the workers direct children so that they can die with wirewatch.
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(self.memory_mb,))
        return self._executor

    async def parse(self, body: bytes, content_type: str = "") -> ParsedFeed:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        # One parse per worker at a time: the timeout then measures parsing, not queueing.
        async with self._slots:
            return await self._parse(body, content_type)

    async def _parse(self, body: bytes, content_type: str) -> ParsedFeed:
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._pool(), _parse_guarded, body, content_type)
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            log.warning("feed parse timed out; replacing the parser workers")
            self._replace_workers()
            return ParsedFeed(error=f"parse took longer than {self.timeout:g}s")
        except BrokenProcessPool:
            self._replace_workers()
            return ParsedFeed(error="parser process died (memory or crash)")

    def _replace_workers(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # A running parse cannot be cancelled, only killed with its process.
        for process in list(getattr(executor, "_processes", {}).values()):
            process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
