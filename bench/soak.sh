#!/usr/bin/env bash
# 60 s of mixed traffic from 200 connections against a mock with injected faults: bench/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
swift build -c release --product studiogate >/dev/null
swift build -c release --product mock-studio >/dev/null
exec python3 bench/soak.py --build .build/release --seconds "${1:-60}"
