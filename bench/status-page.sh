#!/usr/bin/env bash
# Render time of the status page (GET /admin/) with 100,000 entries and 3,000 Engagement callers
# (issue 28: under 50 ms). Debug build, as the tests are: a release build is faster still.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
swift build --build-tests >/dev/null
STATUS_PAGE_BENCH=1 swift test --skip-build --filter StatusPageRenderBenchmark 2>&1 | grep "status page"
