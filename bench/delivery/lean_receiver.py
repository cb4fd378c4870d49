"""A lean webhook receiver for throughput runs: asyncio, HTTP/1.1 keep-alive,
records each webhook's id and arrival time and answers 200. It costs the
machine far less than a threaded test receiver, so the benchmark measures
edgehook rather than its receiver. It answers every path, so one receiver
can stand behind many destinations (webhook ids tell their deliveries apart).

For the slow-receiver parts it can also answer late or not at all: `reply`
maps the request's index (0, 1, ... in order of arrival) and its webhook id
to a `Plan` (answer after `delay` seconds with `status`, or `hold` the
request until the sender gives up and closes the connection). It counts the
requests it has open at once (`in_flight`, `max_in_flight`) and records, per
request, when it arrived and when it ended (`requests`)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Plan:
    """How to answer one request: `status` after `delay` seconds, or, with
    `hold`, nothing until the sender closes the connection (at most
    `hold_limit` seconds, then the status anyway)."""

    status: int = 200
    delay: float = 0.0
    hold: bool = False
    hold_limit: float = 30.0


@dataclass
class Request:
    """One request as the receiver saw it."""

    index: int
    webhook_id: str
    arrived: float  # time.monotonic()
    ended: float = 0.0  # when it was answered, or the sender closed it
    status: int = 0  # the status answered; 0 when the sender gave up first
    plan: Plan | None = None


class LeanReceiver:
    def __init__(self, reply: Callable[[int, str], Plan] | None = None) -> None:
        self.arrivals: list[tuple[str, float]] = []
        self.reply = reply
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = 0
        self.max_connections = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        threading.Thread(target=self._run, daemon=True).start()
        self._ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.max_connections = max(self.max_connections, self.connections)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, webhook_id = 0, ""
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"webhook-id":
                        webhook_id = value.strip().decode()
                if length:
                    await reader.readexactly(length)
                self.arrivals.append((webhook_id, time.monotonic()))
                if self.reply is None:
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    continue
                if not await self._answer(reader, writer, webhook_id):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.connections -= 1
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, webhook_id: str) -> bool:
        """Answers one request as `reply` plans it; False once the sender
        closed the connection."""
        req = Request(len(self.requests), webhook_id, self.arrivals[-1][1])
        self.requests.append(req)
        req.plan = plan = self.reply(req.index, webhook_id)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if plan.hold:
                try:
                    # The sender sends nothing more on this connection until
                    # it has an answer: a read that ends is its close.
                    if await asyncio.wait_for(reader.read(1), plan.hold_limit) == b"":
                        return False
                except asyncio.TimeoutError:
                    pass
            elif plan.delay:
                await asyncio.sleep(plan.delay)
            reason = b"OK" if plan.status < 300 else b"Error"
            writer.write(b"HTTP/1.1 %d %s\r\ncontent-length: 0\r\n\r\n" % (plan.status, reason))
            await writer.drain()
            req.status = plan.status
            return True
        finally:
            req.ended = time.monotonic()
            self.in_flight -= 1

    def wait_for(self, n: int, timeout: float) -> list[tuple[str, float]]:
        deadline = time.monotonic() + timeout
        while len(self.arrivals) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.arrivals)

    def stop(self) -> None:
        """Stops listening; the loop's daemon thread ends with the process."""
        if self._loop:
            self._loop.call_soon_threadsafe(self._server.close)
