"""A minimal server-sent events client on asyncio streams, for the classroom's tests and bench/classroom.py.

Raw HTTP/1.1 over a loopback socket, so that hundreds of followers cost one coroutine each and nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: the browser tests' Playwright keeps an event loop running in the main
    thread for the whole session, and asyncio.run refuses to start inside a running loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass(frozen=True)
class Message:
    event: str
    data: str
    id: str | None


class Follower:
    """One connection to an event stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int):
        self.reader, self.writer, self.status = reader, writer, status

    @classmethod
    async def connect(cls, url: str, timeout: float = 10.0) -> Follower:
        parts = urlsplit(url)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, parts.port or 80), timeout
        )
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n"
            "Connection: keep-alive\r\n\r\n".encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status = int(head.split(b" ", 2)[1])
        return cls(reader, writer, status)

    async def next(self, timeout: float = 10.0) -> Message:
        """The next event (comments and the retry field skipped). The body is chunked: chunk sizes are skipped."""
        event, data, ident = "message", [], None
        while True:
            raw = await asyncio.wait_for(self.reader.readline(), timeout)
            if not raw:
                raise ConnectionError("the stream ended")
            line = raw.decode().rstrip("\r\n")
            if line == "":
                if data:
                    return Message(event, "\n".join(data), ident)
                continue
            if line.startswith(":") or line.startswith("retry:"):
                continue
            field, _, value = line.partition(": ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                ident = value
            # anything else is a chunk-size line of the chunked encoding

    async def until(self, event: str, contains: str = "", timeout: float = 10.0) -> Message:
        while True:
            message = await self.next(timeout)
            if message.event == event and contains in message.data:
                return message

    def close(self) -> None:
        self.writer.close()
