#!/usr/bin/env bash
# Prints the gzip size of every JS and CSS file in web/dist and their total: what a first visit
# to the builder downloads (index.html loads them all). Fails when the total passes the budget.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${WEB_BUDGET_BYTES:-153600}
total=0
for f in $(find web/dist -name '*.js' -o -name '*.css' | sort); do
  raw=$(wc -c <"$f")
  gz=$(gzip -9 -c "$f" | wc -c)
  total=$((total + gz))
  printf '%-44s %8d B raw %8d B gzip\n' "$f" "$raw" "$gz"
done
printf '%-44s %8s        %8d B gzip (budget %d B)\n' "total" "" "$total" "$BUDGET"
[ "$total" -le "$BUDGET" ] || { echo "error: the builder's first load is over budget" >&2; exit 1; }
