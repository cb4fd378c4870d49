#!/usr/bin/env bash
# Builds the Python package edgehook-verify (sdk-python/, maturin + PyO3, one abi3 wheel for
# CPython 3.9 and later) into target/wheels/ and installs that wheel into the project's venv,
# where the tests and bench/sdk-python import it. Assumes scripts/setup.sh has run (it installs
# maturin and ziglang from PyPI into the venv). The wheel is linked by zig against glibc 2.17
# (manylinux2014), so that it installs on any x86_64 Linux of the last decade, not only on
# one as new as the build machine's.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$EDGEHOOK_ROOT"

wheels="${CARGO_TARGET_DIR:-$EDGEHOOK_ROOT/target}/wheels"
step "maturin build (release, abi3) + pip install of the wheel"
rm -f "$wheels"/edgehook_verify-*.whl
# maturin runs zig as `python -m ziglang` from the venv.
PATH="$EDGEHOOK_VENV/bin:$PATH" "$EDGEHOOK_VENV/bin/maturin" build --quiet --release \
  --manifest-path sdk-python/Cargo.toml --strip --zig --compatibility manylinux2014 \
  --interpreter "$EDGEHOOK_VENV/bin/python" --out "$wheels"
wheel=$(ls "$wheels"/edgehook_verify-*-cp39-abi3-*.whl)
"$EDGEHOOK_VENV/bin/pip" install --quiet --disable-pip-version-check --no-index --no-deps \
  --force-reinstall "$wheel"
echo "installed $(basename "$wheel")"
