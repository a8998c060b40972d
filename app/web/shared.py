"""The one connection to Redis through which several server processes share state (searches; later, classrooms).

One uvicorn worker keeps everything in memory and needs no Redis. Several workers (``uvicorn --workers N``, or
replicas behind a load balancer) must share what a user can come back to, because the next request may reach
another process: set ``REDIS_URL`` (``redis://host:6379/0``) and every worker connects to the same server.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import redis

REDIS_URL = "REDIS_URL"
CONNECT_TIMEOUT_S = 3.0
# Generous enough for a slow network, short enough that a dead server fails a request instead of hanging it.
COMMAND_TIMEOUT_S = 5.0


class SharedStateError(RuntimeError):
    """Redis is configured but unusable; the message names the URL (without its password) and what to do."""


def connect(url: str | None = None) -> redis.Redis | None:
    """The Redis client for ``url`` (default: the ``REDIS_URL`` environment variable), checked with a PING.

    Returns None when no URL is set: one process, in-memory state. Raises SharedStateError at once, with a sentence
    saying what to fix, when the URL is malformed or the server does not answer, so a misconfigured deployment stops
    at start-up rather than failing its first user. The client is thread-safe (a connection pool) and decodes
    replies to ``str``.
    """
    url = (os.environ.get(REDIS_URL, "") if url is None else url).strip()
    if not url:
        return None
    shown = _without_password(url)
    try:
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=COMMAND_TIMEOUT_S,
            health_check_interval=30,
        )
    except ValueError as err:
        raise SharedStateError(
            f"{REDIS_URL}={shown} is not a valid Redis URL ({err}); use redis://host:6379/0, "
            f"or unset {REDIS_URL} to run a single process with in-memory state."
        ) from None
    try:
        client.ping()
    except redis.RedisError as err:
        client.close()
        raise SharedStateError(
            f"Cannot reach Redis at {REDIS_URL}={shown}: {err}. Start the server (redis-server) or fix the URL; "
            f"unset {REDIS_URL} to run a single process with in-memory state."
        ) from None
    return client


def _without_password(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = f"{parts.username}:***@" if parts.username else ":***@"
        return urlunsplit(parts._replace(netloc=user + netloc))
    except ValueError:
        return "<unparsable URL>"
