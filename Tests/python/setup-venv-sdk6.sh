#!/usr/bin/env bash
# Creates the venv of the Engagement SDK check (.build/sdk-venv-6, twilio-python 6.63) from
# Tests/python/requirements-sdk6.txt; apart from the 9.x venv, since one venv holds one twilio.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.build/sdk-venv-6
if [ ! -x "$venv/bin/python" ] || ! cmp -s Tests/python/requirements-sdk6.txt "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r Tests/python/requirements-sdk6.txt
  cp Tests/python/requirements-sdk6.txt "$venv/requirements.txt"
fi
echo "$venv/bin/python"
