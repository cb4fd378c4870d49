"""Benchmark of webhook verification in Python: edgehook_verify against standardwebhooks (PyPI) and a hand-rolled hmac + hashlib verify, per call and reused, with each figure's target and ratio.

Run: .venv/bin/python bench/sdk-python/bench.py [--rounds 5] [--ms 300]
(after scripts/build-python.sh installed the wheel into .venv, which scripts/test.sh does).

Every verifier checks the same signed requests (signed here with hmac, independently of the
libraries under test: Standard Webhooks headers, a JSON event padded to the body size) and returns
the parsed event. "per call" constructs the verifier from the secret string on every request, as
a serverless handler does; "reused" builds it once. Runs are interleaved (every round runs every
size and verifier, rotating the order) and each figure is the median of the rounds: absolute
numbers move with the machine's load, the ratios within one run much less.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import platform
import statistics
import time
from typing import Callable

from standardwebhooks.webhooks import Webhook as StandardWebhook

from edgehook_verify import Webhook

SIZES = [256, 1024, 16 * 1024, 256 * 1024]
SECRET_BYTES = os.urandom(32)
SECRET = "whsec_" + base64.b64encode(SECRET_BYTES).decode()


def payload_of(size: int) -> bytes:
    """A realistic event padded to exactly `size` bytes of JSON."""
    base = {"type": "agent-framework-resource-updated", "org_id": "org_bench",
            "resource_type": "agent", "resource_id": "r" * 24,
            "updated_at": "2026-01-01T00:00:00Z", "note": ""}
    overhead = len(json.dumps(base, separators=(",", ":")))
    base["note"] = "x" * max(0, size - overhead)
    return json.dumps(base, separators=(",", ":")).encode()


def headers_for(payload: bytes, n: int) -> dict[str, str]:
    msg_id = f"msg_bench_{n}"
    ts = str(int(time.time()))
    sig = base64.b64encode(hmac.new(SECRET_BYTES, f"{msg_id}.{ts}.".encode() + payload,
                                    hashlib.sha256).digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": f"v1,{sig}"}


def hand_rolled(key: bytes, payload: bytes, headers: dict[str, str]) -> dict:
    """A careful hand-written verify: one HMAC, constant-time compare, timestamp window, parsed body."""
    msg_id = headers["webhook-id"]
    ts = headers["webhook-timestamp"]
    sig = headers["webhook-signature"]
    if abs(time.time() - int(ts)) > 300:
        raise ValueError("timestamp")
    expected = hmac.new(key, f"{msg_id}.{ts}.".encode() + payload, hashlib.sha256).digest()
    for entry in sig.split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(base64.b64decode(value), expected):
            return json.loads(payload)
    raise ValueError("signature")


def verifiers() -> dict[str, Callable[[bytes, dict[str, str]], dict]]:
    edgehook = Webhook(SECRET)
    standard = StandardWebhook(SECRET)
    return {
        "edgehook_verify per call": lambda p, h: Webhook(SECRET).verify(p, h),
        "standardwebhooks per call": lambda p, h: StandardWebhook(SECRET).verify(p, h),
        "hmac+hashlib per call": lambda p, h: hand_rolled(base64.b64decode(SECRET[6:]), p, h),
        "edgehook_verify reused": edgehook.verify,
        "standardwebhooks reused": standard.verify,
        "hmac+hashlib reused": lambda p, h: hand_rolled(SECRET_BYTES, p, h),
    }


def ops_per_second(verify, cases, ms: int) -> float:
    ops = 0
    deadline = time.perf_counter_ns() + ms * 1_000_000
    start = time.perf_counter_ns()
    now = start
    while now < deadline:
        for payload, headers in cases:
            verify(payload, headers)
        ops += len(cases)
        now = time.perf_counter_ns()
    return ops / ((now - start) / 1e9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ms", type=int, default=300)
    args = parser.parse_args()

    libs = verifiers()
    cases = {size: [(payload_of(size), headers_for(payload_of(size), n)) for n in range(8)]
             for size in SIZES}
    # Every verifier must accept every case and reject a tampered body before anything is timed.
    for name, verify in libs.items():
        for size, size_cases in cases.items():
            for payload, headers in size_cases:
                assert verify(payload, headers)["org_id"] == "org_bench", name
            payload, headers = size_cases[0]
            try:
                verify(payload.replace(b"org_bench", b"org_bencH"), headers)
            except Exception:
                pass
            else:
                raise AssertionError(f"{name} accepted a tampered body")

    names = list(libs)
    results = {size: {n: [] for n in names} for size in SIZES}
    for size in SIZES:
        for name in names:
            ops_per_second(libs[name], cases[size], 50)  # warm-up
    for r in range(args.rounds):
        for size in SIZES:
            for k in range(len(names)):
                name = names[(k + r) % len(names)]
                results[size][name].append(ops_per_second(libs[name], cases[size], args.ms))
    m = {size: {n: statistics.median(results[size][n]) for n in names} for size in SIZES}

    def label(size: int) -> str:
        return f"{size // 1024} KB" if size >= 1024 else f"{size} B"

    print(f"\nverify ops/s, median of {args.rounds} interleaved runs of {args.ms} ms "
          f"(CPython {platform.python_version()})")
    for mode in ("per call", "reused"):
        cols = [f"edgehook_verify {mode}", f"standardwebhooks {mode}", f"hmac+hashlib {mode}"]
        print(f"\n{mode}\n")
        print(" | ".join(["body", *cols, "x standardwebhooks", "x hmac+hashlib"]))
        for size in SIZES:
            row = m[size]
            print(" | ".join([label(size), *(f"{row[c]:,.0f}" for c in cols),
                              f"{row[cols[0]] / row[cols[1]]:.2f}x",
                              f"{row[cols[0]] / row[cols[2]]:.2f}x"]))

    kb = m[1024]
    targets = [
        ("per call at 1 KB, edgehook_verify/standardwebhooks",
         kb["edgehook_verify per call"] / kb["standardwebhooks per call"], 2.0),
        ("per call at 1 KB, edgehook_verify/hmac+hashlib",
         kb["edgehook_verify per call"] / kb["hmac+hashlib per call"], 0.8),
    ]
    print("\ntarget | figure | wanted | met")
    for name, figure, want in targets:
        print(f"{name} | {figure:.2f}x | >= {want}x | {'yes' if figure >= want else 'NO'}")


if __name__ == "__main__":
    main()
