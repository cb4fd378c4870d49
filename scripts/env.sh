# Sourced by the project's scripts: points every build step at the locally
# installed tools so that nothing tries to download a binary at run time.
EDGEHOOK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export EDGEHOOK_ROOT
export PATH="$EDGEHOOK_ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$EDGEHOOK_ROOT/node_modules/binaryen/bin/wasm-opt"
export ESBUILD_BIN="$EDGEHOOK_ROOT/node_modules/@esbuild/linux-x64/bin/esbuild"
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true
export DO_NOT_TRACK=1
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export EDGEHOOK_VENV="$EDGEHOOK_ROOT/.venv"

# Prints a step header so long runs show where they are.
step() { printf '\n==> %s\n' "$*"; }
