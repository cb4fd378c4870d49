#!/usr/bin/env bash
# Runs every edgehook test: installs what is missing, then the host unit tests,
# the SDK's wasm and Node tests, and the end-to-end tests against a freshly
# started `wrangler dev` (own port and state directory, stopped afterwards).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$EDGEHOOK_ROOT"

bash scripts/setup.sh --browser

step "host unit tests (cargo test)"
cargo test --quiet

step "worker build"
bash scripts/build-worker.sh

step "SDK tests (wasm-pack in Node and Chromium, Node package tests, demo)"
bash scripts/test-sdk.sh

step "end-to-end tests against wrangler dev"
"$EDGEHOOK_VENV/bin/python" -m pytest tests -q -p no:cacheprovider "$@"
