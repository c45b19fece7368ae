#!/usr/bin/env bash
# The whole test suite: installs the pinned moto emulator and checkov if needed, then runs every
# test. Tests start their own moto servers on loopback; nothing leaves this machine.
# Arguments go to `cargo test` (`scripts/test.sh --test backend -- init`); with none, the suite
# ends by checking that the binary users build ignores the test hooks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-moto.sh
scripts/install-checkov.sh
# A target directory outside the clone, shared by every clone (see scripts/target-dir.sh).
. scripts/target-dir.sh
echo "cargo target directory: $CARGO_TARGET_DIR" >&2
# The end-to-end tests drive stackctl's test hooks (STACKCTL_TIME_SCALE, STACKCTL_FAIL_AFTER),
# which only a build with the `test-hooks` feature has.
cargo test --workspace --locked --features stackctl/test-hooks "$@"
[ $# -eq 0 ] || exit 0

# The binary `cargo install` and the release workflow build has no hooks: built without the
# feature (only the workspace's own crates compile again, the SDK is shared), it applies the
# dev stack against moto to the end with STACKCTL_FAIL_AFTER=1, which aborts a hooked binary
# after its first AWS operation. (STACKCTL_TIME_SCALE sits behind the same feature.)
echo "== the binary built without test-hooks ignores STACKCTL_FAIL_AFTER" >&2
cargo build --workspace --locked --bin stackctl
log="$(mktemp "${TMPDIR:-/tmp}/stackctl-hooks.XXXXXX")"
if ! STACKCTL_BIN="$CARGO_TARGET_DIR/debug/stackctl" STACKCTL_FAIL_AFTER=1 scripts/demo.sh >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "error: the binary built without the test-hooks feature obeyed a test hook (its run is above)" >&2
  echo "  hint: every read of STACKCTL_FAIL_AFTER and STACKCTL_TIME_SCALE belongs behind #[cfg(feature = \"test-hooks\")]" >&2
  exit 1
fi
rm -f "$log"
echo "== ok: no test hook in the binary users build" >&2
