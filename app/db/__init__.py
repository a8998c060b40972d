"""The short-link store: scenarios kept by content, and links to a step of a run of one, in SQL.

An embedded SQLite file by default (``var/wsk.db``), PostgreSQL when ``DATABASE_URL`` says so
(``postgresql://user:password@host:port/db``). SQLAlchemy Core speaks to both; Alembic migrations
(``app/db/migrations``) bring the schema up to date when the app starts.

Everything is content-addressed. A scenario version is stored under its fingerprint (a hash of its canonical
JSON), and a link under a hash of what it shows (the scenario version, the built-in it came from, the schedule and
the step): the same content always gets the same id, and storing it twice stores it once. A link stores the
scenario's content, not its name, so it replays the same run after the built-in scenario changes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from app.sim import CompiledScenario

ROOT = Path(__file__).resolve().parent.parent.parent
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_URL = f"sqlite:///{ROOT / 'var' / 'wsk.db'}"

# Bounds on what anyone can make the server store: the tables stop growing there (a 507 says so).
MAX_SCENARIO_VERSIONS = 20_000  # at most 128 KB each (the largest a link inflates to), about 3 KB typically
MAX_LINKS = 200_000
ID_CHARS = 10  # base32: 50 bits, so a collision is not expected before millions of links

metadata = sa.MetaData()
scenario_versions = sa.Table(
    "scenario_versions",
    metadata,
    sa.Column("hash", sa.String(16), primary_key=True),
    sa.Column("scenario_id", sa.String(64), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
short_links = sa.Table(
    "short_links",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("scenario_hash", sa.String(16), nullable=False),
    sa.Column("built_in", sa.String(64), nullable=True),
    sa.Column("schedule", sa.Text(), nullable=False),
    sa.Column("at", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


T = TypeVar("T")


def _twice(write: Callable[[], T]) -> T:
    """A write, tried again once if another request stored the same row meanwhile (the second try finds it)."""
    try:
        return write()
    except IntegrityError:
        return write()


class StoreFull(RuntimeError):
    """The store holds as many rows as it may; the message says so."""


@dataclass(frozen=True)
class StoredLink:
    """A short link as stored: the scenario's content (as data), where it came from, the schedule and the step."""

    id: str
    scenario: dict[str, Any]
    scenario_hash: str
    built_in: str | None
    schedule: tuple[str, ...]
    at: int


def database_url(url: str | None = None) -> str:
    """The URL to use: the one given, else DATABASE_URL, else the SQLite file under var/. PostgreSQL URLs are
    spoken with psycopg 3 (the driver this project installs)."""
    url = url or os.environ.get("DATABASE_URL") or DEFAULT_URL
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def canonical(scenario: CompiledScenario) -> str:
    """The scenario's canonical JSON: what its fingerprint hashes."""
    return json.dumps(scenario.source.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def link_id(scenario_hash: str, built_in: str | None, schedule: tuple[str, ...], at: int) -> str:
    """A link's id: a hash of everything it shows, in lowercase base32 (no characters that look alike)."""
    content = json.dumps([scenario_hash, built_in or "", ".".join(schedule), at], separators=(",", ":"))
    digest = hashlib.sha256(content.encode()).digest()
    return base64.b32encode(digest).decode().lower()[:ID_CHARS]


MIGRATION_LOCK = 0x57534B_C105E  # the advisory lock migrations take on PostgreSQL ("WSK close")


class Store:
    """The short-link store over one SQLAlchemy engine (thread-safe: each call takes its own connection)."""

    def __init__(self, url: str | None = None):
        self.url = database_url(url)
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(self.url, pool_pre_ping=True)

    def migrate(self) -> None:
        """Bring the schema up to date. Several workers may start at once. On PostgreSQL they take turns, under a
        transaction-scoped advisory lock, and DDL is transactional: the second finds the schema at head. On SQLite
        one that loses the race to create a table finds it done when it tries again."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        for attempt in range(5):
            try:
                with self.engine.begin() as connection:
                    if connection.dialect.name == "postgresql":
                        connection.execute(
                            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                        )
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
                return
            except (OperationalError, ProgrammingError, IntegrityError):
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def close(self) -> None:
        self.engine.dispose()

    # -- scenario versions -------------------------------------------------------------------------------------------

    def keep_scenarios(self, scenarios: list[CompiledScenario]) -> None:
        """Store these scenario versions (the built-ins at start-up), those not stored already."""
        _twice(lambda: self._keep(scenarios))

    def _keep(self, scenarios: list[CompiledScenario]) -> None:
        with self.engine.begin() as connection:
            hashes = [c.fingerprint for c in scenarios]
            known = set(
                connection.scalars(
                    sa.select(scenario_versions.c.hash).where(scenario_versions.c.hash.in_(hashes))
                )
            )
            for compiled in scenarios:
                if compiled.fingerprint not in known:
                    self._insert_scenario(connection, compiled)
                    known.add(compiled.fingerprint)

    def _insert_scenario(self, connection: sa.Connection, compiled: CompiledScenario) -> None:
        connection.execute(
            scenario_versions.insert().values(
                hash=compiled.fingerprint,
                scenario_id=compiled.source.id,
                body=canonical(compiled),
                created_at=datetime.now(UTC),
            )
        )

    def scenario(self, scenario_hash: str) -> dict[str, Any] | None:
        """A stored scenario version's content, by its fingerprint (None if none is stored)."""
        with self.engine.connect() as connection:
            body = connection.scalar(
                sa.select(scenario_versions.c.body).where(scenario_versions.c.hash == scenario_hash)
            )
        return None if body is None else dict(json.loads(body))

    def scenario_with_prefix(self, prefix: str) -> tuple[str, dict[str, Any]] | None:
        """The stored version whose fingerprint starts with ``prefix`` (a long link's short hash), if exactly
        one does."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(scenario_versions.c.hash, scenario_versions.c.body)
                .where(scenario_versions.c.hash.startswith(prefix, autoescape=True))
                .limit(2)
            ).all()
        if len(rows) != 1:
            return None
        return str(rows[0].hash), dict(json.loads(rows[0].body))

    # -- links -------------------------------------------------------------------------------------------------------

    def save(
        self, compiled: CompiledScenario, built_in: str | None, schedule: tuple[str, ...], at: int
    ) -> str:
        """Store a link (and its scenario's content) and return its id; the same content, the same id."""
        return _twice(lambda: self._save(compiled, built_in, schedule, at))

    def _save(
        self, compiled: CompiledScenario, built_in: str | None, schedule: tuple[str, ...], at: int
    ) -> str:
        new_id = link_id(compiled.fingerprint, built_in, schedule, at)
        with self.engine.begin() as connection:
            same = connection.execute(sa.select(short_links).where(short_links.c.id == new_id)).first()
            if same is not None:
                if (same.scenario_hash, same.built_in, same.schedule, same.at) != (
                    compiled.fingerprint,
                    built_in,
                    ".".join(schedule),
                    at,
                ):  # two contents, one id: not expected before millions of links, and never silently merged
                    raise StoreFull(
                        f"Link id {new_id} is taken by another link; share the long link instead."
                    )
                return new_id
            if (connection.scalar(sa.select(sa.func.count()).select_from(short_links)) or 0) >= MAX_LINKS:
                raise StoreFull(f"The link store is full ({MAX_LINKS:,} links); share the long link instead.")
            stored = connection.scalar(
                sa.select(scenario_versions.c.hash).where(scenario_versions.c.hash == compiled.fingerprint)
            )
            if stored is None:
                count = connection.scalar(sa.select(sa.func.count()).select_from(scenario_versions)) or 0
                if count >= MAX_SCENARIO_VERSIONS:
                    raise StoreFull(
                        f"The link store holds as many scenarios as it may ({MAX_SCENARIO_VERSIONS:,}); share "
                        "the long link instead."
                    )
                self._insert_scenario(connection, compiled)
            connection.execute(
                short_links.insert().values(
                    id=new_id,
                    scenario_hash=compiled.fingerprint,
                    built_in=built_in,
                    schedule=".".join(schedule),
                    at=at,
                    created_at=datetime.now(UTC),
                )
            )
        return new_id

    def load(self, short_id: str) -> StoredLink | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(short_links, scenario_versions.c.body)
                .join(scenario_versions, scenario_versions.c.hash == short_links.c.scenario_hash)
                .where(short_links.c.id == short_id)
            ).first()
        if row is None:
            return None
        return StoredLink(
            id=row.id,
            scenario=dict(json.loads(row.body)),
            scenario_hash=row.scenario_hash,
            built_in=row.built_in,
            schedule=tuple(row.schedule.split(".")) if row.schedule else (),
            at=int(row.at),
        )
