"""A lean webhook receiver for throughput runs: asyncio, HTTP/1.1 keep-alive,
records each webhook's id and arrival time and answers 200. It costs the
machine far less than a threaded test receiver, so the benchmark measures
edgehook rather than its receiver. It answers every path, so one receiver
can stand behind many destinations (webhook ids tell their deliveries apart)."""

from __future__ import annotations

import asyncio
import threading
import time


class LeanReceiver:
    def __init__(self) -> None:
        self.arrivals: list[tuple[str, float]] = []
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
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def wait_for(self, n: int, timeout: float) -> list[tuple[str, float]]:
        deadline = time.monotonic() + timeout
        while len(self.arrivals) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.arrivals)

    def stop(self) -> None:
        """Stops listening; the loop's daemon thread ends with the process."""
        if self._loop:
            self._loop.call_soon_threadsafe(self._server.close)
