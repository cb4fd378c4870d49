#!/usr/bin/env bash
# Builds the worker's wasm and JS glue into worker/build/ with worker-build,
# skipping the build when no source that goes into it changed since the last one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$EDGEHOOK_ROOT"

# The portal page (portal/dist), which the worker embeds.
bash scripts/build-portal.sh

sources_sum=$( (find Cargo.toml Cargo.lock core worker sdk-wasm -type f \
  \( -name '*.rs' -o -name 'Cargo.toml' -o -name '*.json' -o -name 'Cargo.lock' \) \
  -not -path '*/build/*' -not -path '*/pkg/*' -not -path '*/node_modules/*' -print0; \
  find portal/dist -type f -print0) \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
stamp=worker/build/.sources-sha256
if [ -f worker/build/index.js ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sources_sum" ]; then
  echo "worker build is up to date"
  exit 0
fi
step "worker-build --release"
(cd worker && worker-build --release)
echo "$sources_sum" > "$stamp"
ls -l worker/build/index_bg.wasm | awk '{printf "worker wasm: %d bytes raw, ", $5}'
gzip -9c worker/build/index_bg.wasm | wc -c | awk '{printf "%d bytes gzip\n", $1}'
