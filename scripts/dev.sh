#!/usr/bin/env bash
# The README's two commands, each doing its own set-up on a Debian machine that has only the Swift
# toolchain:
#   scripts/dev.sh demo [ARGS]   install what the build needs, then swift run studiogate --demo ARGS
#   scripts/dev.sh test [ARGS]   install what the tests need and make the SDK venv, then swift test ARGS
#   scripts/dev.sh setup LEVEL   install only: demo, test or ci (.ci/run's extra tools)
# A plain script rather than make: make is not part of a toolchain-only machine either.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"

# The one list of the system packages the project uses (.ci/run installs through this script too).
# Build: CZlib, COpenSSL (TLS, sealing) and CCurl (the upstream engine) link the system libraries;
# libcurl needs CA certificates for Twilio's HTTPS. A toolchain unpacked from swift.org's tarball
# brings no linker, C runtime or pkg-config: without binutils, gcc (its crtbegin.o and libgcc) and
# libc6-dev not even Package.swift links; without pkg-config the system libraries' flags are guessed
# (found by a clean debootstrapped bookworm with only /opt/swift and its shared libraries).
demo_packages=(binutils gcc libc6-dev pkg-config zlib1g-dev libssl-dev libcurl4-openssl-dev ca-certificates)
# Tests: openssl + nginx for the HTTPS upstream tests (throwaway CA, nginx terminating TLS with
# HTTP/2); redis-server, which the Redis tests start on a loopback port; python3-venv for the twilio
# SDK tests; curl runs the README's and the demo banner's commands; chromium renders the admin
# status page headless (StatusPageBrowserTests).
test_packages=("${demo_packages[@]}" openssl nginx redis-server python3 python3-venv curl chromium)
# CI: wrk for the benchmark smoke run; prometheus (promtool), systemd (systemd-analyze), curl and
# python3-yaml (the PrometheusRule check) for .ci/validate-deploy.sh.
ci_packages=("${test_packages[@]}" wrk prometheus systemd python3-yaml)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Installs what LEVEL needs and is missing: with apt-get when root, else says what to install and
# fails (a missing header would fail the build later with a less helpful message).
setup() {
  local -n wanted="$1_packages"
  if ! command -v dpkg-query >/dev/null; then
    echo "scripts/dev.sh: not a Debian system; make sure these (Debian names) are installed: ${wanted[*]}" >&2
    return 0
  fi
  local missing=()
  for package in "${wanted[@]}"; do installed "$package" || missing+=("$package"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "scripts/dev.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "scripts/dev.sh: missing Debian packages: ${missing[*]}" >&2
    echo "install them as root, e.g.: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    return 1
  fi
}

# STUDIOGATE_DEV_DRY_RUN=1: set up, then print the command instead of running it. For
# DocumentedCommandsTests, which cannot `swift run` from inside `swift test` (the build directory's
# lock is held) and runs the built binary itself.
run() {
  if [ -n "${STUDIOGATE_DEV_DRY_RUN:-}" ]; then echo "$*"; else exec "$@"; fi
}

verb="${1:-}"
shift || true
case "$verb" in
  demo)
    setup demo
    run swift run studiogate --demo "$@"
    ;;
  test)
    setup test
    # The SDK tests run from venvs (PyPI), made here so the test run itself needs no network.
    bash Tests/python/setup-venv.sh >/dev/null
    # twilio-python 6.63, the last SDK with the v1 Engagement API (EngagementSDK6Tests).
    bash Tests/python/setup-venv-sdk6.sh >/dev/null
    run swift test "$@"
    ;;
  setup)
    case "${1:-}" in
      demo | test | ci) setup "$1" ;;
      *) echo "usage: scripts/dev.sh setup demo|test|ci" >&2; exit 2 ;;
    esac
    ;;
  *)
    echo "usage: scripts/dev.sh demo|test [ARGS] | setup demo|test|ci" >&2
    exit 2
    ;;
esac
