#!/usr/bin/env bash
# Creates the venv the SDK tests use (.build/sdk-venv) from Tests/python/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.build/sdk-venv
if [ ! -x "$venv/bin/python" ] || ! cmp -s Tests/python/requirements.txt "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r Tests/python/requirements.txt
  cp Tests/python/requirements.txt "$venv/requirements.txt"
fi
echo "$venv/bin/python"
