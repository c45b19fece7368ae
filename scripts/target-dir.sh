# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/demo.sh: where cargo builds. CARGO_TARGET_DIR wins;
# else one per-user directory outside the clone, shared by every clone of stackctl, so a fresh
# clone (CI runs in one) reuses the compiled AWS SDK crates instead of spending ~15 minutes
# rebuilding them. Cargo locks the directory, so clones building at once wait for each other.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  export CARGO_TARGET_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/stackctl/target"
fi
