#!/usr/bin/env bash
# Instructions per cached hit under callgrind (deterministic, for A/B of hit-path changes):
#   bench/instructions.sh [REQUESTS]     (about 20 s; needs valgrind, installed as root if missing)
#   bench/instructions.sh 2000 --fleet l2|store [--no-data-key]   (second-level hits / stored misses;
#   needs redis-server; with and without the key: what sealing costs per hit and per store)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
if ! command -v valgrind >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "instructions: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi
swift build -c release --product studiogate >/dev/null
swift build -c release --product mock-studio >/dev/null
# Valgrind 3.19 cannot read the DWARF 5 that Swift emits: measure a copy without debug info.
copy=.build/instructions
mkdir -p "$copy"
cp .build/release/studiogate .build/release/mock-studio "$copy/"
strip --strip-debug "$copy/studiogate"
exec python3 bench/instructions.py "$copy" "$@"
