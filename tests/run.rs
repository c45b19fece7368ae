//! `stackctl run -- COMMAND...` against moto through the test kit's lifecycle layer (moto never
//! runs or stops a task; the layer plays AWS's PROVISIONING, PENDING, RUNNING, STOPPED with the
//! container's exit code: `exit:N` as the command's last word exits N): the task's log lines
//! are printed, the task has the service's network and the command, the exit code is the
//! container's, a timeout stops the task, and a stack not applied yet or a missing command say
//! what to do.

mod common;

use std::time::{Duration, Instant};

use common::{Cmd, Stack};
use serde_json::Value as J;
use stackctl_testkit::{FaultProxy, Faults, Profile};

/// Test seconds per real-AWS second.
const SCALE: f64 = 0.01;

const CLUSTER: &str = "module.ecs.aws_ecs_cluster.main";
const SERVICE: &str = "module.ecs.aws_ecs_service.main";

fn through<'a>(proxy: &FaultProxy, cmd: Cmd<'a>) -> Cmd<'a> {
    cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .env("STACKCTL_TIME_SCALE", &SCALE.to_string())
}

/// AWS's timeline at [`SCALE`], with one-off tasks that run `task_run` real-AWS seconds (the
/// rest shortened so an apply takes a few seconds).
fn profile(task_run: f64) -> Profile {
    Profile::realistic()
        .scaled(SCALE)
        .with("rds_create", 40.0)
        .with("rds_backing_up", 10.0)
        .with("ecs_service_steady", 60.0)
        .with("ecs_task_run", task_run)
}

/// The dev stack applied through a lifecycle layer playing `profile`.
fn applied_through(stack: &Stack, profile: Profile, apply: &[&str]) -> FaultProxy {
    let proxy = FaultProxy::start(
        &stack.moto.raw_endpoint,
        Faults::none().with_lifecycle(profile),
    );
    let mut cmd = stack.cmd("apply").arg("-auto-approve");
    for a in apply {
        cmd = cmd.arg(*a);
    }
    through(&proxy, cmd).run().success();
    proxy
}

/// The ARN of the one task `stackctl run` started, once ECS lists it.
async fn one_off_task(ecs: &aws_sdk_ecs::Client, cluster: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = ecs
            .list_tasks()
            .cluster(cluster)
            .started_by("stackctl-run")
            .send()
            .await
            .unwrap();
        if let Some(arn) = list.task_arns().first() {
            assert_eq!(list.task_arns().len(), 1, "{:?}", list.task_arns());
            return arn.clone();
        }
        assert!(Instant::now() < deadline, "stackctl run started no task");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_streams_the_task_log_and_exits_0_in_the_service_network() {
    let stack = Stack::new();
    // 5 s of test time between RunTask and STOPPED: time to write the log while it runs.
    let proxy = applied_through(&stack, profile(500.0), &[]);
    let child = through(
        &proxy,
        stack.bare(&["run", "--", "php", "bin/console", "cache:clear"]),
    )
    .spawn_piped();

    let ecs = aws_sdk_ecs::Client::new(&stack.sdk().await);
    let cluster = stack.id(CLUSTER);
    let arn = one_off_task(&ecs, &cluster).await;
    let id = arn.rsplit('/').next().unwrap().to_owned();
    stack
        .put_logs(
            &id,
            &[
                (1, "// Clearing the cache for the prod environment with debug false"),
                (
                    0,
                    "[OK] Cache for the \"prod\" environment (debug=false) was successfully cleared.",
                ),
            ],
        )
        .await;

    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // What a user sees (shown with --nocapture).
    eprintln!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // The command's own lines, bare and in order, on stdout; the progress on stderr.
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "// Clearing the cache for the prod environment with debug false",
            "[OK] Cache for the \"prod\" environment (debug=false) was successfully cleared."
        ],
        "{stderr}"
    );
    assert!(stderr.contains(&format!("Started task {id}")), "{stderr}");
    assert!(stderr.contains("Task RUNNING..."), "{stderr}");
    assert!(
        stderr.contains(&format!("Task {id} exited with code 0")),
        "{stderr}"
    );
    // The task's one stream is read alone (GetLogEvents), never the whole log group
    // (FilterLogEvents has a low per-account quota).
    let reads = |op: &str| proxy.events().iter().filter(|e| e.operation == op).count();
    assert_eq!(reads("FilterLogEvents"), 0);
    assert!(reads("GetLogEvents") > 0);

    // The task ECS ran: the service's revision, network and security groups, the command.
    let service = ecs
        .describe_services()
        .cluster(&cluster)
        .services(stack.id(SERVICE))
        .send()
        .await
        .unwrap()
        .services()[0]
        .clone();
    let vpc = service
        .network_configuration()
        .unwrap()
        .awsvpc_configuration()
        .unwrap();
    let task = ecs
        .describe_tasks()
        .cluster(&cluster)
        .tasks(&arn)
        .send()
        .await
        .unwrap()
        .tasks()[0]
        .clone();
    assert_eq!(task.task_definition_arn(), service.task_definition());
    assert_eq!(task.launch_type().map(|l| l.as_str()), Some("FARGATE"));
    let o = &task.overrides().unwrap().container_overrides()[0];
    assert_eq!(o.name(), Some("prestashop"));
    assert_eq!(o.command(), ["php", "bin/console", "cache:clear"]);
    let detail = |name: &str| {
        task.attachments()[0]
            .details()
            .iter()
            .find(|d| d.name() == Some(name))
            .and_then(|d| d.value())
            .unwrap()
            .to_owned()
    };
    assert!(vpc.subnets().contains(&detail("subnetId")));
    let eni = aws_sdk_ec2::Client::new(&stack.sdk().await)
        .describe_network_interfaces()
        .network_interface_ids(detail("networkInterfaceId"))
        .send()
        .await
        .unwrap();
    let groups: Vec<&str> = eni.network_interfaces()[0]
        .groups()
        .iter()
        .filter_map(|g| g.group_id())
        .collect();
    assert_eq!(groups, vpc.security_groups());
    // Tagged as the stack's resources are.
    let tags = ecs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == Some("stackctl:environment") && t.value() == Some("dev")),
        "{:?}",
        tags.tags()
    );
}

#[test]
fn run_exits_with_the_container_exit_code() {
    let stack = Stack::applied();
    // `sh -c 'exit 3' exit:3` exits 3 on AWS too: the last word is the shell's $0.
    let run = stack
        .bare(&["run", "--", "sh", "-c", "exit 3", "exit:3"])
        .run();
    assert_eq!(run.code, 3, "{run:?}");
    run.stderr_has("exited with code 3");

    let json = stack
        .bare(&["run", "-json", "--", "sh", "-c", "exit 3", "exit:3"])
        .run();
    assert_eq!(json.code, 3, "{json:?}");
    let last: J = serde_json::from_str(json.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "run_complete");
    assert_eq!(last["exit_code"], 3);
}

#[test]
fn run_past_its_timeout_stops_the_task() {
    let stack = Stack::new();
    // The task would run 10 minutes; -timeout 2m stops it.
    let proxy = applied_through(&stack, profile(600.0), &[]);
    let run = through(
        &proxy,
        stack.bare(&["run", "-timeout", "2m", "--", "php", "-r", "sleep(600);"]),
    )
    .run();
    assert_eq!(run.code, 1, "{run:?}");
    run.stderr_has("did not finish within")
        .stderr_has("stopped the task")
        .stderr_has("-timeout");
    let proxy_ops: Vec<String> = proxy.events().into_iter().map(|e| e.operation).collect();
    assert!(
        proxy_ops.iter().any(|o| o == "StopTask"),
        "no StopTask: {proxy_ops:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_interrupted_stops_the_task() {
    let stack = Stack::new();
    // The task would run 10 minutes (6 s here).
    let proxy = applied_through(&stack, profile(600.0), &[]);
    let child = through(
        &proxy,
        stack.bare(&["run", "--", "php", "-r", "sleep(600);"]),
    )
    .spawn_piped();
    let ecs = aws_sdk_ecs::Client::new(&stack.sdk().await);
    let cluster = stack.id(CLUSTER);
    let arn = one_off_task(&ecs, &cluster).await;
    // Ctrl-C.
    let pid = child.id() as i32;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted: stopped the task"), "{stderr}");
    let task = ecs
        .describe_tasks()
        .cluster(&cluster)
        .tasks(&arn)
        .send()
        .await
        .unwrap()
        .tasks()[0]
        .clone();
    assert_eq!(task.desired_status(), Some("STOPPED"));
    assert_eq!(task.stopped_reason(), Some("stackctl run was interrupted"));
}

#[test]
fn run_of_an_image_that_cannot_be_pulled_says_why() {
    let stack = Stack::new();
    let profile = profile(60.0)
        .with("ecs_task_failure", 60.0)
        .failing_image("does-not-exist", stackctl_testkit::Failure::CannotPull);
    // The service's own deployment fails too: not waited for.
    let proxy = applied_through(
        &stack,
        profile,
        &[
            "-wait=false",
            "-var",
            "prestashop_image=prestashop/prestashop:does-not-exist",
        ],
    );
    let run = through(&proxy, stack.bare(&["run", "--", "php", "-v"])).run();
    assert_eq!(run.code, 1, "{run:?}");
    eprintln!("{}", run.stderr);
    run.stderr_has("stopped before its command gave an exit code")
        .stderr_has("CannotPullContainerError")
        .stderr_has("prestashop/prestashop:does-not-exist")
        .stderr_has("hint: check the image and tag (prestashop_image)");
}

#[test]
fn run_before_any_apply_says_what_to_do() {
    let stack = Stack::new();
    let run = stack.bare(&["run", "--", "php", "-v"]).run();
    assert_eq!(run.code, 1, "{run:?}");
    run.stderr_has("no state found")
        .stderr_has("stackctl apply");

    // A destroyed stack's state names no service.
    let stack = Stack::applied();
    stack.cmd("destroy").arg("-auto-approve").run().success();
    let run = stack.bare(&["run", "--", "php", "-v"]).run();
    assert_eq!(run.code, 1, "{run:?}");
    run.stderr_has("the stack is not applied yet")
        .stderr_has("run `stackctl apply` first");
}

#[test]
fn run_without_a_command_is_a_usage_error() {
    let stack = Stack::new();
    for args in [&["run"][..], &["run", "-timeout", "5m"], &["run", "--"]] {
        let run = stack.bare(args).run();
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        run.stderr_has("<COMMAND>")
            .stderr_has("Usage: stackctl run");
    }
}
