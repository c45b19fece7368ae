#!/usr/bin/env bash
# Install the pinned moto server (the local AWS emulator) into a venv outside the clone, once.
set -euo pipefail
version=5.2.5   # keep in step with MOTO_VERSION in modules/testkit/src/lib.rs
venv="${HOME}/.cache/stackctl/moto-${version}"
if [ -x "$venv/bin/moto_server" ]; then
  exit 0
fi
echo "installing moto[server]==${version} into ${venv}" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==${version}"
