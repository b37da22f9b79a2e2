#!/usr/bin/env bash
# Starts Kiln locally: platform on http://localhost:$PORT, apps on http://<slug>.localhost:$PORT.
# State (D1, KV, R2) persists in .wrangler/state between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
PORT="${PORT:-8787}"
STATE="${KILN_STATE:-.wrangler/state}"
scripts/secrets.sh
wrangler d1 migrations apply DB --local --persist-to "$STATE" >/dev/null
echo "Kiln: platform http://localhost:$PORT   apps http://<slug>.localhost:$PORT"
# Local receivers (127.0.0.1, localhost) are private targets: allowed for development only.
exec wrangler dev -c wrangler.toml -c dispatch/wrangler.toml --test-scheduled --persist-to "$STATE" --port "$PORT" \
  --var ALLOW_PRIVATE_WEBHOOKS:1
