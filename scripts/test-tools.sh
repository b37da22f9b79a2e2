#!/usr/bin/env bash
# Installs the tools `make test` drives from outside Rust, and nothing that is already there:
#   - schemathesis (PyPI, pinned) in .tools/venv, which fuzzes the API from its OpenAPI description.
# Idempotent: on a machine that has them, it finishes in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=.tools/venv

if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null || true)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  command -v python3 >/dev/null || { echo "error: python3 not found; install Python 3.9+ first" >&2; exit 1; }
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV (one time)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
