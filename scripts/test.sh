#!/usr/bin/env bash
# The whole test suite: installs the pinned moto emulator if needed, then runs every test.
# Tests start their own moto servers on loopback; nothing leaves this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-moto.sh
# Reuse a target directory outside the clone when one exists, so a fresh clone (CI) does not
# rebuild the AWS SDK crates from scratch.
if [ -z "${CARGO_TARGET_DIR:-}" ] && [ -d /work/target ]; then
  export CARGO_TARGET_DIR=/work/target
fi
cargo test --workspace --locked "$@"
