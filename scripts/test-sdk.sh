#!/usr/bin/env bash
# Builds the SDK's npm package once and runs its tests: wasm-bindgen tests in Node and headless
# Chromium, then the Node tests in tests/sdk/ (API, the ed25519 entry in Node and Chromium, packed
# install of both entries as ESM/CJS/workerd, browser demo).
# Assumes scripts/setup.sh --browser has run. The host unit tests run in `cargo test`, not here.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$EDGEHOOK_ROOT"


# Runs a test command, keeps its output in a log, prints its summary lines, and fails unless
# at least `min` tests passed (wasm-pack exits 0 having run none when misconfigured).
run_counted() { # name min command...
  local name=$1 min=$2; shift 2
  local log; log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log"; echo "test-sdk.sh: $name failed" >&2; rm -f "$log"; return 1
  fi
  grep -E '^test result:|^# (tests|pass|fail)' "$log" | sed "s/^/[$name] /"
  local passed
  passed=$(grep -oE '^test result: ok\. [0-9]+ passed|^# pass [0-9]+' "$log" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
  rm -f "$log"
  if [ "$passed" -lt "$min" ]; then
    echo "test-sdk.sh: $name ran $passed tests, expected at least $min" >&2; return 1
  fi
}

# Builds pkg/ once and exports the SDK's build settings for the wasm tests below.
source scripts/build-sdk.sh

step "wasm-bindgen tests in Node"
run_counted wasm-node 13 wasm-pack test --node sdk-wasm

step "wasm-bindgen tests in headless Chromium"
WASM_BINDGEN_USE_BROWSER=1 run_counted wasm-chrome 13 wasm-pack test --headless --chrome sdk-wasm

step "node --test tests/sdk"
run_counted node-sdk 26 node --test tests/sdk/*.test.mjs
