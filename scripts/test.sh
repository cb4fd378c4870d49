#!/usr/bin/env bash
# Runs every edgehook test: installs what is missing, then the lint gate, the
# host unit tests, the portal's unit tests, the SDK's wasm and Node tests, the Python package's wheel,
# the end-to-end, Python package and browser tests against a freshly started
# `wrangler dev` (own port and state directory, stopped afterwards), and
# mutation testing of the host-tested code.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$EDGEHOOK_ROOT"

bash scripts/setup.sh --browser

step "lint (cargo fmt --check; clippy -D warnings over every crate, the worker for wasm32)"
cargo fmt --all -- --check
bash scripts/build-portal.sh  # the worker embeds the portal's files
cargo clippy --quiet -p edgehook-core -p edgehook-log -p edgehook-sdk -p edgehook-verify --all-targets -- -D warnings
cargo clippy --quiet -p edgehook-worker -p edgehook-sdk --target wasm32-unknown-unknown --all-targets -- -D warnings
# The npm package's default entry: the core without ed25519.
cargo clippy --quiet -p edgehook-sdk --no-default-features --features bindings --target wasm32-unknown-unknown --all-targets -- -D warnings

step "host unit tests (cargo test; the signing core also without ed25519)"
cargo test --quiet
cargo test --quiet -p edgehook-sdk --no-default-features --lib

step "portal unit tests (the chart's arithmetic, Node's test runner)"
bash scripts/test-portal.sh

step "worker build"
bash scripts/build-worker.sh

step "SDK tests (wasm-pack in Node and Chromium, Node package tests, demo)"
bash scripts/test-sdk.sh

step "Python package wheel (maturin), installed into the venv for the tests"
bash scripts/build-python.sh

step "end-to-end, Python package and browser tests against wrangler dev (2 processes)"
# Most tests wait on receivers, timeouts and restarts rather than compute, so
# two processes, each with its own wrangler dev, take a little over half the
# time of one (9.5 against 17 minutes); tests sharing a module-scoped fixture stay in one process
# (tests/conftest.py).
"$EDGEHOOK_VENV/bin/python" -m pytest tests -q -p no:cacheprovider -n 2 --dist loadgroup --durations=15 "$@"

step "mutation testing of core and the SDK's host-tested modules (EDGEHOOK_SKIP_MUTANTS=1 skips it outside CI)"
bash scripts/mutants.sh
