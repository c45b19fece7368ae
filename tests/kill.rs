//! Interrupted runs converge: stackctl killed at every operation of an apply and of a destroy,
//! and by SIGKILL at timed points, then run again, leaves the account exactly as a clean run
//! does: no duplicate, no orphan.

mod common;

use std::time::Duration;

use common::account::{self, Snapshot};
use common::Stack;
use stackctl_testkit::{FaultProxy, Faults, STACK_RESOURCES};

/// One AWS operation per resource to create it, one to delete it.
const OPERATIONS: usize = STACK_RESOURCES;

/// Run apply (or destroy) to completion and check the account matches `want`.
async fn finish_and_compare(stack: &Stack, command: &str, want: &Snapshot, point: &str) {
    let again = stack.cmd(command).arg("-auto-approve").run();
    assert_eq!(
        again.code, 0,
        "{point}: the re-run failed:\n{}\n{}",
        again.stdout, again.stderr
    );
    let got = account::snapshot(&stack.sdk().await).await;
    assert_eq!(
        &got, want,
        "{point}: the account differs from a clean {command}"
    );
    if command == "apply" {
        let plan = stack.cmd("plan").arg("-detailed-exitcode").run();
        assert_eq!(
            plan.code, 0,
            "{point}: plan after the re-run is not empty:\n{}",
            plan.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_killed_after_any_operation_converges_on_rerun() {
    let stack = Stack::new();
    let empty = account::snapshot(&stack.sdk().await).await;
    stack.cmd("apply").arg("-auto-approve").run().success();
    let clean = account::snapshot(&stack.sdk().await).await;
    assert_ne!(clean, empty);

    for n in 1..=OPERATIONS {
        stack.fresh();
        let killed = stack
            .cmd("apply")
            .arg("-auto-approve")
            .env("STACKCTL_FAIL_AFTER", &n.to_string())
            .run();
        assert_ne!(killed.code, 0, "point {n}: apply was not interrupted");
        assert!(
            killed
                .stderr
                .contains(&format!("aborting after operation {n}")),
            "point {n}: {}",
            killed.stderr
        );
        finish_and_compare(&stack, "apply", &clean, &format!("apply kill point {n}")).await;
    }
    // The points above are every operation: no operation comes after the last one.
    stack.fresh();
    assert_not_interrupted_after_the_last_point(&stack, "apply");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_killed_after_any_operation_converges_on_rerun() {
    let stack = Stack::new();
    let empty = account::snapshot(&stack.sdk().await).await;
    for n in 1..=OPERATIONS {
        stack.fresh();
        stack.cmd("apply").arg("-auto-approve").run().success();
        let killed = stack
            .cmd("destroy")
            .arg("-auto-approve")
            .env("STACKCTL_FAIL_AFTER", &n.to_string())
            .run();
        assert_ne!(killed.code, 0, "point {n}: destroy was not interrupted");
        assert!(
            killed
                .stderr
                .contains(&format!("aborting after operation {n}")),
            "point {n}: {}",
            killed.stderr
        );
        finish_and_compare(
            &stack,
            "destroy",
            &empty,
            &format!("destroy kill point {n}"),
        )
        .await;
        let state = stack.state();
        assert_eq!(state["resources"], serde_json::json!({}), "point {n}");
    }
    stack.fresh();
    stack.cmd("apply").arg("-auto-approve").run().success();
    assert_not_interrupted_after_the_last_point(&stack, "destroy");
}

/// `command` with the kill hook one operation past [`OPERATIONS`] runs to the end: the kill
/// points 1..=OPERATIONS covered every operation it makes.
fn assert_not_interrupted_after_the_last_point(stack: &Stack, command: &str) {
    let past = OPERATIONS + 1;
    let run = stack
        .cmd(command)
        .arg("-auto-approve")
        .env("STACKCTL_FAIL_AFTER", &past.to_string())
        .run();
    assert_eq!(
        run.code, 0,
        "{command} makes more than {OPERATIONS} operations: those after the last kill point \
         were never interrupted\n{}",
        run.stderr
    );
}

/// SIGKILL at timed points: between and inside the AWS calls of one resource, not only
/// between resources as the hook does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_timed_points_converges_on_rerun() {
    let stack = Stack::new();
    let empty = account::snapshot(&stack.sdk().await).await;
    stack.cmd("apply").arg("-auto-approve").run().success();
    let clean = account::snapshot(&stack.sdk().await).await;

    let mut mid_run = 0;
    let delays: Vec<u64> = (1..=12).map(|i| i * 40).collect();
    for (command, want, setup) in [("apply", &clean, false), ("destroy", &empty, true)] {
        for &ms in &delays {
            stack.fresh();
            if setup {
                stack.cmd("apply").arg("-auto-approve").run().success();
            }
            let mut child = stack.cmd(command).arg("-auto-approve").spawn();
            std::thread::sleep(Duration::from_millis(ms));
            if child.try_wait().unwrap().is_none() {
                mid_run += 1;
            }
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            finish_and_compare(
                &stack,
                command,
                want,
                &format!("{command} SIGKILL after {ms} ms"),
            )
            .await;
        }
    }
    eprintln!(
        "SIGKILL: {} timed points, {mid_run} of them while the run was going; all converged",
        delays.len() * 2
    );
    assert!(
        mid_run >= delays.len(),
        "too few kills landed mid-run ({mid_run}): the run is faster than the delays"
    );
}

/// Ctrl-C: nothing new starts, what runs finishes and is recorded, the state is saved, the
/// exit is 1 with a summary, and nothing exists in AWS that the state does not know.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_starting_work_records_what_ran_and_exits_1() {
    let stack = Stack::new();
    // 100 ms per request makes the apply take seconds, so the interrupt lands mid-run.
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::none().with_latency(Duration::from_millis(100)),
    );
    let child = stack
        .cmd("apply")
        .arg("-auto-approve")
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .spawn_piped();
    let recorded = |stack: &Stack| {
        std::fs::read_to_string(stack.state_path())
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|s| s["resources"].as_object().map(|r| r.len()))
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while recorded(&stack) < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Interrupt received: starting nothing new"),
        "{stdout}"
    );
    assert!(
        stderr.contains("Apply incomplete") && stderr.contains("(interrupted)"),
        "{stderr}"
    );
    let at_interrupt = recorded(&stack);
    assert!(
        (3..STACK_RESOURCES).contains(&at_interrupt),
        "{at_interrupt} recorded"
    );

    // Nothing was created behind the state's back: a plan adopts nothing and adds the rest.
    let plan = stack.cmd("plan").run();
    plan.success();
    // Plans count the provider's resources: a secret not yet recorded adds its value too.
    let secrets_left = 3 - stack.state()["resources"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|a| a.contains(".aws_secretsmanager_secret."))
        .count();
    plan.stdout_has(format!(
        "Plan: {} to add, 0 to change, 0 to destroy.",
        STACK_RESOURCES - at_interrupt + secrets_left
    ));
    // And the next apply finishes the job.
    stack.cmd("apply").arg("-auto-approve").run().success();
    assert_eq!(stack.cmd("plan").arg("-detailed-exitcode").run().code, 0);
    eprintln!(
        "Ctrl-C: {at_interrupt} of {STACK_RESOURCES} resources recorded at the interrupt; the re-run added {}",
        STACK_RESOURCES - at_interrupt
    );
}

/// A second Ctrl-C stops at once, even while operations are still waiting on AWS (here every
/// request takes 1.5 s, so the operations running at the first interrupt cannot finish within
/// the second's deadline). The state stays whole, and the next apply converges without
/// duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_stops_at_once_and_the_rerun_converges() {
    let stack = Stack::new();
    let reference = {
        let clean = Stack::applied();
        account::snapshot(&clean.sdk().await).await
    };
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::none().with_latency(Duration::from_millis(1500)),
    );
    let child = stack
        .cmd("apply")
        .arg("-auto-approve")
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .spawn_piped();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !stack.state_path().exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(stack.state_path().exists(), "nothing was recorded in 120 s");
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(200));
    let second = std::time::Instant::now();
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let took = second.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Second interrupt: stopping now"),
        "{stdout}"
    );
    // Well under one request's latency: it did not wait for the running operations.
    assert!(
        took < Duration::from_millis(1000),
        "exited {took:?} after the second Ctrl-C"
    );
    // The state is whole JSON, and the re-run ends with the account of a clean apply.
    let _: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(stack.state_path()).unwrap()).unwrap();
    finish_and_compare(&stack, "apply", &reference, "after a second Ctrl-C").await;
    eprintln!("second Ctrl-C: exited {took:?} after it");
}

/// Ctrl-C, as a terminal sends it: SIGINT to the process.
fn interrupt(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
