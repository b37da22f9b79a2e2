#!/usr/bin/env bash
# Provisions a Cloudflare account for Kiln and deploys both Workers (README: "Deploying to
# Cloudflare"). Every step is idempotent: what exists is found and kept, so running it again
# only redeploys.
#
#   CLOUDFLARE_ACCOUNT_ID=… CLOUDFLARE_API_TOKEN=… KILN_APPS_DOMAIN=apps.example.com scripts/deploy.sh
#   scripts/deploy.sh --dry-run      # no account needed: builds both Workers for deployment
#
# Environment:
#   CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN   wrangler's credentials (the token needs D1, KV, R2,
#                                                 Queues, Workers Scripts and Workers for Platforms: edit)
#   KILN_APPS_DOMAIN         apps are served at <slug>.<KILN_APPS_DOMAIN>
#   KILN_APPS_API_TOKEN      the token the platform uses to deploy apps (default: CLOUDFLARE_API_TOKEN)
#   DISPATCH_NAMESPACE       default kiln-apps
#   AUTH_SECRET, OPERATOR_TOKEN   set only when given, or (AUTH_SECRET) when not set yet: generated
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

DRY_RUN=0
[[ "${1:-}" == "--dry-run" ]] && DRY_RUN=1
NAMESPACE="${DISPATCH_NAMESPACE:-kiln-apps}"
OUT=target/deploy

say() { printf '\n==> %s\n' "$*"; }

if [[ $DRY_RUN == 1 ]]; then
  say "dry run: production configs with placeholder ids, then wrangler deploy --dry-run for both Workers"
  KILN_D1_ID=00000000-0000-4000-8000-000000000000 KILN_KV_ID=00000000000000000000000000000000 \
    KILN_ACCOUNT_ID=dry-run KILN_APPS_DOMAIN="${KILN_APPS_DOMAIN:-apps.example.com}" \
    KILN_DISPATCH_NAMESPACE="$NAMESPACE" node scripts/deploy-config.mjs
  rm -rf "$OUT"
  (cd dispatch && wrangler deploy --dry-run --outdir "../$OUT/dispatch" -c wrangler.production.toml)
  wrangler deploy --dry-run --outdir "$OUT/platform" -c wrangler.production.toml
  for w in dispatch platform; do
    [[ -s "$OUT/$w/entry.js" ]] && compgen -G "$OUT/$w/*.wasm" >/dev/null \
      || { echo "deploy dry run: $OUT/$w has no entry.js and .wasm" >&2; exit 1; }
  done
  echo "deploy dry run: both Workers build for deployment ($OUT/dispatch, $OUT/platform)"
  exit 0
fi

: "${CLOUDFLARE_ACCOUNT_ID:?set CLOUDFLARE_ACCOUNT_ID}"
: "${CLOUDFLARE_API_TOKEN:?set CLOUDFLARE_API_TOKEN (wrangler uses it)}"
: "${KILN_APPS_DOMAIN:?set KILN_APPS_DOMAIN (apps are served at <slug>.KILN_APPS_DOMAIN)}"

json_field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const [k,v,f]=process.argv.slice(1);const m=JSON.parse(s).find(x=>x[k]===v);if(m)console.log(m[f])})' "$@"; }

say "1. D1 database 'kiln' (the platform's projections)"
D1_ID=$(wrangler d1 list --json | json_field name kiln uuid)
if [[ -z "$D1_ID" ]]; then
  wrangler d1 create kiln >/dev/null
  D1_ID=$(wrangler d1 list --json | json_field name kiln uuid)
fi
echo "kiln: $D1_ID"

say "2. KV namespace 'kiln-SESSIONS'"
KV_ID=$(wrangler kv namespace list | json_field title kiln-SESSIONS id)
if [[ -z "$KV_ID" ]]; then
  wrangler kv namespace create SESSIONS >/dev/null
  KV_ID=$(wrangler kv namespace list | json_field title kiln-SESSIONS id)
fi
echo "kiln-SESSIONS: $KV_ID"

say "3. R2 bucket 'kiln-store' (event log, code store, live pointers)"
wrangler r2 bucket info kiln-store >/dev/null 2>&1 || wrangler r2 bucket create kiln-store

say "4. Queues and their dead-letter queues"
for q in kiln-builds kiln-builds-dlq kiln-teardown kiln-teardown-dlq kiln-webhooks kiln-webhooks-dlq kiln-rebuild; do
  wrangler queues info "$q" >/dev/null 2>&1 || wrangler queues create "$q"
done

say "5. Dispatch namespace '$NAMESPACE' (Workers for Platforms: one script per app version)"
wrangler dispatch-namespace get "$NAMESPACE" >/dev/null 2>&1 || wrangler dispatch-namespace create "$NAMESPACE"

say "6. Production configs"
KILN_D1_ID="$D1_ID" KILN_KV_ID="$KV_ID" KILN_ACCOUNT_ID="$CLOUDFLARE_ACCOUNT_ID" \
  KILN_APPS_DOMAIN="$KILN_APPS_DOMAIN" KILN_DISPATCH_NAMESPACE="$NAMESPACE" node scripts/deploy-config.mjs

say "7. Platform migrations"
wrangler d1 migrations apply DB --remote -c wrangler.production.toml

say "8. Both Workers (dispatch first: the platform binds to it)"
make build
(cd dispatch && wrangler deploy -c wrangler.production.toml)
wrangler deploy -c wrangler.production.toml

say "9. Secrets (set once; given values replace them)"
existing=$(wrangler secret list -c wrangler.production.toml --format json 2>/dev/null || echo "[]")
has() { echo "$existing" | json_field name "$1" name | grep -q .; }
put() { printf '%s' "$2" | wrangler secret put "$1" -c wrangler.production.toml >/dev/null && echo "set $1"; }
if [[ -n "${AUTH_SECRET:-}" ]]; then put AUTH_SECRET "$AUTH_SECRET"
elif ! has AUTH_SECRET; then put AUTH_SECRET "$(node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))')"; fi
[[ -n "${OPERATOR_TOKEN:-}" ]] && put OPERATOR_TOKEN "$OPERATOR_TOKEN"
if [[ -n "${KILN_APPS_API_TOKEN:-}" ]]; then put CLOUDFLARE_API_TOKEN "$KILN_APPS_API_TOKEN"
elif ! has CLOUDFLARE_API_TOKEN; then put CLOUDFLARE_API_TOKEN "$CLOUDFLARE_API_TOKEN"; fi

say "done: route the platform host to 'kiln' and *.$KILN_APPS_DOMAIN to 'kiln-dispatch'"
