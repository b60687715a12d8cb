#!/usr/bin/env bash
# Builds and runs one libFuzzer target for SECONDS: Tests/Fuzz/run.sh TARGET SECONDS
# TARGET: http-parser | chunked | json-rewriter | engagement | request-target | resp-parser | upstream-field.
# Crashes land in .build/fuzz/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/opt/swift/usr/bin"
target=${1:?target} seconds=${2:?seconds}
case "$target" in
  http-parser) sources=(Sources/HTTP/*.swift Tests/Fuzz/HTTPParserFuzz.swift) ;;
  chunked) sources=(Sources/HTTP/*.swift Tests/Fuzz/ChunkedFuzz.swift) ;;
  json-rewriter) sources=(Sources/HTTP/*.swift Sources/Studio/*.swift Tests/Fuzz/FuzzSupport.swift Tests/Fuzz/JSONRewriterFuzz.swift) ;;
  engagement) sources=(Sources/HTTP/*.swift Sources/Studio/*.swift Tests/Fuzz/FuzzSupport.swift Tests/Fuzz/EngagementFuzz.swift) ;;
  request-target) sources=(Sources/HTTP/*.swift Sources/Studio/*.swift Tests/Fuzz/RequestTargetFuzz.swift) ;;
  upstream-field) sources=(Sources/HTTP/*.swift Tests/Fuzz/UpstreamFieldFuzz.swift) ;;
  resp-parser) sources=(Sources/Redis/RESP*.swift Sources/Redis/RedisCommand.swift Tests/Fuzz/RESPParserFuzz.swift) ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
out=.build/fuzz/$target
mkdir -p "$out/corpus"
cp -n Tests/Fuzz/corpus/$target/* "$out/corpus/" 2>/dev/null || true
# One module: the targets' own imports of each other (Studio imports HTTP) are dropped.
rm -rf "$out/src" && mkdir -p "$out/src"
for source in "${sources[@]}"; do sed '/^import HTTP$/d' "$source" >"$out/src/$(basename "$source")"; done
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name Fuzzed "$out"/src/*.swift -o "$out/fuzzer"
cd "$out"
# Leak detection stays on (ASan's default); -rss_limit guards the machine.
# The Swift runtime's own crash backtracer is off: libFuzzer reports the crash and saves the input
# (with it on, a crashing run could hang after the report).
set +e
SWIFT_BACKTRACE=enable=no ./fuzzer -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="./" corpus >run.log 2>&1
status=$?
set -e
grep -E "ERROR|SUMMARY|Test unit written|^stat::|Done [0-9]+ runs" run.log | tail -15
echo "fuzz $target: exit $status after $seconds s (full output: $out/run.log)"
exit "$status"
