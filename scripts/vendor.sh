#!/usr/bin/env bash
# Copies the front-end libraries every generated app serves itself (no CDN at run time) from
# node_modules (versions pinned in package.json) into prompts/runtime/vendor/:
#   preact/dist/preact.module.js        -> preact.mjs
#   preact/hooks/dist/hooks.module.js   -> hooks.mjs   (its `from"preact"` becomes `from"./preact.mjs"`,
#                                                       so app code and hooks share one Preact instance)
#   htm/dist/htm.module.js              -> htm.mjs
# plus LICENSES.txt with both license texts. Each copy gets a one-line header naming its version and
# loses its `//# sourceMappingURL=` line (the maps are not shipped). The transformation is checked by
# `cargo test -p scaffold --test offline_vendor`, which fails when the copies and node_modules differ.
# Run after changing the pinned versions:  npm install && scripts/vendor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=prompts/runtime/vendor
mkdir -p "$out"
node - "$out" <<'JS'
const fs = require("fs");
const out = process.argv[2];
const pkg = (name) => JSON.parse(fs.readFileSync(`node_modules/${name}/package.json`, "utf8"));
const vendor = (name, license, source, target, rewrite = (s) => s) => {
  const src = rewrite(fs.readFileSync(source, "utf8"));
  let body = src.split("\n").filter((l) => !l.startsWith("//# sourceMappingURL=")).join("\n");
  if (!body.endsWith("\n")) body += "\n";
  const header = `/* ${name} ${pkg(name).version} (${license}), vendored by scripts/vendor.sh; license text in LICENSES.txt */\n`;
  fs.writeFileSync(`${out}/${target}`, header + body);
};
vendor("preact", "MIT License", "node_modules/preact/dist/preact.module.js", "preact.mjs");
vendor("preact", "MIT License", "node_modules/preact/hooks/dist/hooks.module.js", "hooks.mjs",
  (s) => s.split('from"preact"').join('from"./preact.mjs"'));
vendor("htm", "Apache License 2.0", "node_modules/htm/dist/htm.module.js", "htm.mjs");
const license = (name, title) =>
  `${name} ${pkg(name).version}: ${title}\n\n${fs.readFileSync(`node_modules/${name}/LICENSE`, "utf8").trimEnd()}\n`;
fs.writeFileSync(`${out}/LICENSES.txt`,
  "Third-party code served by every Kiln-generated app under /_kiln/vendor/.\n\n" +
  license("preact", "MIT License") + "\n" + "-".repeat(72) + "\n\n" + license("htm", "Apache License 2.0"));
JS
echo "vendored into $out:" && ls -l "$out"
