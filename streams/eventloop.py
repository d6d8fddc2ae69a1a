"""The event loop of every wirewatch command: uvloop, unless WIREWATCH_EVENT_LOOP=asyncio."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Literal, get_args

log = logging.getLogger(__name__)

EventLoop = Literal["uvloop", "asyncio"]  # the WIREWATCH_EVENT_LOOP setting's values
CHOICES: tuple[str, ...] = get_args(EventLoop)
DEFAULT: EventLoop = "uvloop"
VARIABLE = "WIREWATCH_EVENT_LOOP"


class EventLoopError(ValueError):
    """WIREWATCH_EVENT_LOOP names no loop wirewatch knows."""


def install(choice: str | None = None) -> str:
    """Make `choice` (default: the WIREWATCH_EVENT_LOOP setting, else uvloop) the loop of
    every asyncio.run and new_event_loop from here on, in every thread (Faust's consumer
    thread too); return the loop installed.

    uvloop runs the worker's socket writes, callbacks and tasks in C (bench/pipeline.py
    measures the difference); the standard loop stays one setting away, and is used when
    uvloop cannot be imported (a platform it does not build for).
    """
    # Read before Settings is (a command's settings come later): matched without regard to
    # case, as Settings matches its variables, so `wirewatch config` shows the loop in use.
    configured = next((value for name, value in os.environ.items()
                       if name.upper() == VARIABLE), None)
    wanted = (choice or configured or DEFAULT).strip().lower()
    if wanted not in CHOICES:
        raise EventLoopError(f"{VARIABLE}={wanted!r}: choose one of {', '.join(CHOICES)}")
    if wanted == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed; running on the standard asyncio loop")
        else:
            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            return "uvloop"
    asyncio.set_event_loop_policy(None)
    return "asyncio"
