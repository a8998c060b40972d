"""Real databases for the short-link store's tests: a SQLite file, and a PostgreSQL server of the test session's own.

PostgreSQL is Debian's (``bash scripts/setup.sh --services`` installs the ``postgresql`` package): a fresh cluster
in a temporary directory, listening on a free loopback port, started without any system service and stopped by its
PID (from its ``postmaster.pid``) when the session ends. PostgreSQL refuses to run as root, so under root (CI) the
cluster belongs to the ``postgres`` user the package creates. When it cannot be started, the tests that need it
skip, unless E2E_REQUIRED=1 or CI is set: then they fail.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import _unavailable
from tests.live import free_port, tail

PG_START_TIMEOUT_S = 30.0


def pg_bin(name: str) -> str | None:
    """A PostgreSQL server program: from PG_BIN, else the newest /usr/lib/postgresql/<major>/bin."""
    explicit = os.environ.get("PG_BIN")
    candidates = [explicit] if explicit else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        path = Path(directory) / name
        if path.is_file():
            return str(path)
    return None


def _as_postgres(command: list[str]) -> list[str]:
    """The command as the 'postgres' user when we are root (PostgreSQL will not run as root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server of this test session's own; yields a SQLAlchemy URL of its 'postgres' database."""
    initdb, postgres = pg_bin("initdb"), pg_bin("postgres")
    if initdb is None or postgres is None:
        _unavailable(
            "PostgreSQL's initdb and postgres were not found under /usr/lib/postgresql/*/bin. Install them with "
            "`bash scripts/setup.sh --services` (runs `apt-get install -y postgresql`)."
        )
    assert initdb is not None and postgres is not None
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        _unavailable("Running as root, PostgreSQL needs `runuser` to start as the postgres user.")
    # Not under pytest's tmp_path: its directories are private to root, and the server may run as 'postgres'.
    workdir = Path(tempfile.mkdtemp(prefix="wsk-pg-"))
    workdir.chmod(0o755)
    data = workdir / "data"
    log = workdir / "postgres.log"
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
    init = subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]),
        capture_output=True,
        text=True,
    )
    if init.returncode != 0:
        _unavailable(f"initdb failed ({init.returncode}): {init.stderr[-2000:]}")
    port = free_port()
    command = [
        postgres, "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
        "-c", f"unix_socket_directories={workdir}", "-c", "fsync=off", "-c", "full_page_writes=off",
    ]  # fmt: skip
    with log.open("wb") as out:
        if os.geteuid() == 0:
            shutil.chown(log, "postgres")
        process = subprocess.Popen(_as_postgres(command), stdout=out, stderr=subprocess.STDOUT)
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    try:
        engine = sa.create_engine(url)
        deadline = time.monotonic() + PG_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                _unavailable(f"postgres exited with code {process.returncode}: {tail(log)}")
            try:
                with engine.connect() as connection:
                    connection.execute(sa.text("SELECT 1"))
                break
            except sa.exc.OperationalError as err:
                if time.monotonic() > deadline:
                    _unavailable(f"postgres did not answer on port {port} ({err}): {tail(log)}")
                time.sleep(0.1)
        engine.dispose()
        yield url
    finally:
        _stop(data, process)
        shutil.rmtree(workdir, ignore_errors=True)


def _stop(data: Path, process: subprocess.Popen[bytes]) -> None:
    """Stop the server by the PID it wrote (SIGINT: PostgreSQL's fast shutdown), then wait for it."""
    pid_file = data / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        pid = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A real, empty database of each kind: a fresh SQLite file, or a fresh database on the session's PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wsk.db'}"
        return
    server: str = request.getfixturevalue("postgres_server")
    name = f"t{os.getpid()}_{time.monotonic_ns()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
