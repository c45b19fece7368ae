//! The state commands (`state list|show|rm`), `force-unlock` and the lock, and how plan treats
//! a damaged or newer state: the real binary against moto.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{assert_no_secrets, Stack};
use stackctl_testkit::{PLANNED_RESOURCES, STACK_RESOURCES};

const SERVICE: &str = "module.ecs.aws_ecs_service.main";
const DB: &str = "module.rds.aws_db_instance.main";

fn lock_file(stack: &Stack) -> std::path::PathBuf {
    stack.dir.path().join(".stackctl/prestashop-dev.json.lock")
}

/// This machine's name as stackctl's lock files record it (src/engine/lock.rs `host()`).
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".to_owned())
}

/// A pid no process of this host has.
fn dead_pid() -> u32 {
    (999_999..)
        .find(|p| !Path::new(&format!("/proc/{p}")).exists())
        .unwrap()
}

/// Write a lock file by hand, as a run with this pid on this host would have.
fn write_lock(stack: &Stack, id: &str, pid: u32) {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let lock = serde_json::json!({
        "id": id, "pid": pid, "host": host(), "command": "apply", "since": since,
    });
    std::fs::create_dir_all(lock_file(stack).parent().unwrap()).unwrap();
    std::fs::write(lock_file(stack), lock.to_string()).unwrap();
}

/// list: every address, one per line, sorted; filtered to a module; the same with -state or
/// the var file.
#[test]
fn state_list_shows_every_address_sorted_and_filters_by_module() {
    let stack = Stack::applied();
    let list = stack.bare(&["state", "list"]).run();
    list.success();
    let addresses: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(addresses.len(), STACK_RESOURCES, "{}", list.stdout);
    assert!(addresses.windows(2).all(|w| w[0] < w[1]), "{}", list.stdout);
    assert!(addresses.contains(&SERVICE) && addresses.contains(&DB));
    assert!(addresses.contains(&"module.efs.aws_efs_mount_target.main[\"eu-west-3a\"]"));
    let rds = stack.bare(&["state", "list", "module.rds"]).run();
    rds.success();
    assert_eq!(
        rds.stdout,
        "module.rds.aws_db_instance.main\nmodule.rds.aws_db_subnet_group.main\n"
    );
    let by_path = stack
        .bare(&["state", "list", "-state", ".stackctl/prestashop-dev.json"])
        .run();
    assert_eq!(by_path.stdout, list.stdout);
    let dev = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/dev.toml");
    let by_vars = stack.bare(&["state", "list", "-var-file", dev]).run();
    assert_eq!(by_vars.stdout, list.stdout);
    assert_no_secrets(&stack);
}

/// show: type, id, attributes; the password is masked, never shown nor fingerprinted. An
/// unknown address is an error that suggests the near one.
#[test]
fn state_show_masks_the_password_and_suggests_a_near_address() {
    let stack = Stack::applied();
    let show = stack.bare(&["state", "show", DB]).run();
    show.success();
    assert!(
        show.stdout.starts_with(&format!(
            "# {DB}:\nresource \"aws_db_instance\" \"main\" {{\n"
        )),
        "{}",
        show.stdout
    );
    let line = |key: &str| {
        show.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} ")))
            .map(|l| l.split_once(" = ").unwrap().1.to_owned())
    };
    assert_eq!(line("password").as_deref(), Some("(sensitive value)"));
    assert_eq!(line("id").as_deref(), Some("\"prestashop-dev-db\""));
    assert_eq!(line("allocated_storage").as_deref(), Some("20"));
    assert!(!show.stdout.contains("fingerprint"), "{}", show.stdout);
    let unknown = stack
        .bare(&["state", "show", "module.rds.aws_db_instance.mian"])
        .run();
    assert_eq!(unknown.code, 1, "{unknown:?}");
    unknown.stderr_has("no resource module.rds.aws_db_instance.mian in state");
    assert!(unknown.stderr.contains(&format!("did you mean {DB}?")));
    assert_no_secrets(&stack);
}

/// rm: an unknown address among known ones removes nothing.
#[test]
fn state_rm_with_an_unknown_address_removes_nothing() {
    let stack = Stack::applied();
    let before = std::fs::read(stack.state_path()).unwrap();
    let bad = stack
        .bare(&["state", "rm", SERVICE, "module.ecs.aws_ecs_service.nope"])
        .run();
    assert_eq!(bad.code, 1, "{bad:?}");
    bad.stderr_has("no resource module.ecs.aws_ecs_service.nope in state");
    assert_eq!(std::fs::read(stack.state_path()).unwrap(), before);
}

/// rm: out of the state, under the lock, with the previous state kept as the backup; the
/// resource stays in AWS, and the next plan adopts it back rather than making a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_rm_forgets_a_resource_and_the_next_plan_adopts_it_back() {
    let stack = Stack::applied();
    let before = std::fs::read(stack.state_path()).unwrap();
    let serial = stack.state()["serial"].as_u64().unwrap();
    let rm = stack.bare(&["state", "rm", SERVICE]).run();
    rm.success();
    rm.stdout_has(format!("Removed {SERVICE}\n"));
    let state = stack.state();
    assert!(state["resources"].get(SERVICE).is_none());
    assert_eq!(
        state["resources"].as_object().unwrap().len(),
        STACK_RESOURCES - 1
    );
    assert_eq!(state["serial"].as_u64().unwrap(), serial + 1);
    let backup = stack
        .dir
        .path()
        .join(".stackctl/prestashop-dev.json.backup");
    assert_eq!(std::fs::read(&backup).unwrap(), before);
    assert!(!lock_file(&stack).exists());

    // ...but the service is still in AWS.
    let ecs = aws_sdk_ecs::Client::new(&stack.sdk().await);
    let services = ecs
        .describe_services()
        .cluster("prestashop-dev-cluster")
        .services("prestashop-dev-service")
        .send()
        .await
        .unwrap();
    assert_eq!(services.services().len(), 1, "{services:?}");
    assert_eq!(services.services()[0].status(), Some("ACTIVE"));

    // The configuration still declares it, so the next plan finds it in AWS by its name and
    // this stack's tags and adopts it back, as it is, rather than creating a duplicate.
    let plan = stack.cmd("plan").arg("-detailed-exitcode").run();
    assert_eq!(plan.code, 2, "{plan:?}");
    let headers: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.starts_with("  # "))
        .collect();
    assert_eq!(
        headers,
        [format!(
            "  # {SERVICE} will be adopted into the state (found in AWS, not in the state)"
        )],
        "{}",
        plan.stdout
    );
    plan.stdout_has("Plan: 1 to adopt, 0 to add, 0 to change, 0 to destroy.");
    stack.cmd("apply").arg("-auto-approve").run().success();
    let after = ecs
        .list_services()
        .cluster("prestashop-dev-cluster")
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.service_arns().len(),
        1,
        "a second service was created"
    );
    assert_no_secrets(&stack);
}

#[test]
fn a_stale_lock_is_reported_and_taken_over_and_a_live_one_is_waited_for() {
    let stack = Stack::new();
    let id = "3d0c7e0a-5f7e-4f43-9d55-2b2f1f0e6a11";

    // force-unlock clears a lock file no process holds, given the right id only.
    write_lock(&stack, id, dead_pid());
    let wrong = stack.bare(&["force-unlock", "not-the-id"]).run();
    assert_eq!(wrong.code, 1, "{wrong:?}");
    wrong.stderr_has("does not match");
    wrong.stderr_has(format!("lock id {id}"));
    assert!(lock_file(&stack).exists());
    let unlock = stack.bare(&["force-unlock", id]).run();
    unlock.success();
    unlock.stdout_has("has been successfully unlocked");
    assert!(!lock_file(&stack).exists());
    let again = stack
        .bare(&[
            "force-unlock",
            id,
            "-state",
            ".stackctl/prestashop-dev.json",
        ])
        .run();
    assert_eq!(again.code, 1, "{again:?}");
    again.stderr_has("is not locked");

    // A lock left by a run that died (killed, crashed) blocks nothing: the next run reports it
    // as stale, names its holder, and takes it over at once.
    write_lock(&stack, id, dead_pid());
    let start = Instant::now();
    let plan = stack.cmd("plan").run();
    plan.success();
    assert!(start.elapsed() < Duration::from_secs(20), "{plan:?}");
    plan.stderr_has("is stale");
    plan.stderr_has(format!("lock id {id}"));
    assert!(!lock_file(&stack).exists());

    // A live holder (this test process holds the OS lock): without a timeout, plan fails at
    // once naming it; force-unlock refuses to break into it...
    write_lock(&stack, "live-lock", std::process::id());
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(lock_file(&stack))
        .unwrap();
    held.lock().unwrap();
    let busy = stack.cmd("plan").run();
    assert_eq!(busy.code, 1, "{busy:?}");
    busy.stderr_has(format!("is locked by apply (pid {}", std::process::id()));
    busy.stderr_has("lock id live-lock");
    busy.stderr_has("-lock-timeout");
    let refused = stack.bare(&["force-unlock", "live-lock"]).run();
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(lock_file(&stack).exists());
    // ...and with -lock-timeout, plan waits for the release (after ~1 s) and goes on.
    let lock = lock_file(&stack);
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        std::fs::remove_file(lock).unwrap();
        held.unlock().unwrap();
    });
    let start = Instant::now();
    let waited = stack.cmd("plan").arg("-lock-timeout").arg("3s").run();
    releaser.join().unwrap();
    waited.success();
    assert!(start.elapsed() >= Duration::from_millis(900));
    waited.stdout_has(format!("Plan: {PLANNED_RESOURCES} to add"));
    assert!(!lock_file(&stack).exists());
}

#[test]
fn a_truncated_or_newer_state_is_refused_and_left_as_it_is() {
    let stack = Stack::applied();
    let path = stack.state_path();
    let real = std::fs::read(&path).unwrap();

    // Cut in half, as by a crash of something else than stackctl or a bad copy.
    let truncated = &real[..real.len() / 2];
    std::fs::write(&path, truncated).unwrap();
    for args in [
        vec!["plan"],
        vec!["state", "list"],
        vec!["state", "rm", SERVICE],
    ] {
        let run = if args[0] == "plan" {
            stack.cmd("plan").run()
        } else {
            stack.bare(&args).run()
        };
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        run.stderr_has("corrupt");
        run.stderr_has(".stackctl/prestashop-dev.json");
        assert_eq!(std::fs::read(&path).unwrap(), truncated, "{args:?}");
        assert!(!lock_file(&stack).exists());
    }

    // Written by a newer stackctl: refused as such, never rewritten in the old format.
    let mut newer: serde_json::Value = serde_json::from_slice(&real).unwrap();
    newer["format_version"] = 99.into();
    let newer = serde_json::to_vec_pretty(&newer).unwrap();
    std::fs::write(&path, &newer).unwrap();
    for args in [vec!["plan"], vec!["state", "rm", SERVICE]] {
        let run = if args[0] == "plan" {
            stack.cmd("plan").run()
        } else {
            stack.bare(&args).run()
        };
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        run.stderr_has("has format version 99, newer than this stackctl");
        assert_eq!(std::fs::read(&path).unwrap(), newer, "{args:?}");
    }
    assert_no_secrets(&stack);
}

/// A prod database taken back into the state by `import` (after `state rm`, as a team does
/// when it rebuilds a lost state) gets the stack's own settings for what AWS never reports:
/// destroy then keeps a final snapshot, as it does for the database apply created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_prod_database_keeps_its_final_snapshot_on_destroy() {
    let stack = Stack::new();
    // Without deletion protection (prod's is on), so that destroy deletes it.
    stack
        .cmd_for("apply", "prod")
        .var("db_deletion_protection", false)
        .arg("-auto-approve")
        .arg("-wait=false")
        .run()
        .success();
    let state = || -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(stack.dir.path().join(".stackctl/prestashop-prod.json"))
                .unwrap(),
        )
        .unwrap()
    };
    let applied = state()["resources"][DB]["attrs"].clone();
    assert_eq!(applied["skip_final_snapshot"], false, "{applied}");
    let id = state()["resources"][DB]["id"].as_str().unwrap().to_owned();
    stack
        .bare(&[
            "state",
            "rm",
            DB,
            "-state",
            ".stackctl/prestashop-prod.json",
        ])
        .run()
        .success();
    stack
        .cmd_for("import", "prod")
        .var("db_deletion_protection", false)
        .arg(DB)
        .arg(&id)
        .run()
        .success();
    let imported = state()["resources"][DB]["attrs"].clone();
    for key in ["skip_final_snapshot", "final_snapshot_identifier"] {
        assert_eq!(imported[key], applied[key], "{key}: {imported}");
    }
    // What AWS reports is still AWS's: the import did not take the configuration's password.
    assert!(imported.get("password").is_none(), "{imported}");

    stack
        .cmd_for("destroy", "prod")
        .var("db_deletion_protection", false)
        .arg("-auto-approve")
        .run()
        .success();
    let rds = aws_sdk_rds::Client::new(&stack.sdk().await);
    let snapshots = rds
        .describe_db_snapshots()
        .db_instance_identifier(&id)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = snapshots
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .collect();
    let wanted = applied["final_snapshot_identifier"].as_str().unwrap();
    assert!(
        names.iter().any(|n| n.starts_with(wanted)),
        "no final snapshot {wanted}* of {id} after destroy: {names:?}"
    );
}
