//! Remote state for the backend tests: the dev example with a `[backend]` table, the bucket
//! and lock table set up by `backend bootstrap`, and reads of both straight from moto.

use std::path::{Path, PathBuf};

use super::{Cmd, Stack, ADMIN_PASSWORD, DB_PASSWORD};

pub const BUCKET: &str = "team-state";
pub const TABLE: &str = "team-locks";
pub const KEY: &str = "prestashop-dev.json";
pub const LOCK_KEY: &str = "prestashop-dev.json.tflock";

/// The dev example with a `[backend]` table appended (plus `extra` settings), written next to
/// the stack's working directory.
pub fn remote_vars(stack: &Stack, extra: &str) -> PathBuf {
    let dev =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/dev.toml")).unwrap();
    let path = stack.dir.path().join("dev-remote.toml");
    std::fs::write(
        &path,
        format!("{dev}\n[backend]\nbucket = \"{BUCKET}\"\n{extra}"),
    )
    .unwrap();
    path
}

/// `command` on the stack the var file `vars` names, with the test passwords.
pub fn remote<'a>(stack: &'a Stack, command: &[&str], vars: &Path) -> Cmd<'a> {
    let mut args: Vec<&str> = command.to_vec();
    let vars = vars.display().to_string();
    args.extend(["-var-file", &vars]);
    stack
        .bare(&args)
        .env("STACKCTL_VAR_db_password", DB_PASSWORD)
        .env("STACKCTL_VAR_admin_password", ADMIN_PASSWORD)
}

/// `backend bootstrap` of the bucket, and of the lock table when `table`.
pub fn bootstrap(stack: &Stack, table: bool) {
    let mut cmd = stack.bare(&["backend", "bootstrap", "-bucket", BUCKET]);
    if table {
        cmd = cmd.arg("-dynamodb-table").arg(TABLE);
    }
    cmd.run().success();
}

pub async fn s3(stack: &Stack) -> aws_sdk_s3::Client {
    let sdk = stack.sdk().await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
}

pub async fn dynamodb(stack: &Stack) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&stack.sdk().await)
}

/// The object's text, if it exists.
pub async fn object(stack: &Stack, key: &str) -> Option<String> {
    let out = s3(stack)
        .await
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .ok()?;
    let bytes = out.body.collect().await.unwrap().into_bytes();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The state in the bucket.
pub async fn remote_state(stack: &Stack) -> serde_json::Value {
    serde_json::from_str(&object(stack, KEY).await.expect("the remote state")).unwrap()
}
