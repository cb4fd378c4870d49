#!/usr/bin/env bash
# Runs every edgehook test: installs what is missing, then the lint gate, the
# host unit tests, the SDK's wasm and Node tests, the end-to-end and browser
# tests against a freshly started `wrangler dev` (own port and state
# directory, stopped afterwards), and mutation testing of the host-tested code.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$EDGEHOOK_ROOT"

bash scripts/setup.sh --browser

step "lint (cargo fmt --check; clippy -D warnings over every crate, the worker for wasm32)"
cargo fmt --all -- --check
bash scripts/build-portal.sh  # the worker embeds the portal's files
cargo clippy --quiet -p edgehook-core -p edgehook-sdk --all-targets -- -D warnings
cargo clippy --quiet -p edgehook-worker -p edgehook-sdk --target wasm32-unknown-unknown --all-targets -- -D warnings

step "host unit tests (cargo test)"
cargo test --quiet

step "worker build"
bash scripts/build-worker.sh

step "SDK tests (wasm-pack in Node and Chromium, Node package tests, demo)"
bash scripts/test-sdk.sh

step "end-to-end and browser tests against wrangler dev"
"$EDGEHOOK_VENV/bin/python" -m pytest tests -q -p no:cacheprovider "$@"

step "mutation testing of core and the SDK's host-tested modules (EDGEHOOK_SKIP_MUTANTS=1 skips it outside CI)"
bash scripts/mutants.sh
