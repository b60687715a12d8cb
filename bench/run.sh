#!/usr/bin/env bash
# The whole benchmark, side by side in one run (about 6 minutes): bench/run.sh [--smoke]
# Installs wrk and nginx from Debian (as root), builds release binaries, writes docs/bench-results.json
# and docs/bench-hit-path.svg. Loopback only; every load is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "bench: needs wrk and nginx (apt-get install wrk nginx-light)" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk nginx-light >/dev/null
fi
venv=.build/bench-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check matplotlib==3.10.7 || echo "bench: matplotlib unavailable, no plot" >&2
fi
swift build -c release --product studiogate >/dev/null
swift build -c release --product mock-studio >/dev/null
out=docs
[ "${1:-}" = "--smoke" ] && out=.build/bench-smoke
exec "$venv/bin/python" bench/bench.py --build .build/release --out "$out" "$@"
