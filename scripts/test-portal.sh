#!/usr/bin/env bash
# Unit tests of the portal's pure helpers (portal/test/*.test.ts): bundled for
# Node by esbuild into a temporary directory, run by Node's test runner.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$EDGEHOOK_ROOT"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
esbuild portal/test/*.test.ts --bundle --platform=node --format=esm --outdir="$out" \
  --out-extension:.js=.mjs --log-level=warning
node --test "$out"/*.test.mjs
