//! `stackctl logs` against moto: the events put into the stack's log group come back, bounded
//! by `-since`, narrowed by `-filter` and `-task`, as JSON events with `-json`, and followed
//! with `-f` as new ones arrive.

mod common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::Stack;
use serde_json::Value as J;

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
