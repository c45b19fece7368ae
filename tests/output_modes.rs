//! The output layer, whole outputs at a time: human text, `-json` events and documents, `-quiet`,
//! and errors, snapshotted with insta (ids, times and ports filtered), so a change to what users
//! read shows up as a snapshot diff rather than slipping past a substring check.

mod common;

use common::{Run, Stack};
use serde_json::Value as J;
use stackctl_testkit::STACK_RESOURCES;

/// Filters for what changes from run to run: AWS ids, times, ports, temp paths.
fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"\b(vpc|subnet|sg|fs|fsmt|sgr)-[0-9a-f]+\b", "$1-[id]"),
        (r"arn:aws:[^\s\x22\]]+", "[arn]"),
        (r"\b\d+(\.\d+)?s\b", "[time]"),
        (r"\b\d+m\d+s\b", "[time]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[timestamp]"),
        (r#""elapsed_seconds":[0-9.]+"#, r#""elapsed_seconds":"[n]""#),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r"/tmp/[^\s\x22]+", "[tmp]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[uuid]",
        ),
    ]
}

/// Run lines that come in the order concurrent operations finish, sorted, so the snapshot
/// holds what was printed, not the scheduling.
fn sorted_lines(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines.join("\n")
}

/// Every line of a `-json` run is one JSON object with Terraform's envelope.
fn events(run: &Run) -> Vec<J> {
    run.stdout
        .lines()
        .map(|l| {
            let v: J = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            for key in ["@level", "@message", "@module", "@timestamp", "type"] {
                assert!(v.get(key).is_some(), "no {key} in {l}");
            }
            v
        })
        .collect()
}

fn of_type<'a>(events: &'a [J], kind: &str) -> Vec<&'a J> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

#[test]
fn plan_json_is_one_event_per_change_and_a_summary() {
    let stack = Stack::new();
    let plan = stack.cmd("plan").arg("-json").run();
    plan.success();
    assert!(plan.stderr.is_empty(), "{}", plan.stderr);
    let events = events(&plan);
    let changes = of_type(&events, "planned_change");
    assert_eq!(changes.len(), STACK_RESOURCES);
    assert!(changes.iter().all(|c| c["change"]["action"] == "create"));
    let summary = of_type(&events, "change_summary");
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["changes"]["add"], STACK_RESOURCES);
    // The first change in full, the summary in full: the shape scripts rely on.
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!(
            "plan_json_first_and_summary",
            format!(
                "{}\n{}",
                serde_json::to_string_pretty(changes[0]).unwrap(),
                serde_json::to_string_pretty(summary[0]).unwrap()
            )
        );
    });
}

#[test]
fn quiet_plan_is_the_summary_line_alone() {
    let stack = Stack::new();
    let plan = stack.cmd("plan").arg("-quiet").run();
    plan.success();
    assert_eq!(
        plan.stdout,
        format!("Plan: {STACK_RESOURCES} to add, 0 to change, 0 to destroy.\n")
    );
}

#[test]
fn apply_output_human_quiet_and_json() {
    let stack = Stack::new();
    let apply = stack.cmd("apply").arg("-auto-approve").run();
    apply.success();
    // No colour codes outside a terminal.
    assert!(!apply.stdout.contains('\x1b'));
    // The progress and the summary, lines sorted (they finish concurrently); the plan before
    // them is the plan snapshot's business.
    let after_plan = apply
        .stdout
        .split_once(" to destroy.\n")
        .map(|(_, rest)| rest)
        .expect("the plan's summary line");
    let (progress, tail) = after_plan
        .split_once("\nApply complete!")
        .expect("the apply's summary line");
    let progress = progress.trim();
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("apply_progress_sorted", sorted_lines(progress));
        insta::assert_snapshot!("apply_summary_and_outputs", format!("Apply complete!{tail}"));
    });

    // Quiet: a no-change apply says the plan's verdict and its summary, no outputs block.
    let quiet = stack.cmd("apply").arg("-auto-approve").arg("-quiet").run();
    quiet.success();
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("apply_quiet_no_change", quiet.stdout);
    });

    // JSON: a change made with -json reports progress and the summary as events.
    let json = stack
        .cmd("apply")
        .arg("-auto-approve")
        .arg("-json")
        .var("desired_count", 2)
        .run();
    json.success();
    let events = events(&json);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for kind in [
        "planned_change",
        "apply_start",
        "apply_complete",
        "change_summary",
        "outputs",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    let summary = of_type(&events, "change_summary");
    let last = summary.last().unwrap();
    assert_eq!(last["changes"]["operation"], "apply");
    assert_eq!(last["changes"]["change"], 1, "{last}");
    // Sensitive outputs carry no value in the event stream.
    let outputs = &of_type(&events, "outputs")[0]["outputs"];
    for (name, o) in outputs.as_object().unwrap() {
        assert_eq!(
            o.get("value").is_none(),
            o["sensitive"] == true,
            "{name}: {o}"
        );
    }
}

#[test]
fn apply_json_without_auto_approve_is_refused() {
    let stack = Stack::new();
    let run = stack.cmd("apply").arg("-json").run();
    assert_eq!(run.code, 1);
    let events = events(&run);
    let diag = &of_type(&events, "diagnostic")[0]["diagnostic"];
    assert_eq!(diag["severity"], "error");
    insta::assert_snapshot!("apply_json_needs_auto_approve", diag.to_string());
    assert!(!stack.state_path().exists());
}

#[test]
fn state_and_output_documents() {
    let stack = Stack::applied();
    let list = stack.bare(&["state", "list", "-json"]).run();
    list.success();
    let list: J = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), STACK_RESOURCES);

    let show = stack
        .bare(&["state", "show", "module.rds.aws_db_instance.main", "-json"])
        .run();
    show.success();
    let show: J = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(show["type"], "aws_db_instance");
    assert_eq!(show["attributes"]["password"], "(sensitive value)");

    let outputs = stack.bare(&["output", "-json"]).run();
    outputs.success();
    let outputs: J = serde_json::from_str(&outputs.stdout).unwrap();
    assert!(outputs["load_balancer_url"]["value"]
        .as_str()
        .unwrap()
        .starts_with("http://"));

    let one = stack.bare(&["output", "load_balancer_url"]).run();
    one.success();
    assert_eq!(
        one.stdout.trim_end(),
        outputs["load_balancer_url"]["value"].as_str().unwrap()
    );
    // Quiet changes nothing for a value a script reads.
    let quiet = stack.bare(&["output", "load_balancer_url", "-quiet"]).run();
    assert_eq!(quiet.stdout, one.stdout);
}

#[test]
fn validate_json_and_errors_as_users_see_them() {
    let stack = Stack::new();
    let ok = stack.cmd("validate").arg("-json").run();
    ok.success();
    insta::assert_snapshot!("validate_json_ok", ok.stdout);

    let bad = stack
        .cmd("validate")
        .arg("-json")
        .var("desired_count", "many")
        .run();
    assert_eq!(bad.code, 1);
    let doc: J = serde_json::from_str(&bad.stdout).unwrap();
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["error_count"], 1);

    // The same error in text: the whole stderr, not a substring of it.
    let text = stack.cmd("validate").var("desired_count", "many").run();
    assert_eq!(text.code, 1);
    assert!(text.stdout.is_empty());
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("validate_error_text", text.stderr);
    });

    let missing = stack.bare(&["output", "nope"]).run();
    assert_eq!(missing.code, 1);
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("output_without_state", missing.stderr);
    });
}

/// Moto started without its managed policies (as a user starting it by hand does): the
/// execution role's policy attachment fails with NoSuchEntity, and the error says what to do.
#[test]
fn an_aws_error_says_what_to_do_missing_managed_policy() {
    let moto = stackctl_testkit::Moto::start_with(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")]);
    let stack = Stack::on(moto);
    let apply = stack
        .cmd("apply")
        .arg("-auto-approve")
        .arg("-wait=false")
        .run();
    assert_eq!(apply.code, 1, "{apply:?}");
    apply
        .stderr_has("Error: module.ecs.aws_iam_role_policy_attachment.execution")
        .stderr_has("AttachRolePolicy: NoSuchEntity")
        .stderr_has("  hint: the managed policy arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy does not exist")
        .stderr_has("MOTO_IAM_LOAD_MANAGED_POLICIES=true");
}
