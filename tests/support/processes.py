"""Helpers for tests that run wirewatch as a subprocess: wait on conditions, find children."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def wait_for(condition: Callable[[], bool], timeout: float, what: str,
              interval: float = 0.1) -> None:
    """Poll `condition` until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def children_of(pid: int) -> set[int]:
    """Pids whose parent is `pid` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 (after the parenthesised command name) is the parent pid.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def descendants_of(pid: int) -> set[int]:
    """Every process below `pid`: children, their children, and so on."""
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = set().union(*(children_of(parent) for parent in frontier)) - found
        found |= children
        frontier = children
    return found


def is_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wirewatch_env(**extra: str) -> dict[str, str]:
    """The test's environment without any WIREWATCH_ setting leaking in, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env.update(extra)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def stop(process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
