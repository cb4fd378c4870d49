"""Delivery benchmark of edgehook, against a real `wrangler dev` started by the
end-to-end harness and receivers on 127.0.0.1. wrk publishes (publish.lua,
one connection per thread, so each answer is matched to its request) and a
lean keep-alive receiver (lean_receiver.py) records what arrives. One run
measures the targets of issue 7:

- lowrate:  400 events at 20/s to one destination from one client on one
            keep-alive connection (http.client, which adds little): the
            publish call's time to 202, and publish→arrival, p50 and p99;
            then the runtime's floor at the same rate with the same client:
            bench/delivery/floor's plain JavaScript Worker answering a no-op
            request, after one object stored the body, and after a first
            object handed it to a second that stored it (what a publish must
            at least do before its 202), and edgehook's GET /healthz.
- publish:  the runtime's ceiling (bench/api's no-op Worker under the same
            `wrangler dev`, POSTed the same 316 B event by wrk at concurrency
            10), then right after it 2000 events at concurrency 10 to one
            destination: publish req/s as a ratio of the ceiling, delivered
            webhooks/s, the backlog after the last 202, lost and duplicated.
- fanout:   10 organizations × 10 destinations, wrk's 10 connections spread
            over the organizations (each event fans out to 10 destinations):
            webhooks delivered per second as a ratio of one destination's.
- logsize:  one destination's log preloaded with 50,000 deliveries (published
            with wrk as fast as it goes, all delivered); then the publish
            load's publish→arrival p99 and delivered rate on it and on an
            empty log, alternately, and their ratio.
- retry:    scheduled vs actual time of every retry (receiver answers 500).

The parts for issue 13 run only when named (`bench.py slow held querylog
share regression`):

- slow:     a receiver answering every request after 1 s, 120 events
            published at once to one destination with the default window of 6:
            delivered rate (first publish → last answer) against 0.9 × 6/s,
            false timeouts (a delivery not `success` at attempt 1, or a
            recorded duration_ms outside 1000–2000) against 0, and the most
            requests the receiver had open at once (≤ 6).
- held:     a receiver holding 1 in 10 requests until the destination's 2 s
            timeout closes them and answering the rest in 10 ms, 300 events
            at once: attempts ended a second while the backlog lasts against
            0.8× the slot bound 6 / (0.1 × 2 + 0.9 × 0.01) ≈ 28.7 (the bound
            counts attempts), and successful deliveries a second beside it.
- querylog: one destination's log filled to 300,000 deliveries through the
            publish API (wrk at c=10, quota lifted, each delivered to a lean
            receiver that fails 1 in 10 for good; a tenth of the events of a
            second type), bounded by --fill-seconds; each query shape (default,
            status, type, time range, sort_by=type, sort_by=-status, the 20th
            page) timed 100 times against ≤ 50 ms p99, alternately with the
            same shape on a log of 1,100; then publish→arrival p99 at 20/s on
            that destination while another process runs the shapes back to
            back, against the same idle (≤ 1.5×), alternately; beside it the
            same client on another destination's log, and one asking only
            `GET /healthz` back to back: what any busy client costs the local
            runtime's one thread (its floor).
- share:    what the publish figure measures under `wrangler dev`: 2000 events
            at c=10 (after the no-op ceiling) to an organization with no
            destination, with one paused destination (each event stored as
            `skipped`, none sent) and with one active destination; then the
            active case in a worker started with EDGEHOOK_MAX_IN_FLIGHT 1, 6
            and 64, each with the CPU time of workerd's busiest thread (the
            isolates' one thread, from /proc) for the 2000 publishes and their
            deliveries.
- regression: this build (A) and the previous main (B, a built checkout
            given by --prev, default /tmp/prev-main), both started at once and
            warmed up alike by one untimed load: the publish part's ratio to the
            no-op ceiling, 3 runs each interleaved (A's median ≥ 0.35×, and
            A/B); then the low-rate publish→arrival p50/p99, interleaved.

Publish rate = 202 answers / (last 202 − first request sent); delivered rate =
webhooks / (last arrival − first request sent); publish→arrival runs from the
request being sent to the webhook's first arrival, matched by `webhook-id` to
the delivery ids of the 202 answers; lost and duplicated compare the two.

    .venv/bin/python bench/delivery/bench.py                  # lowrate … retry
    .venv/bin/python bench/delivery/bench.py publish fanout   # some parts
    .venv/bin/python bench/delivery/bench.py slow held querylog regression
    .venv/bin/python bench/delivery/bench.py querylog --query-log 3000 --query-runs 20
    .venv/bin/python bench/delivery/bench.py --events 200 --preload 2000

(bench/delivery/run.sh installs wrk when it is missing, then runs this.)
Prints each figure with its target and its ratio; it is never a test. The
Worker runs with the rate limits and the publish quota lifted. Every load is
bounded in count and in time, and goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from collections import Counter
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tests"))
from harness import Worker, build_worker, free_port, new_tenant, tool_env  # noqa: E402
from receiver import Receiver, Reply  # noqa: E402

sys.path.insert(0, str(HERE))
from lean_receiver import LeanReceiver, Plan  # noqa: E402

EVENT_TYPE = "conversation-post-processing-complete"
NOOP_CONFIG = ROOT / "bench" / "api" / "noop" / "wrangler.toml"
FLOOR_CONFIG = HERE / "floor" / "wrangler.toml"
CONCURRENCY = 10
WARMUP_REQUESTS = 100
CEILING_SECONDS = 5
WORKER_VARS = {
    "EDGEHOOK_RETRY_SCHEDULE_SECONDS": "2,2,2,2,2",
    "EDGEHOOK_RATE_LIMIT_PER_MINUTE": "0",
    "EDGEHOOK_RATE_LIMIT_SLOW_PER_MINUTE": "0",
    "EDGEHOOK_PUBLISH_PER_SECOND": "0",
}
# Figures the issue quotes: edgehook before deliveries left D1 ("today"), and a
# queue-based webhook service on the same runtime and machine kind.
TODAY = {"publish_vs_ceiling": 0.2, "ack_p50_ms": 11.6, "p50_ms": 13.0, "p99_ms": 22.0}
QUEUE_SERVICE = {"publish_per_s": 272.0, "delivered_per_s": 62.0, "ack_p50_ms": 8.2}
# The peer webhook service's retry timing (quoted in the README).
PEER_RETRY_GAP_ERROR_S = 2.0


def event(thread: int, seq: int) -> str:
    """The event publish.lua sends (316 bytes), as JSON text."""
    return (
        '{"type":"conversation-post-processing-complete","post_processing_type":"generate-tasks",'
        f'"conversation_id":"bench-{thread:02d}-{seq:06d}","org_id":"bench","service_id":"svc-delivery-benchmark",'
        '"summary":"Post-processing of the conversation finished: tasks were generated and stored for the '
        'assistant to pick up on its next turn."}'
    )


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def line(name: str, value: str, target: str = "", ratio: str = "") -> None:
    print(f"  {name:<46} {value:>18}   {target:<30} {ratio}", flush=True)


@dataclass
class Answer:
    """One publish as its client saw it."""

    sent: float  # time.monotonic() when the request went out
    answered: float  # time.monotonic() when its answer was read
    status: int
    delivery_ids: list[str]


@dataclass
class Figures:
    """What one publish load gave, from its answers and what arrived."""

    requests: int
    accepted: int  # 202 answers
    webhooks: int  # delivery ids in them
    publish_per_s: float  # 202s / (last 202 − first send)
    ack_ms: list[float]  # time to 202 of each accepted publish
    latency_ms: list[float]  # publish sent → first arrival, per delivered id
    delivered_per_s: float  # webhooks / (last arrival − first send)
    backlog_s: float  # last arrival − last 202
    lost: int  # acknowledged ids that never arrived
    duplicated: int  # arrivals beyond the first of an id
    duplicate_gaps_s: list[float]  # second arrival − first, per duplicated id
    other_statuses: dict[int, int]  # answers other than 202, by status
    stray: int  # arrivals of ids no answer named
    acknowledged: set[str]  # the delivery ids of the 202 answers


def figures(answers: list[Answer], arrivals: dict[str, list[float]]) -> Figures:
    accepted = [a for a in answers if a.status == 202]
    sent = {d: a.sent for a in accepted for d in a.delivery_ids}
    first = {d: min(ts) for d, ts in arrivals.items()}
    delivered = [d for d in sent if d in first]
    start = min(a.sent for a in answers)
    last_ack = max((a.answered for a in accepted), default=float("nan"))
    last_arrival = max((first[d] for d in delivered), default=float("nan"))
    return Figures(
        requests=len(answers),
        accepted=len(accepted),
        webhooks=len(sent),
        publish_per_s=len(accepted) / max(last_ack - start, 1e-6),
        ack_ms=[(a.answered - a.sent) * 1000 for a in accepted],
        latency_ms=[(first[d] - sent[d]) * 1000 for d in delivered],
        delivered_per_s=len(delivered) / max(last_arrival - start, 1e-6),
        backlog_s=last_arrival - last_ack,
        lost=len(sent) - len(delivered),
        duplicated=sum(len(ts) - 1 for d, ts in arrivals.items() if d in sent),
        duplicate_gaps_s=[sorted(ts)[1] - min(ts) for d, ts in arrivals.items() if d in sent and len(ts) > 1],
        other_statuses=dict(Counter(a.status for a in answers if a.status != 202)),
        stray=sum(len(ts) for d, ts in arrivals.items() if d not in sent),
        acknowledged=set(sent),
    )


def run_wrk(url: str, targets: list[tuple[str, str]], seconds: float,
            requests: int | None = None, mix: int = 0) -> tuple[list[Answer], dict]:
    """wrk at CONCURRENCY, thread i POSTing to targets[i mod len] ((path,
    token); token "-" for none). With `requests`, sends exactly that many and
    stops (or after `seconds`, whatever is left); without, runs `seconds`.
    With `mix`, every mix-th event of a thread has the other type
    (publish.lua's BENCH_MIX). Returns every answer publish.lua saw and wrk's
    own figures."""
    with tempfile.TemporaryDirectory(prefix="edgehook-wrk-") as out:
        env = dict(os.environ, BENCH_TARGETS=",".join(f"{p}|{t}" for p, t in targets),
                   BENCH_REQUESTS=str(requests or 10**9), BENCH_THREADS=str(CONCURRENCY), BENCH_OUT=out,
                   BENCH_MIX=str(mix))
        duration = int(seconds) + 10 if requests else int(seconds)
        wrk = subprocess.Popen(
            ["wrk", f"-t{CONCURRENCY}", f"-c{CONCURRENCY}", f"-d{duration}s", "--timeout", "10s",
             "-s", str(HERE / "publish.lua"), url],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if requests:
            # Each thread stops after its share, but wrk itself waits out -d:
            # once every thread is done, interrupt it (it then writes the answers).
            deadline = time.monotonic() + seconds
            while (wrk.poll() is None and time.monotonic() < deadline
                   and len(list(Path(out).glob("*.done"))) < CONCURRENCY):
                time.sleep(0.02)
            if wrk.poll() is None:
                wrk.send_signal(signal.SIGINT)
        text = wrk.communicate(timeout=duration + 60)[0]
        summary = next((json.loads(l[len("BENCH_JSON "):]) for l in text.splitlines() if l.startswith("BENCH_JSON ")), None)
        if summary is None:
            raise RuntimeError(f"wrk printed no figures:\n{text}")
        answers = []
        for row in (Path(out) / "answers.tsv").read_text().splitlines():
            sent, answered, status, ids = row.split("\t")
            answers.append(Answer(int(sent) / 1e6, int(answered) / 1e6, int(status), ids.split(",") if ids else []))
    if requests and len(answers) < requests:
        print(f"  (wrk: {len(answers)} of {requests} requests answered within {seconds:.0f} s)")
    return answers, summary


def wrk_publish(url: str, targets: list[tuple[str, str]], requests: int, seconds: float,
                mix: int = 0) -> list[Answer]:
    """Exactly `requests` publishes with wrk (bounded by `seconds`); their answers."""
    return run_wrk(url, targets, seconds, requests, mix)[0]


def collect(rx: LeanReceiver, start: int, ids: set[str], timeout: float) -> dict[str, list[float]]:
    """Arrival times by webhook id of what `rx` received from its `start`-th
    arrival on, once every id of `ids` is in (or `timeout` passed), then one
    more second so that a late duplicate counts too."""
    got: dict[str, list[float]] = {}
    missing = set(ids)
    cursor = start
    deadline = time.monotonic() + timeout
    linger_until = None
    while True:
        new = rx.arrivals[cursor:]
        cursor += len(new)
        for webhook_id, at in new:
            got.setdefault(webhook_id, []).append(at)
            missing.discard(webhook_id)
        now = time.monotonic()
        if linger_until is None and (not missing or now >= deadline):
            linger_until = now + 1.0
        if linger_until is not None and now >= linger_until:
            return got
        time.sleep(0.02)


def publish_path(tenant) -> str:
    return f"/v1/{tenant.org_id}/webhook_event/"


def warm_up(worker: Worker, rx: LeanReceiver, tenants: list) -> int:
    """WARMUP_REQUESTS publishes with wrk, delivered before what follows: the
    objects are loaded and the code is warm when a measurement starts.
    Returns how many deliveries they stored."""
    start = len(rx.arrivals)
    answers = wrk_publish(worker.url, [(publish_path(t), t.token) for t in tenants], WARMUP_REQUESTS, 120)
    ids = {d for a in answers for d in a.delivery_ids}
    collect(rx, start, ids, 120)
    return len(ids)


def load(worker: Worker, rx: LeanReceiver, tenants: list, n: int) -> Figures:
    """Publishes `n` events with wrk at CONCURRENCY spread over `tenants`,
    waits until every delivery they were answered with arrived at `rx`, and
    returns the figures."""
    start = len(rx.arrivals)
    answers = wrk_publish(worker.url, [(publish_path(t), t.token) for t in tenants], n, 60 + n / 5)
    ids = {d for a in answers if a.status == 202 for d in a.delivery_ids}
    return figures(answers, collect(rx, start, ids, 60 + len(ids) / 20))


class NoopWorker:
    """bench/api's no-op Worker (answers 204, nothing else), or another
    reference Worker that answers GET / with 204, under `wrangler dev` on
    127.0.0.1, with its own port, state directory and log file."""

    def __init__(self, config: Path = NOOP_CONFIG) -> None:
        self.config = config

    def __enter__(self) -> "NoopWorker":
        self.port = free_port()
        self.state = Path(tempfile.mkdtemp(prefix="edgehook-noop-"))
        with open(self.state / "wrangler.log", "ab") as log:
            self.proc = subprocess.Popen(
                ["npx", "wrangler", "dev", "--config", str(self.config), "--ip", "127.0.0.1",
                 "--port", str(self.port), "--persist-to", str(self.state)],
                cwd=ROOT, env=tool_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url, timeout=2).status_code == 204:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.__exit__()
        raise RuntimeError(f"{self.config.parent.name}'s Worker did not answer within 60 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __exit__(self, *exc) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        shutil.rmtree(self.state, ignore_errors=True)


def noop_ceiling() -> dict:
    """The runtime's own ceiling: the no-op Worker POSTed the same events by
    the same wrk script at the same concurrency, for CEILING_SECONDS after a
    warm-up. Its answers carry no header, so wrk's own figures measure it."""
    with NoopWorker() as noop:
        run_wrk(noop.url, [("/", "-")], 2)
        _, measured = run_wrk(noop.url, [("/", "-")], CEILING_SECONDS)
    measured["rps"] = measured["requests"] / (measured["duration_us"] / 1e6)
    return measured


@contextmanager
def warm_destination(worker: Worker):
    """A new tenant with one destination at a lean receiver, warmed up:
    yields (tenant, destination id, receiver); the receiver stops after."""
    tenant = new_tenant(worker)
    rx = LeanReceiver()
    try:
        dest, _ = tenant.create_destination(url=rx.url, accepted_types=[EVENT_TYPE])
        warm_up(worker, rx, [tenant])
        yield tenant, dest, rx
    finally:
        rx.stop()


def one_destination(worker: Worker, n: int, with_ceiling: bool = True) -> Figures:
    """The runtime's ceiling, then `n` events at CONCURRENCY to one destination
    behind a lean receiver."""
    # Warmed up before the ceiling, so that the publish load follows it at once.
    with warm_destination(worker) as (tenant, dest, rx):
        ceiling = noop_ceiling() if with_ceiling else None
        f = load(worker, rx, [tenant], n)
        records = {d["id"]: d["state"] for d in all_deliveries(tenant, dest)}
    print(f"one destination: {n} events published by wrk at concurrency {CONCURRENCY}, lean receiver")
    if ceiling:
        line("no-op Worker under wrangler dev (the ceiling)", f"{ceiling['rps']:.0f} req/s", "",
             f"p50 {ceiling['p50_us'] / 1000:.1f} ms over {CEILING_SECONDS} s, "
             f"{ceiling['non_2xx'] + ceiling['socket_errors'] + ceiling['timeouts']} errors")
        ratio = f.publish_per_s / ceiling["rps"]
        line("publish (202)", f"{f.publish_per_s:.0f} req/s", "target ≥ 0.35× ceiling",
             f"{ratio:.2f}× ceiling (today {TODAY['publish_vs_ceiling']}×; queue service {QUEUE_SERVICE['publish_per_s']:.0f}/s)")
    else:
        line("publish (202)", f"{f.publish_per_s:.0f} req/s")
    line("publish time to 202 p50 / p99", f"{pct(f.ack_ms, 50):.1f} / {pct(f.ack_ms, 99):.1f} ms")
    line("delivered (first publish → last arrival)", f"{f.delivered_per_s:.0f} webhooks/s", "",
         f"{f.delivered_per_s / QUEUE_SERVICE['delivered_per_s']:.1f}× the queue service's {QUEUE_SERVICE['delivered_per_s']:.0f}/s")
    line("backlog: last arrival − last 202", f"{f.backlog_s:.2f} s", "target ≤ 1 s",
         f"{f.backlog_s / 1.0:.2f}× target")
    line("publish → arrival p50 / p99", f"{pct(f.latency_ms, 50):.1f} / {pct(f.latency_ms, 99):.1f} ms")
    report_counts(f)
    in_log = [records[d] for d in f.acknowledged if d in records]
    line("acknowledged deliveries in the log / success", f"{len(in_log)} / {in_log.count('success')}",
         f"target {f.webhooks} / {f.webhooks}", "read through the paged deliveries query")
    return f


def report_counts(f: Figures) -> None:
    line("lost / duplicated (by webhook-id)", f"{f.lost} / {f.duplicated}", "target 0 / 0",
         f"of {f.webhooks} acknowledged" + (f"; {f.stray} unexpected" if f.stray else ""))
    if f.duplicated:
        line("duplicate's arrival after the first, min / max", f"{min(f.duplicate_gaps_s):.2f} / {max(f.duplicate_gaps_s):.2f} s")
    if f.other_statuses:
        line("answers other than 202", f"{f.requests - f.accepted}", "", statuses(f))


def statuses(f: Figures) -> str:
    return ", ".join(f"{n}× {status}" for status, n in sorted(f.other_statuses.items()))


def fan_out(worker: Worker, n: int, one: Figures) -> None:
    """10 organizations × 10 destinations, one wrk connection per
    organization; `one` is the one-destination load's figures."""
    rx = LeanReceiver()
    try:
        tenants = [new_tenant(worker) for _ in range(10)]
        for o, t in enumerate(tenants):
            for k in range(10):
                t.create_destination(url=f"{rx.url}/{o}/{k}", accepted_types=[EVENT_TYPE])
        warm_up(worker, rx, tenants)
        f = load(worker, rx, tenants, n)
    finally:
        rx.stop()
    print(f"10 organizations × 10 destinations: {n} events by wrk at concurrency {CONCURRENCY} "
          f"(one connection per organization), each to 10 destinations")
    line("publish (202)", f"{f.publish_per_s:.0f} req/s", "", f"{f.webhooks} deliveries stored")
    line("publish time to 202 p50 / p99", f"{pct(f.ack_ms, 50):.1f} / {pct(f.ack_ms, 99):.1f} ms")
    ratio = f.delivered_per_s / one.delivered_per_s
    line("delivered, all destinations", f"{f.delivered_per_s:.0f} webhooks/s", "target ≥ 0.8× one destination",
         f"{ratio:.2f}× one destination's {one.delivered_per_s:.0f}/s")
    line("backlog: last arrival − last 202", f"{f.backlog_s:.2f} s")
    line("publish → arrival p50 / p99", f"{pct(f.latency_ms, 50):.1f} / {pct(f.latency_ms, 99):.1f} ms")
    report_counts(f)


def log_size(worker: Worker, preload: int, n: int, rounds: int) -> None:
    """The publish load on a destination whose log holds `preload`
    deliveries and on an empty one (a fresh destination each round),
    alternately."""
    full = new_tenant(worker)
    rx = LeanReceiver()
    try:
        full.create_destination(url=rx.url, accepted_types=[EVENT_TYPE])
        t0 = time.monotonic()
        answers = wrk_publish(worker.url, [(publish_path(full), full.token)], preload, 120 + preload / 40)
        ids = {d for a in answers if a.status == 202 for d in a.delivery_ids}
        pre = figures(answers, collect(rx, 0, ids, 120 + preload / 40))
        took = time.monotonic() - t0
        print(f"log size: {pre.accepted} deliveries preloaded into one destination's log in {took:.0f} s "
              f"(publish {pre.publish_per_s:.0f} req/s, delivered {pre.delivered_per_s:.0f}/s); "
              f"then {rounds} × {n} events each on an empty and on that log")
        report_counts(pre)
        empty_runs, full_runs = [], []
        in_log = pre.webhooks
        for r in range(rounds):
            empty = new_tenant(worker)
            erx = LeanReceiver()
            try:
                empty.create_destination(url=erx.url, accepted_types=[EVENT_TYPE])
                warm_up(worker, erx, [empty])
                empty_runs.append(load(worker, erx, [empty], n))
            finally:
                erx.stop()
            in_log += warm_up(worker, rx, [full])
            full_runs.append(load(worker, rx, [full], n))
            for name, f in (("empty log", empty_runs[-1]), (f"log of {in_log:,}", full_runs[-1])):
                line(f"round {r + 1}, {name}: p99 / delivered", f"{pct(f.latency_ms, 99):.1f} ms / {f.delivered_per_s:.0f}/s",
                     "", f"p50 {pct(f.latency_ms, 50):.1f} ms, lost {f.lost}, duplicated {f.duplicated}")
            in_log += full_runs[-1].webhooks
    finally:
        rx.stop()
    e99 = pct([x for f in empty_runs for x in f.latency_ms], 99)
    f99 = pct([x for f in full_runs for x in f.latency_ms], 99)
    erate = statistics.mean(f.delivered_per_s for f in empty_runs)
    frate = statistics.mean(f.delivered_per_s for f in full_runs)
    line("publish → arrival p99, empty / full log", f"{e99:.1f} / {f99:.1f} ms", "target full ≤ 1.1× empty",
         f"{f99 / e99:.2f}×")
    line("delivered, empty / full log", f"{erate:.0f} / {frate:.0f} webhooks/s", "target full ≥ 0.9× empty",
         f"{frate / erate:.2f}×")


def paced(port: int, method: str, path: str, n: int, rate: float,
          body: bytes | None = None, headers: dict[str, str] | None = None) -> list[float]:
    """`n` requests at `rate` a second over one keep-alive connection; each
    one's round trip in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    took = []
    begin = time.monotonic()
    for i in range(n):
        time.sleep(max(0.0, begin + i / rate - time.monotonic()))
        t0 = time.monotonic()
        conn.request(method, path, body, headers or {})
        conn.getresponse().read()
        took.append((time.monotonic() - t0) * 1000)
    conn.close()
    return took


def runtime_floor(n: int, rate: float) -> dict[str, float]:
    """The runtime's own floor at the same rate and with the same client: the
    p50 round trip of bench/delivery/floor's Worker (plain JavaScript) for a
    no-op request, for one object storing the body before the 202, and for two
    objects in a row (the least any design can do that counts a quota in one
    object and stores in another, as issue 7 asks)."""
    body = event(97, 0).encode()
    with NoopWorker(FLOOR_CONFIG) as floor:
        paced(floor.port, "POST", "/two", 50, rate, body)  # warm-up: both objects loaded
        return {
            "no-op": pct(paced(floor.port, "GET", "/", n, rate), 50),
            "one object stores": pct(paced(floor.port, "POST", "/one", n, rate, body), 50),
            "two objects, the second stores": pct(paced(floor.port, "POST", "/two", n, rate, body), 50),
        }


def paced_publish(worker: Worker, tenant, n: int, rate: float, thread: int = 99) -> list[Answer]:
    """`n` events published at a fixed `rate` by one client over one
    keep-alive connection (http.client, which adds little); their answers."""
    conn = http.client.HTTPConnection("127.0.0.1", worker.port, timeout=30)
    headers = {"Authorization": f"Bearer {tenant.token}", "Content-Type": "application/json"}
    answers = []
    begin = time.monotonic()
    for i in range(n):
        time.sleep(max(0.0, begin + i / rate - time.monotonic()))
        body = event(thread, i).encode()
        t0 = time.monotonic()
        conn.request("POST", publish_path(tenant), body, headers)
        resp = conn.getresponse()
        data = resp.read()
        t1 = time.monotonic()
        ids = json.loads(data)["delivery_ids"] if resp.status == 202 else []
        answers.append(Answer(t0, t1, resp.status, ids))
    conn.close()
    return answers


def paced_load(worker: Worker, rx: LeanReceiver, tenant, n: int, rate: float, thread: int = 99) -> Figures:
    """paced_publish, then every acknowledged delivery's arrival at `rx`."""
    start = len(rx.arrivals)
    answers = paced_publish(worker, tenant, n, rate, thread)
    ids = {d for a in answers for d in a.delivery_ids}
    return figures(answers, collect(rx, start, ids, 60))


def low_rate(worker: Worker, n: int, rate: float = 20.0) -> None:
    """One client publishing at a fixed `rate` over one keep-alive
    connection (http.client, so the client adds little); the time to 202 and
    publish→arrival, beside the runtime's floor for the same work."""
    with warm_destination(worker) as (tenant, _, rx):
        f = paced_load(worker, rx, tenant, n, rate)
        # edgehook's own floor at the same rate: a request the worker answers
        # without credentials, storage or objects (GET /healthz).
        floor = paced(worker.port, "GET", "/healthz", min(n, 200), rate)
    runtime = runtime_floor(min(n, 200), rate)
    print(f"low rate: {n} events at {rate:g}/s to one destination, one keep-alive client, lean receiver")
    for what, ms in runtime.items():
        line(f"runtime floor p50: {what}", f"{ms:.1f} ms", "", "plain JS Worker, same client and rate")
    line("edgehook GET /healthz p50 (no credentials, storage or object)", f"{pct(floor, 50):.1f} ms")
    ack50 = pct(f.ack_ms, 50)
    two = runtime["two objects, the second stores"]
    line("publish time to 202 p50", f"{ack50:.1f} ms", "target ≤ 8 ms",
         f"{ack50 / 8:.2f}× target, {ack50 / two:.2f}× the two-object floor "
         f"(today {TODAY['ack_p50_ms']} ms; queue service {QUEUE_SERVICE['ack_p50_ms']} ms)")
    line("publish time to 202 p99", f"{pct(f.ack_ms, 99):.1f} ms")
    p50, p99 = pct(f.latency_ms, 50), pct(f.latency_ms, 99)
    line("publish → arrival p50", f"{p50:.1f} ms", f"target ≤ {TODAY['p50_ms']:g} ms (today)", f"{p50 / TODAY['p50_ms']:.2f}× today")
    line("publish → arrival p99", f"{p99:.1f} ms", f"target ≤ {TODAY['p99_ms']:g} ms (today)", f"{p99 / TODAY['p99_ms']:.2f}× today")
    report_counts(f)


def all_deliveries(tenant, destination_id: str) -> list[dict]:
    """Every delivery of a destination, through the paged query."""
    out, params = [], {"limit": 50}
    while True:
        r = tenant.client.get(tenant.destination_path(destination_id, "/delivery"), params=params)
        r.raise_for_status()
        page = r.json()
        out.extend(page["webhook_deliveries"])
        if not page["has_more"]:
            return out
        params["continuation_token"] = page["continuation_token"]


def retry_timing(worker: Worker, events: int = 10) -> None:
    """Scheduled vs actual time of every retry (receiver always answers 500)."""
    tenant = new_tenant(worker)
    with Receiver(default=Reply(500)) as rx:
        dest, _ = tenant.create_destination(url=rx.url, accepted_types=[EVENT_TYPE], retry_attempts=5)
        ids = []
        for i in range(events):
            r = tenant.client.post(publish_path(tenant), content=event(98, i),
                                   headers={"Content-Type": "application/json"})
            ids.extend(r.json()["delivery_ids"])
        rx.wait_for(events * 6, timeout=120)
    errors = []
    for d in ids:
        # The record says when each attempt was sent; compare with its arrival.
        r = tenant.client.get(tenant.destination_path(dest, f"/delivery/{d}"))
        attempts = r.json()["delivery_attempts"]
        arrivals = sorted(g.received_at for g in rx.received() if g.header("webhook-id") == d)
        errors.extend(abs(a - b) for a, b in zip(arrivals[1:], [ts(x["delivery_time"]) for x in attempts[1:]]))
    gaps = []
    for d in ids:
        arr = sorted(g.received_at for g in rx.received() if g.header("webhook-id") == d)
        gaps.extend(b - a for a, b in zip(arr, arr[1:]))
    print(f"retry timing, {events} deliveries × 5 retries, schedule {worker.vars['EDGEHOOK_RETRY_SCHEDULE_SECONDS']} s (±10 % jitter)")
    line("retry gap p50 / max", f"{statistics.median(gaps):.2f} / {max(gaps):.2f} s")
    sched = [float(x) for x in worker.vars["EDGEHOOK_RETRY_SCHEDULE_SECONDS"].split(",")]
    offs = []
    for d in ids:
        arr = sorted(g.received_at for g in rx.received() if g.header("webhook-id") == d)
        for k, (a, b) in enumerate(zip(arr, arr[1:])):
            offs.append(abs((b - a) - sched[min(k, len(sched) - 1)]))
    p99 = pct(offs, 99)
    line("|actual gap − scheduled gap| p99 (incl. jitter)", f"{p99:.3f} s", "target ≤ 1 s",
         f"peer 2–7 s off: {PEER_RETRY_GAP_ERROR_S / max(p99, 0.001):.0f}× closer")
    line("record vs arrival time p99", f"{pct(errors, 99) * 1000:.1f} ms")


# --- issue 13: receivers that are slow or hold requests, a log of 300,000, no regression ---------

MAX_IN_FLIGHT = 6  # EDGEHOOK_MAX_IN_FLIGHT's default (wrangler.toml), which these parts run with
RESOURCE_TYPE = "agent-framework-resource-updated"  # publish.lua's other type (BENCH_MIX)


def settled(tenant, dest: str, ids: set[str], timeout: float) -> dict[str, dict]:
    """The records of `ids` (through the paged deliveries query, attempts
    included) once none of them is pending or retrying, or after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        records = {d["id"]: d for d in all_deliveries(tenant, dest) if d["id"] in ids}
        open_ = [d for d in records.values() if d["state"] in ("pending", "retrying")]
        if (len(records) == len(ids) and not open_) or time.monotonic() > deadline:
            return records
        time.sleep(0.5)


def wait_requests(rx: LeanReceiver, done, timeout: float) -> None:
    """Waits until `done(rx.requests)` holds (or `timeout`), then one more
    second for anything late."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done(list(rx.requests)):
        time.sleep(0.05)
    time.sleep(1.0)


def slow_receiver(worker: Worker, n: int) -> None:
    """A receiver answering every request after 1 s, `n` events published at
    once (wrk) to one destination with the default window of 6."""
    tenant = new_tenant(worker)
    rx = LeanReceiver(reply=lambda i, wid: Plan(200, delay=1.0))
    try:
        dest, _ = tenant.create_destination(url=rx.url, accepted_types=[EVENT_TYPE])
        answers = wrk_publish(worker.url, [(publish_path(tenant), tenant.token)], n, 60)
        ids = {d for a in answers if a.status == 202 for d in a.delivery_ids}
        wait_requests(rx, lambda reqs: {r.webhook_id for r in reqs if r.status == 200} >= ids,
                      n / MAX_IN_FLIGHT * 1.0 * 2 + 60)
        records = settled(tenant, dest, ids, 60)
    finally:
        rx.stop()
    start = min(a.sent for a in answers)
    answered = [r for r in rx.requests if r.status == 200 and r.webhook_id in ids]
    end = max((r.ended for r in answered), default=float("nan"))
    rate = len({r.webhook_id for r in answered}) / (end - start)
    target = 0.9 * MAX_IN_FLIGHT
    false_timeouts = []
    for d in ids:
        rec = records.get(d)
        attempts = rec["delivery_attempts"] if rec else []
        if (rec is None or rec["state"] != "success" or len(attempts) != 1
                or not 1000 <= attempts[0]["duration_ms"] <= 2000):
            false_timeouts.append(d)
    durations = [a["duration_ms"] for r in records.values() for a in r["delivery_attempts"]]
    print(f"slow receiver: answers every request after 1 s; {len(ids)} events published at once by wrk "
          f"to one destination, window {MAX_IN_FLIGHT} (EDGEHOOK_MAX_IN_FLIGHT's default)")
    line("delivered (first publish → last answer)", f"{rate:.2f} webhooks/s", f"target ≥ 0.9 × {MAX_IN_FLIGHT} = {target:.1f}/s",
         f"{rate / target:.2f}× target, {rate / MAX_IN_FLIGHT:.2f}× the window's {MAX_IN_FLIGHT}/s")
    line("false timeouts (not success at attempt 1,", f"{len(false_timeouts)}", "target 0",
         f"of {len(ids)}; requests the receiver saw: {len(rx.requests)}")
    line("  or duration_ms outside 1000–2000)", "")
    line("recorded duration_ms min / max", f"{min(durations, default=0)} / {max(durations, default=0)} ms", "1000–2000 ms")
    line("requests open at the receiver at once, max", f"{rx.max_in_flight}", f"target ≤ {MAX_IN_FLIGHT}",
         f"connections open at once, max {rx.max_connections}")


def held_receiver(worker: Worker, n: int) -> None:
    """A receiver holding 1 in 10 requests until the destination's 2 s
    timeout closes them and answering the rest in 10 ms; `n` events published
    at once to one destination, window 6. The issue's slot bound counts
    attempts: 6 slots / (0.1 × 2 s + 0.9 × 0.01 s) ≈ 28.7 attempts ended a
    second, so the target applies to attempts ended per second while the
    backlog lasts (first publish → last delivery's first attempt); successful
    deliveries per second are printed beside it."""
    tenant = new_tenant(worker)

    def plan(index: int, webhook_id: str) -> Plan:
        return Plan(hold=True, hold_limit=10.0) if index % 10 == 9 else Plan(200, delay=0.01)

    rx = LeanReceiver(reply=plan)
    try:
        dest, _ = tenant.create_destination(url=rx.url, accepted_types=[EVENT_TYPE], timeout_seconds=2,
                                            retry_attempts=5)
        answers = wrk_publish(worker.url, [(publish_path(tenant), tenant.token)], n, 60)
        ids = {d for a in answers if a.status == 202 for d in a.delivery_ids}
        wait_requests(rx, lambda reqs: {r.webhook_id for r in reqs if r.status == 200} >= ids, 120 + n / 10)
        records = settled(tenant, dest, ids, 60)
    finally:
        rx.stop()
    reqs = [r for r in rx.requests if r.webhook_id in ids and r.ended]
    start = min(a.sent for a in answers)
    first_attempt: dict[str, float] = {}
    for r in reqs:
        first_attempt.setdefault(r.webhook_id, r.arrived)
    backlog_end = max(first_attempt.values())
    in_backlog = [r for r in reqs if r.ended <= backlog_end]
    ended_rate = len(in_backlog) / (backlog_end - start)
    overall_rate = len(reqs) / (max(r.ended for r in reqs) - start)
    success = {}
    for r in reqs:
        if r.status == 200:
            success.setdefault(r.webhook_id, r.ended)
    success_rate = len(success) / (max(success.values()) - start)
    held = [r for r in reqs if r.plan and r.plan.hold]
    held_s = [r.ended - r.arrived for r in held]
    bound = MAX_IN_FLIGHT / (0.1 * 2 + 0.9 * 0.01)
    attempts = [a for d in records.values() for a in d["delivery_attempts"]]
    timeouts = [a for a in attempts if a["status_code"] == 0]
    states = Counter(d["state"] for d in records.values())
    print(f"held receiver: holds 1 in 10 requests until the 2 s timeout closes it, answers the rest in 10 ms; "
          f"{len(ids)} events published at once by wrk, window {MAX_IN_FLIGHT}, retries every 2 s")
    line("attempts ended / s while the backlog lasts", f"{ended_rate:.1f} /s",
         f"target ≥ 0.8 × {bound:.1f} = {0.8 * bound:.1f}/s",
         f"{ended_rate / (0.8 * bound):.2f}× target, {ended_rate / bound:.2f}× the slot bound "
         f"({len(in_backlog)} attempts in {backlog_end - start:.1f} s)")
    line("attempts ended / s, first publish → last end", f"{overall_rate:.1f} /s", "",
         f"{len(reqs)} attempts, {len(held)} held; the tail is retries alone")
    line("successful deliveries / s, first publish → last", f"{success_rate:.1f} /s", "",
         f"{len(success)} of {len(ids)} delivered")
    line("held request open at the receiver, min / max", f"{min(held_s):.2f} / {max(held_s):.2f} s", "≈ 2 s timeout")
    line("recorded timeouts / duration_ms min–max",
         f"{len(timeouts)} / {min((a['duration_ms'] for a in timeouts), default=0)}–"
         f"{max((a['duration_ms'] for a in timeouts), default=0)} ms", "",
         f"states {dict(states)}")


class CheckoutWorker(Worker):
    """A Worker of another checkout of edgehook (its worker/build,
    wrangler.toml and migrations), started by the same harness: the
    regression part runs the previous main beside this one."""

    def __init__(self, root: Path, **kwargs) -> None:
        self.root = Path(root)
        super().__init__(**kwargs)

    def start(self) -> "Worker":
        import harness
        own = harness.wrangler_config
        harness.wrangler_config = self._config
        try:
            return super().start()
        finally:
            harness.wrangler_config = own

    def _config(self, dest_dir: Path) -> Path:
        import re
        snapshot = Path(dest_dir) / "build"
        if not snapshot.exists():
            shutil.copytree(self.root / "worker" / "build", snapshot, ignore=shutil.ignore_patterns(".tmp"))
        text = (self.root / "wrangler.toml").read_text()
        text = re.sub(r"(?ms)^\[build\]\n.*?(?=^\[)", "", text)
        text = re.sub(r'(?m)^main = "[^"]+"', f'main = "{(snapshot / "index.js").as_posix()}"', text)
        text = re.sub(r'(?m)^migrations_dir = "([^"]+)"',
                      lambda m: f'migrations_dir = "{(self.root / m.group(1)).as_posix()}"', text)
        path = Path(dest_dir) / "wrangler.toml"
        path.write_text(text)
        return path


def publish_vs_ceiling(worker: Worker, n: int) -> tuple[Figures, dict, float]:
    """A new tenant with one destination at a lean receiver, warmed up; the
    no-op ceiling; then `n` events at CONCURRENCY. Returns the figures, the
    ceiling, and the CPU seconds workerd's busiest thread spent on the `n`
    publishes and their deliveries."""
    with warm_destination(worker) as (tenant, _, rx):
        ceiling = noop_ceiling()
        before = thread_cpu_s()
        f = load(worker, rx, [tenant], n)
        after = thread_cpu_s()
    return f, ceiling, max(v - before.get(k, 0.0) for k, v in after.items())


def thread_cpu_s() -> dict[tuple[str, str], float]:
    """CPU seconds of every thread of every workerd process, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() != "workerd":
                continue
            for tid in os.listdir(f"/proc/{pid}/task"):
                fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
                out[(pid, tid)] = (int(fields[11]) + int(fields[12])) / tick
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def share(worker: Worker, n: int) -> None:
    """How the publish figure at c=10 depends on what the one thread also does:
    no destination, a paused one, an active one; then the window of attempts."""
    print(f"share: {n} events at c={CONCURRENCY} after the no-op ceiling, by what each event costs beside its publish")
    rx = LeanReceiver()
    try:
        for case in ("no destination", "one paused destination", "one active destination"):
            tenant = new_tenant(worker)
            if case != "no destination":
                tenant.create_destination(url=rx.url, accepted_types=[EVENT_TYPE],
                                          is_active=case.endswith("active destination"))
            wrk_publish(worker.url, [(publish_path(tenant), tenant.token)], WARMUP_REQUESTS, 60)
            ceiling = noop_ceiling()
            start = len(rx.arrivals)
            answers = wrk_publish(worker.url, [(publish_path(tenant), tenant.token)], n, 60 + n / 5)
            ids = {d for a in answers if a.status == 202 for d in a.delivery_ids}
            f = figures(answers, collect(rx, start, ids, 60 + len(ids) / 20))
            line(f"{case}: publish / ceiling", f"{f.publish_per_s:.0f} / {ceiling['rps']:.0f} req/s", "",
                 f"{f.publish_per_s / ceiling['rps']:.2f}×")
            tenant.close()
    finally:
        rx.stop()
    print(f"\nshare: one active destination, {n} events at c={CONCURRENCY}, by the window of attempts "
          "(a worker started for each)")
    for window in (1, 6, 64):
        with Worker(vars={**WORKER_VARS, "EDGEHOOK_MAX_IN_FLIGHT": str(window)}) as w:
            f, ceiling, busiest = publish_vs_ceiling(w, n)
        line(f"window {window}: publish / ceiling", f"{f.publish_per_s:.0f} / {ceiling['rps']:.0f} req/s", "",
             f"{f.publish_per_s / ceiling['rps']:.2f}×; delivered {f.delivered_per_s:.0f}/s, "
             f"backlog {f.backlog_s:.2f} s, busiest workerd thread {busiest:.2f} s CPU")


def alternately(a: Worker, b: Worker, rounds: int):
    """(round, "A" or "B", worker) for `rounds` rounds, A first in even rounds
    and B first in odd ones, so that neither always runs on the other's heels."""
    for r in range(rounds):
        pair = (("A", a), ("B", b)) if r % 2 == 0 else (("B", b), ("A", a))
        for name, w in pair:
            yield r, name, w


def regression(worker: Worker, prev: Path, n: int, low_n: int, runs: int, rounds: int, rate: float = 20.0) -> None:
    """This build (A) against the previous main's build in `prev` (B), both
    running from the start and warmed up alike by one untimed load of `n`
    events (V8 compiles the hot wasm functions again, optimized, after they
    have run a while, so a cold worker is slower than a warm one): publish at
    c=10 against the no-op ceiling, `runs` times each, interleaved (A's median
    is the figure); then publish→arrival at `rate`/s, `rounds` rounds each,
    interleaved."""
    if not (prev / "worker" / "build" / "index.js").exists():
        print(f"regression: no build of the previous main in {prev}: see --prev; nothing to compare with")
        return
    commit = subprocess.run(["git", "-C", str(prev), "log", "-1", "--format=%h"], capture_output=True,
                            text=True).stdout.strip()
    with CheckoutWorker(prev, vars=WORKER_VARS) as before:
        print(f"regression: this build (A) and the previous main {commit} (B, {prev}), each warmed up by "
              f"{n} events published at c={CONCURRENCY} (untimed)")
        for name, w in (("A", worker), ("B", before)):
            with warm_destination(w) as (tenant, _, rx):
                f = load(w, rx, [tenant], n)
            line(f"warm-up, {name}", f"{f.publish_per_s:.0f} req/s", "", f"lost {f.lost}, duplicated {f.duplicated}")

        print(f"\nregression: publish at c={CONCURRENCY} vs the no-op ceiling, {n} events a run, "
              f"{runs} runs each, interleaved")
        ratios: dict[str, list[float]] = {"A": [], "B": []}
        cpu: dict[str, list[float]] = {"A": [], "B": []}
        for r, name, w in alternately(worker, before, runs):
            f, ceiling, busiest = publish_vs_ceiling(w, n)
            ratios[name].append(f.publish_per_s / ceiling["rps"])
            cpu[name].append(busiest)
            line(f"run {r + 1}, {name}: publish / ceiling", f"{f.publish_per_s:.0f} / {ceiling['rps']:.0f} req/s",
                 "", f"{ratios[name][-1]:.2f}×; busiest workerd thread {busiest:.2f} s CPU; "
                 f"lost {f.lost}, duplicated {f.duplicated}")
        ma, mb = statistics.median(ratios["A"]), statistics.median(ratios["B"])
        ca, cb = statistics.median(cpu["A"]), statistics.median(cpu["B"])
        line("busiest workerd thread per run, A / B (medians)", f"{ca:.2f} / {cb:.2f} s CPU", "",
             f"A/B {ca / cb:.2f}× (CPU for {n} publishes and their deliveries)")
        line("publish, A's median", f"{ma:.2f}× ceiling", "target ≥ 0.35× ceiling",
             f"{ma / 0.35:.2f}× target (runs {min(ratios['A']):.2f}–{max(ratios['A']):.2f}×)")
        line("publish / ceiling, A / B (medians)", f"{ma:.2f}× / {mb:.2f}×", "target A ≥ 1.0× B",
             f"A/B {ma / mb:.2f}× (B's runs {min(ratios['B']):.2f}–{max(ratios['B']):.2f}×)")

        print(f"\nregression: publish → arrival at {rate:g}/s, {low_n} events a round, {rounds} rounds each, "
              "interleaved")
        runs_ab: dict[str, list[Figures]] = {"A": [], "B": []}
        for r, name, w in alternately(worker, before, rounds):
            with warm_destination(w) as (tenant, _, rx):
                f = paced_load(w, rx, tenant, low_n, rate)
            runs_ab[name].append(f)
            line(f"round {r + 1}, {name}: publish → arrival p50 / p99",
                 f"{pct(f.latency_ms, 50):.1f} / {pct(f.latency_ms, 99):.1f} ms", "",
                 f"202 p50 {pct(f.ack_ms, 50):.1f} ms, lost {f.lost}, duplicated {f.duplicated}")
        for p in (50, 99):
            a = [pct(f.latency_ms, p) for f in runs_ab["A"]]
            b = [pct(f.latency_ms, p) for f in runs_ab["B"]]
            pa = pct([x for f in runs_ab["A"] for x in f.latency_ms], p)
            pb = pct([x for f in runs_ab["B"] for x in f.latency_ms], p)
            line(f"publish → arrival p{p}, A / B (all rounds)", f"{pa:.1f} / {pb:.1f} ms", "target A ≤ 1.0× B",
                 f"{pa / pb:.2f}× (rounds: A {min(a):.1f}–{max(a):.1f}, B {min(b):.1f}–{max(b):.1f} ms)")


def fill_log(worker: Worker, tenant, rx: LeanReceiver, size: int, fill_seconds: float,
             progress: bool = True) -> tuple[int, list[datetime], float]:
    """Publishes `size` events (a tenth of the other type) to `tenant`'s one
    destination with wrk at c=10, in chunks of 25,000 (a progress line each),
    every chunk delivered before the next; stops early after `fill_seconds`.
    Returns the deliveries stored, the wall-clock time of each chunk's start
    and of the end, and the seconds it took."""
    t0 = time.monotonic()
    stored, marks = 0, []
    chunk = min(25_000, size)
    while stored < size and time.monotonic() - t0 < fill_seconds:
        k = min(chunk, size - stored)
        marks.append(datetime.now().astimezone())
        c0 = time.monotonic()
        start = len(rx.arrivals)
        answers = wrk_publish(worker.url, [(publish_path(tenant), tenant.token)], k, 60 + k / 20, mix=10)
        ids = {d for a in answers if a.status == 202 for d in a.delivery_ids}
        f = figures(answers, collect(rx, start, ids, 60 + len(ids) / 20))
        stored += len(ids)
        if progress:
            print(f"  fill: {stored:,} deliveries after {time.monotonic() - t0:.0f} s "
                  f"(this chunk: publish {f.publish_per_s:.0f}/s, {k / (time.monotonic() - c0):.0f} delivered/s, "
                  f"lost {f.lost}{', ' + statuses(f) if f.other_statuses else ''})", flush=True)
    marks.append(datetime.now().astimezone())
    return stored, marks, time.monotonic() - t0


def query_shapes(client: httpx.Client, log_path: str, marks: list[datetime]) -> dict[str, dict]:
    """The query shapes of issue 13 for one destination's log: the time
    range is the middle fifth of its fill by wall clock; the 20th page's
    token is found by following 19 continuation tokens from the default query."""
    lo = marks[0] + (marks[-1] - marks[0]) * 0.4
    hi = marks[0] + (marks[-1] - marks[0]) * 0.6
    shapes = {
        "default": {},
        "status=failed": {"status": "failed"},
        f"type={RESOURCE_TYPE}": {"type": RESOURCE_TYPE},
        "time range (created_after/created_before)": {
            "created_after": lo.isoformat(timespec="milliseconds"),
            "created_before": hi.isoformat(timespec="milliseconds")},
        "sort_by=type": {"sort_by": "type"},
        "sort_by=-status": {"sort_by": "-status"},
    }
    params: dict = {}
    for _ in range(19):
        page = client.get(log_path, params=params).json()
        params = {"continuation_token": page["continuation_token"]}
    shapes["the 20th page (continuation token)"] = params
    return shapes


SMALL_LOG = 1_100  # deliveries in the small log the query shapes are compared with (20 pages and more)


def query_log(worker: Worker, size: int, fill_seconds: float, runs: int, rounds: int, low_n: int,
              rate: float = 20.0) -> None:
    """One destination whose log holds `size` deliveries (published by wrk
    at c=10 with the quota lifted, to a lean receiver that fails 1 in 10
    deliveries for good; a tenth of the events of the other type), and one
    of SMALL_LOG deliveries filled the same way: each query shape timed
    `runs` times on each, alternately; then publish → arrival at `rate`/s
    on the large one, idle, while another process runs the query shapes back
    to back on it, and while that process runs them on the small one, in turn
    for `rounds` rounds."""
    failing = {"on": True}

    def plan(index: int, webhook_id: str) -> Plan:
        return Plan(500) if failing["on"] and hash(webhook_id) % 10 == 0 else Plan(200)

    rx = LeanReceiver(reply=plan)
    big, small = new_tenant(worker), new_tenant(worker)
    clients = []
    try:
        logs = {}
        for name, tenant in (("small", small), ("large", big)):
            dest, _ = tenant.create_destination(url=rx.url, accepted_types=[EVENT_TYPE, RESOURCE_TYPE],
                                                retry_attempts=1)
            stored, marks, took = fill_log(worker, tenant, rx, SMALL_LOG if name == "small" else size,
                                           fill_seconds, progress=name == "large")
            logs[name] = (tenant, tenant.destination_path(dest, "/delivery"), stored, marks, took)
        # The failing ones use their retry (2 s later); every later delivery is healthy.
        time.sleep(4)
        failing["on"] = False
        shapes, client = {}, {}
        for name, (tenant, log_path, stored, marks, took) in logs.items():
            client[name] = httpx.Client(base_url=worker.url, headers={"Authorization": f"Bearer {tenant.token}"},
                                        timeout=60)
            clients.append(client[name])
            shapes[name] = query_shapes(client[name], log_path, marks)
        _, log_path, stored, _, took = logs["large"]
        print(f"query log: {stored:,} deliveries in one destination's log, filled in {took:.0f} s "
              f"({stored / took:.0f}/s: published by wrk at c={CONCURRENCY}, quota lifted, each delivered); "
              f"each query shape {runs} times on it and on a log of {logs['small'][2]:,}, alternately, "
              f"one keep-alive client each")
        for shape in shapes["large"]:
            took_ms: dict[str, list[float]] = {"large": [], "small": []}
            sizes = set()
            for _ in range(runs):
                for name in ("large", "small"):
                    q = shapes[name][shape]
                    t = time.perf_counter()
                    r = client[name].get(logs[name][1], params=q)
                    took_ms[name].append((time.perf_counter() - t) * 1000)
                    if r.status_code != 200:
                        raise RuntimeError(f"{shape}: {r.status_code} {r.text[:200]}")
                    if name == "large":
                        sizes.add(len(r.json()["webhook_deliveries"]))
            p99, s99 = pct(took_ms["large"], 99), pct(took_ms["small"], 99)
            line(f"{shape}: p99", f"{p99:.1f} ms", "target ≤ 50 ms",
                 f"{p99 / 50:.2f}× target; p50 {pct(took_ms['large'], 50):.1f} ms, {'/'.join(map(str, sorted(sizes)))} "
                 f"a page; log of {logs['small'][2]:,}: p99 {s99:.1f} ms ({p99 / s99:.2f}×)")
        # Publish → arrival at a modest rate on the large log: idle, while a
        # client runs the shapes back to back on it, and while the same client
        # runs them on the small log, another destination's object. Under
        # `wrangler dev` every object and the Worker share one thread, so the
        # third shows what a back-to-back client of the same queries costs
        # there, and the fourth what one costs that asks for nothing (`GET
        # /healthz`, no object): the runtime's own floor. On Cloudflare
        # another destination's object runs apart.
        loads = {
            "idle": None,
            "queries on this destination": (big.token, json.dumps([[log_path, q] for q in shapes["large"].values()])),
            "queries on another destination": (small.token,
                                               json.dumps([[logs["small"][1], q] for q in shapes["small"].values()])),
            "GET /healthz": ("", json.dumps([["/healthz", {}]])),
        }
        latency: dict[str, list[float]] = {name: [] for name in loads}
        for r in range(rounds):
            for under, queries in loads.items():
                stop = Path(tempfile.mkdtemp(prefix="edgehook-ql-")) / "stop"
                loop, ran = None, None
                if queries:
                    loop = subprocess.Popen([sys.executable, str(HERE / "query_loop.py"), worker.url, queries[0],
                                             queries[1], str(stop)], stdout=subprocess.PIPE, text=True)
                    time.sleep(1.0)
                f = paced_load(worker, rx, big, low_n, rate, thread=90 + r)
                if loop:
                    stop.touch()
                    ran = json.loads(loop.communicate(timeout=120)[0])
                shutil.rmtree(stop.parent, ignore_errors=True)
                latency[under].extend(f.latency_ms)
                line(f"round {r + 1}, {under}: p50 / p99",
                     f"{pct(f.latency_ms, 50):.1f} / {pct(f.latency_ms, 99):.1f} ms", "",
                     (f"{ran['queries']} queries, p50 {ran['p50_ms']:.1f} / p99 {ran['p99_ms']:.1f} ms, "
                      f"slowest of each shape {'/'.join(f'{x:.0f}' for x in ran['slowest_ms'])} ms, "
                      f"{ran['errors']} errors; " if ran else "") + f"lost {f.lost}")
    finally:
        for c in clients:
            c.close()
        rx.stop()
    i99, b99, o99, h99 = (pct(latency[name], 99) for name in loads)
    line(f"publish → arrival p99 at {rate:g}/s, queried / idle", f"{b99:.1f} / {i99:.1f} ms", "target ≤ 1.5× idle",
         f"{b99 / i99:.2f}×")
    line("the same, queries on another destination / idle (the local runtime's one thread)",
         f"{o99:.1f} / {i99:.1f} ms", "", f"{o99 / i99:.2f}×; queried on this / on another destination "
         f"{b99 / o99:.2f}×")
    line("the same, GET /healthz back to back / idle (the runtime's floor)",
         f"{h99:.1f} / {i99:.1f} ms", "", f"{h99 / i99:.2f}×; queried on this destination / this floor "
         f"{b99 / h99:.2f}×")


def ts(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


PARTS = ("lowrate", "publish", "fanout", "logsize", "retry", "slow", "held", "querylog", "share",
         "regression")
DEFAULT_PARTS = ("lowrate", "publish", "fanout", "logsize", "retry")


def main() -> int:
    ap = argparse.ArgumentParser(description="edgehook's delivery benchmark (the module's docstring says what it measures).")
    ap.add_argument("parts", nargs="*", metavar="PART",
                    help=f"parts to run, in this order: {', '.join(PARTS)} (default: {', '.join(DEFAULT_PARTS)})")
    ap.add_argument("--events", type=int, default=2000, help="events of the publish load (default 2000)")
    ap.add_argument("--fanout-events", type=int, default=1000, help="events of the fan-out load, 10 deliveries each (default 1000)")
    ap.add_argument("--preload", type=int, default=50_000, help="deliveries in the log before the log-size load (default 50000)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of the log-size part (empty/full), of the querylog part and of the regression part's publish→arrival (default 2)")
    ap.add_argument("--low-rate-events", type=int, default=400, help="events of the low-rate part, at 20/s (default 400)")
    ap.add_argument("--slow-events", type=int, default=120, help="events of the slow part, answered after 1 s (default 120)")
    ap.add_argument("--held-events", type=int, default=300, help="events of the held part (default 300)")
    ap.add_argument("--query-log", type=int, default=300_000, help="deliveries in the querylog part's log (default 300000)")
    ap.add_argument("--fill-seconds", type=float, default=3600,
                    help="the most time the querylog part spends filling its log (default 3600); it measures what it has then")
    ap.add_argument("--query-runs", type=int, default=100, help="runs of each query shape (default 100)")
    ap.add_argument("--runs", type=int, default=3, help="publish runs of each build in the regression part, median taken (default 3)")
    ap.add_argument("--prev", type=Path, default=Path("/tmp/prev-main"),
                    help="a built checkout of the previous main for the regression part (default /tmp/prev-main)")
    args = ap.parse_args()
    parts = args.parts or list(DEFAULT_PARTS)
    if set(parts) - set(PARTS):
        ap.error(f"unknown part(s) {', '.join(sorted(set(parts) - set(PARTS)))}; parts: {', '.join(PARTS)}")
    if shutil.which("wrk") is None:
        print("wrk is required: bench/delivery/run.sh installs it", file=sys.stderr)
        return 1
    build_worker()
    with Worker(vars=WORKER_VARS) as worker:
        print(f"edgehook delivery benchmark — wrangler dev on {worker.url}, publish quota and rate limits lifted\n", flush=True)
        one = None
        if "lowrate" in parts:
            low_rate(worker, args.low_rate_events)
            print()
        if "publish" in parts:
            one = one_destination(worker, args.events)
            print()
        if "fanout" in parts:
            if one is None:
                one = one_destination(worker, args.events, with_ceiling=False)
                print()
            fan_out(worker, args.fanout_events, one)
            print()
        if "logsize" in parts:
            log_size(worker, args.preload, args.events, args.rounds)
            print()
        if "retry" in parts:
            retry_timing(worker)
            print()
        if "slow" in parts:
            slow_receiver(worker, args.slow_events)
            print()
        if "held" in parts:
            held_receiver(worker, args.held_events)
            print()
        if "querylog" in parts:
            query_log(worker, args.query_log, args.fill_seconds, args.query_runs, args.rounds,
                      args.low_rate_events // 2)
            print()
        if "share" in parts:
            share(worker, args.events)
            print()
        if "regression" in parts:
            regression(worker, args.prev, args.events, args.low_rate_events, args.runs, args.rounds)
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
