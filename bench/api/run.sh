#!/usr/bin/env bash
# Management-API benchmark: starts its own `wrangler dev` Workers on 127.0.0.1,
# drives them with wrk (bench/api/load.lua) and prints requests/s, p50/p99 and
# the worker's wasm size. Not a test: it prints figures and the targets.
# BENCH_SECONDS (default 10) sets the length of each measured run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$EDGEHOOK_ROOT"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
[ -x "$EDGEHOOK_VENV/bin/python" ] || bash scripts/setup.sh
exec "$EDGEHOOK_VENV/bin/python" bench/api/bench.py "$@"
