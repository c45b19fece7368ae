#!/usr/bin/env bash
# Install the pinned moto server (the local AWS emulator) into a venv outside the clone, once.
# The venv is where the test kit looks (modules/testkit/src/lib.rs, moto_server_path);
# MOTO_SERVER names another moto_server executable and skips the install.
set -euo pipefail
version=5.2.5   # keep in step with MOTO_VERSION in modules/testkit/src/lib.rs
if [ -n "${MOTO_SERVER:-}" ] && [ -x "$MOTO_SERVER" ]; then
  exit 0
fi
venv="${HOME}/.cache/stackctl/moto-${version}"
if [ -x "$venv/bin/moto_server" ]; then
  exit 0
fi
echo "installing moto[server]==${version} into ${venv}" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==${version}"
