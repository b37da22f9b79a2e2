#!/usr/bin/env bash
# Copies the front-end libraries every generated app serves itself (no CDN at run time) from
# node_modules (versions pinned in package.json) into prompts/runtime/vendor/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=prompts/runtime/vendor
mkdir -p "$out"
cp node_modules/preact/dist/preact.module.js "$out/preact.mjs"
sed 's/from"preact"/from"\.\/preact.mjs"/' node_modules/preact/hooks/dist/hooks.module.js > "$out/hooks.mjs"
cp node_modules/htm/dist/htm.module.js "$out/htm.mjs"
{ echo "preact $(node -p 'require("./node_modules/preact/package.json").version') (MIT):"; cat node_modules/preact/LICENSE; echo; echo "htm $(node -p 'require("./node_modules/htm/package.json").version') (Apache-2.0):"; head -20 node_modules/htm/LICENSE; } > "$out/LICENSES.txt"
