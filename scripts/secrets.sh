#!/usr/bin/env bash
# Writes local secrets on first run into git-ignored .dev.vars files; never overwrites them.
# With DEPLOY_TARGET=cloudflare also the local Cloudflare account the platform and the Cloudflare
# API double share: CLOUDFLARE_API_TOKEN (a random token the double accepts) and
# CLOUDFLARE_ACCOUNT_ID.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
has() { [ -s .dev.vars ] && grep -q "^$1=" .dev.vars; }
if ! has AUTH_SECRET; then
  printf 'AUTH_SECRET=%s\n' "$(random_hex 32)" >> .dev.vars
  echo "wrote a new local AUTH_SECRET to .dev.vars"
fi
if [ "${DEPLOY_TARGET:-local}" = cloudflare ]; then
  if ! has CLOUDFLARE_API_TOKEN; then
    printf 'CLOUDFLARE_API_TOKEN=%s\n' "$(random_hex 20)" >> .dev.vars
    echo "wrote a new local CLOUDFLARE_API_TOKEN (for the Cloudflare API double) to .dev.vars"
  fi
  if ! has CLOUDFLARE_ACCOUNT_ID; then
    printf 'CLOUDFLARE_ACCOUNT_ID=%s\n' "$(random_hex 16)" >> .dev.vars
  fi
fi
