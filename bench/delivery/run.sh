#!/usr/bin/env bash
# Delivery benchmark: installs what it needs and is missing (the project's
# tools through scripts/setup.sh, and wrk with apt-get), then runs
# bench/delivery/bench.py against its own `wrangler dev` on 127.0.0.1.
# Arguments go to bench.py (parts to run, smaller counts; see its --help).
# Not a test: it prints figures and their targets.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$EDGEHOOK_ROOT"

[ -x "$EDGEHOOK_VENV/bin/python" ] && [ -x node_modules/.bin/wrangler ] || bash scripts/setup.sh

if ! command -v wrk >/dev/null; then
  step "apt-get install wrk"
  apt_get() { if [ "$(id -u)" = 0 ]; then apt-get "$@"; else sudo apt-get "$@"; fi; }
  apt_get update -q
  DEBIAN_FRONTEND=noninteractive apt_get install -y -q --no-install-recommends wrk
fi

exec "$EDGEHOOK_VENV/bin/python" bench/delivery/bench.py "$@"
