#!/usr/bin/env bash
# Every benchmark scenario for about 2 s, so the harness does not rot (run from .ci/run).
exec "$(dirname "$0")/run.sh" --smoke
