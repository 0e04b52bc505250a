#!/usr/bin/env bash
# Every test: typecheck, site build, unit and browser tests (Vitest, with a real
# pty, WebSocket, containerd and Chromium), then every lab's own checkpoints.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
mkdir -p test-results

echo "== typecheck"
# A clean checkout has no .astro/ yet: generate the astro:content and env types first.
astro sync >/dev/null
tsc --noEmit
echo "== site build"
astro build --silent
echo "== vitest"
status=0
vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json || status=$?
echo "== labs"
lab_status=0
# Every lab in the default driver (the sandbox where the kernel allows it), then in host-namespaces, still an option.
npm run --silent lab:test || lab_status=$?
npm run --silent lab:test -- --driver host-namespaces || lab_status=$?
node scripts/test-summary.ts test-results/vitest.json "$lab_status"
exit $(( status || lab_status ))
