#!/usr/bin/env bash
# Stats benchmark: installs what it needs and is missing (scripts/setup.sh),
# then runs bench/health/bench.py against its own `wrangler dev` on 127.0.0.1.
# Arguments go to bench.py (see its --help). Not a test: it prints figures
# and their targets.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$EDGEHOOK_ROOT"
[ -x "$EDGEHOOK_VENV/bin/python" ] && [ -x node_modules/.bin/wrangler ] || bash scripts/setup.sh
exec "$EDGEHOOK_VENV/bin/python" bench/health/bench.py "$@"
