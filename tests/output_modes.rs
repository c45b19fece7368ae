//! The output layer, whole outputs at a time: human text, `-json` events and documents, `-quiet`,
//! and errors, snapshotted with insta (ids, times and ports filtered), so a change to what users
//! read shows up as a snapshot diff rather than slipping past a substring check. The `-json`
//! stream is Terraform's machine-readable UI (`internal/command/views/json`): its events, fields
//! and counts are checked on real runs against what Terraform's own stream has.

mod common;

use std::collections::BTreeMap;

use common::{Run, Stack, ADMIN_PASSWORD};
use serde_json::{json, Value as J};
use stackctl_testkit::{PLANNED_RESOURCES, STACK_RESOURCES};

/// The outputs the stack declares (`src/stack.rs`).
const OUTPUTS: usize = 12;

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

/// Every line of a `-json` run is one JSON object with Terraform's envelope, from Terraform's
/// UI logger (`terraform.ui`).
fn events(run: &Run) -> Vec<J> {
    run.stdout
        .lines()
        .map(|l| {
            let v: J = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            for key in ["@level", "@message", "@module", "@timestamp", "type"] {
                assert!(v.get(key).is_some(), "no {key} in {l}");
            }
            assert_eq!(v["@module"], "terraform.ui", "{l}");
            v
        })
        .collect()
}

fn of_type<'a>(events: &'a [J], kind: &str) -> Vec<&'a J> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// The stream opens with Terraform's `version` event, stackctl's version beside Terraform's.
#[track_caller]
fn assert_version_first(events: &[J]) {
    let v = &events[0];
    assert_eq!(v["type"], "version", "{v}");
    assert_eq!(v["terraform"], "1.11.4");
    assert_eq!(v["ui"], "1.2");
    assert_eq!(v["stackctl"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        v["@message"],
        format!(
            "stackctl {} (Terraform's machine-readable UI 1.2)",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(of_type(events, "version").len(), 1);
}

/// A `change.resource` / `hook.resource` as Terraform's `ResourceAddr`: the address and each of
/// its parts, read back from the address itself.
#[track_caller]
fn assert_terraforms_resource(r: &J) {
    let text = |k: &str| {
        r[k].as_str()
            .unwrap_or_else(|| panic!("no {k} in {r}"))
            .to_owned()
    };
    let (addr, module, resource) = (text("addr"), text("module"), text("resource"));
    assert_eq!(format!("{module}.{resource}"), addr, "{r}");
    let (modules, name) = module.split_at("module.".len());
    assert_eq!((modules, name.contains('.')), ("module.", false), "{r}");
    let key = match &r["resource_key"] {
        J::Null => String::new(),
        J::String(k) => format!("[\"{k}\"]"),
        other => panic!("resource_key {other} in {r}"),
    };
    assert_eq!(
        resource,
        format!("{}.{}{key}", text("resource_type"), text("resource_name")),
        "{r}"
    );
    assert!(text("resource_type").starts_with("aws_"), "{r}");
    assert_eq!(r["implied_provider"], "aws", "{r}");
}

/// The planned changes, by action, and by address.
fn planned(events: &[J]) -> (BTreeMap<String, usize>, BTreeMap<String, J>) {
    let mut by_action = BTreeMap::new();
    let mut by_address = BTreeMap::new();
    for e in of_type(events, "planned_change") {
        let change = &e["change"];
        assert_terraforms_resource(&change["resource"]);
        let action = change["action"].as_str().unwrap().to_owned();
        assert_eq!(
            e["@message"],
            format!(
                "{}: Plan to {action}",
                change["resource"]["addr"].as_str().unwrap()
            )
        );
        *by_action.entry(action).or_insert(0) += 1;
        let address = change["resource"]["addr"].as_str().unwrap().to_owned();
        assert!(
            by_address.insert(address, change.clone()).is_none(),
            "one planned_change per resource: {e}"
        );
    }
    (by_action, by_address)
}

/// The plan's `change_summary`: the one after the planned changes, operation `plan`.
fn plan_summary(events: &[J]) -> &J {
    let summaries = of_type(events, "change_summary");
    let s = summaries
        .iter()
        .find(|s| s["changes"]["operation"] == "plan")
        .unwrap_or_else(|| panic!("no plan summary in {summaries:?}"));
    &s["changes"]
}

#[test]
fn plan_json_is_terraforms_stream_of_the_providers_resources() {
    let stack = Stack::new();
    let plan = stack.cmd("plan").arg("-json").run();
    plan.success();
    assert!(plan.stderr.is_empty(), "{}", plan.stderr);
    let events = events(&plan);
    assert_version_first(&events);
    let (by_action, by_address) = planned(&events);
    // Every provider resource is created: the secrets' values as their own versions.
    assert_eq!(
        by_action,
        BTreeMap::from([("create".to_owned(), PLANNED_RESOURCES)])
    );
    for secret in ["admin_credentials", "db_config", "db_password"] {
        for type_name in [
            "aws_secretsmanager_secret",
            "aws_secretsmanager_secret_version",
        ] {
            let address = format!("module.secrets.{type_name}.{secret}");
            let change = by_address
                .get(&address)
                .unwrap_or_else(|| panic!("no planned_change of {address}"));
            assert_eq!(change["resource"]["resource_type"], type_name);
            assert_eq!(change["action"], "create");
        }
    }
    // A resource with a key: the mount targets, keyed by zone.
    let mount = &by_address["module.efs.aws_efs_mount_target.main[\"eu-west-3a\"]"];
    assert_eq!(mount["resource"]["resource_key"], "eu-west-3a");
    // The counts are the planned changes', as the text plan's line says them.
    let summary = plan_summary(&events);
    assert_eq!(
        summary,
        &json!({ "add": PLANNED_RESOURCES, "change": 0, "import": 0, "remove": 0, "operation": "plan" })
    );
    let quiet = stack.cmd("plan").arg("-quiet").run();
    assert_eq!(
        quiet.stdout.trim_end(),
        of_type(&events, "change_summary")[0]["@message"]
    );
    // Then the outputs, each to be created, with no value in a plan.
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(&kinds[kinds.len() - 2..], ["change_summary", "outputs"]);
    let outputs = events.last().unwrap();
    assert_eq!(outputs["@message"], format!("Outputs: {OUTPUTS}"));
    let outputs = outputs["outputs"].as_object().unwrap();
    assert_eq!(outputs.len(), OUTPUTS);
    assert_eq!(
        outputs["database_endpoint"],
        json!({ "sensitive": true, "action": "create" })
    );
    assert_eq!(
        outputs["ecs_cluster_name"],
        json!({ "sensitive": false, "action": "create" })
    );
    assert!(outputs
        .values()
        .all(|o| o["action"] == "create" && o.get("value").is_none()));
    // The first change in full, the summary in full: the shape scripts rely on.
    let changes = of_type(&events, "planned_change");
    let mut filters = filters();
    // stackctl's own version, asserted above.
    filters.push((r"stackctl \d+\.\d+\.\d+\S*", "stackctl [version]"));
    filters.push((r#""stackctl": "[^"]+""#, r#""stackctl": "[version]""#));
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!(
            "plan_json_first_and_summary",
            format!(
                "{}\n{}\n{}",
                serde_json::to_string_pretty(&events[0]).unwrap(),
                serde_json::to_string_pretty(changes[0]).unwrap(),
                serde_json::to_string_pretty(of_type(&events, "change_summary")[0]).unwrap()
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
        format!("Plan: {PLANNED_RESOURCES} to add, 0 to change, 0 to destroy.\n")
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
    assert_version_first(&events);
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
    let (by_action, _) = planned(&events);
    assert_eq!(by_action, BTreeMap::from([("update".to_owned(), 1)]));
    // The service's update, hook by hook, named as the plan named it, with its id.
    let service = "module.ecs.aws_ecs_service.main";
    for kind in ["apply_start", "apply_complete"] {
        let hooks = of_type(&events, kind);
        assert_eq!(hooks.len(), 1, "{hooks:?}");
        let hook = &hooks[0]["hook"];
        assert_terraforms_resource(&hook["resource"]);
        assert_eq!(hook["resource"]["addr"], service);
        assert_eq!(hook["action"], "update");
        assert_eq!(hook["id_key"], "id");
        assert_eq!(hook["id_value"], stack.id(service), "{hook}");
    }
    assert_eq!(
        of_type(&events, "apply_start")[0]["@message"],
        format!("{service}: Modifying... [id={}]", stack.id(service))
    );
    assert!(of_type(&events, "apply_complete")[0]["hook"]["elapsed_seconds"].is_u64());
    let summary = of_type(&events, "change_summary");
    let last = summary.last().unwrap();
    assert_eq!(last["changes"]["operation"], "apply");
    assert_eq!(last["changes"]["change"], 1, "{last}");
    // The plan's outputs (none changes), then the applied ones, with their types; sensitive
    // ones carry no value in the event stream.
    let outputs = of_type(&events, "outputs");
    assert_eq!(outputs.len(), 2, "{outputs:?}");
    for (name, o) in outputs[0]["outputs"].as_object().unwrap() {
        assert_eq!(o["action"], "noop", "{name}: {o}");
    }
    let applied = outputs[1]["outputs"].as_object().unwrap();
    assert_eq!(applied.len(), OUTPUTS);
    assert_eq!(
        applied["ecs_cluster_name"],
        json!({ "sensitive": false, "type": "string", "value": "prestashop-dev-cluster" })
    );
    assert_eq!(applied["database_port"]["type"], "number");
    for (name, o) in applied {
        assert_eq!(
            o.get("value").is_none(),
            o["sensitive"] == true,
            "{name}: {o}"
        );
        assert!(o.get("type").is_some(), "{name}: {o}");
    }
}

/// An image change, a secret's new value and a destroy, as Terraform's stream says them: the
/// task definition's new revision is a `replace` that destroys nothing (the old revision is
/// kept), a secret's value is its version's update alone, and the counts are the planned
/// changes'.
#[test]
fn replacements_secret_values_and_destroy_in_the_json_stream() {
    let stack = Stack::applied();
    let image = |command: &str| {
        stack
            .cmd(command)
            .arg("-json")
            .var("prestashop_image", "prestashop/prestashop:8.2-apache")
    };
    let plan = image("plan").run();
    plan.success();
    let plan_events = events(&plan);
    assert_version_first(&plan_events);
    let (by_action, by_address) = planned(&plan_events);
    assert_eq!(
        by_action,
        BTreeMap::from([("replace".to_owned(), 1), ("update".to_owned(), 1)])
    );
    let td = &by_address["module.ecs.aws_ecs_task_definition.main"];
    assert_eq!(td["action"], "replace");
    assert_eq!(td["reason"], "cannot_update");
    assert_eq!(
        by_address["module.ecs.aws_ecs_service.main"]["action"],
        "update"
    );
    assert_eq!(
        plan_summary(&plan_events),
        &json!({ "add": 1, "change": 1, "import": 0, "remove": 0, "operation": "plan" })
    );

    // -replace: the same replacement, asked for.
    let forced = stack
        .cmd("plan")
        .arg("-json")
        .arg("-replace")
        .arg("module.ecs.aws_ecs_task_definition.main")
        .run();
    forced.success();
    let (_, by_address) = planned(&events(&forced));
    assert_eq!(
        by_address["module.ecs.aws_ecs_task_definition.main"]["reason"],
        "requested"
    );

    // Applied: the hooks say `replace`, and apply's summary destroys nothing either.
    let apply = image("apply")
        .arg("-auto-approve")
        .arg("-wait=false")
        .run()
        .success()
        .stdout
        .clone();
    let applied: Vec<J> = apply
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let td_hooks: Vec<&J> = applied
        .iter()
        .filter(|e| e["hook"]["resource"]["addr"] == "module.ecs.aws_ecs_task_definition.main")
        .collect();
    assert!(td_hooks.len() >= 2, "{td_hooks:?}");
    assert!(
        td_hooks.iter().all(|e| e["hook"]["action"] == "replace"),
        "{td_hooks:?}"
    );
    let summary = &applied
        .iter()
        .rev()
        .find(|e| e["type"] == "change_summary")
        .unwrap()["changes"];
    assert_eq!(
        (
            &summary["add"],
            &summary["change"],
            &summary["remove"],
            &summary["operation"]
        ),
        (&json!(1), &json!(1), &json!(0), &json!("apply")),
        "{summary}"
    );

    // A new admin password: the admin secret's version is updated, the secret itself is not.
    let secret = image("plan")
        .env(
            "STACKCTL_VAR_admin_password",
            &format!("{ADMIN_PASSWORD}-rotated"),
        )
        .run();
    secret.success();
    let secret_events = events(&secret);
    let (by_action, by_address) = planned(&secret_events);
    let version = "module.secrets.aws_secretsmanager_secret_version.admin_credentials";
    assert_eq!(by_address[version]["action"], "update", "{by_address:?}");
    assert!(!by_address.contains_key("module.secrets.aws_secretsmanager_secret.admin_credentials"));
    assert_eq!(
        plan_summary(&secret_events)["change"],
        by_action["update"],
        "{by_action:?}"
    );
    assert!(!secret.stdout.contains(ADMIN_PASSWORD));

    // Destroy: every provider resource deleted, every output gone, the counts the same.
    let destroy = stack.cmd("destroy").arg("-json").arg("-auto-approve").run();
    destroy.success();
    let destroyed = events(&destroy);
    assert_version_first(&destroyed);
    let (by_action, by_address) = planned(&destroyed);
    assert_eq!(
        by_action,
        BTreeMap::from([("delete".to_owned(), PLANNED_RESOURCES)])
    );
    assert!(by_address.values().all(|c| c.get("reason").is_none()));
    assert_eq!(
        plan_summary(&destroyed),
        &json!({ "add": 0, "change": 0, "import": 0, "remove": PLANNED_RESOURCES, "operation": "plan" })
    );
    let outputs = &of_type(&destroyed, "outputs")[0]["outputs"];
    assert_eq!(outputs.as_object().unwrap().len(), OUTPUTS);
    assert!(outputs
        .as_object()
        .unwrap()
        .values()
        .all(|o| o["action"] == "delete"));
    let last = &of_type(&destroyed, "change_summary").last().unwrap()["changes"];
    assert_eq!(
        (&last["remove"], &last["operation"]),
        (&json!(PLANNED_RESOURCES), &json!("destroy")),
        "{last}"
    );
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
