//! Terraform's CLI habits, through the real binary: `output -raw`, `-chdir`, `-input=false`,
//! `-lock=false`, `-parallelism`, `-no-color`/`NO_COLOR`, `version`, `completions`, `graph`,
//! and every Terraform flag or command stackctl lacks answered by name (the table itself is
//! compiled in from src/cli/unsupported_flags.rs, so a new entry is tried here at once).

mod common;

#[allow(dead_code)]
#[path = "../src/cli/unsupported_flags.rs"]
mod terraform_flags;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::{Stack, ADMIN_PASSWORD, DB_PASSWORD};
use serde_json::Value as J;
use stackctl_testkit::{PLANNED_RESOURCES, STACK_RESOURCES};
use terraform_flags::{Status, COMMANDS, FLAGS};

fn examples(env: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{env}.toml"))
}

#[test]
fn every_terraform_flag_and_command_stackctl_lacks_is_named_with_what_to_do() {
    let stack = Stack::new();
    for m in FLAGS {
        let flag = format!("-{}", m.name);
        let run = stack.bare(&["plan", flag.as_str()]).run();
        assert_eq!(run.code, 1, "plan {flag}: {run:?}");
        let kind = match m.status {
            Status::NotYet => "is a Terraform flag stackctl does not support yet in this version",
            Status::Never(_) => "is a Terraform flag stackctl does not have: ",
        };
        run.stderr_has(format!("Error: {flag} {kind}"));
        run.stderr_has(format!("\n  hint: {}", m.instead));
        assert!(run.stdout.is_empty(), "{run:?}");
        // One or two lines and a hint, never clap's usage dump or its `-- -o` tip.
        assert!(!run.stderr.contains("Usage:"), "{run:?}");
        assert!(!run.stderr.contains("-- -"), "{run:?}");
    }
    for m in COMMANDS {
        let run = stack.bare(&[m.name]).run();
        assert_eq!(run.code, 1, "{}: {run:?}", m.name);
        run.stderr_has(format!("Error: {} is a Terraform command stackctl", m.name));
        run.stderr_has(format!("\n  hint: {}", m.instead));
    }
    // `-refresh=false` as typed, among valid flags (`plan -out x`, the other example,
    // is a stackctl flag now: tests/plans.rs).
    let refresh = stack.cmd("plan").arg("-refresh=false").run();
    refresh.stderr_has("Error: -refresh=false is a Terraform flag stackctl does not have: stackctl always reads the live resources");
    // A value that may be secret is never repeated.
    let backend = stack
        .bare(&["plan", "-backend-config=secret_key=s3cr3t"])
        .run();
    backend.stderr_has("Error: -backend-config is a Terraform flag");
    assert!(!backend.stderr.contains("s3cr3t"), "{backend:?}");
    // With -json, the same as one diagnostic event.
    let json = stack
        .bare(&["plan", "-json", "-generate-config-out=x.tf"])
        .run();
    assert_eq!(json.code, 1, "{json:?}");
    let event: J = serde_json::from_str(json.stdout.trim()).expect("one JSON event");
    assert_eq!(event["type"], "diagnostic");
    assert_eq!(event["diagnostic"]["severity"], "error");
    assert!(event["diagnostic"]["summary"]
        .as_str()
        .unwrap()
        .starts_with("-generate-config-out is a Terraform flag"));
    // A flag that is nobody's: clap's error, in Terraform's spelling, without `-- -r`.
    let unknown = stack.bare(&["output", "-rew", "x"]).run();
    assert_eq!(unknown.code, 1, "{unknown:?}");
    unknown.stderr_has("unexpected argument '-rew' found");
    unknown.stderr_has("a similar argument exists: '-raw'");
    assert!(!unknown.stderr.contains("-- -"), "{unknown:?}");
    // Nothing reached AWS, nothing was written.
    assert!(!stack.dir.path().join(".stackctl").exists());
}

#[test]
fn output_raw_prints_the_bare_value_and_refuses_what_is_not_text() {
    let stack = Stack::applied();
    let state = stack.state();
    let url = state["outputs"]["load_balancer_url"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.starts_with("http://"), "{url}");
    let raw = stack
        .cmd("output")
        .arg("-raw")
        .arg("load_balancer_url")
        .run();
    raw.success();
    assert_eq!(raw.stdout, url, "exactly the string, no newline");
    // Without -raw, the value has its newline, as before.
    let plain = stack.cmd("output").arg("load_balancer_url").run();
    assert_eq!(plain.stdout, format!("{url}\n"));
    // A number, as Terraform's -raw prints it; a sensitive string too (asked for by name).
    let port = stack.cmd("output").arg("-raw").arg("database_port").run();
    port.success();
    assert_eq!(
        port.stdout,
        state["outputs"]["database_port"]["value"].to_string()
    );
    let arn = stack
        .cmd("output")
        .arg("-raw")
        .arg("db_password_secret_arn")
        .run();
    arn.success();
    assert!(arn.stdout.starts_with("arn:aws:secretsmanager:") && !arn.stdout.ends_with('\n'));
    // A list cannot be printed raw: a state copy holding one is refused with the way out.
    let mut edited = state.clone();
    edited["outputs"]["load_balancer_dns"]["value"] = serde_json::json!(["a", "b"]);
    let copy = stack.dir.path().join("copy.json");
    std::fs::write(&copy, edited.to_string()).unwrap();
    let list = stack
        .bare(&["output", "-raw", "load_balancer_dns", "-state"])
        .arg(copy.display().to_string())
        .run();
    assert_eq!(list.code, 1, "{list:?}");
    list.stderr_has("output \"load_balancer_dns\" is a list, which -raw cannot print");
    list.stderr_has("hint: use `stackctl output -json load_balancer_dns`");
    assert!(list.stdout.is_empty());
    // -raw needs a name, and is not -json.
    assert_eq!(stack.cmd("output").arg("-raw").run().code, 1);
    let both = stack
        .cmd("output")
        .arg("-raw")
        .arg("-json")
        .arg("load_balancer_url")
        .run();
    assert_eq!(both.code, 1, "{both:?}");
}

#[test]
fn chdir_runs_the_command_in_that_directory() {
    let stack = Stack::new();
    let infra = stack.dir.path().join("infra");
    std::fs::create_dir(&infra).unwrap();
    std::fs::copy(examples("dev"), infra.join("env.toml")).unwrap();
    // The var file is found relative to -chdir's directory, and so is .stackctl/.
    let apply = stack
        .bare(&[
            "-chdir=infra",
            "apply",
            "-var-file",
            "env.toml",
            "-auto-approve",
        ])
        .env("STACKCTL_VAR_db_password", DB_PASSWORD)
        .env("STACKCTL_VAR_admin_password", ADMIN_PASSWORD)
        .run();
    apply.success();
    assert!(infra.join(".stackctl/prestashop-dev.json").exists());
    assert!(!stack.dir.path().join(".stackctl").exists());
    // `-chdir DIR` works too; output finds the state there.
    let url = stack
        .bare(&["-chdir", "infra", "output", "-raw", "load_balancer_url"])
        .run();
    url.success();
    assert!(url.stdout.starts_with("http://"), "{url:?}");
    // Without -chdir the same var file is not found, and says so.
    let here = stack.bare(&["validate", "-var-file", "env.toml"]).run();
    assert_eq!(here.code, 1, "{here:?}");
    here.stderr_has("env.toml");
    // After the command, as Terraform refuses it too, with the right order.
    let late = stack.bare(&["output", "-chdir=infra"]).run();
    assert_eq!(late.code, 1, "{late:?}");
    late.stderr_has("Error: -chdir goes before the command, as in Terraform");
    late.stderr_has("hint: stackctl -chdir=DIR output ...");
    let missing = stack.bare(&["-chdir=nowhere", "version"]).run();
    assert_eq!(missing.code, 1, "{missing:?}");
    missing.stderr_has("Error: cannot change to directory nowhere given by -chdir");
}

#[test]
fn input_false_refuses_to_prompt_and_changes_nothing() {
    let stack = Stack::new();
    for command in ["apply", "destroy"] {
        if command == "destroy" {
            stack.cmd("apply").arg("-auto-approve").run().success();
        }
        let refused = stack.cmd(command).arg("-input=false").run();
        assert_eq!(refused.code, 1, "{refused:?}");
        refused.stderr_has(
            "-input=false: stackctl may not ask for confirmation, and -auto-approve was not given",
        );
        refused.stderr_has(
            "hint: review the plan with `stackctl plan`, then run again with -auto-approve",
        );
    }
    // The refused destroy left the applied stack whole.
    let plan = stack.cmd("plan").arg("-detailed-exitcode").run();
    assert_eq!(plan.code, 0, "{plan:?}");
    assert_eq!(
        stack.state()["resources"].as_object().unwrap().len(),
        STACK_RESOURCES
    );
    // With -auto-approve there is nothing to ask.
    stack
        .cmd("destroy")
        .arg("-input=false")
        .arg("-auto-approve")
        .run()
        .success();
}

fn lock_file(stack: &Stack) -> std::path::PathBuf {
    stack.dir.path().join(".stackctl/prestashop-dev.json.lock")
}

#[test]
fn lock_false_works_while_another_run_holds_the_lock_and_warns() {
    let stack = Stack::new();
    // Another live run holds the lock: this test process, with the OS lock on the file.
    let lock = lock_file(&stack);
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let info = serde_json::json!({
        "id": "held-lock", "pid": std::process::id(), "host": "elsewhere", "command": "apply",
        "since": 0,
    });
    std::fs::write(&lock, info.to_string()).unwrap();
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock)
        .unwrap();
    held.lock().unwrap();
    let busy = stack.cmd("plan").run();
    assert_eq!(busy.code, 1, "{busy:?}");
    busy.stderr_has("lock id held-lock");

    let plan = stack.cmd("plan").arg("-lock=false").run();
    plan.success();
    plan.stderr_has("Warning: -lock=false: .stackctl/prestashop-dev.json is not locked");
    plan.stdout_has(format!("Plan: {PLANNED_RESOURCES} to add"));
    let apply = stack
        .cmd("apply")
        .arg("-lock=false")
        .arg("-auto-approve")
        .run();
    apply.success();
    apply.stderr_has("Warning: -lock=false");
    // The holder's lock file is untouched: -lock=false neither takes nor removes it.
    let still: J = serde_json::from_str(&std::fs::read_to_string(&lock).unwrap()).unwrap();
    assert_eq!(still["id"], "held-lock");
    assert_eq!(
        stack.state()["resources"].as_object().unwrap().len(),
        STACK_RESOURCES
    );
    let rm = stack
        .bare(&[
            "state",
            "rm",
            "module.ecs.aws_cloudwatch_log_group.main",
            "-lock=false",
        ])
        .run();
    rm.success();
    rm.stderr_has("Warning: -lock=false");
    drop(held);
}

#[tokio::test(flavor = "multi_thread")]
async fn parallelism_one_applies_one_operation_at_a_time_and_converges() {
    let stack = Stack::new();
    let apply = stack
        .cmd("apply")
        .arg("-auto-approve")
        .arg("-parallelism=1")
        .run();
    apply.success();
    apply.stdout_has(format!("{PLANNED_RESOURCES} added"));
    // Each operation ends before the next starts.
    let mut running: Option<String> = None;
    let mut started = 0;
    for line in apply.stdout.lines() {
        let Some((address, rest)) = line.split_once(": ") else {
            continue;
        };
        if rest.starts_with("Creating...") {
            assert!(running.is_none(), "{address} started while {running:?} ran");
            running = Some(address.to_owned());
            started += 1;
        } else if rest.starts_with("Creation complete") {
            assert_eq!(running.as_deref(), Some(address), "{}", apply.stdout);
            running = None;
        }
    }
    assert_eq!(started, STACK_RESOURCES, "{}", apply.stdout);
    // The account has the stack, and the next plan has nothing to do.
    let ecs = aws_sdk_ecs::Client::new(&stack.sdk().await);
    let services = ecs
        .describe_services()
        .cluster("prestashop-dev-cluster")
        .services("prestashop-dev-service")
        .send()
        .await
        .unwrap();
    assert_eq!(services.services()[0].status(), Some("ACTIVE"));
    let plan = stack
        .cmd("plan")
        .arg("-parallelism=1")
        .arg("-detailed-exitcode")
        .run();
    assert_eq!(plan.code, 0, "{plan:?}");
    stack
        .cmd("destroy")
        .arg("-auto-approve")
        .arg("-parallelism=2")
        .run()
        .success();
    let zero = stack.cmd("plan").arg("-parallelism=0").run();
    assert_eq!(zero.code, 1, "{zero:?}");
    zero.stderr_has("-parallelism");
}

/// The plan run under a pseudo-terminal (`script`), so colour is on unless switched off.
fn plan_on_a_terminal(stack: &Stack, extra: &str, env: &[(&str, &str)]) -> String {
    let bin = env!("CARGO_BIN_EXE_stackctl");
    let line = format!("{bin} plan -var-file {} {extra}", examples("dev").display());
    let mut c = Command::new("script");
    c.args(["-qec", &line, "/dev/null"])
        .current_dir(stack.dir.path())
        .env_remove("NO_COLOR")
        .envs(stack.moto.env())
        .env("STACKCTL_VAR_db_password", DB_PASSWORD)
        .env("STACKCTL_VAR_admin_password", ADMIN_PASSWORD)
        .envs(env.iter().copied());
    let out = c.output().expect("script(1) runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn colour_on_a_terminal_is_turned_off_by_no_color_and_the_flag() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("script(1) is not installed: no terminal to test colour on");
        return;
    }
    let stack = Stack::new();
    let coloured = plan_on_a_terminal(&stack, "", &[]);
    assert!(coloured.contains("\x1b["), "{coloured}");
    for (extra, env) in [("-no-color", &[][..]), ("", &[("NO_COLOR", "1")][..])] {
        let plain = plan_on_a_terminal(&stack, extra, env);
        assert!(plain.contains("to add"), "{plain}");
        assert!(!plain.contains("\x1b["), "{extra} {env:?}: {plain}");
    }
}

#[test]
fn version_and_completions() {
    let stack = Stack::new();
    let version = stack.bare(&["version"]).run();
    version.success();
    assert!(
        version
            .stdout
            .starts_with(&format!("stackctl v{}", env!("CARGO_PKG_VERSION"))),
        "{version:?}"
    );
    let json = stack.bare(&["version", "-json"]).run();
    json.success();
    let doc: J = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["stackctl_version"], env!("CARGO_PKG_VERSION"));
    assert!(doc["platform"].as_str().unwrap().contains('_'));

    let bash = stack.bare(&["completions", "bash"]).run();
    bash.success();
    bash.stdout_has("_stackctl()");
    bash.stdout_has("complete -F _stackctl");
    bash.stdout_has("--var-file");
    for shell in ["zsh", "fish"] {
        let run = stack.bare(&["completions", shell]).run();
        run.success();
        run.stdout_has("stackctl");
        run.stdout_has("graph");
    }
    assert_eq!(stack.bare(&["completions", "tcsh"]).run().code, 1);
}

/// `"a" -> "b";` into (a, b), with DOT's escaped quotes undone.
fn edge(line: &str) -> Option<(String, String)> {
    let (from, to) = line.trim().strip_suffix(';')?.split_once(" -> ")?;
    let unquote = |s: &str| {
        s.strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .map(|s| s.replace("\\\"", "\""))
    };
    Some((unquote(from)?, unquote(to)?))
}

#[test]
fn graph_is_the_plans_resources_and_their_dependencies_in_dot() {
    let stack = Stack::new();
    let run = stack.cmd("graph").run();
    run.success();
    // Nothing was written: graph takes no lock and keeps no state.
    assert!(!stack.dir.path().join(".stackctl").exists());
    let dot = &run.stdout;
    assert!(dot.starts_with("digraph G {\n"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
    let mut nodes = BTreeSet::new();
    let mut edges = BTreeSet::new();
    for line in dot.lines() {
        if let Some(e) = edge(line) {
            edges.insert(e);
        } else if let Some((id, _)) = line.trim().split_once(" [label=") {
            nodes.insert(id.trim_matches('"').replace("\\\"", "\""));
        }
    }
    // Every resource the plan would create is a node, and nothing else is. A secret's value,
    // which the plan's events name as its own provider resource (its
    // `aws_secretsmanager_secret_version`), is made with the secret, in the secret's node.
    let plan = stack.cmd("plan").arg("-json").run();
    plan.success();
    let planned: BTreeSet<String> = plan
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<J>(l).unwrap())
        .filter(|e| e["type"] == "planned_change")
        .filter(|e| e["change"]["resource"]["resource_type"] != "aws_secretsmanager_secret_version")
        .map(|e| e["change"]["resource"]["addr"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(planned.len(), STACK_RESOURCES);
    assert_eq!(nodes, planned, "{dot}");
    // Every edge joins two nodes; the known ones are there.
    for (a, b) in &edges {
        assert!(nodes.contains(a) && nodes.contains(b), "{a} -> {b}");
    }
    let has = |a: &str, b: &str| edges.contains(&(a.to_owned(), b.to_owned()));
    let service = "module.ecs.aws_ecs_service.main";
    for need in [
        "module.alb.aws_lb_target_group.main",
        "module.alb.aws_lb_listener.http",
        "module.ecs.aws_ecs_task_definition.main",
        "module.ecs.aws_ecs_cluster.main",
    ] {
        assert!(has(service, need), "no edge {service} -> {need}:\n{dot}");
    }
    assert!(has(
        "module.alb.aws_lb_listener.http",
        "module.alb.aws_lb.main"
    ));
    let mount_targets: Vec<&String> = nodes
        .iter()
        .filter(|n| n.starts_with("module.efs.aws_efs_mount_target.main[\""))
        .collect();
    assert!(!mount_targets.is_empty(), "{dot}");
    for m in mount_targets {
        assert!(has(m, "module.efs.aws_efs_file_system.main"), "{m}");
    }
}

/// Given -parallelism, plan's reads are bounded too (without it, a first plan sends every
/// lookup at once: e2e's `a_first_plan_sends_every_lookup_at_once`).
#[test]
fn parallelism_bounds_plans_reads_when_given() {
    use stackctl_testkit::{FaultProxy, Faults};
    let stack = Stack::new();
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::none().with_latency(std::time::Duration::from_millis(100)),
    );
    let plan = stack
        .cmd("plan")
        .arg("-parallelism=1")
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .run();
    plan.success();
    let lookups = proxy.events().len();
    assert!(lookups >= 10, "{lookups} requests");
    assert_eq!(proxy.take_peak_in_flight(), 1, "{lookups} requests");
}

#[test]
fn usage_errors_read_as_every_error_and_help_spells_flags_as_terraform() {
    let stack = Stack::new();
    // `Error:` and `  hint:` as every other error, never clap's `error:` and `tip:`.
    let unknown = stack.bare(&["output", "-rew", "x"]).run();
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown.stderr.starts_with(
            "Error: unexpected argument '-rew' found\n  hint: a similar argument exists: '-raw'\n"
        ),
        "{unknown:?}"
    );
    let missing = stack.bare(&["plan", "-var-file"]).run();
    assert_eq!(missing.code, 1, "{missing:?}");
    missing.stderr_has("Error: a value is required for '-var-file <FILE>'");
    for run in [&unknown, &missing] {
        assert!(!run.stderr.contains("error:"), "{run:?}");
        assert!(!run.stderr.contains("tip:"), "{run:?}");
        assert!(!run.stderr.contains("--"), "{run:?}");
    }
    // -help writes -json, -var-file, -follow as the README and Terraform do, columns aligned.
    for args in [
        &["-help"][..],
        &["plan", "-help"],
        &["logs", "-h"],
        &["help", "apply"],
    ] {
        let help = stack.bare(args).run();
        help.success();
        assert!(help.stdout.contains("-json "), "{args:?}: {help:?}");
        assert!(!help.stdout.contains("--json"), "{args:?}: {help:?}");
        assert!(!help.stdout.contains(" --"), "{args:?}: {help:?}");
    }
    let logs = stack.bare(&["logs", "-help"]).run();
    // Where the description starts on a flag's line.
    let column = |flag: &str| {
        let line = logs.stdout.lines().find(|l| l.contains(flag)).unwrap();
        let after = line.find(flag).unwrap() + flag.len();
        after + line[after..].len() - line[after..].trim_start().len()
    };
    assert_eq!(column("-follow"), column("-since <AGE>"), "{}", logs.stdout);
    // `run -- COMMAND` keeps its `--`.
    let run = stack.bare(&["run", "-help"]).run();
    run.stdout_has("-- <COMMAND>");
}

#[test]
fn warnings_read_as_terraform_warnings_not_log_lines() {
    let stack = Stack::new();
    // Staging wants 2 tasks: the first apply starts 1 for the installer and says so.
    let apply = stack
        .cmd_for("apply", "staging")
        .arg("-auto-approve")
        .arg("-wait=false")
        .run();
    apply.success();
    apply.stderr_has("Warning: ECS service ");
    assert!(!apply.stderr.contains("WARN"), "{apply:?}");
    assert!(!apply.stderr.contains("stackctl_ecs"), "{apply:?}");
    stack.fresh();
    let json = stack
        .cmd_for("apply", "staging")
        .arg("-auto-approve")
        .arg("-wait=false")
        .arg("-json")
        .run();
    json.success();
    assert!(json.stderr.is_empty(), "{json:?}");
    let warning = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<J>(l).unwrap())
        .find(|e| e["type"] == "diagnostic" && e["diagnostic"]["severity"] == "warning")
        .unwrap_or_else(|| panic!("no warning event: {json:?}"));
    assert!(warning["diagnostic"]["summary"]
        .as_str()
        .unwrap()
        .starts_with("ECS service "));
}
