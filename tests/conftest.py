"""Services that tests start for themselves: a private redis-server, for the shared state of several workers.

The server is Debian's ``redis-server`` (``bash scripts/setup.sh --services`` installs it), started on a free
loopback port of its own, without persistence, and stopped by its PID when the session ends. When it cannot be
started, the tests that need it skip, unless E2E_REQUIRED=1 or CI is set: then they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import settings

from tests.live import free_port, stop, tail

# No Hypothesis example may fail for taking long: the machine is shared and noisy, and time is a benchmark's
# business (bench/), never a test's.
settings.register_profile("no-deadline", deadline=None)
settings.load_profile("no-deadline")

REDIS_SERVER = os.environ.get("REDIS_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_START_TIMEOUT_S = 10.0


def services_required() -> bool:
    return os.environ.get("E2E_REQUIRED") == "1" or bool(os.environ.get("CI"))


def _unavailable(message: str) -> None:
    if services_required():
        pytest.fail(
            f"{message} E2E_REQUIRED=1 or CI is set, so these tests may not be skipped.", pytrace=False
        )
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of this test session's own; yields its URL (database 0)."""
    if not os.path.exists(REDIS_SERVER):
        _unavailable(
            f"redis-server not found at {REDIS_SERVER}. Install it with `bash scripts/setup.sh --services` "
            "(runs `apt-get install -y redis-server`)."
        )
    workdir: Path = tmp_path_factory.mktemp("redis")
    log = workdir / "redis.log"
    port = free_port()
    cmd = [
        REDIS_SERVER,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        "--logfile", str(log),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        deadline = time.monotonic() + REDIS_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                _unavailable(f"redis-server exited with code {proc.returncode}: {tail(log)}")
            try:
                client.ping()
                break
            except redis.RedisError as err:
                if time.monotonic() > deadline:
                    _unavailable(f"redis-server did not answer on port {port} ({err}): {tail(log)}")
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        stop(proc)


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The session's Redis, emptied before each test, so that tests do not see each other's searches."""
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    client.close()
    yield redis_server
