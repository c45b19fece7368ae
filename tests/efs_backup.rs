//! `efs_backup`: the prod example applies the file system's backup policy (read back through
//! the SDK), turning the variable off disables it in AWS, and destroy removes it with the rest.

mod common;

use common::{assert_no_secrets, Stack};
use stackctl_testkit::{PLANNED_RESOURCES, PROD_EXTRA_RESOURCES};

const POLICY: &str = "module.efs.aws_efs_backup_policy.main";

/// The prod file system's id and its backup policy's status as AWS answers (`None`: no
/// policy, or no file system).
async fn live(stack: &Stack) -> (Option<String>, Option<String>) {
    let efs = aws_sdk_efs::Client::new(&stack.sdk().await);
    let found = efs
        .describe_file_systems()
        .creation_token("prestashop-prod-efs")
        .send()
        .await
        .unwrap();
    let Some(id) = found
        .file_systems()
        .first()
        .map(|f| f.file_system_id().to_owned())
    else {
        return (None, None);
    };
    let status = efs
        .describe_backup_policy()
        .file_system_id(&id)
        .send()
        .await
        .ok()
        .and_then(|o| o.backup_policy().map(|p| p.status().as_str().to_owned()));
    (Some(id), status)
}

// prod's example protects its database from deletion; these tests destroy their stack, so they
// run prod without that protection (tests/rds_updates.rs tests it).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prod_backs_up_its_files_until_efs_backup_is_turned_off() {
    let stack = Stack::new();
    let prod = PLANNED_RESOURCES + PROD_EXTRA_RESOURCES;
    let apply = stack
        .cmd_for("apply", "prod")
        .var("db_deletion_protection", false)
        .arg("-auto-approve")
        .run();
    apply.success();
    apply.stdout_has(format!("{POLICY}: Creation complete after "));
    apply.stdout_has(format!(
        "Apply complete! Resources: {prod} added, 0 changed, 0 destroyed."
    ));
    let (fs, status) = live(&stack).await;
    assert_eq!(status.as_deref(), Some("ENABLED"), "{fs:?}");
    let no_change = stack
        .cmd_for("plan", "prod")
        .var("db_deletion_protection", false)
        .arg("-detailed-exitcode")
        .run();
    assert_eq!(no_change.code, 0, "{no_change:?}");

    // Turned off: the policy is planned for deletion, which disables the backups in AWS.
    let plan = stack
        .cmd_for("plan", "prod")
        .var("db_deletion_protection", false)
        .arg("-var")
        .arg("efs_backup=false")
        .run();
    plan.success();
    plan.stdout_has(POLICY)
        .stdout_has("Plan: 0 to add, 0 to change, 1 to destroy.");
    stack
        .cmd_for("apply", "prod")
        .var("db_deletion_protection", false)
        .arg("-var")
        .arg("efs_backup=false")
        .arg("-auto-approve")
        .run()
        .success()
        .stdout_has("Apply complete! Resources: 0 added, 0 changed, 1 destroyed.");
    let (same_fs, status) = live(&stack).await;
    assert_eq!(same_fs, fs, "the file system itself stays");
    assert_eq!(status.as_deref(), Some("DISABLED"));
    let off = stack
        .cmd_for("plan", "prod")
        .var("db_deletion_protection", false)
        .arg("-var")
        .arg("efs_backup=false")
        .arg("-detailed-exitcode")
        .run();
    assert_eq!(off.code, 0, "{off:?}");

    // On again, then destroy: the policy goes first, with the file system after it.
    stack
        .cmd_for("apply", "prod")
        .var("db_deletion_protection", false)
        .arg("-auto-approve")
        .run()
        .success()
        .stdout_has("Apply complete! Resources: 1 added, 0 changed, 0 destroyed.");
    assert_eq!(live(&stack).await.1.as_deref(), Some("ENABLED"));
    let destroy = stack
        .cmd_for("destroy", "prod")
        .var("db_deletion_protection", false)
        .arg("-auto-approve")
        .run();
    destroy.success();
    destroy.stdout_has(format!("Destroy complete! Resources: {prod} destroyed."));
    let pos = |s: &str| {
        destroy
            .stdout
            .find(&format!("{s}: Destruction complete"))
            .unwrap_or_else(|| panic!("{s} not destroyed"))
    };
    assert!(pos(POLICY) < pos("module.efs.aws_efs_file_system.main"));
    assert_eq!(live(&stack).await, (None, None));
    assert_no_secrets(&stack);
}

/// A policy the state lost (a run killed after PutBackupPolicy, or `state rm`) is found again
/// on the stack's file system and adopted, not set a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_policy_the_state_lost_is_adopted() {
    let stack = Stack::new();
    stack
        .cmd_for("apply", "prod")
        .var("db_deletion_protection", false)
        .arg("-auto-approve")
        .run()
        .success();
    stack
        .bare(&[
            "state",
            "rm",
            POLICY,
            "-state",
            ".stackctl/prestashop-prod.json",
        ])
        .run()
        .success();
    let plan = stack
        .cmd_for("plan", "prod")
        .var("db_deletion_protection", false)
        .run();
    plan.success();
    plan.stdout_has("Plan: 1 to adopt, 0 to add, 0 to change, 0 to destroy.");
    stack
        .cmd_for("apply", "prod")
        .var("db_deletion_protection", false)
        .arg("-auto-approve")
        .run()
        .success()
        .stdout_has("Apply complete! Resources: 1 adopted, 0 added, 0 changed, 0 destroyed.");
    assert_eq!(live(&stack).await.1.as_deref(), Some("ENABLED"));
    let again = stack
        .cmd_for("plan", "prod")
        .var("db_deletion_protection", false)
        .arg("-detailed-exitcode")
        .run();
    assert_eq!(again.code, 0, "{again:?}");
    assert_no_secrets(&stack);
}
