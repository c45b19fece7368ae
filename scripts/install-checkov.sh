#!/usr/bin/env bash
# Install the pinned checkov (the policy checker tests/ecosystem.rs runs on stackctl's and
# Terraform's JSON plans) into a venv outside the clone, once. The venv is where the tests look
# (tests/common/checkov.rs, checkov_path); CHECKOV names another checkov executable and skips the
# install.
set -euo pipefail
version=3.3.30   # keep in step with CHECKOV_VERSION in tests/common/checkov.rs
if [ -n "${CHECKOV:-}" ] && [ -x "$CHECKOV" ]; then
  exit 0
fi
venv="${HOME}/.cache/stackctl/checkov-${version}"
if [ -x "$venv/bin/checkov" ]; then
  exit 0
fi
echo "installing checkov==${version} into ${venv}" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==${version}"
