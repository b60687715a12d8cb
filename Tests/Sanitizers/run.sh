#!/usr/bin/env bash
# The whole `swift test` suite under a sanitizer: Tests/Sanitizers/run.sh address|thread
# Builds into .build/sanitize-KIND (the normal build is untouched). The binaries the end-to-end
# tests start are sanitized too; their reports go to stderr and fail the run via the exit status.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/opt/swift/usr/bin"
kind=${1:?address or thread}
here=$PWD/Tests/Sanitizers
# Tests that measure RSS skip that one assertion: ASan's quarantine and shadow memory are not ours.
export STUDIOGATE_SANITIZER=$kind
case "$kind" in
  # Leaks are checked in the gateway and mock binaries (every end-to-end test ends them with
  # SIGTERM/exit, which runs LeakSanitizer). The XCTest runner is checked for memory errors
  # only: its leak report is dominated by Swift weak-reference false positives from Foundation
  # and XCTest (see lsan.supp); the in-process servers it runs were checked while fixing them.
  address) export ASAN_OPTIONS="detect_leaks=0" STUDIOGATE_BINARY_ASAN_OPTIONS="detect_leaks=1:exitcode=23" \
             LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0" ;;
  thread) export TSAN_OPTIONS="halt_on_error=0:exitcode=66" ;;  # no suppressions needed
  *) echo "unknown sanitizer $kind" >&2; exit 2 ;;
esac
swift build --build-tests --sanitize="$kind" --build-path ".build/sanitize-$kind"
log=".build/sanitize-$kind.log"
set +e
swift test --skip-build --sanitize="$kind" --build-path ".build/sanitize-$kind" >"$log" 2>&1
status=$?
set -e
# A binary's sanitizer report does not always fail a test (most are stopped with SIGTERM and
# their exit status is not asserted), so any report fails the run.
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer" "$log"; then [ "$status" != 0 ] || status=1; fi
grep -E "error:|WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer|SUMMARY|Executed [0-9]+ tests" "$log" | sort | uniq -c | sort -rn | head -30
echo "sanitize-$kind: exit $status (full output: $log)"
exit "$status"
