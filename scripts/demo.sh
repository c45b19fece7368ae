#!/usr/bin/env bash
# The main job on a machine without an AWS account: build stackctl, start the local AWS emulator
# on a free loopback port, plan and apply the dev stack against it in a temporary working
# directory, print the outputs, then stop the emulator and remove that directory (KEEP=1 keeps
# it). STACKCTL_BIN=path runs an already-built binary instead of building one.
# With AWS credentials configured and STACKCTL_REAL_AWS=1, it runs against real AWS instead (it
# costs money); the state then stays in this clone's .stackctl/, since it is all that knows
# what was created, and nothing is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

if [ -n "${STACKCTL_BIN:-}" ]; then
  bin="$STACKCTL_BIN"
else
  # The debug build: it shares its compiled AWS SDK crates with scripts/test.sh.
  . scripts/target-dir.sh
  # Figures measured on a 2-core machine (README, Install). Cargo's own progress follows.
  echo "Building stackctl (first build: ~16 min, ~7 GB RAM peak, ~13 GB disk in $CARGO_TARGET_DIR)..."
  cargo build --locked
  bin="$CARGO_TARGET_DIR/debug/stackctl"
fi
if [ ! -x "$bin" ]; then
  echo "error: no stackctl executable at $bin" >&2
  echo "hint: unset STACKCTL_BIN to build one, or point it at a built binary" >&2
  exit 1
fi
export STACKCTL_VAR_db_password="${STACKCTL_VAR_db_password:-DemoDbPass123}"
export STACKCTL_VAR_admin_password="${STACKCTL_VAR_admin_password:-DemoAdminPass456}"

moto_pid=""
workdir=""
child=""
cleanup() {
  local code=$?
  if [ -n "$moto_pid" ]; then
    kill "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
    echo "== stopped the emulator (pid $moto_pid)"
  fi
  if [ -n "$workdir" ]; then
    if [ "${KEEP:-0}" = 1 ]; then
      echo "== kept $workdir (state and emulator log; the emulator and what it held are gone)"
    else
      rm -rf "$workdir"
      echo "== removed $workdir (KEEP=1 keeps it)"
    fi
  fi
  exit "$code"
}
# stackctl runs in the background so that a signal reaches these traps at once. Ctrl-C on a
# terminal reaches stackctl too: let it finish what it started and record it. A TERM sent to
# this script alone is passed on as one interrupt, so the state is written before moto stops.
on_signal() {
  if [ -n "$child" ]; then
    [ "$1" = TERM ] && kill -INT "$child" 2>/dev/null
    wait "$child" 2>/dev/null || true
  fi
  exit "$2"
}
trap cleanup EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

if [ "${STACKCTL_REAL_AWS:-0}" != 1 ]; then
  scripts/install-moto.sh
  moto_server="${MOTO_SERVER:-$HOME/.cache/stackctl/moto-5.2.5/bin/moto_server}"
  workdir="$(mktemp -d "${TMPDIR:-/tmp}/stackctl-demo.XXXXXX")"
  # A port the kernel says is free now; moto binds it right after.
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  MOTO_IAM_LOAD_MANAGED_POLICIES=true "$moto_server" -H 127.0.0.1 -p "$port" >"$workdir/moto.log" 2>&1 &
  moto_pid=$!
  for _ in $(seq 600); do
    (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
    if ! kill -0 "$moto_pid" 2>/dev/null; then
      echo "error: the emulator exited before listening on 127.0.0.1:$port; its log:" >&2
      cat "$workdir/moto.log" >&2
      moto_pid=""
      exit 1
    fi
    sleep 0.1
  done
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  echo "== local AWS emulator (moto, pid $moto_pid) on $AWS_ENDPOINT_URL, log $workdir/moto.log"
  echo "== working directory $workdir: state in $workdir/.stackctl/demo-dev.json"
  # Moto accepts the service but never runs its tasks: apply must not wait for them.
  wait_args=(-wait=false)
  chdir_args=(-chdir="$workdir")
else
  echo "== real AWS: state in $repo/.stackctl/demo-dev.json"
  wait_args=()
  chdir_args=()
fi
run() {
  "$bin" ${chdir_args[@]+"${chdir_args[@]}"} "$@" &
  child=$!
  local rc=0
  wait "$child" || rc=$?
  child=""
  return "$rc"
}

args=(-var-file "$repo/examples/dev.toml" -var project_name=demo)
echo "== stackctl plan"
run plan "${args[@]}"
echo "== stackctl apply"
run apply "${args[@]}" -auto-approve ${wait_args[@]+"${wait_args[@]}"}
echo "== stackctl output"
run output "${args[@]}"
echo "== stackctl output load_balancer_url"
run output load_balancer_url "${args[@]}"
if [ "${STACKCTL_REAL_AWS:-0}" != 1 ]; then
  # The emulator makes up the load balancer's DNS name and runs no task: say so, rather than
  # leave a reader trying an address that cannot answer.
  echo "== that address is the emulator's made-up load balancer name: it does not resolve, and moto runs no PrestaShop task behind it."
  echo "   Against real AWS (STACKCTL_REAL_AWS=1, see README 'Use against real AWS') it opens the shop once \`stackctl status\` says the service is healthy."
fi
