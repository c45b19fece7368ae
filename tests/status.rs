//! `stackctl status`, `redeploy` and `rollback` against moto through the test kit's lifecycle layer (moto
//! runs no task; the layer answers the service's deployments, counts and events, and the
//! targets' health, as AWS does): a healthy stack exits 0, a deployment that cannot pull its
//! image exits 3 with the reason, a redeploy makes a new deployment and waits for it, and a
//! stack not applied yet says what to do.

mod common;

use std::time::Duration;

use common::{Cmd, Stack};
use serde_json::Value as J;
use stackctl_testkit::{FaultProxy, Faults, Profile};

/// Test seconds per real-AWS second.
const SCALE: f64 = 0.01;

fn through<'a>(proxy: &FaultProxy, cmd: Cmd<'a>) -> Cmd<'a> {
    cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .env("STACKCTL_TIME_SCALE", &SCALE.to_string())
}

#[test]
fn a_healthy_stack_exits_0_and_shows_every_part() {
    let stack = Stack::applied();
    let run = stack.bare(&["status"]).run();
    assert_eq!(run.code, 0, "{run:?}");
    insta::with_settings!({filters => vec![
        (r"fs-[0-9a-f]+", "fs-[id]"),
        (r"ecs-svc/\d+", "ecs-svc/[id]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]"),
        (r"\d+\.\d+\.\d+\.\d+:80", "[ip]:80"),
    ]}, {
        insta::assert_snapshot!("status_healthy", run.stdout);
    });
    let json = stack.bare(&["status", "-json"]).run();
    assert_eq!(json.code, 0);
    let doc: J = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["healthy"], true);
    assert_eq!(doc["database"]["status"], "available");
    assert_eq!(doc["efs"]["mount_targets"].as_array().unwrap().len(), 3);
}

/// The URL probe is decided by what can be checked, not by the endpoint override: moto's load
/// balancer name does not resolve, so it is not probed (the snapshot above says why); a name
/// that resolves is probed even though every AWS request goes to an overridden endpoint, as a
/// user of VPC or FIPS endpoints has it. The shop here is a one-answer HTTP server on loopback.
#[test]
fn the_url_is_probed_whenever_its_name_resolves_even_with_an_endpoint_override() {
    use std::io::{Read, Write};
    let stack = Stack::applied();
    let unresolved = stack.bare(&["status", "-json"]).run();
    let doc: J = serde_json::from_str(&unresolved.stdout).unwrap();
    assert_eq!(doc["healthy"], true, "{unresolved:?}");
    let skipped = doc["url_check"]["skipped"].as_str().unwrap_or_default();
    assert!(skipped.contains("does not resolve"), "{unresolved:?}");

    let shop = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = shop.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = shop.accept().unwrap();
        let mut head = [0u8; 1024];
        let n = conn.read(&mut head).unwrap();
        conn.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        String::from_utf8_lossy(&head[..n]).into_owned()
    });
    let mut state = stack.state();
    let url = format!("http://localhost:{port}");
    state["outputs"]["load_balancer_url"]["value"] = url.clone().into();
    std::fs::write(stack.state_path(), state.to_string()).unwrap();
    let probed = stack.bare(&["status"]).run();
    assert_eq!(probed.code, 3, "{probed:?}");
    probed
        .stdout_has(format!("URL        {url}: HTTP 503 in"))
        .stdout_has("Status: DEGRADED");
    let request = server.join().unwrap();
    assert!(request.starts_with("GET / HTTP/1.1\r\n"), "{request}");
    assert!(
        request.contains(&format!("Host: localhost:{port}\r\n")),
        "{request}"
    );
}

#[test]
fn a_deployment_that_cannot_pull_its_image_is_degraded_with_the_reason() {
    let stack = Stack::new();
    let profile = Profile::realistic()
        .scaled(SCALE)
        .with("rds_create", 40.0)
        .with("rds_backing_up", 10.0)
        .with("ecs_service_steady", 60.0)
        .with("ecs_task_failure", 30.0)
        .failing_image("does-not-exist", stackctl_testkit::Failure::CannotPull);
    let proxy = FaultProxy::start(
        &stack.moto.raw_endpoint,
        Faults::none().with_lifecycle(profile),
    );
    through(&proxy, stack.cmd("apply").arg("-auto-approve"))
        .run()
        .success();
    std::thread::sleep(Duration::from_secs_f64(80.0 * SCALE));
    let healthy = through(&proxy, stack.bare(&["status"])).run();
    assert_eq!(healthy.code, 0, "{healthy:?}");

    // Not waited for: the deployment fails while status looks.
    through(
        &proxy,
        stack
            .cmd("apply")
            .arg("-auto-approve")
            .arg("-wait=false")
            .var("prestashop_image", "prestashop/prestashop:does-not-exist"),
    )
    .run()
    .success();
    std::thread::sleep(Duration::from_secs_f64(100.0 * SCALE));
    let degraded = through(&proxy, stack.bare(&["status"])).run();
    assert_eq!(degraded.code, 3, "{degraded:?}");
    // What a user sees (shown with --nocapture).
    eprintln!("{}", degraded.stdout);
    degraded
        .stdout_has("Status: DEGRADED")
        .stdout_has("CannotPullContainerError");
    let doc: J = serde_json::from_str(
        &through(&proxy, stack.bare(&["status", "-json"]))
            .run()
            .stdout,
    )
    .unwrap();
    assert_eq!(doc["healthy"], false);
    assert!(!doc["problems"].as_array().unwrap().is_empty());
}

#[test]
fn status_before_any_apply_says_what_to_do() {
    let stack = Stack::new();
    let run = stack.bare(&["status"]).run();
    assert_eq!(run.code, 1, "{run:?}");
    run.stderr_has("no state found")
        .stderr_has("stackctl apply");
}

/// The lifecycle layer in front of the stack's moto, with a quick database and a 60 s first
/// deployment.
fn layer(stack: &Stack) -> FaultProxy {
    let profile = Profile::realistic()
        .scaled(SCALE)
        .with("rds_create", 40.0)
        .with("rds_backing_up", 10.0)
        .with("ecs_service_steady", 60.0);
    FaultProxy::start(
        &stack.moto.raw_endpoint,
        Faults::none().with_lifecycle(profile),
    )
}

/// The PRIMARY deployment's id and rollout state, as `status -json` reports them.
fn primary(proxy: &FaultProxy, stack: &Stack) -> (String, String) {
    let run = through(proxy, stack.bare(&["status", "-json"])).run();
    let doc: J = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    let d = doc["service"]["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "PRIMARY")
        .unwrap()
        .clone();
    (
        d["id"].as_str().unwrap().to_owned(),
        d["rollout_state"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn redeploy_makes_a_new_deployment_of_the_same_revision_and_waits_for_it() {
    let stack = Stack::new();
    let proxy = layer(&stack);
    through(&proxy, stack.cmd("apply").arg("-auto-approve"))
        .run()
        .success();
    let (first, state) = primary(&proxy, &stack);
    assert_eq!(state, "COMPLETED");

    let run = through(&proxy, stack.bare(&["redeploy"])).run();
    assert_eq!(run.code, 0, "{run:?}");
    run.stdout_has("Redeploy complete: a new deployment of prestashop-dev:1 is healthy");
    let (second, state) = primary(&proxy, &stack);
    assert_ne!(second, first, "no new deployment");
    assert_eq!(
        state, "COMPLETED",
        "redeploy returned before the deployment was done"
    );

    // Not waited for: it returns while the new deployment is in progress.
    let run = through(&proxy, stack.bare(&["redeploy", "-wait=false"])).run();
    assert_eq!(run.code, 0, "{run:?}");
    let (third, state) = primary(&proxy, &stack);
    assert_ne!(third, second);
    assert_eq!(state, "IN_PROGRESS");
    // The state is untouched: nothing to plan.
    through(&proxy, stack.cmd("plan").arg("-detailed-exitcode"))
        .run()
        .success();
}

/// The task definition revision the state records, and its image.
fn recorded(stack: &Stack) -> (String, String) {
    let td = &stack.state()["resources"]["module.ecs.aws_ecs_task_definition.main"];
    (
        td["id"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned(),
        td["attrs"]["image"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn rollback_goes_back_a_revision_waits_and_the_state_and_plan_agree() {
    let stack = Stack::new();
    let proxy = layer(&stack);
    const NEW: &str = "prestashop/prestashop:8.1";
    through(&proxy, stack.cmd("apply").arg("-auto-approve"))
        .run()
        .success();
    through(
        &proxy,
        stack
            .cmd("apply")
            .arg("-auto-approve")
            .var("prestashop_image", NEW),
    )
    .run()
    .success();
    assert_eq!(recorded(&stack), ("prestashop-dev:2".into(), NEW.into()));

    let run = through(&proxy, stack.bare(&["rollback"])).run();
    assert_eq!(run.code, 0, "{run:?}");
    run.stdout_has("Rollback complete: the service runs prestashop-dev:1 (was prestashop-dev:2)");
    // Waited for: the deployment of :1 is done when it returns, and it is what runs.
    let (_, rollout) = primary(&proxy, &stack);
    assert_eq!(rollout, "COMPLETED");
    let status = through(&proxy, stack.bare(&["status", "-json"])).run();
    let doc: J = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(
        doc["service"]["deployments"][0]["revision"], "prestashop-dev:1",
        "{doc}"
    );
    // The state records what runs: revision 1 and its image.
    assert_eq!(
        recorded(&stack),
        (
            "prestashop-dev:1".into(),
            "prestashop/prestashop:latest".into()
        )
    );
    // The variables that still name the new image: the plan shows the image change back.
    let plan = through(
        &proxy,
        stack
            .cmd("plan")
            .arg("-detailed-exitcode")
            .var("prestashop_image", NEW),
    )
    .run();
    assert_eq!(plan.code, 2, "{plan:?}");
    plan.stdout_has(format!(
        "~ image                    = \"prestashop/prestashop:latest\" -> \"{NEW}\" # forces replacement"
    ));
    // The variables of what runs now: nothing to do.
    through(&proxy, stack.cmd("plan").arg("-detailed-exitcode"))
        .run()
        .success();

    // -to rolls forward again; a revision that is not this stack's ACTIVE one is refused.
    let bad = through(&proxy, stack.bare(&["rollback", "-to", "7"])).run();
    assert_eq!(bad.code, 1, "{bad:?}");
    bad.stderr_has("7 is not one of this stack's ACTIVE task definition revisions (prestashop-dev:2, prestashop-dev:1)");
    let run = through(&proxy, stack.bare(&["rollback", "-to", "2"])).run();
    assert_eq!(run.code, 0, "{run:?}");
    run.stdout_has("the service runs prestashop-dev:2 (was prestashop-dev:1)");
    assert_eq!(recorded(&stack), ("prestashop-dev:2".into(), NEW.into()));
    through(
        &proxy,
        stack
            .cmd("plan")
            .arg("-detailed-exitcode")
            .var("prestashop_image", NEW),
    )
    .run()
    .success();
}

#[test]
fn rollback_before_any_apply_says_what_to_do() {
    let stack = Stack::new();
    let run = stack.bare(&["rollback"]).run();
    assert_eq!(run.code, 1, "{run:?}");
    run.stderr_has("stackctl apply");
}
