"""The event loop setting: uvloop by default, asyncio on request, a clear error otherwise."""

from __future__ import annotations

import asyncio
import threading

import pytest
import uvloop
from wirewatch.streams.eventloop import EventLoopError, install
from wirewatch.streams.settings import Settings

from tests.support.cli import cli


def loop_type() -> type:
    loop = asyncio.new_event_loop()
    try:
        return type(loop)
    finally:
        loop.close()


def test_uvloop_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIREWATCH_EVENT_LOOP", raising=False)
    assert install() == "uvloop"
    assert loop_type() is uvloop.Loop
    assert Settings().event_loop == "uvloop"  # the documented default says the same


def test_asyncio_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    install("uvloop")
    monkeypatch.setenv("WIREWATCH_EVENT_LOOP", "AsyncIO")
    assert install() == "asyncio"
    assert not issubclass(loop_type(), uvloop.Loop)


def test_a_thread_gets_the_installed_loop_too() -> None:
    """Faust's consumer runs its own loop in a thread: it must be the chosen one as well."""
    install("uvloop")
    found: list[type] = []

    thread = threading.Thread(target=lambda: found.append(loop_type()))
    thread.start()
    thread.join(timeout=10)
    assert found == [uvloop.Loop]


def test_an_unknown_loop_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EventLoopError, match="choose one of uvloop, asyncio"):
        install("trio")
    monkeypatch.setenv("WIREWATCH_EVENT_LOOP", "tornado")
    code, _, err = cli()("config")
    assert code == 1
    assert "WIREWATCH_EVENT_LOOP='tornado'" in err


def test_the_variable_is_read_as_settings_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings matches variable names without regard to case; so does the loop, so that
    `wirewatch config` never shows a loop other than the one running."""
    install("uvloop")
    monkeypatch.delenv("WIREWATCH_EVENT_LOOP", raising=False)
    monkeypatch.setenv("wirewatch_event_loop", "asyncio")
    assert install() == Settings().event_loop == "asyncio"
    assert not issubclass(loop_type(), uvloop.Loop)
