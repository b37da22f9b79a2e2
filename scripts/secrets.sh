#!/usr/bin/env bash
# Writes local secrets on first run into git-ignored .dev.vars files; never overwrites them.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077
if [ ! -s .dev.vars ] || ! grep -q '^AUTH_SECRET=' .dev.vars; then
  printf 'AUTH_SECRET=%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >> .dev.vars
  echo "wrote a new local AUTH_SECRET to .dev.vars"
fi
