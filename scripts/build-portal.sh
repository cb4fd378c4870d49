#!/usr/bin/env bash
# Builds the customer portal page into portal/dist/ (type check with tsc, bundle
# with esbuild), skipping the build when no source that goes into it changed
# since the last one. Needs only the npm devDependencies that setup.sh installs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$EDGEHOOK_ROOT"

stamp=portal/.build-sources-sha256
sources_sum=$(find portal -type f -not -path 'portal/dist/*' -not -path "$stamp" -print0 \
  | sort -z | xargs -0 sha256sum | cat - package-lock.json | sha256sum | cut -d' ' -f1)
if [ -f portal/dist/index.html ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sources_sum" ]; then
  echo "portal build is up to date"
  exit 0
fi
step "portal: tsc + esbuild"
tsc -p portal
node portal/build.mjs
echo "$sources_sum" > "$stamp"
