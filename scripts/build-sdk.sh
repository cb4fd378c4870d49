#!/usr/bin/env bash
# Builds the SDK's npm package into pkg/ (pkg/wasm, HMAC only, and pkg/wasm-ed25519 from
# wasm-pack; pkg/dist assembled by pkg/build.mjs). Used by the run command (the demo page loads pkg/dist) and by
# scripts/test-sdk.sh, which sources it so that its tests run against this build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$EDGEHOOK_ROOT"

# The SDK's wasm builds use wasm SIMD (supported by every runtime the package targets), so they
# get a target directory of their own: sharing target/ with the worker build (built without it)
# would rebuild every wasm dependency each time the two alternate.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128"
export CARGO_TARGET_DIR="${SDK_TARGET_DIR:-$EDGEHOOK_ROOT/target/sdk}"

step "wasm-pack build (release, HMAC only and with ed25519) + package assembly"
# The default entry stays HMAC-only so that browsers load a small module; the `ed25519` entry
# carries the crate's default features.
wasm-pack --quiet build sdk-wasm --release --target web --out-dir ../pkg/wasm --no-pack \
  -- --no-default-features --features bindings
wasm-pack --quiet build sdk-wasm --release --target web --out-dir ../pkg/wasm-ed25519 \
  --out-name edgehook_sdk_ed25519 --no-pack
node pkg/build.mjs
