//! Remote state in S3 (issue 13): `backend bootstrap`, apply with a `[backend]` table, the lock
//! object and the DynamoDB lock, force-unlock, migration of a local state, `state pull|push`:
//! the real binary against moto's S3 and DynamoDB, read back with the SDK.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use common::remote::{
    bootstrap, dynamodb, object, remote, remote_state, remote_vars, s3, BUCKET, KEY, LOCK_KEY,
    TABLE,
};
use common::{assert_no_secrets, Stack, ADMIN_PASSWORD, DB_PASSWORD};
use stackctl_testkit::{FaultProxy, Faults, Profile, STACK_RESOURCES};

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown-host".to_owned())
}

fn lock_info(id: &str, pid: u32, host: &str) -> String {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 42;
    serde_json::json!({"id": id, "pid": pid, "host": host, "command": "apply", "since": since})
        .to_string()
}

async fn put_lock_object(stack: &Stack, text: String) {
    s3(stack)
        .await
        .put_object()
        .bucket(BUCKET)
        .key(LOCK_KEY)
        .body(text.into_bytes().into())
        .send()
        .await
        .unwrap();
}

/// Bootstrap creates everything the first time and says so; the second time it changes nothing
/// and says that. The bucket is versioned, encrypted, closed to the public and TLS only; the
/// table has the LockID key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_twice_sets_up_the_bucket_and_table_then_changes_nothing() {
    let stack = Stack::new();
    let args = [
        "backend",
        "bootstrap",
        "-bucket",
        BUCKET,
        "-dynamodb-table",
        TABLE,
    ];
    let first = stack.bare(&args).run();
    first
        .success()
        .stdout_has(format!("bucket {BUCKET}: created in eu-west-3"))
        .stdout_has("versioning: enabled now")
        .stdout_has("public access: blocked now")
        // moto enforces bucket policies: the TLS-only statement would lock out its plain-HTTP
        // endpoint (the statement itself is unit-tested in src/engine/backend/bootstrap.rs).
        .stdout_has("bucket policy: TLS-only statement not added: the endpoint http://127.0.0.1:")
        .stdout_has(format!("DynamoDB lock table {TABLE}: created"))
        .stdout_has(format!("Backend ready: s3://{BUCKET}"))
        .stdout_has(format!(
            "[backend]\nbucket = \"{BUCKET}\"\nregion = \"eu-west-3\"\ndynamodb_table = \"{TABLE}\"\n"
        ));
    let second = stack.bare(&args).run();
    second
        .success()
        .stdout_has(format!("bucket {BUCKET}: exists"))
        .stdout_has(format!(
            "Nothing to change: s3://{BUCKET} is already set up as a state backend."
        ))
        .stdout_has(format!("DynamoDB lock table {TABLE}: exists"));
    assert!(!second.stdout.contains("now"), "{}", second.stdout);

    let s3 = s3(&stack).await;
    // moto's answer has another root element than S3's, which the SDK refuses: read the
    // status from the body.
    let status = match s3.get_bucket_versioning().bucket(BUCKET).send().await {
        Ok(out) => out.status().map(|s| s.as_str().to_owned()),
        Err(e) => e
            .raw_response()
            .and_then(|r| r.body().bytes())
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .filter(|b| b.contains("<Status>Enabled</Status>"))
            .map(|_| "Enabled".to_owned()),
    };
    assert_eq!(status.as_deref(), Some("Enabled"));
    let enc = s3
        .get_bucket_encryption()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );
    let pab = s3
        .get_public_access_block()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        [
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ],
        [Some(true); 4]
    );
    let policy = s3.get_bucket_policy().bucket(BUCKET).send().await;
    assert!(policy.is_err(), "no policy was written through plain HTTP");
    let table = dynamodb(&stack)
        .await
        .describe_table()
        .table_name(TABLE)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = table
        .table()
        .unwrap()
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(keys, ["LockID"]);
}

/// Apply with a `[backend]` table: the state is in S3 (serial, lineage, every resource, no
/// password, encrypted, versioned), nothing is written locally, the lock object is gone after
/// the run, and plan, state list and output read it back from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_keeps_the_state_in_s3_encrypted_without_secrets_and_unlocks() {
    let stack = Stack::new();
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, "");
    remote(&stack, &["apply", "-auto-approve"], &vars)
        .run()
        .success();
    assert!(!stack.state_path().exists(), "a local state was written");

    let state = remote_state(&stack).await;
    assert!(state["serial"].as_u64().unwrap() >= STACK_RESOURCES as u64);
    assert!(!state["lineage"].as_str().unwrap().is_empty());
    assert_eq!(
        state["resources"].as_object().unwrap().len(),
        STACK_RESOURCES
    );
    let text = object(&stack, KEY).await.unwrap();
    for secret in [DB_PASSWORD, ADMIN_PASSWORD] {
        assert!(!text.contains(secret), "a password is in the remote state");
    }
    let s3 = s3(&stack).await;
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption().map(|e| e.as_str()),
        Some("AES256")
    );
    let versions = s3
        .list_object_versions()
        .bucket(BUCKET)
        .prefix(KEY)
        .send()
        .await
        .unwrap();
    let of_state = versions
        .versions()
        .iter()
        .filter(|v| v.key() == Some(KEY))
        .count();
    assert!(of_state > 1, "every write is a version: {of_state}");
    assert!(object(&stack, LOCK_KEY).await.is_none(), "the lock is left");

    let plan = remote(&stack, &["plan", "-detailed-exitcode"], &vars).run();
    assert_eq!(plan.code, 0, "{plan:?}");
    let list = remote(&stack, &["state", "list"], &vars).run();
    list.success();
    assert_eq!(list.stdout.lines().count(), STACK_RESOURCES);
    remote(&stack, &["output", "load_balancer_url"], &vars)
        .run()
        .success();
    remote(&stack, &["destroy", "-auto-approve"], &vars)
        .run()
        .success();
    let state = remote_state(&stack).await;
    assert!(state["resources"].as_object().unwrap().is_empty());
    assert!(object(&stack, LOCK_KEY).await.is_none());
    assert!(!stack.state_path().exists(), "a local state was written");
    assert_no_secrets(&stack);
}

/// Without -bucket or a [backend] table, the bucket is named after the stack and the account
/// (bucket names are global), in the stack's region.
#[test]
fn bootstrap_names_the_bucket_after_the_stack_and_the_account() {
    let stack = Stack::new();
    let dev = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/dev.toml");
    stack
        .bare(&["backend", "bootstrap", "-var-file", dev])
        .run()
        .success()
        .stdout_has("bucket prestashop-dev-tfstate-123456789012: created in eu-west-3")
        .stdout_has("bucket = \"prestashop-dev-tfstate-123456789012\"");
}

/// Two applies at once on one remote state: the second is refused at once, naming the first
/// (its command, pid and host) and its lock id; the first finishes and releases the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_concurrent_apply_is_refused_naming_the_holder() {
    let stack = Stack::new();
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, "");
    // The first apply runs through the lifecycle layer, so it takes seconds, as real AWS does.
    let slow = FaultProxy::start(
        &stack.moto.raw_endpoint,
        Faults::none().with_lifecycle(Profile::realistic().scaled(0.01)),
    );
    let first = remote(&stack, &["apply", "-auto-approve"], &vars)
        .env("AWS_ENDPOINT_URL", &slow.endpoint)
        .env("STACKCTL_TIME_SCALE", "0.01")
        .spawn_piped();
    let start = Instant::now();
    while object(&stack, LOCK_KEY).await.is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "no lock taken");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let info: serde_json::Value =
        serde_json::from_str(&object(&stack, LOCK_KEY).await.unwrap()).unwrap();
    let second = remote(&stack, &["apply", "-auto-approve"], &vars).run();
    assert_eq!(second.code, 1, "{second:?}");
    second
        .stderr_has(format!(
            "state s3://{BUCKET}/{KEY} is locked by apply (pid {} on {}",
            first.id(),
            host()
        ))
        .stderr_has(format!("lock id {}", info["id"].as_str().unwrap()))
        .stderr_has("-lock-timeout");
    let out = first.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(object(&stack, LOCK_KEY).await.is_none());
    assert_eq!(
        remote_state(&stack).await["resources"]
            .as_object()
            .unwrap()
            .len(),
        STACK_RESOURCES
    );
}

/// A lock held on another machine cannot be known dead: apply is refused with its age and the
/// force-unlock that removes it; a wrong id removes nothing; the right id does, and apply runs.
#[test]
fn another_machines_lock_is_refused_and_force_unlock_with_its_id_removes_it() {
    let stack = Stack::new();
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, "");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(put_lock_object(
        &stack,
        lock_info("lock-abc", 4242, "ci-runner-7"),
    ));
    let refused = remote(&stack, &["apply", "-auto-approve"], &vars).run();
    assert_eq!(refused.code, 1);
    refused
        .stderr_has(format!(
            "state s3://{BUCKET}/{KEY} is locked by apply (pid 4242 on ci-runner-7, since 4"
        ))
        .stderr_has("lock id lock-abc")
        .stderr_has(format!(
            "`stackctl force-unlock lock-abc -var-file {}`",
            vars.display()
        ));
    let wrong = remote(&stack, &["force-unlock", "nope"], &vars).run();
    assert_eq!(wrong.code, 1);
    wrong.stderr_has("lock id \"nope\" does not match the lock on s3://team-state/prestashop-dev.json: it is held by apply (pid 4242 on ci-runner-7");
    assert!(rt.block_on(object(&stack, LOCK_KEY)).is_some());
    remote(&stack, &["force-unlock", "lock-abc"], &vars)
        .run()
        .success()
        .stdout_has(format!(
            "State s3://{BUCKET}/{KEY} has been successfully unlocked (lock lock-abc held by apply, pid 4242 on ci-runner-7)"
        ));
    assert!(rt.block_on(object(&stack, LOCK_KEY)).is_none());
    remote(&stack, &["force-unlock", "lock-abc"], &vars)
        .run()
        .stderr_has("is not locked");
    remote(&stack, &["apply", "-auto-approve"], &vars)
        .run()
        .success();
}

/// An apply killed mid-way leaves its lock object (and a partial state); on the same machine
/// its process is known gone, so the next apply takes the lock over, as locally, and converges.
#[test]
fn a_killed_applys_lock_is_taken_over_on_the_same_host() {
    let stack = Stack::new();
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, "");
    let killed = remote(&stack, &["apply", "-auto-approve"], &vars)
        .env("STACKCTL_FAIL_AFTER", "3")
        .run();
    assert_ne!(killed.code, 0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let left: serde_json::Value = serde_json::from_str(
        &rt.block_on(object(&stack, LOCK_KEY))
            .expect("the lock left"),
    )
    .unwrap();
    assert_eq!(left["host"], host());
    let partial = rt.block_on(remote_state(&stack))["resources"]
        .as_object()
        .unwrap()
        .len();
    assert!(
        (1..STACK_RESOURCES).contains(&partial),
        "the state records what the killed run made: {partial}"
    );
    let again = remote(&stack, &["apply", "-auto-approve"], &vars).run();
    again.success().stderr_has(format!(
        "the lock on s3://{BUCKET}/{KEY} left by apply (pid {}",
        left["pid"]
    ));
    again.stderr_has("is stale: that process is gone. Taking it over.");
    assert!(rt.block_on(object(&stack, LOCK_KEY)).is_none());
    let plan = remote(&stack, &["plan", "-detailed-exitcode"], &vars).run();
    assert_eq!(plan.code, 0, "{plan:?}");
}

/// With `dynamodb_table`, the lock is the table's `LockID` item (`bucket/key`, Terraform's
/// layout): another holder's item refuses the run naming it, force-unlock removes it, and a
/// run leaves no item behind.
#[test]
fn a_dynamodb_lock_names_its_holder_and_force_unlock_removes_it() {
    let stack = Stack::new();
    bootstrap(&stack, true);
    let vars = remote_vars(&stack, &format!("dynamodb_table = \"{TABLE}\"\n"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let lock_id = format!("{BUCKET}/{KEY}");
    let item = |ddb: aws_sdk_dynamodb::Client, lock_id: String| async move {
        ddb.get_item()
            .table_name(TABLE)
            .key("LockID", AttributeValue::S(lock_id))
            .send()
            .await
            .unwrap()
            .item
    };
    let ddb = rt.block_on(dynamodb(&stack));
    rt.block_on(
        ddb.put_item()
            .table_name(TABLE)
            .item("LockID", AttributeValue::S(lock_id.clone()))
            .item(
                "Info",
                AttributeValue::S(lock_info("lock-ddb", 77, "laptop-of-ana")),
            )
            .send(),
    )
    .unwrap();
    let refused = remote(&stack, &["plan"], &vars).run();
    assert_eq!(refused.code, 1);
    refused
        .stderr_has("is locked by apply (pid 77 on laptop-of-ana")
        .stderr_has("lock id lock-ddb");
    remote(&stack, &["force-unlock", "lock-ddb"], &vars)
        .run()
        .success();
    assert!(rt.block_on(item(ddb.clone(), lock_id.clone())).is_none());
    remote(&stack, &["apply", "-auto-approve"], &vars)
        .run()
        .success();
    assert!(rt.block_on(item(ddb.clone(), lock_id.clone())).is_none());
    // No lock object: the table is the lock when it is named.
    assert!(rt.block_on(object(&stack, LOCK_KEY)).is_none());
    assert!(rt.block_on(object(&stack, KEY)).is_some());
}

/// A bucket that exists already, encrypted with SSE-KMS or DSSE-KMS (set with the SDK), keeps
/// its encryption: bootstrap never lowers it to SSE-S3, nor swaps its KMS key for the
/// `[backend]` table's; it says what it found and what it would have set. A bucket with SSE-S3
/// is raised to the SSE-KMS the table asks for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_never_weakens_nor_swaps_an_existing_buckets_encryption() {
    use aws_sdk_s3::types::{
        BucketLocationConstraint, CreateBucketConfiguration, ServerSideEncryption as Sse,
        ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    };
    let stack = Stack::new();
    let client = s3(&stack).await;
    let key_a = "arn:aws:kms:eu-west-3:123456789012:key/aaaaaaaa-1111-2222-3333-444444444444";
    let key_b = "arn:aws:kms:eu-west-3:123456789012:key/bbbbbbbb-1111-2222-3333-444444444444";
    let encrypted = |bucket: &'static str, sse: Sse, key: Option<&'static str>| {
        let client = client.clone();
        async move {
            client
                .create_bucket()
                .bucket(bucket)
                .create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from("eu-west-3"))
                        .build(),
                )
                .send()
                .await
                .unwrap();
            client
                .put_bucket_encryption()
                .bucket(bucket)
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder()
                        .rules(
                            ServerSideEncryptionRule::builder()
                                .apply_server_side_encryption_by_default(
                                    ServerSideEncryptionByDefault::builder()
                                        .sse_algorithm(sse)
                                        .set_kms_master_key_id(key.map(str::to_owned))
                                        .build()
                                        .unwrap(),
                                )
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        }
    };
    let read = |bucket: &'static str| {
        let client = client.clone();
        async move {
            let out = client
                .get_bucket_encryption()
                .bucket(bucket)
                .send()
                .await
                .unwrap();
            let d = out.server_side_encryption_configuration().unwrap().rules()[0]
                .apply_server_side_encryption_by_default()
                .unwrap()
                .clone();
            (
                d.sse_algorithm().clone(),
                d.kms_master_key_id().map(str::to_owned),
            )
        }
    };
    // A var file whose [backend] table asks for SSE-KMS with key B.
    let with_key_b = |bucket: &str| {
        let dev =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/dev.toml"))
                .unwrap();
        let path = stack.dir.path().join(format!("{bucket}.toml"));
        std::fs::write(
            &path,
            format!("{dev}\n[backend]\nbucket = \"{bucket}\"\nkms_key_id = \"{key_b}\"\n"),
        )
        .unwrap();
        path.display().to_string()
    };

    // SSE-KMS with key A, bootstrap without a key (it would set SSE-S3): kept.
    encrypted("kms-state", Sse::AwsKms, Some(key_a)).await;
    stack
        .bare(&["backend", "bootstrap", "-bucket", "kms-state"])
        .run()
        .success()
        .stdout_has(format!(
            "default encryption: SSE-KMS with {key_a}, kept: bootstrap would set SSE-S3 (AES256), which is weaker"
        ));
    assert_eq!(
        read("kms-state").await,
        (Sse::AwsKms, Some(key_a.to_owned()))
    );

    // SSE-KMS with key A, the table asks for key B: kept, the other key named.
    stack
        .bare(&["backend", "bootstrap", "-var-file", &with_key_b("kms-state")])
        .run()
        .success()
        .stdout_has(format!(
            "default encryption: SSE-KMS with {key_a}, kept: bootstrap would set SSE-KMS with {key_b}, another key"
        ));
    assert_eq!(
        read("kms-state").await,
        (Sse::AwsKms, Some(key_a.to_owned()))
    );

    // DSSE-KMS, bootstrap asks for SSE-KMS: kept.
    encrypted("dsse-state", Sse::AwsKmsDsse, Some(key_a)).await;
    stack
        .bare(&["backend", "bootstrap", "-var-file", &with_key_b("dsse-state")])
        .run()
        .success()
        .stdout_has(format!(
            "default encryption: DSSE-KMS with {key_a}, kept: bootstrap would set SSE-KMS with {key_b}, which is weaker"
        ));
    assert_eq!(
        read("dsse-state").await,
        (Sse::AwsKmsDsse, Some(key_a.to_owned()))
    );

    // SSE-S3, the table asks for SSE-KMS: raised.
    encrypted("s3-state", Sse::Aes256, None).await;
    stack
        .bare(&["backend", "bootstrap", "-var-file", &with_key_b("s3-state")])
        .run()
        .success()
        .stdout_has(format!(
            "default encryption: SSE-KMS with {key_b} set now (was SSE-S3 (AES256))"
        ));
    assert_eq!(
        read("s3-state").await,
        (Sse::AwsKms, Some(key_b.to_owned()))
    );
}

/// A stack applied with a local state: a var file with a `[backend]` table is refused until the
/// state is migrated (it would start the stack over); `init -migrate-state` copies it, keeping
/// the local file byte for byte; the next plan reads it from S3 and is empty; a second
/// migration has nothing to do.
#[test]
fn a_local_state_is_migrated_into_the_backend_and_kept() {
    let stack = Stack::applied();
    let local_before = std::fs::read(stack.state_path()).unwrap();
    let lineage = stack.state()["lineage"].as_str().unwrap().to_owned();
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, "");
    let refused = remote(&stack, &["plan"], &vars).run();
    assert_eq!(refused.code, 1);
    refused
        .stderr_has(format!(
            "the backend s3://{BUCKET}/{KEY} has no state yet, but the local state .stackctl/prestashop-dev.json holds this stack's resources"
        ))
        .stderr_has("stackctl init -migrate-state -var-file");
    remote(&stack, &["init"], &vars)
        .run()
        .success()
        .stdout_has("no state there yet")
        .stdout_has("is not in the backend yet");
    remote(&stack, &["init", "-migrate-state"], &vars)
        .run()
        .success()
        .stdout_has(format!(
            "Migrated .stackctl/prestashop-dev.json ({STACK_RESOURCES} resources, lineage {lineage}) to s3://{BUCKET}/{KEY}"
        ));
    assert_eq!(std::fs::read(stack.state_path()).unwrap(), local_before);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = rt.block_on(remote_state(&stack));
    assert_eq!(state["lineage"], lineage.as_str());
    let plan = remote(&stack, &["plan", "-detailed-exitcode"], &vars).run();
    assert_eq!(plan.code, 0, "{plan:?}");
    remote(&stack, &["init", "-migrate-state"], &vars)
        .run()
        .success()
        .stdout_has("Nothing to migrate");
    assert_no_secrets(&stack);
}

/// The backend holds an older copy of this very state (same lineage, lower serial: migrated
/// once, then applied further with the local file): `init -migrate-state` replaces it with the
/// newer local state and says so; another lineage is still refused, and left as it was.
#[test]
fn init_migrate_state_replaces_an_older_copy_of_the_same_state() {
    let stack = Stack::applied();
    let local: serde_json::Value = stack.state();
    let serial = local["serial"].as_u64().unwrap();
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, "");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let put = |v: &serde_json::Value| {
        rt.block_on(async {
            s3(&stack)
                .await
                .put_object()
                .bucket(BUCKET)
                .key(KEY)
                .body(v.to_string().into_bytes().into())
                .send()
                .await
                .unwrap();
        })
    };

    let mut other = local.clone();
    other["lineage"] = "another-stack".into();
    put(&other);
    let refused = remote(&stack, &["init", "-migrate-state"], &vars).run();
    assert_eq!(refused.code, 1, "{refused:?}");
    refused
        .stderr_has(format!("s3://{BUCKET}/{KEY} already holds"))
        .stderr_has(format!("(lineage another-stack, serial {serial})"));
    assert_eq!(
        rt.block_on(remote_state(&stack))["lineage"],
        "another-stack"
    );

    let mut older = local.clone();
    older["serial"] = (serial - 1).into();
    put(&older);
    remote(&stack, &["init", "-migrate-state"], &vars)
        .run()
        .success()
        .stdout_has(format!(
            "It replaced an older copy of the same state there (serial {}, lower than the local file's {serial})",
            serial - 1
        ));
    let state = rt.block_on(remote_state(&stack));
    assert_eq!(state["lineage"], local["lineage"]);
    assert_eq!(state["serial"], serial + 1);
    assert_eq!(state["resources"], local["resources"]);
    let plan = remote(&stack, &["plan", "-detailed-exitcode"], &vars).run();
    assert_eq!(plan.code, 0, "{plan:?}");
}

/// `state pull` prints the remote state; `state push` refuses another lineage and an older
/// serial (naming both), accepts the state as pulled, and -force overrides the refusal.
#[test]
fn pull_and_push_refuse_another_lineage_and_an_older_serial() {
    let stack = Stack::new();
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, "");
    remote(&stack, &["apply", "-auto-approve"], &vars)
        .run()
        .success();
    let pulled = remote(&stack, &["state", "pull"], &vars).run();
    pulled.success();
    let state: serde_json::Value = serde_json::from_str(&pulled.stdout).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(state, rt.block_on(remote_state(&stack)));
    let serial = state["serial"].as_u64().unwrap();
    let file = |name: &str, v: &serde_json::Value| -> String {
        let p = stack.dir.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p.display().to_string()
    };

    let mut older = state.clone();
    older["serial"] = (serial - 1).into();
    let older = file("older.json", &older);
    let refused = remote(&stack, &["state", "push", &older], &vars).run();
    assert_eq!(refused.code, 1);
    refused.stderr_has(format!(
        "has serial {}, older than state s3://{BUCKET}/{KEY} (serial {serial})",
        serial - 1
    ));

    let mut other = state.clone();
    other["lineage"] = "another-stack".into();
    let other = file("other.json", &other);
    let refused = remote(&stack, &["state", "push", &other], &vars).run();
    assert_eq!(refused.code, 1);
    refused.stderr_has(
        "has lineage another-stack, but state s3://team-state/prestashop-dev.json has lineage",
    );
    assert_eq!(rt.block_on(remote_state(&stack))["serial"], serial);

    let mut edited = state.clone();
    edited["outputs"]
        .as_object_mut()
        .unwrap()
        .remove("load_balancer_url");
    let edited = file("edited.json", &edited);
    remote(&stack, &["state", "push", &edited], &vars)
        .run()
        .success()
        .stdout_has(format!("(serial {}", serial + 1));
    let now = rt.block_on(remote_state(&stack));
    assert_eq!(now["serial"], serial + 1);
    assert!(now["outputs"].get("load_balancer_url").is_none());

    remote(&stack, &["state", "push", &older, "-force"], &vars)
        .run()
        .success();
    assert_eq!(rt.block_on(remote_state(&stack))["serial"], serial + 2);
    assert_no_secrets(&stack);
}

/// A `[backend]` table is checked as variables are: an unknown setting or a wrong type names
/// the file and the setting, and a good table is no stack variable (validate passes). A bucket
/// that does not exist yet, or a missing lock table, points to bootstrap.
#[test]
fn a_bad_backend_table_or_a_missing_bucket_says_what_to_do() {
    let stack = Stack::new();
    let vars = remote_vars(&stack, "");
    remote(&stack, &["validate"], &vars).run().success();
    let bad = remote_vars(&stack, "bukcet = \"x\"\nencrypt = \"yes\"\n");
    let run = remote(&stack, &["validate"], &bad).run();
    assert_eq!(run.code, 1);
    run.stderr_has(format!(
        "{}: unknown [backend] setting `bukcet`; did you mean `bucket`?",
        bad.display()
    ))
    .stderr_has("[backend] encrypt must be a boolean, got string");

    let vars = remote_vars(&stack, "");
    let run = remote(&stack, &["plan"], &vars).run();
    assert_eq!(run.code, 1);
    run.stderr_has("the bucket does not exist")
        .stderr_has("stackctl backend bootstrap");
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, &format!("dynamodb_table = \"{TABLE}\"\n"));
    let run = remote(&stack, &["plan"], &vars).run();
    assert_eq!(run.code, 1);
    run.stderr_has("the DynamoDB lock table does not exist")
        .stderr_has("-dynamodb-table NAME");
}

/// A saved plan of a stack whose state is in S3: `apply FILE`, given nothing else, reads the
/// plan's var files again and so writes the remote state (not a local file named after the
/// bucket), and the same file applied twice is refused as stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_applies_to_the_remote_state() {
    let stack = Stack::new();
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, "");
    let plan_file = stack.dir.path().join("tfplan");
    let plan_file = plan_file.display().to_string();
    remote(&stack, &["plan", "-out", &plan_file], &vars)
        .run()
        .success();
    let apply = stack
        .bare(&["apply", &plan_file])
        .env("STACKCTL_VAR_db_password", DB_PASSWORD)
        .env("STACKCTL_VAR_admin_password", ADMIN_PASSWORD)
        .run();
    assert_eq!(apply.code, 0, "{apply:?}");
    let state = remote_state(&stack).await;
    assert_eq!(
        state["resources"].as_object().map(|r| r.len()),
        Some(STACK_RESOURCES),
        "the remote state does not hold the stack"
    );
    // Nothing local: no `.stackctl/` state and no `s3:` directory.
    for entry in std::fs::read_dir(stack.dir.path()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.starts_with("s3:"),
            "a local file named after the bucket: {name}"
        );
    }
    assert!(!stack.dir.path().join(".stackctl").join(KEY).exists());
    let again = stack
        .bare(&["apply", &plan_file])
        .env("STACKCTL_VAR_db_password", DB_PASSWORD)
        .env("STACKCTL_VAR_admin_password", ADMIN_PASSWORD)
        .run();
    assert_eq!(again.code, 1, "{again:?}");
    again.stderr_has("is stale");
}
