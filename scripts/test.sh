#!/usr/bin/env bash
# The whole test suite: installs the pinned moto emulator if needed, then runs every test.
# Tests start their own moto servers on loopback; nothing leaves this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-moto.sh
# A target directory outside the clone, shared by every clone (see scripts/target-dir.sh).
. scripts/target-dir.sh
echo "cargo target directory: $CARGO_TARGET_DIR" >&2
cargo test --workspace --locked "$@"
