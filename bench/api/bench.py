"""Benchmark of edgehook's management API under `wrangler dev` on 127.0.0.1.

Starts its own Workers through the end-to-end harness (tests/harness.py):
one with the rate limits lifted (EDGEHOOK_RATE_LIMIT_PER_MINUTE=0) for the
throughput runs, one with the default limits for the 429 run. Seeds tenants
with 10 destinations each and measures, with wrk and bench/api/load.lua:

- GET /v1/{org}/webhook_destination/ (10 destinations) at concurrency 1 and 16
- create + delete of a destination at concurrency 1 and 16
- the rejection path: GET over the rate limit (all 429) at concurrency 16,
  and its throughput relative to the 200 path
- the worker's wasm size, raw and gzip
- the runtime's ceiling: a no-op Worker (bench/api/noop) under the same
  `wrangler dev`, and edgehook's throughput as a ratio of it

`--breakdown` instead measures answers that stop at successive steps of a
request (no I/O, maintenance check in KV, token, D1), with wrangler's default
logging and with `--log-level warn`, to show where a GET's time goes.

Prints a table and the targets (GET c=16 >= 1000 req/s with p99 <= 50 ms;
429s at least as fast as 200s; wasm <= 400 KB gzip). Loopback only; every
run is bounded by BENCH_SECONDS (default 10) plus a 2 s warm-up.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from harness import Worker, build_worker, new_tenant  # noqa: E402

LOAD_LUA = Path(__file__).resolve().parent / "load.lua"
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP_SECONDS = 2
WASM = ROOT / "worker" / "build" / "index_bg.wasm"


def wrk(url: str, mode: str, tenants, connections: int, seconds: int,
        path: str | None = None, token: str | None = None) -> dict:
    """One wrk run; returns the figures load.lua printed. `path` replaces the
    list path of a "get" run; `token` "-" sends no Authorization header."""
    threads = min(connections, 2)
    env = dict(os.environ, BENCH_MODE=mode,
               BENCH_TENANTS=",".join(f"{t.org_id}:{token or t.token}" for t in tenants[:threads]))
    if path:
        env["BENCH_PATH"] = path
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "-s", str(LOAD_LUA), url],
        env=env, capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout
    line = next((l for l in out.splitlines() if l.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures:\n{out}")
    figures = json.loads(line[len("BENCH_JSON "):])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def delete_leftovers(tenants) -> None:
    """Deletes what a create_delete run created but had no time to delete
    when wrk stopped, so the next run starts below the 10-destination limit.
    A delete still in flight when wrk stopped may answer 409 or 404 here."""
    for t in tenants:
        for _ in range(20):
            left = t.list_destinations()
            if not left:
                break
            for d in left:
                status = t.client.delete(t.destination_path(d["id"])).status_code
                assert status in (204, 404, 409), status
            time.sleep(0.2)
        else:
            raise RuntimeError(f"destinations of {t.org_id} could not be deleted")


def measure(name: str, url: str, mode: str, tenants, connections: int, **kw) -> dict:
    wrk(url, mode, tenants, connections, WARMUP_SECONDS, **kw)
    if mode == "create_delete":
        delete_leftovers(tenants)
    figures = wrk(url, mode, tenants, connections, SECONDS, **kw)
    if mode == "create_delete":
        delete_leftovers(tenants)
    figures["name"] = name
    print(f"  {name:<34} {figures['rps']:>8.0f} req/s   p50 {figures['p50_us'] / 1000:>6.1f} ms"
          f"   p99 {figures['p99_us'] / 1000:>6.1f} ms   non-2xx {figures['non_2xx']}"
          f"   socket errors {figures['socket_errors']}", flush=True)
    return figures


def noop_ceiling() -> dict:
    """Throughput of a Worker that does nothing, under the same wrangler dev."""
    import socket
    import subprocess as sp
    from harness import free_port, tool_env
    import tempfile
    port = free_port()
    state = tempfile.mkdtemp(prefix="edgehook-noop-")
    proc = sp.Popen(["npx", "wrangler", "dev", "--config", str(Path(__file__).resolve().parent / "noop" / "wrangler.toml"),
                     "--ip", "127.0.0.1", "--port", str(port), "--persist-to", state], cwd=ROOT, env=tool_env(),
                    stdin=sp.DEVNULL, stdout=sp.DEVNULL, stderr=sp.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.25)
        time.sleep(1)
        url = f"http://127.0.0.1:{port}/"
        print("runtime ceiling (a no-op Worker under the same wrangler dev):")
        nobody = [type("Anonymous", (), {"org_id": "none", "token": "-"})()] * 2
        return {c: measure(f"no-op 204, c={c}", url, "get", nobody, c, path="/", token="-") for c in (1, 16)}
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=15)


def seeded_tenant(worker: Worker, destinations: int):
    t = new_tenant(worker)
    for i in range(destinations):
        t.create_destination(url=f"https://hooks.example.com/bench/{i}", name=f"bench {i}")
    assert len(t.list_destinations()) == destinations
    return t


def breakdown(extra_args: list[str]) -> None:
    """Where a GET's time goes: the same c=16 load on answers that stop after
    more and more of the request path (each step adds one piece of I/O)."""
    w = Worker(vars={"EDGEHOOK_RATE_LIMIT_PER_MINUTE": "0",
                     "EDGEHOOK_RATE_LIMIT_SLOW_PER_MINUTE": "0"}, extra_args=extra_args)
    with w:
        print(f"breakdown at c=16, wrangler dev {' '.join(extra_args) or '(default options)'}:")
        ts = [seeded_tenant(w, 10) for _ in range(2)]
        other = new_tenant(w)
        base = w.url + ts[0].destinations_path
        measure("GET /openapi.json (no I/O)", w.url + "/openapi.json", "get", ts, 16,
                path="/openapi.json")
        measure("no route 404 (no I/O)", w.url, "get", ts, 16, path="/nothing-here")
        measure("list, no token 401 (KV)", base, "get", ts, 16, token="-")
        measure("list, other org 404 (KV+JWT)", base, "get", ts, 16,
                path=other.destinations_path)
        measure("list 200 (KV+JWT+D1 list)", base, "get", ts, 16)


def main() -> int:
    if "--breakdown" in sys.argv[1:]:
        breakdown([])
        breakdown(["--log-level", "warn"])
        return 0
    build_worker()
    raw = WASM.stat().st_size
    gz = len(gzip.compress(WASM.read_bytes(), compresslevel=9))
    print(f"worker wasm: {raw / 1024:.0f} KB raw, {gz / 1024:.0f} KB gzip (-9)")
    results = {}

    unlimited = Worker(vars={"EDGEHOOK_RATE_LIMIT_PER_MINUTE": "0",
                             "EDGEHOOK_RATE_LIMIT_SLOW_PER_MINUTE": "0"})
    with unlimited:
        print("rate limits lifted (EDGEHOOK_RATE_LIMIT_PER_MINUTE=0):")
        listers = [seeded_tenant(unlimited, 10) for _ in range(2)]
        list_url = unlimited.url + listers[0].destinations_path
        results["get_c1"] = measure("GET list (10 destinations), c=1", list_url, "get", listers, 1)
        results["get_c16"] = measure("GET list (10 destinations), c=16", list_url, "get", listers, 16)
        creators = [seeded_tenant(unlimited, 0) for _ in range(2)]
        cd_url = unlimited.url + creators[0].destinations_path
        results["cd_c1"] = measure("create+delete, c=1", cd_url, "create_delete", creators, 1)
        results["cd_c16"] = measure("create+delete, c=16", cd_url, "create_delete", creators, 16)
        for key in ("cd_c1", "cd_c16"):
            bad = {k: v for k, v in results[key]["statuses"].items() if k not in ("201", "204")}
            assert not bad, f"{key}: unexpected statuses {results[key]['statuses']}"

    counting = Worker(vars={"EDGEHOOK_RATE_LIMIT_PER_MINUTE": "1000000000"})
    with counting:
        print("rate limiter counting every call, never refusing (limit 10^9 a minute):")
        listers = [seeded_tenant(counting, 10) for _ in range(2)]
        results["counted_c16"] = measure("GET list, limiter counting, c=16", counting.url + listers[0].destinations_path, "get", listers, 16)

    limited = Worker()  # default limits: 20 a minute per user and endpoint
    with limited:
        print("default rate limits (20 a minute per user and endpoint):")
        over = [seeded_tenant(limited, 10) for _ in range(2)]
        for t in over:
            while t.client.get(t.destinations_path).status_code == 200:
                pass
        url = limited.url + over[0].destinations_path
        results["limited_c16"] = measure("GET over the limit (429), c=16", url, "get", over, 16)
        r = results["limited_c16"]
        assert r["non_2xx"] == r["requests"], "some requests over the limit were not refused"

    ceiling = noop_ceiling()
    get16, lim16, counted16 = results["get_c16"], results["limited_c16"], results["counted_c16"]
    ratio = lim16["rps"] / counted16["rps"]
    print()
    print(f"GET list vs the no-op ceiling: c=1 {results['get_c1']['rps'] / ceiling[1]['rps']:.2f}x, "
          f"c=16 {get16['rps'] / ceiling[16]['rps']:.2f}x of the runtime's own maximum")
    print("create+delete figures are per request (one create or one delete); pairs/s = req/s / 2")
    print(f"429 path vs 200 path, both through the limiter, at c=16: {ratio:.2f}x the throughput, "
          f"p99 {lim16['p99_us'] / 1000:.1f} ms vs {counted16['p99_us'] / 1000:.1f} ms "
          f"(vs the 200 path with the limiter lifted: {lim16['rps'] / get16['rps']:.2f}x)")
    print("targets:")
    checks = [
        ("GET list c=16 >= 1000 req/s", get16["rps"] >= 1000, f"{get16['rps']:.0f} req/s"),
        ("GET list c=16 p99 <= 50 ms", get16["p99_us"] <= 50_000, f"{get16['p99_us'] / 1000:.1f} ms"),
        ("429 at least as fast as 200 (c=16, both counted)", lim16["rps"] >= counted16["rps"], f"{ratio:.2f}x"),
        ("wasm <= 400 KB gzip", gz <= 400 * 1024, f"{gz / 1024:.0f} KB"),
    ]
    for label, ok, value in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {label}: {value}")
    if os.environ.get("BENCH_JSON_OUT"):
        Path(os.environ["BENCH_JSON_OUT"]).write_text(json.dumps(
            {"wasm_raw_bytes": raw, "wasm_gzip_bytes": gz, "noop": ceiling, **results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
