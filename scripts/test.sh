#!/usr/bin/env bash
# All tests: type check, lint (with the layer rule), Vitest (unit + GPU on the local adapter), Playwright (web mode
# in Debian's Chromium, when present). Ends with one line `N passed, N failed` summing every check and test.
set -uo pipefail
cd "$(dirname "$0")/.."
results=$(mktemp -d)
passed=0; failed=0
check() { # name, command...
  local name=$1; shift
  echo "== $name"
  if "$@"; then passed=$((passed + 1)); else echo "FAILED: $name"; failed=$((failed + 1)); fi
}
check "typecheck (node side)" npx tsc -p tsconfig.json
if [ -f renderer/tsconfig.json ]; then check "typecheck (renderer)" npx vue-tsc -p renderer/tsconfig.json --noEmit; fi
check "lint" npx eslint .

echo "== vitest"
npx vitest run --reporter=default --reporter=json --outputFile="$results/vitest.json"
vrc=$?
if [ -s "$results/vitest.json" ]; then
  read -r vp vf < <(node -e 'const r=require(process.argv[1]); console.log(r.numPassedTests, r.numFailedTests + (r.numRuntimeErrorTestSuites||0))' "$results/vitest.json")
  passed=$((passed + vp)); failed=$((failed + vf))
  [ "$vrc" -ne 0 ] && [ "$vf" -eq 0 ] && failed=$((failed + 1))
else
  echo "vitest wrote no report"; failed=$((failed + 1))
fi

if [ -f playwright.config.ts ]; then
  echo "== playwright"
  PLAYWRIGHT_JSON_OUTPUT_NAME="$results/pw.json" npx playwright test --reporter=list,json
  prc=$?
  if [ -s "$results/pw.json" ]; then
    read -r pp pf < <(node -e 'const r=require(process.argv[1]); const s=r.stats; console.log(s.expected + (s.flaky||0), s.unexpected)' "$results/pw.json")
    passed=$((passed + pp)); failed=$((failed + pf))
    [ "$prc" -ne 0 ] && [ "$pf" -eq 0 ] && failed=$((failed + 1))
  else
    echo "playwright wrote no report"; failed=$((failed + 1))
  fi
fi
rm -rf "$results"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
