"""End-to-end tests that hold the Worker up against abusive callers and
against misconfiguration: one section per finding of the security review,
each with a test that fails on the code before the fix.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from harness import HTTP_TIMEOUT, Worker, new_tenant


# --- 6. request bodies --------------------------------------------------------

def post_chunked(w: Worker, path: str, headers: dict[str, str],
                 pieces: Iterable[bytes]) -> tuple[int, bytes, int]:
    """POSTs `pieces` as the chunks of a `Transfer-Encoding: chunked` body (no
    Content-Length), and stops sending once an answer arrives. Returns the
    status, the body of the answer and how many bytes of the body were sent."""
    sock = socket.create_connection(("127.0.0.1", w.port), timeout=HTTP_TIMEOUT)
    answer = bytearray()

    def read_answer() -> None:
        # Reads while the body is being sent: once the Worker has answered and
        # closed, more data from us makes the kernel reset the connection and
        # drop whatever of the answer was not read yet.
        try:
            while data := sock.recv(65536):
                answer.extend(data)
        except OSError:
            pass

    reader = threading.Thread(target=read_answer, daemon=True)
    reader.start()
    sent = 0
    try:
        head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{w.port}",
                "Transfer-Encoding: chunked", "Content-Type: application/json",
                "Connection: close"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        for piece in pieces:
            if answer:
                break  # the Worker answered before the body ended
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sent += len(piece)
        else:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the Worker stopped reading and closed: its answer was read above
    finally:
        reader.join(timeout=HTTP_TIMEOUT)
        sock.close()
    head, _, body = bytes(answer).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    return status, body, sent


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size, _, rest = data.partition(b"\r\n")
        n = int(size.split(b";")[0] or b"0", 16)
        if n == 0:
            break
        out, data = out + rest[:n], rest[n + 2:]
    return out


def spaces(total: int, chunk: int = 65536, pause: float = 0.0) -> Iterator[bytes]:
    """`total` bytes of JSON whitespace, in chunks of `chunk` bytes, `pause`
    seconds apart."""
    for start in range(0, total, chunk):
        yield b" " * min(chunk, total - start)
        time.sleep(pause)


def test_a_chunked_body_over_256_kb_is_413_and_one_under_is_read(tenant):
    """Bodies without a length: one in several chunks is read whole; one over
    256 KB answers 413 (see the next test for what that costs the runtime)."""
    auth = {"Authorization": f"Bearer {tenant.token}"}
    body = json.dumps({"url": "https://hooks.example.com/chunked",
                       "accepted_types": ["api-key-expiration-soon"],
                       "name": "in three chunks"}).encode()
    status, answer, _ = post_chunked(tenant.worker, tenant.destinations_path, auth,
                                     [body[:10], body[10:40], body[40:]])
    assert status == 201, answer
    did = json.loads(answer)["webhook_destination_id"]
    assert tenant.client.get(tenant.destination_path(did)).json()["name"] == "in three chunks"

    status, answer, _ = post_chunked(tenant.worker, tenant.destinations_path, auth,
                                     spaces(300 * 1024, 4096))
    assert status == 413, answer
    assert "262144" in json.loads(answer)["detail"]


def workerd_pids(w: Worker) -> list[int]:
    """The workerd processes of a Worker started by the harness (its process group)."""
    group = w._proc.pid
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            comm = fields[0].split("(", 1)[1]
            pgid = int(fields[1].split()[2])
        except (OSError, IndexError, ValueError):
            continue
        if pgid == group and comm == "workerd":
            pids.append(int(stat.parent.name))
    return pids


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing for {pid}")


def test_a_large_chunked_body_is_cut_without_being_held(make_worker):
    """A 96 MiB body without a length is refused with 413 long before its end,
    and the runtime's peak memory grows by far less than the body: it was read
    as a stream and cut at 256 KB, not buffered whole first.

    The body goes at a steady 64 KiB a millisecond, as over a real link: a
    client pushing as fast as loopback allows can outrun wrangler dev's local
    proxy, which then drops the early answer (Cloudflare's edge does not)."""
    w = make_worker()
    t = new_tenant(w)
    try:
        auth = {"Authorization": f"Bearer {t.token}"}
        # Warm up the body path once, then measure from the current memory.
        status, _, _ = post_chunked(w, t.destinations_path, auth, spaces(300 * 1024))
        assert status == 413
        pids = workerd_pids(w)
        assert pids, "no workerd process found"
        for pid in pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets the peak (VmHWM)
        before = {pid: memory_kib(pid, "VmRSS") for pid in pids}

        total = 96 << 20
        status, answer, sent = post_chunked(w, t.destinations_path, auth,
                                            spaces(total, 65536, 0.001))
        grew_mib = max(memory_kib(pid, "VmHWM") - before[pid] for pid in pids) / 1024
        assert status == 413, (status, answer[:200], sent)
        assert sent < total // 4, f"{sent} bytes were sent before the answer"
        assert grew_mib < 32, f"the runtime grew by {grew_mib:.0f} MiB for a refused body"
    finally:
        t.close()


# --- 8. organization oracle -------------------------------------------------

def test_a_token_on_another_organization_cannot_tell_whether_it_exists(worker, tenant):
    """A valid token on another organization's paths: the same 404, naming the
    path's organization, whether that organization exists or not."""
    other = new_tenant(worker)
    try:
        did, _ = other.create_destination()
        missing = "no-such-org-" + secrets.token_hex(4)
        for path in ["/v1/{org}/webhook_destination/", f"/v1/{{org}}/webhook_destination/{did}"]:
            existing = tenant.client.get(path.format(org=other.org_id))
            unknown = tenant.client.get(path.format(org=missing))
            assert (existing.status_code, unknown.status_code) == (404, 404), \
                (existing.text, unknown.text)
            assert existing.text.replace(other.org_id, missing) == unknown.text
        assert other.client.get(other.destination_path(did)).status_code == 200
    finally:
        other.close()
