"""A webhook receiver for end-to-end tests: a threaded HTTP server on
127.0.0.1 (a free port) that records every request it gets and answers each
one as a script says.

    with Receiver([Reply(503, headers={"Retry-After": "1"}), Reply(200)]) as rx:
        ...  # register rx.url as a destination, publish an event
        first, second = rx.wait_for(2, timeout=20)

Each request consumes the next `Reply` of the script; once the script is used
up, `default` answers (200 with an empty body unless set otherwise); or
`reply_for(n)` picks the reply of the n-th request (0-based). A reply can wait
`delay` seconds before answering (to exceed a destination's `timeout_seconds`)
or drop the connection without answering. The receiver counts the requests it
is handling at once (`max_in_flight`) and keeps when each was answered.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """How the receiver answers one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    drop_connection: bool = False
    # Sent with `Transfer-Encoding: chunked` (in chunks of 16 KiB) instead of
    # a `Content-Length`, unless `headers` gives one as well.
    chunked: bool = False


@dataclass
class ReceivedRequest:
    """One request as it arrived: headers keep their order and spelling;
    `header()` looks one up case-insensitively."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    received_at: float  # time.time() when the request had been read
    received_monotonic: float  # time.monotonic() at the same moment
    index: int = 0  # arrival order, from 0
    answered_monotonic: float | None = None  # when its answer was sent (or dropped)

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


class Receiver:
    """Records requests and replies from a script; thread-safe."""

    def __init__(self, script: list[Reply] | None = None, default: Reply | None = None,
                 path: str = "/webhook", reply_for: Callable[[int], Reply] | None = None):
        self._lock = threading.Condition()
        self._script = list(script or [])
        self.default = default or Reply()
        self.reply_for = reply_for
        self.requests: list[ReceivedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.path = path
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "receiver not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The URL to register as a destination (http://127.0.0.1:PORT/webhook)."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    def set_script(self, script: list[Reply], default: Reply | None = None) -> None:
        """Replaces the replies still to come (and the default, if given)."""
        with self._lock:
            self._script = list(script)
            if default is not None:
                self.default = default

    def _next_reply(self, index: int) -> Reply:
        with self._lock:
            if self.reply_for is not None:
                return self.reply_for(index)
            return self._script.pop(0) if self._script else self.default

    def _record(self, req: ReceivedRequest) -> ReceivedRequest:
        with self._lock:
            req.index = len(self.requests)
            self.requests.append(req)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._lock.notify_all()
            return req

    def _answered(self, req: ReceivedRequest) -> None:
        with self._lock:
            self.in_flight -= 1
            req.answered_monotonic = time.monotonic()
            self._lock.notify_all()

    def received(self) -> list[ReceivedRequest]:
        """A snapshot of every request so far, in arrival order."""
        with self._lock:
            return list(self.requests)

    def wait_for(self, n: int, timeout: float) -> list[ReceivedRequest]:
        """Waits until at least `n` requests arrived and returns them all;
        fails the test with what did arrive after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"receiver got {len(self.requests)} request(s) in {timeout} s, "
                        f"expected {n}: {[(r.method, r.path) for r in self.requests]}"
                    )
                self._lock.wait(left)
            return list(self.requests)

    def assert_quiet(self, seconds: float, expected: int) -> None:
        """Waits `seconds` and fails if more than `expected` requests arrived."""
        time.sleep(seconds)
        got = len(self.received())
        assert got == expected, f"receiver got {got} request(s), expected exactly {expected}"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = receiver._record(ReceivedRequest(
                    method=self.command,
                    path=self.path,
                    headers=list(self.headers.items()),
                    body=body,
                    received_at=time.time(),
                    received_monotonic=time.monotonic(),
                ))
                try:
                    self._answer(receiver._next_reply(req.index))
                finally:
                    receiver._answered(req)

            def _answer(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop_connection:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                try:
                    if reply.chunked:
                        for at in range(0, len(reply.body), 16 << 10):
                            chunk = reply.body[at:at + (16 << 10)]
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.write(b"0\r\n\r\n")
                    elif reply.body:
                        self.wfile.write(reply.body)
                except OSError:
                    pass  # the client stopped reading (a capped answer)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name=f"receiver-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
