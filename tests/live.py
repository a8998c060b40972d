"""Real processes for tests and benchmarks: uvicorn serving the app on a free loopback port, stopped by PID.

One helper for every test that needs a real server (the browser tests, the API fuzz, two workers sharing Redis)
and for bench/abuse.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a process we started, and kill it if it does not exit within ten seconds."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return "(no log)"


@dataclass(frozen=True)
class LiveServer:
    url: str  # http://127.0.0.1:PORT
    pid: int  # uvicorn's process (the parent of its workers, when there are several)
    log: Path  # its stdout and stderr


@contextmanager
def live_server(*extra_args: str, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """Serve app.main:app with uvicorn (plus ``extra_args``, e.g. --workers 2) until the block ends.

    Raises RuntimeError with the server's log if it does not answer /healthz within START_TIMEOUT_S.
    """
    port = free_port()
    # A file, not a pipe: a pipe nobody reads fills up and then blocks the server when it logs.
    log = Path(tempfile.mkdtemp(prefix="live-server-")) / "uvicorn.log"
    command = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, *extra_args],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process.pid, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{server.url}/healthz", timeout=2):
                    break
            except OSError as err:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"uvicorn did not answer on {server.url} ({err}); its log:\n{tail(log)}"
                    ) from None
                time.sleep(0.1)
        yield server
    finally:
        stop(process)
