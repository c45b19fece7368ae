//! Flaky AWS: the real binary through a fault-injecting proxy in front of moto. Throttling, 5xx
//! answers, dropped connections and timeouts are retried with jittered back-off, so at a 20 %
//! failure rate apply, plan and destroy still converge to the same account as a clean run.
//!
//! `FLAKY_SEED=<n>` picks another sequence of faults (the default is fixed, for CI).

mod common;

use std::time::{Duration, Instant};

use common::account::{self, Snapshot};
use common::{Cmd, Run, Stack};
use stackctl_testkit::proxy::Outcome;
use stackctl_testkit::{FaultProxy, Faults, Stats, PLANNED_RESOURCES};

/// The share of requests the proxy fails.
const FAILURE_RATE: f64 = 0.2;
/// stackctl's per-attempt timeout in these runs (`STACKCTL_AWS_TIMEOUT`), so that injected
/// timeouts cost seconds, not minutes; the proxy holds a timed-out request longer than that.
const ATTEMPT_TIMEOUT_SECS: u64 = 2;
const HOLD: Duration = Duration::from_secs(ATTEMPT_TIMEOUT_SECS + 1);
/// A seed whose faults come out near the configured rate over these runs (about 20 % of ~250
/// requests), every kind of the mix among them; any seed converges.
const DEFAULT_SEED: u64 = 5;

fn seed() -> u64 {
    std::env::var("FLAKY_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// The command, sent through the proxy with a short per-attempt timeout.
fn through<'a>(proxy: &FaultProxy, cmd: Cmd<'a>) -> Cmd<'a> {
    cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .env("STACKCTL_AWS_TIMEOUT", &ATTEMPT_TIMEOUT_SECS.to_string())
}

/// Run one command through the proxy; print what the proxy did meanwhile; on a failure, say
/// which AWS calls got which faults during the run.
fn run_flaky(proxy: &FaultProxy, name: &str, cmd: Cmd<'_>, expected_code: i32) -> (Run, Stats) {
    let before = proxy.stats();
    let events_before = proxy.events().len();
    let started = Instant::now();
    let run = through(proxy, cmd).run();
    let elapsed = started.elapsed();
    let stats = proxy.stats().since(&before);
    eprintln!(
        "flaky {name}: exit {} in {:.1} s; {stats}",
        run.code,
        elapsed.as_secs_f64()
    );
    if run.code != expected_code {
        let faulted: Vec<String> = proxy.events()[events_before..]
            .iter()
            .filter(|e| !matches!(e.outcome, Outcome::Forwarded(200..=299)))
            .map(|e| e.to_string())
            .collect();
        panic!(
            "{name} through the flaky proxy exited {} (expected {expected_code}) after {:.1} s; {stats}\n\
             --- requests that failed or were faulted, in order:\n{}\n--- stdout\n{}\n--- stderr\n{}",
            run.code,
            elapsed.as_secs_f64(),
            faulted.join("\n"),
            run.stdout,
            run.stderr
        );
    }
    (run, stats)
}

#[track_caller]
fn assert_same_account(got: &Snapshot, want: &Snapshot, what: &str) {
    if got != want {
        panic!(
            "{what}: the account differs:\n{}",
            diff_keys(got, want).join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_plan_destroy_converge_at_20_percent_faults() {
    let seed = seed();

    // The reference: a clean apply, straight to its own moto.
    let clean_started = Instant::now();
    let clean = Stack::new();
    clean.cmd("apply").arg("-auto-approve").run().success();
    let want = account::snapshot(&clean.sdk().await).await;
    eprintln!(
        "clean apply: {:.1} s",
        clean_started.elapsed().as_secs_f64()
    );
    drop(clean);

    // A second, fresh moto behind the proxy. Snapshots read moto directly, not through it.
    let stack = Stack::new();
    let sdk = stack.sdk().await;
    let empty = account::snapshot(&sdk).await;
    assert_ne!(empty, want);
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::rate(FAILURE_RATE)
            .with_seed(seed)
            .with_latency(Duration::from_millis(5))
            .with_hold(HOLD),
    );
    eprintln!(
        "fault proxy: failure rate {:.0} %, seed {seed}, latency 5 ms, attempt timeout {ATTEMPT_TIMEOUT_SECS} s",
        FAILURE_RATE * 100.0
    );

    let (apply, during_apply) =
        run_flaky(&proxy, "apply", stack.cmd("apply").arg("-auto-approve"), 0);
    apply.stdout_has(format!(
        "Apply complete! Resources: {PLANNED_RESOURCES} added, 0 changed, 0 destroyed."
    ));
    assert_same_account(&account::snapshot(&sdk).await, &want, "after a flaky apply");

    let (plan, during_plan) = run_flaky(
        &proxy,
        "plan",
        stack.cmd("plan").arg("-detailed-exitcode"),
        0,
    );
    plan.stdout_has("No changes.");

    let (destroy, during_destroy) = run_flaky(
        &proxy,
        "destroy",
        stack.cmd("destroy").arg("-auto-approve"),
        0,
    );
    destroy.stdout_has(format!(
        "Destroy complete! Resources: {PLANNED_RESOURCES} destroyed."
    ));
    assert_same_account(
        &account::snapshot(&sdk).await,
        &empty,
        "after a flaky destroy",
    );

    let total = proxy.stats();
    eprintln!("flaky total (seed {seed}): {total}");
    let mut by_service = std::collections::BTreeMap::<String, (u64, u64)>::new();
    for e in proxy.events() {
        let n = by_service.entry(e.service).or_default();
        n.0 += 1;
        if matches!(e.outcome, Outcome::Fault(_)) {
            n.1 += 1;
        }
    }
    eprintln!(
        "flaky requests/faults by service: {}",
        by_service
            .iter()
            .map(|(s, (r, f))| format!("{s}={r}/{f}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // Each run did meet flaky AWS, and together they met every kind of fault of the mix, the
    // timeouts included (each held past stackctl's attempt timeout, see HOLD), near the
    // configured rate: what converged above survived them.
    for (run, stats) in [
        ("apply", during_apply),
        ("plan", during_plan),
        ("destroy", during_destroy),
    ] {
        assert!(stats.faults() > 0, "{run} met no fault: {stats}");
    }
    assert!(total.faults_500 > 0, "{total}");
    assert!(total.faults_503 > 0, "{total}");
    assert!(total.throttles > 0, "{total}");
    assert!(total.dropped > 0, "{total}");
    assert!(total.timeouts > 0, "no timeout was injected: {total}");
    assert!((0.1..0.3).contains(&total.failure_rate()), "{total}");
}

/// The operations that change something (not Describe*, List*, Get*), in order.
fn mutating_operations(events: &[stackctl_testkit::proxy::Event]) -> Vec<String> {
    let mut ops: Vec<String> = Vec::new();
    for e in events {
        let read = ["Describe", "List", "Get", "GET "]
            .iter()
            .any(|p| e.operation.starts_with(p));
        if !read && !ops.contains(&e.operation) {
            ops.push(e.operation.clone());
        }
    }
    ops
}

/// Answers lost AFTER AWS did the work (the connection breaks on the way back): the SDK retries
/// the call, so a retried create meets what its first attempt made and a retried delete or
/// revoke meets nothing. For each changing operation of apply and of destroy in turn, the first
/// such call's answer is lost; the run must still succeed and converge. Not part of the 20 %
/// mix above, whose faults all come before the request reaches moto.
///
/// Moto 5.2.5 is less idempotent than AWS here: a retried CreateLoadBalancer or CreateListener
/// makes a second one, where AWS answers with the existing one when the settings are the same.
/// Those two are reported, not counted as failures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_any_changing_call_converges() {
    let stack = Stack::new();
    let sdk = stack.sdk().await;
    let empty = account::snapshot(&sdk).await;

    // A clean apply and destroy through a transparent proxy: the reference, and the operations.
    let (apply_ops, destroy_ops, want) = {
        let proxy = FaultProxy::start(&stack.moto.endpoint, Faults::none());
        through(&proxy, stack.cmd("apply").arg("-auto-approve"))
            .run()
            .success();
        let apply_ops = mutating_operations(&proxy.events());
        let want = account::snapshot(&sdk).await;
        let n = proxy.events().len();
        through(&proxy, stack.cmd("destroy").arg("-auto-approve"))
            .run()
            .success();
        let destroy_ops = mutating_operations(&proxy.events()[n..]);
        (apply_ops, destroy_ops, want)
    };
    eprintln!("apply changes with: {apply_ops:?}\ndestroy changes with: {destroy_ops:?}");

    let mut failures = Vec::new();
    let lose_first = |op: &str| {
        Faults::rate(1.0)
            .only(stackctl_testkit::Fault::LostAnswer)
            .for_operations(&[op])
            .at_most(1)
    };
    for op in &apply_ops {
        stack.fresh();
        let proxy = FaultProxy::start(&stack.moto.endpoint, lose_first(op));
        let run = through(&proxy, stack.cmd("apply").arg("-auto-approve")).run();
        let got = account::snapshot(&sdk).await;
        let plan = through(&proxy, stack.cmd("plan").arg("-detailed-exitcode")).run();
        let verdict = if proxy.stats().lost_answers != 1 {
            "not exercised (no such call)".to_owned()
        } else if run.code != 0 {
            format!("apply exit {}: {}", run.code, run.stderr.trim())
        } else if got != want {
            format!(
                "apply exit 0 but the account differs: {:?}",
                diff_keys(&got, &want)
            )
        } else if plan.code != 0 {
            format!("plan afterwards exit {}", plan.code)
        } else {
            "converges".to_owned()
        };
        eprintln!("apply, answer to {op} lost: {verdict}");
        if verdict != "converges" && !MOTO_NOT_IDEMPOTENT.contains(&op.as_str()) {
            failures.push(format!("apply / {op}: {verdict}"));
        }
    }
    for op in &destroy_ops {
        stack.fresh();
        stack.cmd("apply").arg("-auto-approve").run().success();
        let proxy = FaultProxy::start(&stack.moto.endpoint, lose_first(op));
        let run = through(&proxy, stack.cmd("destroy").arg("-auto-approve")).run();
        let got = account::snapshot(&sdk).await;
        let verdict = if proxy.stats().lost_answers != 1 {
            "not exercised (no such call)".to_owned()
        } else if run.code != 0 {
            format!("destroy exit {}: {}", run.code, run.stderr.trim())
        } else if got != empty {
            format!(
                "destroy exit 0 but the account differs: {:?}",
                diff_keys(&got, &empty)
            )
        } else {
            "converges".to_owned()
        };
        eprintln!("destroy, answer to {op} lost: {verdict}");
        if verdict != "converges" {
            failures.push(format!("destroy / {op}: {verdict}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Creates AWS makes idempotent for identical settings and moto 5.2.5 does not.
const MOTO_NOT_IDEMPOTENT: &[&str] = &["CreateLoadBalancer", "CreateListener"];

/// An update that revokes a rule: the revoke's answer is lost after AWS removed the rule, and
/// the SDK's retry is told the rule does not exist. Apply must still succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_a_revoke_during_an_update_converges() {
    let stack = Stack::new();
    stack.cmd("apply").arg("-auto-approve").run().success();
    let sdk = stack.sdk().await;
    let want = account::snapshot(&sdk).await;

    // Drift: an egress rule added by hand to the RDS group, which should have none.
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let groups = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values("prestashop-dev-rds-sg")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let rds_sg = groups.security_groups()[0].group_id().unwrap().to_owned();
    ec2.authorize_security_group_egress()
        .group_id(&rds_sg)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_ne!(account::snapshot(&sdk).await, want);

    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::rate(1.0)
            .only(stackctl_testkit::Fault::LostAnswer)
            .for_operations(&["RevokeSecurityGroupEgress"])
            .at_most(1),
    );
    run_flaky(
        &proxy,
        "apply (revoke answer lost)",
        stack.cmd("apply").arg("-auto-approve"),
        0,
    );
    assert_eq!(proxy.stats().lost_answers, 1);
    assert_same_account(
        &account::snapshot(&sdk).await,
        &want,
        "after the drift is repaired",
    );
    run_flaky(
        &proxy,
        "plan",
        stack.cmd("plan").arg("-detailed-exitcode"),
        0,
    );
}

/// RegisterTaskDefinition is not idempotent, on AWS either: when the answer to the first
/// attempt is lost, the SDK's retry registers a second, identical revision. Apply keeps the one
/// AWS answered with and deregisters its twin, so one revision is ACTIVE after apply and none
/// is left after destroy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_register_task_definition_leaves_no_extra_revision() {
    let stack = Stack::new();
    let sdk = stack.sdk().await;
    let empty = account::snapshot(&sdk).await;
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::rate(1.0)
            .only(stackctl_testkit::Fault::LostAnswer)
            .for_operations(&["RegisterTaskDefinition"])
            .at_most(1),
    );
    run_flaky(
        &proxy,
        "apply (register answer lost)",
        stack.cmd("apply").arg("-auto-approve"),
        0,
    );
    assert_eq!(proxy.stats().lost_answers, 1);
    // The retry did register a twin, and apply deregistered one of the two.
    let events = proxy.events();
    let sent = |op: &str| events.iter().filter(|e| e.operation == op).count();
    assert_eq!(sent("RegisterTaskDefinition"), 2, "{events:#?}");
    assert_eq!(sent("DeregisterTaskDefinition"), 1, "{events:#?}");
    let after_apply = account::snapshot(&sdk).await;
    stack.cmd("destroy").arg("-auto-approve").run().success();
    let after_destroy = account::snapshot(&sdk).await;
    assert_eq!(after_apply["task_definitions_active"], ["prestashop-dev"]);
    assert_same_account(&after_destroy, &empty, "after destroy");
}

fn diff_keys(got: &Snapshot, want: &Snapshot) -> Vec<String> {
    let keys: std::collections::BTreeSet<&&str> = want.keys().chain(got.keys()).collect();
    keys.into_iter()
        .filter(|k| got.get(**k) != want.get(**k))
        .map(|k| format!("{k}: {:?} instead of {:?}", got.get(*k), want.get(*k)))
        .collect()
}
