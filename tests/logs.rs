//! `stackctl logs` against moto: the events put into the stack's log group come back, bounded
//! by `-since`, narrowed by `-filter` and `-task`, as JSON events with `-json`, and followed
//! with `-f` as new ones arrive.

mod common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::Stack;
use serde_json::Value as J;
use stackctl_testkit::{Fault, FaultProxy, Faults};

/// Each printed line without its timestamp: `task message`.
fn lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_owned())
        .collect()
}

const MIN: i64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_prints_the_events_in_range_filtered_and_by_task() {
    let stack = Stack::applied();
    stack
        .put_logs(
            "aaa111",
            &[(3 * 60 * MIN, "old line"), (5 * MIN, "GET / 200")],
        )
        .await;
    stack
        .put_logs("bbb222", &[(4 * MIN, "PHP Fatal error: boom")])
        .await;

    let recent = stack.bare(&["logs"]).run();
    recent.success();
    assert_eq!(
        lines(&recent.stdout),
        ["aaa111 GET / 200", "bbb222 PHP Fatal error: boom"]
    );
    // Each line starts with the event's time, in UTC.
    assert!(recent.stdout.starts_with("20"), "{}", recent.stdout);
    assert!(recent
        .stdout
        .lines()
        .all(|l| l.split(' ').next().unwrap().ends_with('Z')));

    let longer = stack.bare(&["logs", "-since", "4h"]).run();
    longer.success();
    assert_eq!(lines(&longer.stdout)[0], "aaa111 old line");
    assert_eq!(longer.stdout.lines().count(), 3);

    let fatal = stack
        .bare(&["logs", "-since", "1h", "-filter", "Fatal"])
        .run();
    fatal.success();
    assert_eq!(lines(&fatal.stdout), ["bbb222 PHP Fatal error: boom"]);

    let one = stack
        .bare(&["logs", "-since", "4h", "-task", "aaa111"])
        .run();
    one.success();
    assert_eq!(lines(&one.stdout), ["aaa111 old line", "aaa111 GET / 200"]);

    let json = stack.bare(&["logs", "-json"]).run();
    json.success();
    let events: Vec<J> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["type"] == "log_event"));
    assert_eq!(events[1]["task"], "bbb222");
    assert_eq!(events[1]["@message"], "PHP Fatal error: boom");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_prints_new_events_as_they_arrive() {
    let stack = Stack::applied();
    stack.put_logs("aaa111", &[(MIN, "before")]).await;
    let mut child = stack.bare(&["logs", "-f"]).spawn_piped();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.ends_with("aaa111 before\n"), "{line}");

    stack.put_logs("bbb222", &[(0, "after")]).await;
    let started = Instant::now();
    line.clear();
    // -f polls every 2 s; the new event shows within a few polls, and "before" not again.
    out.read_line(&mut line).unwrap();
    assert!(line.ends_with("bbb222 after\n"), "{line}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn logs_before_any_apply_says_what_to_do() {
    let stack = Stack::new();
    let run = stack.bare(&["logs"]).run();
    assert_eq!(run.code, 1, "{run:?}");
    run.stderr_has("no state found")
        .stderr_has("stackctl apply");
}

#[test]
fn logs_with_no_events_says_so() {
    let stack = Stack::applied();
    let run = stack.bare(&["logs"]).run();
    run.success();
    assert!(run.stdout.is_empty(), "{run:?}");
    run.stderr_has("No log events in log group /ecs/prestashop-dev in the last 10m.")
        .stderr_has("hint: -since 1h looks further back");
    let filtered = stack
        .bare(&["logs", "-since", "2h", "-filter", "Fatal"])
        .run();
    filtered.success();
    filtered.stderr_has(
        "No log events in log group /ecs/prestashop-dev in the last 2h matching \"Fatal\".",
    );
}

/// FilterLogEvents has a low per-account quota: throttled past the SDK's own 8 attempts,
/// `logs -f` waits and reads again instead of failing, then prints the events that come later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_keeps_going_while_filter_log_events_is_throttled() {
    let stack = Stack::applied();
    stack.put_logs("aaa111", &[(MIN, "before")]).await;
    let proxy = FaultProxy::start(
        &stack.moto.raw_endpoint,
        Faults::rate(1.0)
            .only(Fault::Throttle)
            .for_operations(&["FilterLogEvents"])
            .at_most(10),
    );
    let mut child = stack
        .bare(&["logs", "-f"])
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .spawn_piped();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(
        line.ends_with("aaa111 before\n"),
        "{line:?}: {:?}",
        child.wait_with_output()
    );
    assert_eq!(proxy.stats().throttles, 10);

    stack.put_logs("bbb222", &[(0, "after")]).await;
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(line.ends_with("bbb222 after\n"), "{line:?}");
    let _ = child.kill();
    let _ = child.wait();
    // Paced: about one read per 2 s poll, never a burst of pages.
    let reads = proxy
        .events()
        .iter()
        .filter(|e| e.operation == "FilterLogEvents")
        .count();
    assert!(reads <= 10 + 4 + 10, "{reads} FilterLogEvents requests");
}
