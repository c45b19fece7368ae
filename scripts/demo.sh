#!/usr/bin/env bash
# The main job on a machine without an AWS account: start the local AWS emulator, plan and
# apply the dev stack against it, print the outputs. With AWS credentials configured and
# STACKCTL_REAL_AWS=1, it runs against real AWS instead (it costs money).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CARGO_TARGET_DIR:-}" ] && [ -d /work/target ]; then
  export CARGO_TARGET_DIR=/work/target
fi
# The debug build: it shares its compiled AWS SDK crates with scripts/test.sh.
cargo build --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/stackctl"
export STACKCTL_VAR_db_password="${STACKCTL_VAR_db_password:-DemoDbPass123}"
export STACKCTL_VAR_admin_password="${STACKCTL_VAR_admin_password:-DemoAdminPass456}"

if [ "${STACKCTL_REAL_AWS:-0}" != 1 ]; then
  scripts/install-moto.sh
  port="${MOTO_PORT:-5055}"
  MOTO_IAM_LOAD_MANAGED_POLICIES=true "$HOME/.cache/stackctl/moto-5.2.5/bin/moto_server" -H 127.0.0.1 -p "$port" >/tmp/stackctl-demo-moto.log 2>&1 &
  moto_pid=$!
  trap 'kill $moto_pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  # A state of an earlier demo belongs to an emulator that is gone.
  rm -f .stackctl/demo-dev.json .stackctl/demo-dev.json.backup
  echo "== local AWS emulator (moto) on $AWS_ENDPOINT_URL"
fi

args=(-var-file examples/dev.toml -var project_name=demo)
echo "== stackctl plan"
"$bin" plan "${args[@]}"
echo "== stackctl apply"
"$bin" apply "${args[@]}" -auto-approve
echo "== stackctl output"
"$bin" output "${args[@]}"
echo "== stackctl output load_balancer_url"
"$bin" output load_balancer_url "${args[@]}"
