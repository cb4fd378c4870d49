"""A client that runs deliveries queries back to back until told to stop, for
bench.py's querylog part: it runs in its own process, so that its work does
not hold up the publishing client's clock in bench.py.

    python query_loop.py URL TOKEN SHAPES_JSON STOP_FILE

SHAPES_JSON is a list of [path, params] pairs (TOKEN empty: no credentials), queried in turn, over one
keep-alive connection, until STOP_FILE exists (or 10 minutes passed). Prints
one JSON line: queries made, their answers other than 200, and their p50 and
p99 in ms.
"""

from __future__ import annotations

import json
import os
import sys
import time

import httpx


def main() -> None:
    url, token, shapes, stop = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
    took, errors = [], 0
    slowest = [0.0] * len(shapes)
    deadline = time.monotonic() + 600
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
        i = 0
        while not os.path.exists(stop) and time.monotonic() < deadline:
            path, params = shapes[i % len(shapes)]
            t0 = time.perf_counter()
            r = c.get(path, params=params)
            took.append((time.perf_counter() - t0) * 1000)
            slowest[i % len(shapes)] = max(slowest[i % len(shapes)], took[-1])
            errors += r.status_code != 200
            i += 1
    took.sort()
    at = lambda p: took[min(len(took) - 1, max(0, round(p / 100 * len(took)) - 1))] if took else float("nan")  # noqa: E731
    print(json.dumps({"queries": len(took), "errors": errors, "p50_ms": at(50), "p99_ms": at(99),
                      "slowest_ms": [round(x, 1) for x in slowest]}))


if __name__ == "__main__":
    main()
