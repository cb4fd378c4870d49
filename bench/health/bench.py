"""Benchmark of a destination's stats (`GET …/webhook_destination/{id}/stats`)
at two log sizes: it is served from hourly counters the destination's object
keeps as it records, never by scanning the log, so its time should not grow
with the log. Two destinations of a `wrangler dev` of edgehook (started by the end-to-end
harness), in two organizations, take 1,000 and 50,000 deliveries; each stats
call is timed 200 times right after its load, then both 200 times more,
alternately (so that a change in the machine's load weighs on both alike: the
ratio is taken there). The deliveries query of one state's first page is
timed beside it for scale. Prints each figure, its
target and the ratio. Not a test; traffic goes to 127.0.0.1 only, bounded in
count and time.

    .venv/bin/python bench/health/bench.py                 # 1,000 and 50,000
    .venv/bin/python bench/health/bench.py --sizes 500 5000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench" / "delivery"))
from harness import Worker, build_worker, new_tenant  # noqa: E402
from lean_receiver import LeanReceiver  # noqa: E402

VARS = {
    "EDGEHOOK_RATE_LIMIT_PER_MINUTE": "0",
    "EDGEHOOK_RATE_LIMIT_SLOW_PER_MINUTE": "0",
    "EDGEHOOK_PUBLISH_PER_SECOND": "0",
}
EVENT = ('{"type":"agent-framework-resource-updated","org_id":"bench","resource_type":"agent",'
         '"resource_id":"r-%d","updated_at":"2026-01-02T03:04:05Z"}')
CALLS = 200


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def line(name: str, value: str, target: str = "", ratio: str = "") -> None:
    print(f"  {name:<44} {value:>16}   {target:<26} {ratio}", flush=True)


def publish(url: str, token: str, org: str, start: int, count: int) -> None:
    """Publishes events start..start+count from 8 threads, each on its own connection."""
    local = threading.local()

    def one(n: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, headers={
                "Authorization": f"Bearer {token}", "content-type": "application/json"}, timeout=60)
        r = local.client.post(f"/v1/{org}/webhook_event/", content=EVENT % n)
        assert r.status_code == 202, r.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(start, start + count)))


def time_calls(client: httpx.Client, path: str, params: dict) -> list[float]:
    times = []
    for _ in range(CALLS):
        t0 = time.perf_counter()
        r = client.get(path, params=params)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text
    return times


def time_alternately(calls: list[tuple[httpx.Client, str, dict]]) -> list[list[float]]:
    """CALLS rounds of one call of each of `calls` in turn: a change of the
    machine's load meanwhile weighs on all of them alike."""
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(CALLS):
        for k, (client, path, params) in enumerate(calls):
            t0 = time.perf_counter()
            r = client.get(path, params=params)
            times[k].append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs=2, default=[1_000, 50_000])
    args = ap.parse_args()
    build_worker()
    receivers = []
    with Worker(vars=VARS) as w:
        # One organization (and destination, and receiver) per log size, so
        # that both logs exist at the end and are timed alternately.
        logs = {}
        for size in args.sizes:
            rx = LeanReceiver()
            receivers.append(rx)
            t = new_tenant(w)
            r = t.client.post(t.destinations_path, json={"url": rx.url, "accepted_types": [
                "agent-framework-resource-updated"]})
            dest = r.json()["webhook_destination_id"]
            stats_path = t.destination_path(dest, "/stats")
            log_path = t.destination_path(dest, "/delivery")
            t0 = time.monotonic()
            publish(w.url, t.token, t.org_id, 0, size)
            rx.wait_for(size, timeout=600 + size / 20)
            loaded = time.monotonic() - t0
            stats = time_calls(t.client, stats_path, {})
            page = time_calls(t.client, log_path, {"state": "success", "limit": 50})
            counted = t.client.get(stats_path).json()["deliveries"]["success"]
            logs[size] = (t, stats_path, log_path)
            print(f"\nlog of {size:,} deliveries (loaded in {loaded:.0f} s; stats count {counted:,} delivered), "
                  f"timed right after its load")
            line("stats p50 / p99", f"{statistics.median(stats):.1f} / {pct(stats, 99):.1f} ms")
            line("deliveries query, one page, p50 / p99",
                 f"{statistics.median(page):.1f} / {pct(page, 99):.1f} ms")
            assert counted == size, (counted, size)
        small, large = args.sizes
        (ts, ss, ls), (tl, sl, ll) = logs[small], logs[large]
        s_small, s_large, p_small, p_large = time_alternately([
            (ts.client, ss, {}), (tl.client, sl, {}),
            (ts.client, ls, {"state": "success", "limit": 50}), (tl.client, ll, {"state": "success", "limit": 50})])
        print(f"\nstats time at {large:,} vs {small:,} deliveries, {CALLS} calls of each, alternately")
        for name, p in (("p50", 50), ("p99", 99)):
            a, b = pct(s_small, p), pct(s_large, p)
            line(f"stats {name}", f"{b:.1f} vs {a:.1f} ms", "flat: ≤ 1.5× (bounded time)",
                 f"{b / a:.2f}×")
        for name, p in (("p50", 50), ("p99", 99)):
            a, b = pct(p_small, p), pct(p_large, p)
            line(f"deliveries query, one page, {name}", f"{b:.1f} vs {a:.1f} ms", "", f"{b / a:.2f}×")
        for t, _, _ in logs.values():
            t.close()
    for rx in receivers:
        rx.stop()


if __name__ == "__main__":
    main()
