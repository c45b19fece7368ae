//! The Terraform ecosystem reads stackctl's plans as Terraform's: checkov (pinned, installed by
//! scripts/test.sh as moto is) and a conftest-style policy, given `show -json` of stackctl's plan
//! and Terraform's own plan of the same stack (tests/fixtures/terraform/), find the same
//! resources and give the same results, check by check, on the stack as it is and on a stack
//! weakened on purpose. A tool that skipped stackctl's resources, or read a value under the
//! wrong name or shape, would pass a stack it should fail: these tests say which check differs.
//!
//! `cargo test ... --test ecosystem -- --nocapture` prints the comparison tables.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::checkov::{checkov, resource_types, Findings};
use common::{assert_no_secrets, Stack};
use serde_json::{json, Value as J};
use stackctl_testkit::PROD_EXTRA_RESOURCES;

/// Terraform 1.11.4's plan of the stack from an empty account with the dev variables.
fn terraform_plan_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/terraform/plan-from-empty.json")
}

fn terraform_plan() -> J {
    let text = std::fs::read_to_string(terraform_plan_path()).expect("the Terraform fixture");
    serde_json::from_str(&text).expect("the fixture is JSON")
}

/// checkov on Terraform's plan, run once for every test of the binary.
fn terraform_findings() -> &'static Findings {
    static F: OnceLock<Findings> = OnceLock::new();
    F.get_or_init(|| checkov("-f", &terraform_plan_path()))
}

/// The resources checkov reads out of Terraform's plan, by type.
fn terraform_types() -> &'static [String] {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| resource_types(&terraform_plan_path()))
}

/// stackctl's plan of `examples/{environment}.toml` from an empty account: `plan -out`, then
/// `show -json` of the file, as a CI job hands it to checkov.
fn stackctl_plan(stack: &Stack, environment: &str) -> J {
    stack
        .cmd_for("plan", environment)
        .arg("-out")
        .arg("tfplan")
        .run()
        .success();
    let show = stack.bare(&["show", "-json", "tfplan"]).run();
    show.success();
    serde_json::from_str(&show.stdout).expect("show -json prints one JSON document")
}

fn write_json(dir: &Path, name: &str, v: &J) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(v).unwrap()).unwrap();
    path
}

/// A result checkov gives differently on the two plans because stackctl's configuration
/// differs from the reference configuration in a value (not in a shape): check, type,
/// (passed, failed) on Terraform's plan, on stackctl's, and why.
type Expected = (
    &'static str,
    &'static str,
    (usize, usize),
    (usize, usize),
    &'static str,
);

/// The dev stack: none. Every value a check reads is the same in both configurations (names,
/// health-check timings and the circuit breaker differ, and no check reads them).
const EXPECTED_DEV: &[Expected] = &[];

/// The prod stack against Terraform's dev plan: prod's values (retention 30 days, the final
/// snapshot kept) change no other check's result (a 30-day retention fails CKV_AWS_338, one
/// year, as 3 days does); its database class brings one more check.
const EXPECTED_PROD: &[Expected] = &[
    (
        "CKV_AWS_157",
        "aws_db_instance",
        (0, 1),
        (1, 0),
        "prod's database is multi-AZ (db_multi_az = true); dev's is not (Terraform's plan is of dev)",
    ),
    (
        "CKV_AWS_293",
        "aws_db_instance",
        (0, 1),
        (1, 0),
        "prod's database has deletion protection (db_deletion_protection = true); dev's has not",
    ),
    (
        "CKV_AWS_353",
        "aws_db_instance",
        (0, 0),
        (1, 0),
        "prod's db.t3.medium has Performance Insights on (db_performance_insights = true); checkov skips the check for dev's db.t3.micro, which has none",
    ),
    (
        "CKV_AWS_354",
        "aws_db_instance",
        (1, 0),
        (0, 1),
        "prod's Performance Insights are encrypted with RDS's AWS-managed key, not a customer key (stackctl asks for none); dev has no Performance Insights to encrypt",
    ),
];

/// One row of the comparison: check, type, (passed, failed) on each plan.
type Row = (String, String, (usize, usize), (usize, usize));

/// Every check that ran on a type both plans have (and on the provider, `aws`, which both
/// configure), with its counts on each, printed as a table under `title`; the rows that
/// differ come back.
fn compare(title: &str, tf: &Findings, ours: &Findings, types: &[String]) -> Vec<Row> {
    let keys: std::collections::BTreeSet<&(String, String)> = tf
        .results
        .keys()
        .chain(ours.results.keys())
        .filter(|(_, t)| t == "aws" || types.contains(t))
        .collect();
    println!(
        "\n{title}\n{:<14} {:<34} {:>9} {:>9}",
        "check", "type", "terraform", "stackctl"
    );
    let mut differ = Vec::new();
    for key in keys {
        let a = tf.results.get(key).copied().unwrap_or_default();
        let b = ours.results.get(key).copied().unwrap_or_default();
        let mark = if a == b { "" } else { "  <- differs" };
        println!(
            "{:<14} {:<34} {:>4}/{:<4} {:>4}/{:<4}{mark}",
            key.0, key.1, a.0, a.1, b.0, b.1
        );
        if a != b {
            differ.push((key.0.clone(), key.1.clone(), a, b));
        }
    }
    println!("(passed/failed per check and type)");
    println!(
        "totals: terraform {} resources, {} checks, {} passed, {} failed; stackctl {} resources, {} checks, {} passed, {} failed",
        tf.resource_count,
        tf.checks(),
        tf.passed(),
        tf.failed(),
        ours.resource_count,
        ours.checks(),
        ours.passed(),
        ours.failed()
    );
    differ
}

/// The rows that differ are exactly the expected ones: nothing else, and each expected one
/// still differs as said (a list of excuses that no longer apply would hide the next change).
#[track_caller]
fn assert_only_expected(differ: &[Row], expected: &[Expected]) {
    let expected: Vec<Row> = expected
        .iter()
        .map(|(c, t, a, b, _)| (c.to_string(), t.to_string(), *a, *b))
        .collect();
    assert_eq!(
        differ, expected,
        "checkov's results differ between Terraform's plan and stackctl's (check, type, terraform (passed, failed), stackctl)"
    );
}

/// checkov on stackctl's plan of `environment`: the resources it reads (by type, as checkov's
/// parser reads them) and its findings, after checking it ran cleanly.
fn checkov_on(stack: &Stack, environment: &str, plan: &J) -> (PathBuf, Vec<String>, Findings) {
    let file = write_json(
        stack.dir.path(),
        &format!("stackctl-{environment}.json"),
        plan,
    );
    let types = resource_types(&file);
    let findings = checkov("-f", &file);
    findings.assert_clean();
    (file, types, findings)
}

#[test]
fn checkov_finds_in_stackctls_dev_plan_what_it_finds_in_terraforms() {
    let stack = Stack::new();
    let plan = stackctl_plan(&stack, "dev");
    assert_no_secrets(&stack);
    let (_, types, ours) = checkov_on(&stack, "dev", &plan);
    let tf = terraform_findings();
    tf.assert_clean();
    // Every resource: the same 27, type by type (names differ, and stackctl's are in modules).
    assert_eq!(terraform_types().len(), 27);
    assert_eq!(types, terraform_types(), "the resources checkov reads");
    assert_eq!(ours.resource_count, tf.resource_count);
    let differ = compare("checkov on the dev stack", tf, &ours, terraform_types());
    assert_only_expected(&differ, EXPECTED_DEV);
    // A gate on checkov's exit code fails on both.
    assert_eq!((ours.exit_code, tf.exit_code), (1, 1));
}

#[test]
fn checkov_reads_every_resource_of_the_prod_plan_and_no_check_errors() {
    let stack = Stack::new();
    let plan = stackctl_plan(&stack, "prod");
    assert_no_secrets(&stack);
    let (_, types, ours) = checkov_on(&stack, "prod", &plan);
    // prod has dev's resources, so Terraform's plan's types, and its EFS backup policy.
    let mut expected = terraform_types().to_vec();
    expected.push("aws_efs_backup_policy".to_owned());
    expected.sort();
    assert_eq!(types, expected, "the resources checkov reads");
    assert_eq!(ours.resource_count, 27 + PROD_EXTRA_RESOURCES as u64);
    // Every type has its checks run (a type whose values checkov could not read has none).
    let tf = terraform_findings();
    for t in terraform_types() {
        assert_eq!(
            ours.on_type(t) > 0,
            tf.on_type(t) > 0,
            "checks on {t}: stackctl {} terraform {}",
            ours.on_type(t),
            tf.on_type(t)
        );
    }
    let differ = compare(
        "checkov on the prod stack (Terraform's plan is of dev)",
        tf,
        &ours,
        &types,
    );
    assert_only_expected(&differ, EXPECTED_PROD);
}

/// Terraform's plan of the dev stack after apply, for two replicas and a new image.
fn terraform_update_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/terraform/plan-update.json")
}

/// The update plan: values stackctl records differently from the provider (not shapes).
const EXPECTED_UPDATE: &[Expected] = &[
    (
        "CKV_AWS_332",
        "aws_ecs_service",
        (0, 1),
        (1, 0),
        "moto reports the service's platform_version as \"\"; stackctl writes LATEST, what Fargate runs when none is asked for (and what real AWS reports)",
    ),
];

#[test]
fn checkov_finds_in_stackctls_update_plan_what_it_finds_in_terraforms() {
    let stack = Stack::applied();
    stack
        .cmd("plan")
        .var("desired_count", 2)
        .var("prestashop_image", "prestashop/prestashop:8.1")
        .arg("-out")
        .arg("update")
        .run()
        .success()
        .stdout_has("Plan: 1 to add, 1 to change, 0 to destroy.");
    let show = stack.bare(&["show", "-json", "update"]).run();
    show.success();
    let plan: J = serde_json::from_str(&show.stdout).unwrap();
    let changing: BTreeMap<String, J> = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"]["actions"] != json!(["no-op"]))
        .map(|c| {
            (
                c["type"].as_str().unwrap().to_owned(),
                c["change"]["actions"].clone(),
            )
        })
        .collect();
    // Terraform replaces the task definition; stackctl keeps the old revision for the running
    // service and for rollback: Terraform's create-then-forget, which deletes nothing.
    assert_eq!(
        changing,
        BTreeMap::from([
            ("aws_ecs_service".to_owned(), json!(["update"])),
            (
                "aws_ecs_task_definition".to_owned(),
                json!(["create", "forget"])
            ),
        ])
    );
    let tf_plan: J =
        serde_json::from_str(&std::fs::read_to_string(terraform_update_path()).unwrap()).unwrap();
    let tf_task = tf_plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "aws_ecs_task_definition")
        .unwrap();
    assert_eq!(tf_task["change"]["actions"], json!(["delete", "create"]));
    let service_after = |p: &J| {
        p["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "aws_ecs_service")
            .unwrap()["change"]["after"]["desired_count"]
            .clone()
    };
    assert_eq!(service_after(&plan), service_after(&tf_plan));

    let (_, types, ours) = checkov_on(&stack, "update", &plan);
    assert_eq!(types, terraform_types(), "the resources checkov reads");
    let tf = checkov("-f", &terraform_update_path());
    tf.assert_clean();
    let differ = compare(
        "checkov on the dev stack's update plan (2 replicas, a new image)",
        &tf,
        &ours,
        &types,
    );
    assert_only_expected(&differ, EXPECTED_UPDATE);
    assert_no_secrets(&stack);
}

/// Apply the same weakening to a plan, at the provider's attribute paths, in `planned_values`
/// and in every `resource_changes[].change.after`: SSH open to the world into the ECS tasks'
/// security group, and a public database.
fn weaken(plan: &mut J) {
    let ssh = json!({
        "cidr_blocks": ["0.0.0.0/0"],
        "description": "SSH from anywhere",
        "from_port": 22,
        "ipv6_cidr_blocks": [],
        "prefix_list_ids": [],
        "protocol": "tcp",
        "security_groups": [],
        "self": false,
        "to_port": 22,
    });
    let mut touched = BTreeMap::new();
    each_values(plan, &mut |type_name, name, values| {
        let hit = match (type_name, name) {
            ("aws_security_group", "ecs") => {
                let ingress = &mut values["ingress"];
                if !ingress.is_array() {
                    *ingress = json!([]);
                }
                ingress.as_array_mut().unwrap().push(ssh.clone());
                true
            }
            ("aws_db_instance", _) => {
                values["publicly_accessible"] = json!(true);
                true
            }
            _ => false,
        };
        if hit {
            *touched.entry(type_name.to_owned()).or_insert(0) += 1;
        }
    });
    // Each in planned_values and in resource_changes.
    assert_eq!(
        touched,
        BTreeMap::from([
            ("aws_db_instance".to_owned(), 2),
            ("aws_security_group".to_owned(), 2)
        ]),
        "the weakening found its resources"
    );
}

/// Call `f(type, name, values)` on every resource's values: `planned_values` (the root module
/// and its child modules, as deep as they go) and each `resource_changes[].change.after`.
fn each_values(plan: &mut J, f: &mut dyn FnMut(&str, &str, &mut J)) {
    fn module(m: &mut J, f: &mut dyn FnMut(&str, &str, &mut J)) {
        if let Some(resources) = m.get_mut("resources").and_then(J::as_array_mut) {
            for r in resources {
                let (t, n) = (text(&r["type"]), text(&r["name"]));
                f(&t, &n, &mut r["values"]);
            }
        }
        if let Some(children) = m.get_mut("child_modules").and_then(J::as_array_mut) {
            for c in children {
                module(c, f);
            }
        }
    }
    module(&mut plan["planned_values"]["root_module"], f);
    if let Some(changes) = plan["resource_changes"].as_array_mut() {
        for rc in changes {
            let (t, n) = (text(&rc["type"]), text(&rc["name"]));
            let after = &mut rc["change"]["after"];
            if after.is_object() {
                f(&t, &n, after);
            }
        }
    }
}

fn text(v: &J) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// (check, type) -> how many more failed after the weakening than before, where that changed.
fn new_findings(before: &Findings, after: &Findings) -> BTreeMap<(String, String), i64> {
    let keys: std::collections::BTreeSet<&(String, String)> =
        before.results.keys().chain(after.results.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let b = before.results.get(k).map_or(0, |r| r.1) as i64;
            let a = after.results.get(k).map_or(0, |r| r.1) as i64;
            (a != b).then(|| (k.clone(), a - b))
        })
        .collect()
}

#[test]
fn a_stack_weakened_on_purpose_gives_the_findings_terraforms_gives() {
    let stack = Stack::new();
    let mut ours = stackctl_plan(&stack, "dev");
    let (_, _, before) = checkov_on(&stack, "dev", &ours);
    weaken(&mut ours);
    let (_, types, weak) = checkov_on(&stack, "dev-weak", &ours);
    assert_eq!(types, terraform_types());

    let mut theirs = terraform_plan();
    weaken(&mut theirs);
    let file = write_json(stack.dir.path(), "terraform-weak.json", &theirs);
    let tf_weak = checkov("-f", &file);
    tf_weak.assert_clean();

    let tf_new = new_findings(terraform_findings(), &tf_weak);
    let our_new = new_findings(&before, &weak);
    println!("\nnew findings of the weakened stack (check, type: more failed)");
    println!("terraform: {tf_new:?}\nstackctl:  {our_new:?}");
    for must in [
        ("CKV_AWS_24", "aws_security_group"),
        ("CKV_AWS_17", "aws_db_instance"),
    ] {
        let key = (must.0.to_owned(), must.1.to_owned());
        assert_eq!(tf_new.get(&key), Some(&1), "Terraform's plan: {must:?}");
    }
    assert_eq!(our_new, tf_new, "the weakening's new findings");
    let differ = compare(
        "checkov on the weakened dev stack",
        &tf_weak,
        &weak,
        terraform_types(),
    );
    assert_only_expected(&differ, EXPECTED_DEV);
}

/// A conftest-style policy, as a team writes one against Terraform's plan (here in Python, as
/// Rego would read the same paths): `input.resource_changes[].change.after` and
/// `after_sensitive`, under the AWS provider's attribute names. It prints its denials as JSON.
const POLICY: &str = r#"
import json, sys

plan = json.load(sys.stdin)
denials = []
WORLD = {"0.0.0.0/0", "::/0"}
OPEN_PORTS = {(80, 80), (443, 443)}


def deny(rule, rc, why):
    denials.append({"rule": rule, "type": rc["type"], "address": rc["address"], "why": why})


def in_clear(value, flags, path):
    """Paths of values flagged sensitive that the plan holds in clear."""
    if flags is True:
        if value not in (None, "", [], {}):
            yield ".".join(map(str, path))
    elif isinstance(flags, dict) and isinstance(value, dict):
        for k, f in flags.items():
            yield from in_clear(value.get(k), f, path + [k])
    elif isinstance(flags, list) and isinstance(value, list):
        for i, (v, f) in enumerate(zip(value, flags)):
            yield from in_clear(v, f, path + [i])


def open_to_world(cidrs, from_port, to_port):
    return bool(WORLD & set(cidrs)) and (from_port, to_port) not in OPEN_PORTS


for rc in plan.get("resource_changes", []):
    change = rc.get("change", {})
    after = change.get("after") or {}
    t = rc["type"]
    rules = []
    if t == "aws_security_group":
        rules = after.get("ingress") or []
    if t == "aws_security_group_rule" and after.get("type") == "ingress":
        rules = [after]
    for r in rules:
        cidrs = (r.get("cidr_blocks") or []) + (r.get("ipv6_cidr_blocks") or [])
        if open_to_world(cidrs, r.get("from_port"), r.get("to_port")):
            deny("ingress_open_to_world", rc, f"{r.get('from_port')}-{r.get('to_port')}")
    if t == "aws_vpc_security_group_ingress_rule":
        cidrs = [c for c in (after.get("cidr_ipv4"), after.get("cidr_ipv6")) if c]
        if open_to_world(cidrs, after.get("from_port"), after.get("to_port")):
            deny("ingress_open_to_world", rc, f"{after.get('from_port')}-{after.get('to_port')}")
    if t == "aws_db_instance" and after.get("publicly_accessible") is True:
        deny("public_database", rc, "publicly_accessible")
    if t == "aws_ecs_service":
        for nc in after.get("network_configuration") or []:
            if nc.get("assign_public_ip") is True:
                deny("ecs_public_ip", rc, "network_configuration.assign_public_ip")
    for path in in_clear(after, change.get("after_sensitive"), []):
        deny("plaintext_sensitive", rc, path)

json.dump(denials, sys.stdout)
"#;

/// The policy's denials of `plan`, as sorted (rule, type) pairs.
fn policy(plan: &J) -> Vec<(String, String)> {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(POLICY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(plan.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let denials: Vec<J> = serde_json::from_slice(&out.stdout).expect("the policy's JSON");
    let mut pairs: Vec<(String, String)> = denials
        .iter()
        .map(|d| {
            (
                d["rule"].as_str().unwrap().to_owned(),
                d["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

/// What the policy denies on Terraform's plan only: Terraform writes the passwords it knows
/// at plan time in clear in its plan (flagged in `after_sensitive`), stackctl never writes a
/// secret, so its plan has nothing in clear to deny. (`db_config`'s value depends on the
/// database's endpoint, so Terraform does not know it yet either.)
const TERRAFORM_ONLY_DENIALS: &[(&str, &str)] = &[
    ("plaintext_sensitive", "aws_db_instance"),
    ("plaintext_sensitive", "aws_secretsmanager_secret_version"),
    ("plaintext_sensitive", "aws_secretsmanager_secret_version"),
];

#[test]
fn a_conftest_style_policy_denies_on_stackctls_plan_what_it_denies_on_terraforms() {
    let stack = Stack::new();
    let mut ours = stackctl_plan(&stack, "dev");
    let mut theirs = terraform_plan();
    let terraform_only = pairs(TERRAFORM_ONLY_DENIALS);
    let without_secrets = |denials: Vec<(String, String)>| -> Vec<(String, String)> {
        let mut rest = denials;
        for d in &terraform_only {
            let i = rest
                .iter()
                .position(|x| x == d)
                .unwrap_or_else(|| panic!("Terraform's plan no longer has {d:?} in clear"));
            rest.remove(i);
        }
        rest
    };

    let (our_denials, their_denials) = (policy(&ours), policy(&theirs));
    println!("\npolicy denials\nterraform: {their_denials:?}\nstackctl:  {our_denials:?}");
    assert_eq!(our_denials, pairs(&[("ecs_public_ip", "aws_ecs_service")]));
    assert_eq!(without_secrets(their_denials), our_denials);

    weaken(&mut ours);
    weaken(&mut theirs);
    let (our_denials, their_denials) = (policy(&ours), policy(&theirs));
    println!("weakened\nterraform: {their_denials:?}\nstackctl:  {our_denials:?}");
    assert_eq!(
        our_denials,
        pairs(&[
            ("ecs_public_ip", "aws_ecs_service"),
            ("ingress_open_to_world", "aws_security_group"),
            ("public_database", "aws_db_instance"),
        ])
    );
    assert_eq!(without_secrets(their_denials), our_denials);
}

#[test]
fn a_directory_scan_picks_stackctls_plan_up() {
    let stack = Stack::new();
    let plan = stackctl_plan(&stack, "dev");
    // checkov takes a .json file for a plan when it has `terraform_version`.
    let dir = stack.dir.path().join("plans");
    std::fs::create_dir(&dir).unwrap();
    let file = write_json(&dir, "tfplan.json", &plan);
    let scan = checkov("-d", &dir);
    scan.assert_clean();
    assert_eq!(scan.resource_count, 27, "{scan:?}");
    // The same findings as checkov given the file itself.
    let direct = checkov("-f", &file);
    assert_eq!(scan.results, direct.results);
    assert!(scan.failed() > 0, "{scan:?}");
}
