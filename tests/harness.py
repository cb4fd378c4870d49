"""End-to-end harness: runs edgehook's Worker under a real `wrangler dev` and
gives tests what they need to talk to it.

- `Worker`: one `wrangler dev` on 127.0.0.1 with its own port and state
  directory (D1, KV and Durable Objects on local SQLite). Start, stop, kill and
  restart it on the same state; read its log.
- `admin(worker)`: an httpx client for the operator API (`/admin/v1/...`).
- `new_tenant(worker)` / `new_user(worker, org_id)`: an organization, a user
  with the given permissions, an API key and a signed-in client.
- `mint_token(...)`: a JWT signed (or not) the way a test needs, for the
  negative cases of authentication; the test knows the Worker's JWT secret.

Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent

GET_DESTINATION = "Webhook:GetWebhookDestination"
CREATE_DESTINATION = "Webhook:CreateWebhookDestination"
UPDATE_DESTINATION = "Webhook:UpdateWebhookDestination"
DELETE_DESTINATION = "Webhook:DeleteWebhookDestination"
GET_DELIVERIES = "Webhook:GetWebhookDeliveries"
SEND_EVENT = "Webhook:SendWebhookEvent"
CREATE_PORTAL_SESSION = "Webhook:CreatePortalSession"
ALL_PERMISSIONS = (
    GET_DESTINATION,
    CREATE_DESTINATION,
    UPDATE_DESTINATION,
    DELETE_DESTINATION,
    GET_DELIVERIES,
    SEND_EVENT,
    CREATE_PORTAL_SESSION,
)

WEBHOOK_TYPES = (
    "conversation-post-processing-complete",
    "api-key-expiration-soon",
    "agent-framework-resource-updated",
)

# Seconds a single HTTP call to the Worker may take before the test fails.
HTTP_TIMEOUT = 30.0

_tool_env: dict[str, str] | None = None


def tool_env() -> dict[str, str]:
    """The environment of `scripts/env.sh` (Node 22, wrangler, no telemetry),
    computed once by sourcing the script itself so the two never drift."""
    global _tool_env
    if _tool_env is None:
        out = subprocess.run(
            ["bash", "-c", 'source scripts/env.sh && env -0'],
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
            timeout=30,
        ).stdout
        env = {}
        for entry in out.split(b"\0"):
            if b"=" in entry:
                k, v = entry.split(b"=", 1)
                env[k.decode()] = v.decode()
        _tool_env = env
    return dict(_tool_env)


def build_worker(timeout: float = 900) -> None:
    """Builds worker/build/ with scripts/build-worker.sh (a no-op when no
    source changed). Workers started by this harness run that build as it is
    (see `wrangler_config`), so call this once before starting them.
    EDGEHOOK_SKIP_BUILD=1 in the environment skips it and runs the wasm
    already in worker/build/."""
    if os.environ.get("EDGEHOOK_SKIP_BUILD") == "1":
        if not (REPO_ROOT / "worker/build/index.js").exists():
            raise RuntimeError("EDGEHOOK_SKIP_BUILD=1 but worker/build/index.js is missing")
        return
    result = subprocess.run(
        ["bash", "scripts/build-worker.sh"],
        cwd=REPO_ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(
            "worker build failed:\n" + (result.stdout + result.stderr)[-4000:]
        )


def wrangler_config(dest_dir: Path) -> Path:
    """Writes a copy of wrangler.toml into `dest_dir` that runs a snapshot of
    worker/build/ (copied to `dest_dir`/build on first use) with no [build]
    step, and returns its path.

    The Worker then runs exactly the wasm that `build_worker()` produced: no
    second build at start, and no rebuild or hot reload when a source file or
    worker/build/ changes during a test session (wrangler watches both; a
    reload answers in-flight requests with 503 and loses Durable Object
    alarms). A restart on the same state runs the same snapshot. Wrangler
    keeps its scratch files and reads `.dev.vars` next to the config, so a
    Worker started here sees only the vars the harness passes.
    """
    dest_dir = Path(dest_dir)
    snapshot = dest_dir / "build"
    if not snapshot.exists():
        shutil.copytree(REPO_ROOT / "worker" / "build", snapshot,
                        ignore=shutil.ignore_patterns(".tmp"))
    text = (REPO_ROOT / "wrangler.toml").read_text()
    text = re.sub(r"(?ms)^\[build\]\n.*?(?=^\[)", "", text)
    text = re.sub(r'(?m)^main = "[^"]+"', f'main = "{(snapshot / "index.js").as_posix()}"', text)
    text = re.sub(r'(?m)^migrations_dir = "([^"]+)"',
                  lambda m: f'migrations_dir = "{(REPO_ROOT / m.group(1)).as_posix()}"', text)
    path = dest_dir / "wrangler.toml"
    path.write_text(text)
    return path


def ephemeral_low() -> int:
    """The lowest port of the range the kernel draws from for outgoing
    connections and for listeners on port 0."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, drawn below
    the kernel's ephemeral range: a port from that range could be handed to
    some outgoing connection (the suite makes thousands) or to another
    process's listener on port 0 between this check and the Worker binding it,
    which ends that Worker's start with "Address already in use"."""
    low = ephemeral_low()
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(10_000, low) if low > 10_000 else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError(f"no free TCP port on 127.0.0.1 between 10000 and {low}")


class Worker:
    """One `wrangler dev` of edgehook on 127.0.0.1.

    `vars` overrides wrangler.toml [vars] (e.g. EDGEHOOK_RATE_LIMIT_PER_MINUTE)
    and the defaults set here: a random EDGEHOOK_ADMIN_TOKEN and
    EDGEHOOK_JWT_SECRET, EDGEHOOK_ALLOW_LOOPBACK_DESTINATIONS=true so that
    receivers on http://127.0.0.1:PORT are valid destinations, and
    EDGEHOOK_PUBLIC_URL set to the Worker's own address (portal session URLs
    start with it). A var set to None is not passed at all.

    `start()` waits for GET /healthz; a Worker whose health check says it is
    misconfigured is an error unless `misconfigured_ok` is set (to test that
    answer).

    The state directory (given, or a fresh temporary one removed by
    `cleanup()`) holds D1, KV and Durable Object storage and the log file
    `wrangler.log`; `start()` after `stop()` or `kill()` resumes on that state.
    """

    def __init__(
        self,
        port: int | None = None,
        state_dir: str | os.PathLike | None = None,
        vars: dict[str, str] | None = None,
        start_timeout: float = 120.0,
        extra_args: list[str] | None = None,
    ):
        self.port = port or free_port()
        self._owns_state = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="edgehook-e2e-"))
        self.vars = {
            "EDGEHOOK_ADMIN_TOKEN": "adm_" + secrets.token_hex(16),
            "EDGEHOOK_JWT_SECRET": "jwt_" + secrets.token_hex(16),
            "EDGEHOOK_ALLOW_LOOPBACK_DESTINATIONS": "true",
            "EDGEHOOK_PUBLIC_URL": f"http://127.0.0.1:{self.port}",
        }
        self.vars.update({k: None if v is None else str(v) for k, v in (vars or {}).items()})
        self.start_timeout = start_timeout
        self.misconfigured_ok = False
        # More `wrangler dev` options, e.g. ["--log-level", "warn"].
        self.extra_args = list(extra_args or [])
        self.log_path = self.state_dir / "wrangler.log"
        self._proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_token(self) -> str:
        return self.vars["EDGEHOOK_ADMIN_TOKEN"]

    @property
    def jwt_secret(self) -> str:
        return self.vars["EDGEHOOK_JWT_SECRET"]

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> "Worker":
        """Applies the D1 migrations and starts `wrangler dev`; returns once
        GET /healthz answers 200 (or 503 with `misconfigured_ok`), or raises
        with the log's tail."""
        if self.running:
            raise RuntimeError(f"worker on port {self.port} is already running")
        env = tool_env()
        config = str(wrangler_config(self.state_dir))
        migrate = subprocess.run(
            ["npx", "wrangler", "d1", "migrations", "apply", "DB", "--local",
             "--config", config, "--persist-to", str(self.state_dir)],
            cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=120,
        )
        if migrate.returncode != 0:
            raise RuntimeError(
                "D1 migrations failed:\n" + (migrate.stdout + migrate.stderr)[-4000:]
            )
        args = ["npx", "wrangler", "dev", "--config", config, "--ip", "127.0.0.1",
                "--port", str(self.port), "--persist-to", str(self.state_dir),
                # exposes GET /__scheduled?cron=... to run the scheduled job on demand
                "--test-scheduled"]
        for name, value in self.vars.items():
            if value is not None:
                args += ["--var", f"{name}:{value}"]
        if "--inspector-port" not in self.extra_args:
            # wrangler's own choice (9229, or the next free port) races with
            # another wrangler dev starting at the same moment.
            args += ["--inspector-port", str(free_port())]
        args += self.extra_args
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== wrangler dev on port {self.port} =====\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                args, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"wrangler dev exited with {self._proc.returncode} before it was "
                    f"ready; log tail:\n{self.log_tail()}"
                )
            try:
                r = httpx.get(self.url + "/healthz", timeout=2.0)
                if r.status_code == 200:
                    return
                if r.status_code == 503 and r.json().get("status") == "misconfigured":
                    if self.misconfigured_ok:
                        return
                    self.kill()
                    raise RuntimeError(f"edgehook on port {self.port} is misconfigured: {r.text}")
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.25)
        self.kill()
        raise RuntimeError(
            f"wrangler dev on port {self.port} not ready after {self.start_timeout} s; "
            f"log tail:\n{self.log_tail()}"
        )

    def _signal_group(self, sig: int, wait: float) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self._proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._proc.wait(timeout=10)
        self._proc = None

    def stop(self) -> None:
        """Ends wrangler and workerd gracefully (SIGTERM to the process group)."""
        self._signal_group(signal.SIGTERM, wait=15)

    def kill(self) -> None:
        """Ends them abruptly (SIGKILL to the group), as a crash would."""
        self._signal_group(signal.SIGKILL, wait=10)

    def cleanup(self) -> None:
        """Stops the worker and removes the state directory if this object made it."""
        self.stop()
        if self._owns_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def log_text(self) -> str:
        """Everything wrangler and the Worker printed, across restarts."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> "Worker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()


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
    """A field of /proc/PID/status in KiB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing for {pid}")


class PeakMemory:
    """How much the Worker's runtime (its workerd processes) grew at its peak
    since `start()`: the peak (VmHWM) is reset there, and `grew_mib()` compares
    it with the resident memory of that moment."""

    def __init__(self, w: Worker):
        self.pids = workerd_pids(w)
        assert self.pids, "no workerd process found"
        self.before: dict[int, int] = {}

    def start(self) -> "PeakMemory":
        for pid in self.pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets the peak (VmHWM)
        self.before = {pid: memory_kib(pid, "VmRSS") for pid in self.pids}
        return self

    def grew_mib(self) -> float:
        return max(memory_kib(pid, "VmHWM") - self.before[pid] for pid in self.pids) / 1024


def admin(worker: Worker) -> httpx.Client:
    """A client of the operator API, authorized with the Worker's admin token."""
    return httpx.Client(
        base_url=worker.url,
        headers={"Authorization": f"Bearer {worker.admin_token}"},
        timeout=HTTP_TIMEOUT,
    )


def sign_in(worker: Worker, org_id: str, user_id: str, api_key_id: str,
            api_key: str) -> httpx.Response:
    """POST /v1/{org}/user/signin_with_api_key, as Amigo's SDKs call it."""
    return httpx.post(
        f"{worker.url}/v1/{org_id}/user/signin_with_api_key",
        headers={"x-api-key": api_key, "x-api-key-id": api_key_id, "x-user-id": user_id},
        timeout=HTTP_TIMEOUT,
    )


def destination_body(url: str | None = None, **fields) -> dict:
    """A valid create body; `fields` override or add to it."""
    body = {
        "url": f"https://hooks.example.com/edgehook/{secrets.token_hex(4)}" if url is None else url,
        "accepted_types": ["conversation-post-processing-complete"],
    }
    body.update(fields)
    return body


@dataclass
class Tenant:
    """A user of one organization, signed in: `client` sends
    `Authorization: Bearer <token>` to the Worker."""

    worker: Worker
    org_id: str
    user_id: str
    api_key_id: str
    api_key: str
    token: str
    permissions: tuple[str, ...]
    client: httpx.Client = field(repr=False)

    @property
    def destinations_path(self) -> str:
        return f"/v1/{self.org_id}/webhook_destination/"

    def destination_path(self, destination_id: str, suffix: str = "") -> str:
        return f"/v1/{self.org_id}/webhook_destination/{destination_id}{suffix}"

    def create_destination(self, **fields) -> tuple[str, str]:
        """Creates a destination (201 asserted); returns (id, secret)."""
        r = self.client.post(self.destinations_path, json=destination_body(**fields))
        assert r.status_code == 201, (r.status_code, r.text)
        body = r.json()
        return body["webhook_destination_id"], body["secret"]

    def list_destinations(self, **params) -> list[dict]:
        r = self.client.get(self.destinations_path, params=params)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()["webhook_destinations"]

    def close(self) -> None:
        self.client.close()


def new_user(worker: Worker, org_id: str, permissions=ALL_PERMISSIONS,
             user_id: str | None = None) -> Tenant:
    """Adds a user with `permissions` to an existing organization, gives it an
    API key, signs in and returns the signed-in Tenant."""
    with admin(worker) as op:
        body = {"permissions": list(permissions)}
        if user_id:
            body["user_id"] = user_id
        r = op.post(f"/admin/v1/organizations/{org_id}/users", json=body)
        assert r.status_code == 201, (r.status_code, r.text)
        user_id = r.json()["user_id"]
        r = op.post(f"/admin/v1/organizations/{org_id}/users/{user_id}/api_keys", json={})
        assert r.status_code == 201, (r.status_code, r.text)
        key = r.json()
    r = sign_in(worker, org_id, user_id, key["api_key_id"], key["api_key"])
    assert r.status_code == 200, (r.status_code, r.text)
    token = r.json()["id_token"]
    client = httpx.Client(
        base_url=worker.url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT,
    )
    return Tenant(worker, org_id, user_id, key["api_key_id"], key["api_key"], token,
                  tuple(permissions), client)


def new_tenant(worker: Worker, permissions=ALL_PERMISSIONS,
               org_id: str | None = None) -> Tenant:
    """A fresh organization (id chosen by the Worker unless given) with one
    signed-in user holding `permissions` (every permission by default)."""
    with admin(worker) as op:
        r = op.post("/admin/v1/organizations", json={"organization_id": org_id} if org_id else {})
        assert r.status_code == 201, (r.status_code, r.text)
        org_id = r.json()["organization_id"]
    return new_user(worker, org_id, permissions)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(secret: str | None, claims: dict, alg: str = "HS256") -> str:
    """A JWT with the given claims. `secret=None` or `alg="none"` gives an
    unsigned token; any other secret signs with HS256 (what the Worker issues)."""
    header = _b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}"
    if alg == "none" or secret is None:
        return signing_input + "."
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(sig)}"


def token_claims(token: str) -> dict:
    """The claims of a JWT, unverified (to copy and alter them in a test)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
