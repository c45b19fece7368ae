//! A lost answer must not split the state from AWS (issue 20): the real binary through the
//! fault proxy, each answer lost AFTER moto's S3 or DynamoDB did the work (the SDK then retries
//! a request that already took effect), S3's 409 `ConditionalRequestConflict`, and a state that
//! cannot be written to S3 at all; read back with the SDK.

mod common;

use std::path::Path;

use aws_sdk_dynamodb::types::AttributeValue;
use common::remote::{bootstrap, object, remote_state, remote_vars, BUCKET, KEY, LOCK_KEY, TABLE};
use common::{assert_no_secrets, Cmd, Stack};
use stackctl_testkit::{Fault, FaultProxy, Faults, STACK_RESOURCES};

/// The proxy's names for the requests on the state object and the lock object.
/// `command` on the stack `vars` names, with the test passwords; through `proxy` if given.
fn remote<'a>(
    stack: &'a Stack,
    command: &[&str],
    vars: &Path,
    proxy: Option<&FaultProxy>,
) -> Cmd<'a> {
    let cmd = common::remote::remote(stack, command, vars);
    match proxy {
        Some(p) => cmd.env("AWS_ENDPOINT_URL", &p.endpoint),
        None => cmd,
    }
}

const PUT_STATE: &str = "PUT /team-state/prestashop-dev.json";
const PUT_LOCK: &str = "PUT /team-state/prestashop-dev.json.tflock";
const DELETE_LOCK: &str = "DELETE /team-state/prestashop-dev.json.tflock";
/// Where a state that cannot be written to S3 is saved, relative to the working directory.
const ERRORED: &str = ".stackctl/errored/prestashop-dev.json";

fn resources(state: &serde_json::Value) -> usize {
    state["resources"].as_object().map_or(0, |r| r.len())
}

/// How many requests for `operation` the proxy saw.
fn count(proxy: &FaultProxy, operation: &str) -> usize {
    proxy
        .events()
        .iter()
        .filter(|e| e.operation == operation)
        .count()
}

/// A small state file to push: a new lineage, nothing in it.
fn state_file(stack: &Stack) -> String {
    let path = stack.dir.path().join("pushed.json");
    std::fs::write(
        &path,
        serde_json::json!({
            "format_version": 1,
            "serial": 3,
            "lineage": "5b1f0a52-7d1c-4b59-9a0e-2f8b8f0c1d11",
            "stackctl_version": "0.1.0",
            "fingerprint_salt": "00112233445566778899aabbccddeeff",
            "resources": {},
            "outputs": {}
        })
        .to_string(),
    )
    .unwrap();
    path.display().to_string()
}

/// A whole apply with the lock object: the answers to the lock's PUT, to the first state write
/// (`If-None-Match: *`), to a later one (`If-Match`) and to the lock's DELETE are lost after S3
/// wrote or removed the object. The SDK's retries meet what their first attempts did; the run
/// takes them as its own, every later write succeeds, the remote state holds every resource
/// with one serial per write, no lock is left, and a plan finds AWS and the state in step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_lost_after_s3_wrote_the_state_and_lock_object_split_nothing() {
    let stack = Stack::new();
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, "");
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::none()
            .on_nth(PUT_LOCK, 1, Fault::LostAnswer)
            .on_nth(PUT_STATE, 1, Fault::LostAnswer)
            // The 1st write's retry is the 2nd PUT: the 5th is the 4th write, an `If-Match`.
            .on_nth(PUT_STATE, 5, Fault::LostAnswer)
            .on_nth(DELETE_LOCK, 1, Fault::LostAnswer),
    );
    let run = remote(&stack, &["apply", "-auto-approve"], &vars, Some(&proxy)).run();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(proxy.stats().lost_answers, 4, "{}", proxy.stats());
    assert_eq!(count(&proxy, PUT_LOCK), 2, "the lock's PUT was not retried");
    assert_eq!(
        count(&proxy, DELETE_LOCK),
        2,
        "the lock's DELETE was not retried"
    );
    let state = remote_state(&stack).await;
    assert_eq!(resources(&state), STACK_RESOURCES);
    // Each of the two lost writes was sent twice; every other PUT is one write, one serial.
    assert_eq!(
        state["serial"].as_u64().unwrap(),
        count(&proxy, PUT_STATE) as u64 - 2
    );
    assert!(object(&stack, LOCK_KEY).await.is_none(), "a lock was left");
    assert!(!stack.dir.path().join(ERRORED).exists());
    let plan = remote(&stack, &["plan", "-detailed-exitcode"], &vars, None).run();
    assert_eq!(plan.code, 0, "{plan:?}");
}

/// The DynamoDB lock: the answers to its PutItem and DeleteItem are lost after DynamoDB did
/// the work, and so is the answer to the state's first write. The retried PutItem finds this
/// run's own item: the lock is ours, not "held by" ourselves until the timeout; the retried
/// DeleteItem finds it gone; the state is pushed; no item is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_lost_after_dynamodb_wrote_or_removed_the_lock_item_split_nothing() {
    let stack = Stack::new();
    bootstrap(&stack, true);
    let vars = remote_vars(&stack, &format!("dynamodb_table = \"{TABLE}\"\n"));
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::none()
            .on_nth("PutItem", 1, Fault::LostAnswer)
            .on_nth(PUT_STATE, 1, Fault::LostAnswer)
            .on_nth("DeleteItem", 1, Fault::LostAnswer),
    );
    let file = state_file(&stack);
    let run = remote(&stack, &["state", "push", &file], &vars, Some(&proxy)).run();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(proxy.stats().lost_answers, 3, "{}", proxy.stats());
    assert_eq!(count(&proxy, "PutItem"), 2, "the PutItem was not retried");
    assert_eq!(
        count(&proxy, "DeleteItem"),
        2,
        "the DeleteItem was not retried"
    );
    let state = remote_state(&stack).await;
    assert_eq!(
        state["lineage"].as_str(),
        Some("5b1f0a52-7d1c-4b59-9a0e-2f8b8f0c1d11")
    );
    let item = aws_sdk_dynamodb::Client::new(&stack.sdk().await)
        .get_item()
        .table_name(TABLE)
        .key("LockID", AttributeValue::S(format!("{BUCKET}/{KEY}")))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item;
    assert!(item.is_none(), "the lock item was left: {item:?}");
    assert!(object(&stack, LOCK_KEY).await.is_none());
}

/// S3's 409 `ConditionalRequestConflict` on the lock's PUT, the state's conditional write and
/// the lock's conditional DELETE is retried, as AWS says to: the push succeeds, the state is
/// written, and the lock is removed rather than taken as gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_409_on_the_state_and_lock_object_are_retried() {
    let stack = Stack::new();
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, "");
    let file = state_file(&stack);
    // A first push without faults, so that the second writes with `If-Match`.
    remote(&stack, &["state", "push", &file], &vars, None)
        .run()
        .success();
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::none()
            .on_nth(PUT_LOCK, 1, Fault::Conflict)
            .on_nth(PUT_STATE, 1, Fault::Conflict)
            .on_nth(PUT_STATE, 2, Fault::Conflict)
            .on_nth(DELETE_LOCK, 1, Fault::Conflict),
    );
    // -force: the file's serial is older than what the first push wrote.
    let run = remote(
        &stack,
        &["state", "push", &file, "-force"],
        &vars,
        Some(&proxy),
    )
    .run();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(proxy.stats().refusals, 4, "{}", proxy.stats());
    assert_eq!(count(&proxy, PUT_STATE), 3);
    assert_eq!(count(&proxy, DELETE_LOCK), 2);
    assert_eq!(remote_state(&stack).await["serial"].as_u64(), Some(5));
    assert!(object(&stack, LOCK_KEY).await.is_none(), "a lock was left");
}

/// S3 refuses every state write from the 3rd on: the apply fails, but what it recorded is
/// saved in `.stackctl/errored/` (no password in it, nor anywhere stackctl wrote or printed),
/// the error says where and how `state push` puts it back; the push does, and the next apply
/// finishes the stack from it, every resource once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_s3_refuses_is_saved_locally_and_state_push_puts_it_back() {
    let stack = Stack::new();
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, "");
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::none().from_nth(PUT_STATE, 3, Fault::AccessDenied),
    );
    let run = remote(&stack, &["apply", "-auto-approve"], &vars, Some(&proxy)).run();
    assert_eq!(run.code, 1, "{run:?}");
    run.stderr_has(format!("cannot write state s3://{BUCKET}/{KEY}"))
        .stderr_has(format!("is saved in {ERRORED}"))
        .stderr_has(format!(
            "`stackctl state push {ERRORED} -var-file {}` puts it back",
            vars.display()
        ));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(stack.dir.path().join(ERRORED)).unwrap())
            .unwrap();
    let remote_before = remote_state(&stack).await;
    assert!(
        resources(&saved) > resources(&remote_before),
        "the local copy holds no more than S3: {} against {}",
        resources(&saved),
        resources(&remote_before)
    );
    assert_no_secrets(&stack);
    // Until it is pushed back, every run says the bucket misses what the copy holds.
    let unpushed = format!("{ERRORED} holds a newer copy of this state");
    remote(&stack, &["plan"], &vars, None)
        .run()
        .stderr_has(&unpushed)
        .stderr_has(format!(
            "`stackctl state push {ERRORED} -var-file {}`",
            vars.display()
        ));
    // The local copy is never taken for a local state: the stack's state is still S3's.
    remote(&stack, &["state", "push", ERRORED], &vars, None)
        .run()
        .success();
    let pushed = remote_state(&stack).await;
    assert_eq!(resources(&pushed), resources(&saved));
    assert_eq!(pushed["resources"], saved["resources"]);
    let again = remote(&stack, &["apply", "-auto-approve"], &vars, None).run();
    assert_eq!(again.code, 0, "{again:?}");
    assert!(!again.stderr.contains(&unpushed), "{again:?}");
    assert_eq!(resources(&remote_state(&stack).await), STACK_RESOURCES);
    let plan = remote(&stack, &["plan", "-detailed-exitcode"], &vars, None).run();
    assert_eq!(plan.code, 0, "{plan:?}");
}
