#!/bin/sh
# Sum the per-test results Automake's TAP driver recorded in the .trs files
# and print the last line of `make check`: "N passed, N failed".
passed=0 failed=0 skipped=0
for trs in "$@"; do
  [ -f "$trs" ] || { failed=$((failed + 1)); continue; }
  p=$(grep -c '^:test-result: \(PASS\|XFAIL\)' "$trs")
  f=$(grep -c '^:test-result: \(FAIL\|XPASS\|ERROR\)' "$trs")
  s=$(grep -c '^:test-result: SKIP' "$trs")
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
[ "$skipped" -eq 0 ] || echo "$skipped skipped"
echo "$passed passed, $failed failed"
