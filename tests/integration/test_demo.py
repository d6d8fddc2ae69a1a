"""`wirewatch demo` alerts on the bundled feeds, and never leaves a broker or Redis behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.processes import (
    children_of,
    descendants_of,
    is_alive,
    stop,
    wait_for,
    wirewatch_env,
)

pytestmark = pytest.mark.embedded

DEMO = [sys.executable, "-m", "wirewatch", "demo"]


def start_demo(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*DEMO, *args], env=wirewatch_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def service_children(pid: int) -> set[int]:
    """The demo's embedded broker and redis-server, once both are up."""
    found: set[int] = set()

    def both_started() -> bool:
        found.clear()
        for child in children_of(pid):
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"tansu" in command or b"redis-server" in command:
                found.add(child)
        return len(found) == 2

    wait_for(both_started, 60, "the embedded broker and redis-server to start")
    return set(found)


def test_exit_after_alerts_exits_zero_within_a_minute_and_leaves_nothing():
    started = time.monotonic()
    demo = start_demo("--exit-after-alerts", "1")
    try:
        services = service_children(demo.pid)
        stdout, stderr = demo.communicate(timeout=60)
    finally:
        stop(demo)
    assert demo.returncode == 0, stderr[-3000:]
    assert time.monotonic() - started < 60
    # Alerts already in flight when the first one lands may be delivered during shutdown.
    assert stdout.count("ALERT [") >= 1
    assert "metrics http://127.0.0.1:" in stderr
    assert not [pid for pid in services if is_alive(pid)]


@pytest.mark.parametrize("signum", [pytest.param(signal.SIGINT, id="ctrl-c"),
                                    pytest.param(signal.SIGTERM, id="sigterm"),
                                    pytest.param(signal.SIGKILL, id="kill-9")])
def test_stopping_wirewatch_stops_its_embedded_services(signum: signal.Signals):
    demo = start_demo()
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(demo.stdout or []), daemon=True)
    reader.start()
    try:
        services = service_children(demo.pid)
        wait_for(lambda: any(line.startswith("ALERT [") for line in lines), 60,
                 "the first alert (the pipeline is running)")
        everything = descendants_of(demo.pid)  # broker, redis-server, parser workers, ...
        assert services <= everything and len(everything) > len(services)
        demo.send_signal(signum)
        demo.wait(timeout=60)
        wait_for(lambda: not any(is_alive(pid) for pid in everything), 20,
                 "every process wirewatch started to exit")
    finally:
        stop(demo)
        reader.join(10)
        demo.communicate()
    if signum != signal.SIGKILL:
        assert demo.returncode == 0
