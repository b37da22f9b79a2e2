#!/usr/bin/env bash
# Starts Kiln locally: platform on http://localhost:$PORT, apps on http://<slug>.localhost:$PORT.
# State (D1, KV, R2) persists in .wrangler/state between runs.
#
# DEPLOY_TARGET=cloudflare deploys apps through Cloudflare's REST API instead, here the local
# Cloudflare API double (tests/cloudflare-double) on http://127.0.0.1:$CF_API_PORT (default 8788):
# it is started first in its own process group and stopped with the rest; the platform and the
# double share a generated API token (CLOUDFLARE_API_TOKEN in the git-ignored .dev.vars).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
PORT="${PORT:-8787}"
STATE="${KILN_STATE:-.wrangler/state}"
TARGET="${DEPLOY_TARGET:-local}"
case "$TARGET" in
  local | cloudflare) ;;
  *) echo "DEPLOY_TARGET must be local or cloudflare, not '$TARGET'" >&2; exit 2 ;;
esac
DEPLOY_TARGET="$TARGET" scripts/secrets.sh
wrangler d1 migrations apply DB --local --persist-to "$STATE" >/dev/null

DISPATCH_CONFIG=dispatch/wrangler.toml
TARGET_VARS=()
if [ "$TARGET" = cloudflare ]; then
  CF_API_PORT="${CF_API_PORT:-8788}"
  mkdir -p "$STATE/cloudflare-double"
  # Absolute: wrangler reads a relative --env-file from the config's folder, not from here.
  double_dir="$(cd "$STATE/cloudflare-double" && pwd)"
  dev_var() { sed -n "s/^$1=//p" .dev.vars | tail -n 1; }
  (umask 077 && printf 'CLOUDFLARE_API_TOKEN=%s\nCLOUDFLARE_ACCOUNT_ID=%s\n' \
    "$(dev_var CLOUDFLARE_API_TOKEN)" "$(dev_var CLOUDFLARE_ACCOUNT_ID)" > "$double_dir/double.env")
  # Its own process group (setsid), so Ctrl-C reaches it only through the trap below.
  setsid wrangler dev -c tests/cloudflare-double/wrangler.toml --ip 127.0.0.1 --port "$CF_API_PORT" \
    --persist-to "$double_dir/state" --env-file "$double_dir/double.env" \
    > "$double_dir/wrangler.log" 2>&1 < /dev/null &
  double_pgid=$!
  stop_double() {
    kill -TERM -- "-$double_pgid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do kill -0 -- "-$double_pgid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL -- "-$double_pgid" 2>/dev/null || true
  }
  trap stop_double EXIT
  trap 'exit 130' INT TERM
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$CF_API_PORT/__double/health" >/dev/null && break
    kill -0 "$double_pgid" 2>/dev/null || { tail -n 40 "$double_dir/wrangler.log" >&2; echo "the Cloudflare API double did not start" >&2; exit 1; }
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$CF_API_PORT/__double/health" >/dev/null ||
    { tail -n 40 "$double_dir/wrangler.log" >&2; echo "the Cloudflare API double did not answer within 60 s" >&2; exit 1; }
  # `wrangler dev` hands --var to the first Worker only: the dispatch Worker's settings go into a
  # git-ignored copy of its config.
  DISPATCH_CONFIG=dispatch/wrangler.dev.toml
  sed "s|^\[vars\]$|[vars]\nDEPLOY_TARGET = \"cloudflare\"\nDISPATCH_EMULATION_URL = \"http://127.0.0.1:$CF_API_PORT/__double/dispatch\"|" \
    dispatch/wrangler.toml > "$DISPATCH_CONFIG"
  TARGET_VARS=(--var DEPLOY_TARGET:cloudflare --var "CLOUDFLARE_API_BASE:http://127.0.0.1:$CF_API_PORT/client/v4")
  echo "Kiln: deploying to Cloudflare's REST API at the local double http://127.0.0.1:$CF_API_PORT/client/v4 (calls: /__double/calls)"
fi

echo "Kiln: platform http://localhost:$PORT   apps http://<slug>.localhost:$PORT"
# Local receivers (127.0.0.1, localhost) are private targets: allowed for development only.
# --test-scheduled: the stall watchdog's cron runs on a request to /__scheduled (docs/adr/0018).
wrangler dev -c wrangler.toml -c "$DISPATCH_CONFIG" --test-scheduled --persist-to "$STATE" --port "$PORT" \
  --var ALLOW_PRIVATE_WEBHOOKS:1 "${TARGET_VARS[@]}"
