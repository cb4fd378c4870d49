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

# The regression part compares with the previous main (fe2d2db, before the
# delivery pipeline of issue 13), built in its own checkout once:
# EDGEHOOK_PREV_MAIN (default /tmp/prev-main), EDGEHOOK_PREV_COMMIT (default fe2d2db).
prev=()
if printf '%s\n' "$@" | grep -qx regression; then
  prev_dir=${EDGEHOOK_PREV_MAIN:-/tmp/prev-main}
  if [ ! -f "$prev_dir/worker/build/index.js" ]; then
    step "build the previous main (${EDGEHOOK_PREV_COMMIT:-fe2d2db}) in $prev_dir"
    [ -d "$prev_dir" ] || git worktree add --detach "$prev_dir" "${EDGEHOOK_PREV_COMMIT:-fe2d2db}"
    (cd "$prev_dir" && bash scripts/setup.sh && bash scripts/build-portal.sh && bash scripts/build-worker.sh)
  fi
  prev=(--prev "$prev_dir")
fi

exec "$EDGEHOOK_VENV/bin/python" bench/delivery/bench.py "$@" "${prev[@]}"
