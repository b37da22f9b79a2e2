#!/usr/bin/env bash
# Installs everything Kiln needs to build and run, and nothing that is already there.
# Idempotent: on a machine that has it all, it finishes in about a second.
#   - the wasm32 target (rust-toolchain.toml names it; rustup adds it on first use)
#   - worker-build 0.8.7 and wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock
#   - wrangler and esbuild from package-lock.json (npm ci)
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

command -v cargo >/dev/null || { echo "error: cargo not found; install Rust with rustup first" >&2; exit 1; }
command -v npm >/dev/null || { echo "error: npm not found; install Node.js 20 first" >&2; exit 1; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

# The wasm-bindgen CLI must match the library exactly; Cargo.lock is the source of truth.
BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$BINDGEN_VERSION" ] || { echo "error: wasm-bindgen not found in Cargo.lock" >&2; exit 1; }

if [ "$("$CARGO_BIN/worker-build" --version 2>/dev/null || true)" != "$WORKER_BUILD_VERSION" ]; then
  echo "installing worker-build $WORKER_BUILD_VERSION (one time, a few minutes)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --force
fi
if [ "$("$CARGO_BIN/wasm-bindgen" --version 2>/dev/null || true)" != "wasm-bindgen $BINDGEN_VERSION" ]; then
  echo "installing wasm-bindgen-cli $BINDGEN_VERSION (one time, a few minutes)"
  # --locked fails against this registry mirror (a locked transitive version is missing).
  cargo install wasm-bindgen-cli --version "$BINDGEN_VERSION" --force
fi

# npm ci only when node_modules is missing or was installed from another lock file.
if ! cmp -s package-lock.json node_modules/.kiln-installed-lock 2>/dev/null; then
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.kiln-installed-lock
fi
