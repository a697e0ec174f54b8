#!/usr/bin/env bash
# `npm test` and `npm run test:fast` run this first (their `pre` scripts), so an edit never runs
# stale compiled tests. The TypeScript is always compiled (tsc, ~20 s); the native addon is
# rebuilt only when native/pmem.node is missing or older than a Rust source or Cargo file,
# because a release cargo build costs minutes and the addon rarely changes.
set -euo pipefail
cd "$(dirname "$0")/.."
addon=native/pmem.node
if [ ! -f "$addon" ] || [ -n "$(find native Cargo.toml Cargo.lock -newer "$addon" \
  \( -name '*.rs' -o -name 'Cargo.*' \) -print -quit)" ]; then
  echo "build-stale: native/pmem.node missing or older than its sources: rebuilding"
  npm run build:native
fi
npx tsc -p tsconfig.json
