//! Terraform's plan habits through the real binary against moto: `plan -out` / `apply FILE`
//! (applied exactly, refused when stale or for other passwords, no secret in the file),
//! `-target`, `-replace`, `import`, `-refresh-only` / `refresh` and `show -json`, each checked
//! against the account or the file it produced.

mod common;

use common::{assert_no_secrets, squash, Stack, ADMIN_PASSWORD, DB_PASSWORD};
use serde_json::Value as J;
use stackctl_testkit::{PLANNED_RESOURCES, STACK_RESOURCES};

const LOG_GROUP: &str = "module.ecs.aws_cloudwatch_log_group.main";
const LOG_GROUP_NAME: &str = "/ecs/prestashop-dev";
const TASK_DEFINITION: &str = "module.ecs.aws_ecs_task_definition.main";

/// `apply FILE` as a Terraform user types it: the file alone, the passwords from the
/// environment.
fn apply_file<'a>(stack: &'a Stack, file: &str) -> common::Cmd<'a> {
    stack
        .bare(&["apply", file])
        .env("STACKCTL_VAR_db_password", DB_PASSWORD)
        .env("STACKCTL_VAR_admin_password", ADMIN_PASSWORD)
}

fn read_json(stack: &Stack, file: &str) -> (String, J) {
    let text = std::fs::read_to_string(stack.dir.path().join(file)).expect("the plan file");
    let doc = serde_json::from_str(&text).expect("the plan file is JSON");
    (text, doc)
}

fn actions(doc: &J, address: &str) -> J {
    doc["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("{address} in resource_changes"))["change"]["actions"]
        .clone()
}

async fn log_group(sdk: &aws_types::SdkConfig) -> aws_sdk_cloudwatchlogs::types::LogGroup {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let out = logs
        .describe_log_groups()
        .log_group_name_prefix(LOG_GROUP_NAME)
        .send()
        .await
        .unwrap();
    assert_eq!(out.log_groups().len(), 1, "{out:?}");
    out.log_groups()[0].clone()
}

async fn log_group_tags(sdk: &aws_types::SdkConfig) -> std::collections::HashMap<String, String> {
    let arn = log_group(sdk)
        .await
        .arn()
        .unwrap()
        .trim_end_matches(":*")
        .to_owned();
    aws_sdk_cloudwatchlogs::Client::new(sdk)
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap()
        .tags()
        .cloned()
        .unwrap_or_default()
}

async fn service_desired_count(sdk: &aws_types::SdkConfig) -> i32 {
    let out = aws_sdk_ecs::Client::new(sdk)
        .describe_services()
        .cluster("prestashop-dev-cluster")
        .services("prestashop-dev-service")
        .send()
        .await
        .unwrap();
    out.services()[0].desired_count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_is_applied_exactly_and_holds_no_password() {
    let stack = Stack::new();
    let plan = stack.cmd("plan").arg("-out").arg("tfplan").run();
    plan.success()
        .stdout_has("Saved the plan to: tfplan")
        .stdout_has("stackctl apply \"tfplan\"");
    let (text, doc) = read_json(&stack, "tfplan");
    for secret in [DB_PASSWORD, ADMIN_PASSWORD] {
        assert!(!text.contains(secret), "a password in the plan file");
    }
    assert_eq!(doc["format_version"], "1.2");
    assert_eq!(doc["stack"]["project"], "prestashop");
    assert_eq!(doc["stack"]["state_serial"], 0);
    assert!(doc["sensitive_variables"]["db_password"]
        .as_str()
        .unwrap()
        .starts_with("fingerprint:sha256:"));
    let changes = doc["resource_changes"].as_array().unwrap();
    assert_eq!(changes.len(), PLANNED_RESOURCES);
    assert!(changes
        .iter()
        .all(|c| c["change"]["actions"] == serde_json::json!(["create"])));

    // Applied as saved: no var file, no prompt, the passwords from the environment.
    let apply = apply_file(&stack, "tfplan").run();
    apply.success().stdout_has(format!(
        "Apply complete! Resources: {PLANNED_RESOURCES} added"
    ));
    assert_eq!(
        stack.state()["resources"].as_object().unwrap().len(),
        STACK_RESOURCES
    );
    let sdk = stack.sdk().await;
    assert_eq!(log_group(&sdk).await.retention_in_days(), Some(3));
    assert_eq!(service_desired_count(&sdk).await, 1);
    // It was the whole plan: nothing is left to do.
    let again = stack.cmd("plan").arg("-detailed-exitcode").run();
    assert_eq!(again.code, 0, "{again:?}");
    // A plan file is used once: the stack it was made for had no state, it has one now.
    let twice = apply_file(&stack, "tfplan").run();
    assert_eq!(twice.code, 1, "{twice:?}");
    twice.stderr_has("saved plan tfplan is stale: the stack had no state when it was made");
    assert_no_secrets(&stack);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_or_mismatched_saved_plan_is_refused_and_changes_nothing() {
    let stack = Stack::applied();
    let sdk = stack.sdk().await;
    stack
        .cmd("plan")
        .var("desired_count", 2)
        .arg("-out=tfplan")
        .run()
        .success()
        .stdout_has("~ desired_count");

    // Other passwords than the plan's, or a variable the plan did not have: refused first.
    let other = stack
        .bare(&["apply", "tfplan"])
        .env("STACKCTL_VAR_db_password", "AnotherPass-123456")
        .env("STACKCTL_VAR_admin_password", ADMIN_PASSWORD)
        .run();
    assert_eq!(other.code, 1, "{other:?}");
    other.stderr_has("db_password differs from the value saved plan tfplan was made with");
    assert!(!other.stderr.contains("AnotherPass"), "{other:?}");
    let var = apply_file(&stack, "tfplan").var("desired_count", 4).run();
    assert_eq!(var.code, 1, "{var:?}");
    var.stderr_has("desired_count is \"4\" here (-var), but saved plan tfplan was made with \"2\"");

    // Drift since the plan: the same state, but AWS no longer as planned.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    logs.put_retention_policy()
        .log_group_name(LOG_GROUP_NAME)
        .retention_in_days(30)
        .send()
        .await
        .unwrap();
    let drift = apply_file(&stack, "tfplan").run();
    assert_eq!(drift.code, 1, "{drift:?}");
    drift.stderr_has(format!(
        "saved plan tfplan no longer describes what apply would do (changed outside stackctl since it was made): {LOG_GROUP}"
    ));
    assert_eq!(service_desired_count(&sdk).await, 1);

    // Another apply between plan and apply: the plan is stale.
    stack
        .cmd("plan")
        .var("desired_count", 2)
        .arg("-out=tfplan")
        .run()
        .success();
    stack
        .cmd("apply")
        .var("desired_count", 3)
        .arg("-auto-approve")
        .run()
        .success();
    let stale = apply_file(&stack, "tfplan").run();
    assert_eq!(stale.code, 1, "{stale:?}");
    stale.stderr_has("Error: saved plan tfplan is stale: the state changed since it was made");
    // The hint repeats the plan's own flags, not a fixed command (no password among them).
    let dev = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/dev.toml");
    stale.stderr_has(format!(
        "hint: plan again (`stackctl plan -var-file {} -var desired_count=2 -out tfplan`)",
        dev.display()
    ));
    assert_eq!(
        service_desired_count(&sdk).await,
        3,
        "the stale plan changed AWS"
    );
    // Another stack's state (its own lineage) does not take it either.
    stack
        .cmd("plan")
        .var("desired_count", 2)
        .arg("-out=tfplan")
        .run()
        .success();
    let other_state = apply_file(&stack, "tfplan")
        .arg("-state")
        .arg("elsewhere.json")
        .run();
    assert_eq!(other_state.code, 1, "{other_state:?}");
    other_state.stderr_has("saved plan tfplan is for the state of lineage");
    // Not a plan file at all.
    std::fs::write(stack.dir.path().join("junk"), "{}").unwrap();
    let junk = apply_file(&stack, "junk").run();
    assert_eq!(junk.code, 1, "{junk:?}");
    junk.stderr_has("junk is not a stackctl plan file");
    assert_no_secrets(&stack);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_creates_only_the_target_and_what_it_needs() {
    let stack = Stack::new();
    let plan = stack.cmd("plan").arg("-target").arg("module.efs").run();
    plan.success()
        .stderr_has("Warning: Resource targeting is in effect")
        .stdout_has("# module.efs.aws_efs_file_system.main will be created");
    assert!(!plan.stdout.contains("module.rds"), "{plan:?}");
    let apply = stack
        .cmd("apply")
        .arg("-target=module.efs")
        .arg("-auto-approve")
        .run();
    apply
        .success()
        .stderr_has("Warning: Applied changes may be incomplete");
    let state = stack.state();
    let recorded: Vec<&String> = state["resources"].as_object().unwrap().keys().collect();
    assert!(recorded
        .iter()
        .any(|a| a.starts_with("module.efs.aws_efs_mount_target.main[")));
    assert!(
        recorded
            .iter()
            .all(|a| a.starts_with("module.efs.") || a.starts_with("module.security.")),
        "{recorded:?}"
    );
    assert!(recorded.contains(&&"module.security.aws_security_group.efs".to_owned()));
    // The account has the file system and its mount targets, and nothing that does not feed them.
    let sdk = stack.sdk().await;
    let fs = aws_sdk_efs::Client::new(&sdk)
        .describe_file_systems()
        .send()
        .await
        .unwrap();
    assert_eq!(fs.file_systems().len(), 1);
    let clusters = aws_sdk_ecs::Client::new(&sdk)
        .list_clusters()
        .send()
        .await
        .unwrap();
    assert!(clusters.cluster_arns().is_empty(), "{clusters:?}");
    let dbs = aws_sdk_rds::Client::new(&sdk)
        .describe_db_instances()
        .send()
        .await
        .unwrap();
    assert!(dbs.db_instances().is_empty());
    let lbs = aws_sdk_elasticloadbalancingv2::Client::new(&sdk)
        .describe_load_balancers()
        .send()
        .await
        .unwrap();
    assert!(lbs.load_balancers().is_empty());
    // A target that is nobody's is refused, not planned as nothing.
    let typo = stack
        .cmd("plan")
        .arg("-target=module.efs.aws_efs_file_sistem.main")
        .run();
    assert_eq!(typo.code, 1, "{typo:?}");
    typo.stderr_has(
        "-target module.efs.aws_efs_file_sistem.main: no resource of this stack has that address",
    );
    // The rest comes with a plain apply.
    stack.cmd("apply").arg("-auto-approve").run().success();
    assert_eq!(
        stack.state()["resources"].as_object().unwrap().len(),
        STACK_RESOURCES
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_replaces_one_resource_and_updates_what_uses_it() {
    let stack = Stack::applied();
    let before = stack.id(TASK_DEFINITION);
    let other = stack.id(LOG_GROUP);
    let plan = stack
        .cmd("plan")
        .arg("-replace")
        .arg(TASK_DEFINITION)
        .arg("-detailed-exitcode")
        .run();
    assert_eq!(plan.code, 2, "{plan:?}");
    plan.stdout_has(format!(
        "# {TASK_DEFINITION} must be replaced, but the existing object will not be destroyed (replacement requested with -replace)"
    ));
    plan.stdout_has("# module.ecs.aws_ecs_service.main will be updated in place");
    stack
        .cmd("apply")
        .arg(format!("-replace={TASK_DEFINITION}"))
        .arg("-auto-approve")
        .run()
        .success()
        .stdout_has("Apply complete! Resources: 1 added, 1 changed, 0 destroyed.");
    let after = stack.id(TASK_DEFINITION);
    assert_ne!(before, after, "the task definition was not replaced");
    assert_eq!(stack.id(LOG_GROUP), other);
    // The service runs the new revision.
    let sdk = stack.sdk().await;
    let out = aws_sdk_ecs::Client::new(&sdk)
        .describe_services()
        .cluster("prestashop-dev-cluster")
        .services("prestashop-dev-service")
        .send()
        .await
        .unwrap();
    assert_eq!(out.services()[0].task_definition(), Some(after.as_str()));
    let wrong = stack.cmd("plan").arg("-replace=module.ecs").run();
    assert_eq!(wrong.code, 1, "{wrong:?}");
    wrong.stderr_has("(-replace takes one resource)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_takes_a_hand_made_log_group_and_apply_adopts_it_without_recreating() {
    let stack = Stack::new();
    let sdk = stack.sdk().await;
    aws_sdk_cloudwatchlogs::Client::new(&sdk)
        .create_log_group()
        .log_group_name(LOG_GROUP_NAME)
        .send()
        .await
        .unwrap();
    let created = log_group(&sdk).await.creation_time();

    // Refused: an id AWS does not have, an address the configuration lacks.
    let missing = stack
        .cmd("import")
        .arg(LOG_GROUP)
        .arg("/ecs/nothing-here")
        .run();
    assert_eq!(missing.code, 1, "{missing:?}");
    missing.stderr_has(
        "no aws_cloudwatch_log_group with id \"/ecs/nothing-here\" in AWS; nothing was imported",
    );
    let nowhere = stack
        .cmd("import")
        .arg("module.ecs.aws_cloudwatch_log_group.other")
        .arg(LOG_GROUP_NAME)
        .run();
    assert_eq!(nowhere.code, 1, "{nowhere:?}");
    nowhere.stderr_has(
        "module.ecs.aws_cloudwatch_log_group.other is not a resource of this stack's configuration",
    );
    assert!(
        !stack.state_path().exists(),
        "a refused import wrote a state"
    );

    stack
        .cmd("import")
        .arg(LOG_GROUP)
        .arg(LOG_GROUP_NAME)
        .run()
        .success()
        .stdout_has("Import successful!");
    assert_eq!(stack.id(LOG_GROUP), LOG_GROUP_NAME);
    // Once is enough.
    let twice = stack.cmd("import").arg(LOG_GROUP).arg(LOG_GROUP_NAME).run();
    assert_eq!(twice.code, 1, "{twice:?}");
    twice.stderr_has(format!(
        "{LOG_GROUP} is already in the state (id {LOG_GROUP_NAME})"
    ));

    // The plan shows what it lacks: the stack's tags and retention, as an update in place.
    let plan = stack.cmd("plan").run();
    plan.success();
    let out = squash(&plan.stdout);
    assert!(
        out.contains(&format!("# {LOG_GROUP} will be updated in place")),
        "{out}"
    );
    assert!(out.contains("~ tags = {} -> {"), "{out}");
    assert!(
        out.contains("~ retention_in_days = 0 -> 3")
            || out.contains("~ retention_in_days = null -> 3"),
        "{out}"
    );
    stack
        .cmd("apply")
        .arg("-auto-approve")
        .run()
        .success()
        .stdout_has(format!(
            "Apply complete! Resources: {} added, 1 changed, 0 destroyed.",
            PLANNED_RESOURCES - 1
        ));
    let group = log_group(&sdk).await;
    assert_eq!(
        group.creation_time(),
        created,
        "the log group was recreated"
    );
    assert_eq!(group.retention_in_days(), Some(3));
    let tags = log_group_tags(&sdk).await;
    assert_eq!(
        tags.get("stackctl:project").map(String::as_str),
        Some("prestashop"),
        "{tags:?}"
    );
    assert_eq!(
        tags.get("stackctl:environment").map(String::as_str),
        Some("dev"),
        "{tags:?}"
    );
    assert_eq!(
        tags.get("ManagedBy").map(String::as_str),
        Some("stackctl"),
        "{tags:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_only_records_drift_without_changing_aws() {
    let stack = Stack::applied();
    let sdk = stack.sdk().await;
    aws_sdk_cloudwatchlogs::Client::new(&sdk)
        .put_retention_policy()
        .log_group_name(LOG_GROUP_NAME)
        .retention_in_days(30)
        .send()
        .await
        .unwrap();
    let serial = stack.state()["serial"].clone();

    let plan = stack
        .cmd("plan")
        .arg("-refresh-only")
        .arg("-detailed-exitcode")
        .run();
    assert_eq!(plan.code, 2, "{plan:?}");
    plan.stdout_has("Note: Objects have changed outside of stackctl")
        .stdout_has(format!("# {LOG_GROUP} has changed"))
        .stdout_has("~ retention_in_days = 3 -> 30")
        .stdout_has("This is a refresh-only plan");
    assert_eq!(stack.state()["serial"], serial, "plan wrote the state");

    stack
        .cmd("apply")
        .arg("-refresh-only")
        .arg("-auto-approve")
        .run()
        .success()
        .stdout_has("1 refreshed into the state");
    assert_eq!(
        stack.state()["resources"][LOG_GROUP]["attrs"]["retention_in_days"],
        30
    );
    assert_eq!(
        log_group(&sdk).await.retention_in_days(),
        Some(30),
        "AWS was changed"
    );
    // Saved, then applied: the same, through a plan file.
    aws_sdk_cloudwatchlogs::Client::new(&sdk)
        .put_retention_policy()
        .log_group_name(LOG_GROUP_NAME)
        .retention_in_days(60)
        .send()
        .await
        .unwrap();
    stack
        .cmd("plan")
        .arg("-refresh-only")
        .arg("-out=drift.plan")
        .run()
        .success()
        .stdout_has("~ retention_in_days = 30 -> 60");
    let (_, saved) = read_json(&stack, "drift.plan");
    assert_eq!(saved["refresh_only"], true);
    assert_eq!(saved["resource_drift"][0]["address"], LOG_GROUP);
    assert_eq!(
        saved["resource_drift"][0]["change"]["after"]["retention_in_days"],
        60
    );
    apply_file(&stack, "drift.plan")
        .run()
        .success()
        .stdout_has("1 refreshed into the state");
    assert_eq!(
        stack.state()["resources"][LOG_GROUP]["attrs"]["retention_in_days"],
        60
    );
    assert_eq!(log_group(&sdk).await.retention_in_days(), Some(60));
    // Recorded: nothing more to refresh; the normal plan now puts the configuration back.
    stack
        .cmd("refresh")
        .run()
        .success()
        .stdout_has("No changes. Your infrastructure still matches the state");
    stack
        .cmd("plan")
        .run()
        .success()
        .stdout_has("~ retention_in_days = 60 -> 3");
    assert_no_secrets(&stack);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_json_gives_a_plan_ci_can_gate_on_with_secrets_masked() {
    let stack = Stack::applied();
    stack
        .cmd("plan")
        .var("desired_count", 3)
        .var("db_instance_class", "db.t3.small")
        .arg("-out")
        .arg("tfplan")
        .run()
        .success();
    let show = stack.bare(&["show", "-json", "tfplan"]).run();
    show.success();
    let doc: J = serde_json::from_str(&show.stdout).expect("one JSON document");
    assert_eq!(doc["format_version"], "1.2");
    assert!(doc.get("fingerprint_salt").is_none());
    assert_eq!(doc["sensitive_variables"]["db_password"]["sensitive"], true);
    // jq '.resource_changes[] | select(.change.actions != ["no-op"]) | .address'
    let changing: Vec<&str> = doc["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"]["actions"] != serde_json::json!(["no-op"]))
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        changing,
        [
            "module.rds.aws_db_instance.main",
            "module.ecs.aws_ecs_service.main"
        ],
        "{doc:#}"
    );
    let service = doc["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "module.ecs.aws_ecs_service.main")
        .unwrap();
    assert_eq!(service["type"], "aws_ecs_service");
    assert_eq!(service["change"]["actions"], serde_json::json!(["update"]));
    assert_eq!(service["change"]["before"]["desired_count"], 1);
    assert_eq!(service["change"]["after"]["desired_count"], 3);
    // The database's password: flagged sensitive, its value (and its fingerprint) omitted.
    let db = doc["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "module.rds.aws_db_instance.main")
        .unwrap();
    assert_eq!(db["change"]["after"]["instance_class"], "db.t3.small");
    assert_eq!(db["change"]["after_sensitive"]["password"], true);
    assert_eq!(db["change"]["before_sensitive"]["password"], true);
    assert!(db["change"]["after"].get("password").is_none());
    assert_eq!(
        actions(&doc, "module.secrets.aws_secretsmanager_secret.db_password"),
        serde_json::json!(["no-op"])
    );
    for text in [&show.stdout, &read_json(&stack, "tfplan").0] {
        assert!(!text.contains(DB_PASSWORD) && !text.contains(ADMIN_PASSWORD));
    }
    assert!(
        !show.stdout.contains("fingerprint:"),
        "a fingerprint in show -json"
    );

    // For people: one line per change and the summary.
    let human = stack.bare(&["show", "tfplan"]).run();
    human
        .success()
        .stdout_has("~ module.ecs.aws_ecs_service.main will be updated in place")
        .stdout_has("Plan: 0 to add, 2 to change, 0 to destroy.");
    // Without a file: the state, in the same JSON shape's `values`.
    let state = stack.bare(&["show", "-json"]).run();
    state.success();
    let doc: J = serde_json::from_str(&state.stdout).expect("one JSON document");
    // Terraform's module tree: each module's resources under `child_modules`, in the
    // provider's shapes, with the provider's schema version.
    let modules = doc["values"]["root_module"]["child_modules"]
        .as_array()
        .unwrap();
    let resources: Vec<&J> = modules
        .iter()
        .flat_map(|m| m["resources"].as_array().unwrap())
        .collect();
    assert_eq!(resources.len(), PLANNED_RESOURCES);
    let rds = resources
        .iter()
        .find(|r| r["address"] == "module.rds.aws_db_instance.main")
        .unwrap();
    assert_eq!(rds["schema_version"], 2);
    assert_eq!(rds["values"]["publicly_accessible"], false);
    assert_eq!(rds["sensitive_values"]["password"], true);
    assert_eq!(doc["terraform_version"], "1.11.4");
    assert!(!state.stdout.contains("fingerprint:"));
    assert_eq!(doc["values"]["outputs"]["db_password"], J::Null);
    stack
        .bare(&["show"])
        .run()
        .success()
        .stdout_has(format!("# {LOG_GROUP}:"));
    assert_no_secrets(&stack);
}

#[test]
fn plan_without_a_var_file_says_which_stack_and_which_defaults() {
    let stack = Stack::new();
    let plan = stack
        .bare(&["plan", "-out", "p.bin"])
        .env("STACKCTL_VAR_db_password", DB_PASSWORD)
        .env("STACKCTL_VAR_admin_password", ADMIN_PASSWORD)
        .run();
    plan.success();
    plan.stderr_has("Warning: No -var-file given: this run is for the stack prestashop-dev (project_name and environment at their built-in defaults) in eu-west-3")
        .stderr_has("variables take stackctl's built-in defaults: aws_region, project_name, environment,")
        .stderr_has("hint: examples/dev.toml names this same stack; pass -var-file FILE");
    // A -var that names another stack is said as such.
    let other = stack
        .bare(&["plan", "-var", "environment=qa"])
        .env("STACKCTL_VAR_db_password", DB_PASSWORD)
        .env("STACKCTL_VAR_admin_password", ADMIN_PASSWORD)
        .run();
    other.success();
    other.stderr_has(
        "the stack prestashop-qa (project_name from its default, environment from -var)",
    );
    assert!(!other.stderr.contains("examples/dev.toml"), "{other:?}");
    // With a var file, not a word.
    let given = stack.cmd("plan").run();
    given.success();
    assert!(!given.stderr.contains("-var-file"), "{given:?}");
}

/// A state written before `show -json` spoke the provider's shapes (no CA certificate recorded,
/// the secret's value inside the secret's entry) still plans no change, refreshes with no
/// drift, applies nothing, and shows in the provider's shapes: the state's format did not
/// change, only its translation at the edge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_from_before_the_provider_shapes_round_trips_unchanged() {
    let stack = Stack::applied();
    let mut state = stack.state();
    let db = state["resources"]["module.rds.aws_db_instance.main"]["attrs"]
        .as_object_mut()
        .expect("the database's attributes");
    assert!(db.remove("ca_cert_identifier").is_some(), "{db:?}");
    std::fs::write(
        stack.state_path(),
        serde_json::to_string_pretty(&state).unwrap(),
    )
    .unwrap();

    let plan = stack.cmd("plan").arg("-detailed-exitcode").run();
    assert_eq!(plan.code, 0, "{plan:?}");
    let drift = stack
        .cmd("plan")
        .arg("-refresh-only")
        .arg("-detailed-exitcode")
        .run();
    assert_eq!(drift.code, 0, "{drift:?}");
    stack
        .cmd("apply")
        .arg("-auto-approve")
        .run()
        .success()
        .stdout_has("Apply complete! Resources: 0 added, 0 changed, 0 destroyed.");

    let show = stack.bare(&["show", "-json"]).run();
    show.success();
    let doc: J = serde_json::from_str(&show.stdout).expect("one JSON document");
    let resources: Vec<&J> = doc["values"]["root_module"]["child_modules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["resources"].as_array().unwrap())
        .collect();
    assert_eq!(resources.len(), PLANNED_RESOURCES);
    let version = resources
        .iter()
        .find(|r| r["address"] == "module.secrets.aws_secretsmanager_secret_version.db_password")
        .expect("the secret's value as its own resource");
    assert_eq!(version["sensitive_values"]["secret_string"], true);
    assert!(version["values"].get("secret_string").is_none());
    let service = resources
        .iter()
        .find(|r| r["address"] == "module.ecs.aws_ecs_service.main")
        .unwrap();
    assert_eq!(
        service["values"]["network_configuration"][0]["assign_public_ip"],
        true
    );
    assert!(!show.stdout.contains("fingerprint:"));
    assert_eq!(
        stack.state()["resources"].as_object().unwrap().len(),
        STACK_RESOURCES
    );
    assert_no_secrets(&stack);
}
