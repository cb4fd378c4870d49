#!/usr/bin/env bash
# Builds the Python package edgehook-verify (sdk-python/, maturin + PyO3, one abi3 wheel for
# CPython 3.9 and later) into target/wheels/ and installs that wheel into the project's venv,
# where the tests and bench/sdk-python import it. Assumes scripts/setup.sh has run (it installs
# maturin from PyPI into the venv).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$EDGEHOOK_ROOT"

wheels="${CARGO_TARGET_DIR:-$EDGEHOOK_ROOT/target}/wheels"
step "maturin build (release, abi3) + pip install of the wheel"
rm -f "$wheels"/edgehook_verify-*.whl
"$EDGEHOOK_VENV/bin/maturin" build --quiet --release --manifest-path sdk-python/Cargo.toml \
  --strip --interpreter "$EDGEHOOK_VENV/bin/python" --out "$wheels"
wheel=$(ls "$wheels"/edgehook_verify-*-cp39-abi3-*.whl)
"$EDGEHOOK_VENV/bin/pip" install --quiet --disable-pip-version-check --no-index --no-deps \
  --force-reinstall "$wheel"
echo "installed $(basename "$wheel")"
