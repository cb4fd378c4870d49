#!/usr/bin/env bash
# Runs edgehook locally: installs what is missing, builds the worker, applies
# the D1 migrations, starts `wrangler dev` on 127.0.0.1:8787 with local D1, KV
# and Durable Objects, seeds a demo organization with a user holding every
# permission and a fresh API key, prints ready-to-paste `export` lines for the
# README's walk-through, and starts the demo: a receiver with a page that
# verifies each webhook in the browser, subscribed to every event type.
# Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$EDGEHOOK_ROOT"

PORT="${EDGEHOOK_PORT:-8787}"
DEMO_PORT="${EDGEHOOK_DEMO_PORT:-8790}"
STATE=.wrangler/state
BASE="http://127.0.0.1:$PORT"

bash scripts/setup.sh
bash scripts/build-worker.sh
[ -f pkg/dist/index.mjs ] || bash scripts/build-sdk.sh

# Local secrets, made once: the operator token and the JWT signing key.
if [ ! -f .dev.vars ]; then
  step "writing .dev.vars (local secrets)"
  {
    echo "EDGEHOOK_ADMIN_TOKEN=adm_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "EDGEHOOK_JWT_SECRET=jwt_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "EDGEHOOK_ALLOW_LOOPBACK_DESTINATIONS=true"
  } > .dev.vars
fi
ADMIN_TOKEN=$(sed -n 's/^EDGEHOOK_ADMIN_TOKEN=//p' .dev.vars)

step "applying D1 migrations (local)"
npx wrangler d1 migrations apply DB --local --persist-to "$STATE" 2>&1 | grep -E "✅|No migrations" || true

pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

step "starting wrangler dev on $BASE"
# Portal session URLs start with this address (EDGEHOOK_PUBLIC_URL), never with a caller's Host.
setsid npx wrangler dev --ip 127.0.0.1 --port "$PORT" --persist-to "$STATE" --test-scheduled \
  --var "EDGEHOOK_PUBLIC_URL:$BASE" </dev/null > .wrangler/dev.log 2>&1 &
pids+=($!)
# Ready once GET /healthz answers 200; a 503 from it names each setting to fix.
health=.wrangler/healthz.json
for _ in $(seq 1 240); do
  code=$(curl -s -o "$health" -w '%{http_code}' "$BASE/healthz" || true)
  [ "$code" = 200 ] && break
  if [ "$code" = 503 ] && grep -q misconfigured "$health"; then
    echo "edgehook is misconfigured (settings in wrangler.toml, secrets in .dev.vars):" >&2
    cat "$health" >&2; echo >&2
    exit 1
  fi
  kill -0 "${pids[0]}" 2>/dev/null || { tail -30 .wrangler/dev.log; exit 1; }
  sleep 0.25
done
[ "$code" = 200 ] || { tail -30 .wrangler/dev.log; exit 1; }

step "seeding the demo organization"
eval "$("$EDGEHOOK_VENV/bin/python" scripts/seed_demo.py "$BASE" "$ADMIN_TOKEN" "http://127.0.0.1:$DEMO_PORT/webhook")"

if [ -f demo/receiver.mjs ]; then
  EDGEHOOK_DEMO_PORT="$DEMO_PORT" EDGEHOOK_DEMO_SECRET="$DEMO_SECRET" setsid node demo/receiver.mjs > .wrangler/demo.log 2>&1 &
  pids+=($!)
  for _ in $(seq 1 40); do curl -fs -o /dev/null "http://127.0.0.1:$DEMO_PORT/" && break; sleep 0.25; done
  # A first event, so the demo page has something to verify.
  curl -fs -o /dev/null -X POST "$BASE/v1/$ORG_ID/webhook_event/" -H "Authorization: Bearer $ID_TOKEN" \
    -H 'content-type: application/json' \
    -d "{\"type\":\"conversation-post-processing-complete\",\"post_processing_type\":\"generate-tasks\",\"conversation_id\":\"demo-1\",\"org_id\":\"$ORG_ID\"}" || true
fi

DEMO="http://127.0.0.1:$DEMO_PORT"
cat <<EOT

edgehook is running on $BASE  (log: .wrangler/dev.log)

  organization  $ORG_ID
  user          $USER_ID
  API key id    $API_KEY_ID
  API key       $API_KEY      (shown once; a new one is made at each start)

Paste these into your shell for the README's walk-through ("Five minutes with curl"):

  export B=$BASE ORG=$ORG_ID USER_ID=$USER_ID DEMO=$DEMO
  export API_KEY_ID=$API_KEY_ID API_KEY=$API_KEY

Then sign in and call the API:

  TOKEN=\$(curl -s -X POST \$B/v1/\$ORG/user/signin_with_api_key \\
      -H "x-api-key: \$API_KEY" -H "x-api-key-id: \$API_KEY_ID" -H "x-user-id: \$USER_ID" \\
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id_token"])')
  curl -s \$B/v1/\$ORG/webhook_destination/ -H "Authorization: Bearer \$TOKEN"

Demo: open $DEMO/ — webhooks to the demo destination ($DEMO_DESTINATION)
appear there and are verified in the browser (another destination's too,
once its secret is posted to $DEMO/secrets, as the walk-through does).
Publish one:

  curl -s -X POST \$B/v1/\$ORG/webhook_event/ -H "Authorization: Bearer \$TOKEN" \\
      -H 'content-type: application/json' \\
      -d '{"type":"agent-framework-resource-updated","org_id":"$ORG_ID","resource_type":"agent","resource_id":"a1","updated_at":"2026-01-01T00:00:00Z"}'

Customer portal of the demo organization (a 24-hour session; the token is in
the fragment, which never reaches a server):

  $PORTAL_URL

OpenAPI: $BASE/openapi.json    Operator token: in .dev.vars    Stop: Ctrl-C
EOT

wait "${pids[0]}"
