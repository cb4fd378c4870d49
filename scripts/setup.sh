#!/usr/bin/env bash
# Installs whatever edgehook needs and is missing: the wasm target, the pinned
# cargo tools, the npm devDependencies (Node 22, wrangler, wasm-opt), the Python
# test environment and, with --browser, Debian's Chromium and ChromeDriver.
# Every step checks first, so a second run only checks.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$EDGEHOOK_ROOT"

want_browser=false
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=true ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

# Installs a cargo tool unless the exact version is already on PATH.
cargo_tool() { # binary version crate [extra cargo install args...]
  local bin=$1 version=$2 crate=$3; shift 3
  if "$bin" --version 2>/dev/null | grep -qF "$version"; then return 0; fi
  step "cargo install $crate $version"
  cargo install "$crate" --version "$version" "$@"
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
for component in clippy rustfmt; do
  if ! rustup component list --installed | grep -q "^$component"; then
    step "rustup component add $component"
    rustup component add "$component"
  fi
done
cargo_tool worker-build 0.8.7 worker-build --locked
# Its lockfile pins a crate version the registry lacks: build it unlocked.
cargo_tool wasm-bindgen 0.2.130 wasm-bindgen-cli
cargo_tool wasm-pack 0.15.1 wasm-pack --locked

# npm: reinstall only when package-lock.json changed since the last install.
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -x node_modules/.bin/wrangler ] || [ "$(cat node_modules/.edgehook-lock 2>/dev/null)" != "$lock_sum" ]; then
  step "npm install (package-lock.json)"
  # `npm ci` refuses this lock: the registry mirror lacks the optional macOS/Windows
  # builds of workerd. `npm install` installs exactly the locked versions all the same.
  npm install --no-audit --no-fund --loglevel=error
  # npm may rewrite the lock (optional builds of other platforms): record what it left.
  sha256sum package-lock.json | cut -d' ' -f1 > node_modules/.edgehook-lock
fi

# Python: the end-to-end tests and Amigo's official SDK.
req_sum=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ ! -x "$EDGEHOOK_VENV/bin/python" ] || [ "$(cat "$EDGEHOOK_VENV/.edgehook-req" 2>/dev/null)" != "$req_sum" ]; then
  step "python venv + tests/requirements.txt"
  python3 -m venv "$EDGEHOOK_VENV"
  "$EDGEHOOK_VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
  echo "$req_sum" > "$EDGEHOOK_VENV/.edgehook-req"
fi

if $want_browser && ! { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }; then
  step "apt-get install chromium chromium-driver"
  apt_get() { if [ "$(id -u)" = 0 ]; then apt-get "$@"; else sudo apt-get "$@"; fi; }
  apt_get update -q
  DEBIAN_FRONTEND=noninteractive apt_get install -y -q --no-install-recommends chromium chromium-driver
fi
