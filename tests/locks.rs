//! Locks and Ctrl-C (issue 20): real signals to the real binary. Ctrl-C and SIGTERM release the
//! state's lock (the S3 lock object, the DynamoDB item, the local lock file) for every command
//! that holds one; one Ctrl-C ends a wait that is only a wait; a lock whose holder is gone is
//! taken over on the same host; the DynamoDB lock is held with its holder's info.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use common::remote::{bootstrap, remote, remote_vars, BUCKET, KEY, LOCK_KEY, TABLE};
use common::{Cmd, Stack};
use stackctl_testkit::{Failure, FaultProxy, Faults, Profile};

const SERVICE: &str = "module.ecs.aws_ecs_service.main";

/// Test seconds per real-AWS second, as in tests/lifecycle.rs.
const SCALE: f64 = 0.01;

/// An image whose tasks never pass the health check, with a circuit breaker that never trips:
/// a deployment of it waits until the -wait-timeout.
const NEVER_HEALTHY: &str = "prestashop/prestashop:never-healthy";

/// The lifecycle layer (real AWS's timeline, scaled) with deployments of [`NEVER_HEALTHY`]
/// held in progress.
fn aws_with_stuck_deployments(stack: &Stack) -> FaultProxy {
    let profile = Profile::realistic()
        .scaled(SCALE)
        .with("rds_create", 40.0)
        .with("rds_backing_up", 10.0)
        .with("ecs_health_failure", 100_000.0)
        .failing_image("never-healthy", Failure::Unhealthy);
    FaultProxy::start(
        &stack.moto.raw_endpoint,
        Faults::none().with_lifecycle(profile),
    )
}

fn through<'a>(proxy: &FaultProxy, cmd: Cmd<'a>) -> Cmd<'a> {
    cmd.env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .env("STACKCTL_TIME_SCALE", &SCALE.to_string())
}

/// Reads of the bucket and the lock table, straight from moto.
struct Remote {
    rt: tokio::runtime::Runtime,
    s3: aws_sdk_s3::Client,
    ddb: aws_sdk_dynamodb::Client,
}

impl Remote {
    fn new(stack: &Stack) -> Remote {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let sdk = rt.block_on(stack.sdk());
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        Remote { rt, s3, ddb }
    }

    /// The text of object `key`, if it exists.
    fn object(&self, key: &str) -> Option<String> {
        self.rt.block_on(async {
            let out = self
                .s3
                .get_object()
                .bucket(BUCKET)
                .key(key)
                .send()
                .await
                .ok()?;
            let bytes = out.body.collect().await.unwrap().into_bytes();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        })
    }

    fn put_object(&self, key: &str, text: String) {
        self.rt
            .block_on(
                self.s3
                    .put_object()
                    .bucket(BUCKET)
                    .key(key)
                    .body(text.into_bytes().into())
                    .send(),
            )
            .unwrap();
    }

    /// The `Info` of the lock table's item for this state, if there is one.
    fn item(&self) -> Option<String> {
        let out = self
            .rt
            .block_on(
                self.ddb
                    .get_item()
                    .table_name(TABLE)
                    .key("LockID", AttributeValue::S(format!("{BUCKET}/{KEY}")))
                    .consistent_read(true)
                    .send(),
            )
            .unwrap();
        out.item?.get("Info").and_then(|v| v.as_s().ok()).cloned()
    }
}

/// Wait until `ready` holds, up to `limit`; whether it did.
fn eventually(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ready()
}

/// A signal to the process, as a terminal (`INT`) or a CI runner (`TERM`) sends it.
fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A process whose output is read as it comes, so a test can wait for a line.
struct Watched {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// How a watched process ended.
struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// From the last signal sent to the exit.
    took: Duration,
}

impl Watched {
    fn start(mut child: Child) -> Watched {
        let mut readers = Vec::new();
        let mut pipe = |stream: Option<Box<dyn Read + Send>>| {
            let text = Arc::new(Mutex::new(String::new()));
            let sink = text.clone();
            let mut stream = stream.unwrap();
            readers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }));
            text
        };
        let stdout = pipe(child.stdout.take().map(|s| Box::new(s) as _));
        let stderr = pipe(child.stderr.take().map(|s| Box::new(s) as _));
        Watched {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    fn stdout_has(&self, text: &str) -> bool {
        self.stdout.lock().unwrap().contains(text)
    }

    /// Send `name`, then wait up to `limit` for the exit.
    fn signal_and_wait(mut self, name: &str, limit: Duration) -> Ended {
        signal(&self.child, name);
        let sent = Instant::now();
        let mut code = None;
        while sent.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                code = Some(status.code());
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let took = sent.elapsed();
        let code = code.unwrap_or_else(|| {
            // Still running: stop it so the test reports instead of hanging.
            let _ = self.child.kill();
            let _ = self.child.wait();
            Some(-999)
        });
        for r in self.readers {
            let _ = r.join();
        }
        let stdout = self.stdout.lock().unwrap().clone();
        let stderr = self.stderr.lock().unwrap().clone();
        Ended {
            code,
            stdout,
            stderr,
            took,
        }
    }
}

impl std::fmt::Debug for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} {:?} after the signal\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.took, self.stdout, self.stderr
        )
    }
}

fn local_lock(stack: &Stack) -> PathBuf {
    let mut p = stack.state_path().into_os_string();
    p.push(".lock");
    PathBuf::from(p)
}

/// As a new user tried it: S3 state with the lock object and a DynamoDB table, `redeploy`
/// waiting on a deployment, Ctrl-C. The wait ends at once, the deployment goes on in AWS, and
/// both the `.tflock` object and the DynamoDB item are gone.
#[test]
fn ctrl_c_during_redeploy_releases_the_lock_object_and_the_dynamodb_item() {
    let stack = Stack::new();
    let proxy = aws_with_stuck_deployments(&stack);
    bootstrap(&stack, true);
    let vars = remote_vars(
        &stack,
        &format!("use_lockfile = true\ndynamodb_table = \"{TABLE}\"\n"),
    );
    through(
        &proxy,
        remote(&stack, &["apply", "-auto-approve", "-wait=false"], &vars)
            .var("prestashop_image", NEVER_HEALTHY),
    )
    .run()
    .success();
    let aws = Remote::new(&stack);
    assert!(aws.object(LOCK_KEY).is_none() && aws.item().is_none());

    let run = Watched::start(
        through(
            &proxy,
            remote(&stack, &["redeploy", "-wait-timeout", "2h"], &vars),
        )
        .spawn_piped(),
    );
    assert!(
        eventually(Duration::from_secs(60), || {
            aws.object(LOCK_KEY).is_some() && aws.item().is_some()
        }),
        "redeploy never held both locks"
    );
    // Well into the wait for the deployment (polled every 0.1 s at this scale).
    std::thread::sleep(Duration::from_secs(2));
    let ended = run.signal_and_wait("INT", Duration::from_secs(30));
    assert_eq!(ended.code, Some(1), "{ended:?}");
    assert!(ended.took < Duration::from_secs(10), "{ended:?}");
    assert!(
        ended.stderr.contains("Interrupted: stopped waiting")
            && ended.stderr.contains("stackctl status"),
        "{ended:?}"
    );
    assert_eq!(aws.object(LOCK_KEY), None, "the lock object stayed");
    assert_eq!(aws.item(), None, "the DynamoDB item stayed");
    eprintln!("redeploy: exit 1 {:?} after Ctrl-C", ended.took);
}

/// As a new user tried it: Ctrl-C while apply waited for a deployment. The first Ctrl-C ends
/// the wait (the create was sent; the deployment goes on), the state records the service, the
/// lock is released, and the message says how to look and how to resume.
#[test]
fn one_ctrl_c_ends_applys_wait_for_a_deployment_and_records_the_service() {
    let stack = Stack::new();
    let proxy = aws_with_stuck_deployments(&stack);
    let run = Watched::start(
        through(
            &proxy,
            stack
                .cmd("apply")
                .arg("-auto-approve")
                .arg("-wait-timeout")
                .arg("2h")
                .var("prestashop_image", NEVER_HEALTHY),
        )
        .spawn_piped(),
    );
    assert!(
        eventually(Duration::from_secs(120), || proxy
            .events()
            .iter()
            .any(|e| e.operation.contains("CreateService"))),
        "apply never created the service"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(local_lock(&stack).exists(), "apply holds no lock");
    let ended = run.signal_and_wait("INT", Duration::from_secs(60));
    assert_eq!(ended.code, Some(1), "{ended:?}");
    assert!(ended.took < Duration::from_secs(10), "{ended:?}");
    assert!(
        ended
            .stdout
            .contains("Interrupt received: starting nothing new"),
        "{ended:?}"
    );
    assert!(
        ended.stderr.contains("1 still in progress in AWS")
            && ended.stderr.contains("stackctl status")
            && ended.stderr.contains("run the same command again"),
        "{ended:?}"
    );
    let state = stack.state();
    assert!(
        state["resources"][SERVICE]["id"].is_string(),
        "the service is not in the state: {}",
        state["resources"]
    );
    assert!(!local_lock(&stack).exists(), "the lock file stayed");
    eprintln!("apply: exit 1 {:?} after one Ctrl-C", ended.took);
}

/// Ctrl-C while rollback waits for the service to run the revision it goes back to: the wait
/// ends at once, the state records what the service runs now (that revision), and the lock
/// file goes.
#[test]
fn ctrl_c_during_rollback_records_what_runs_and_releases_the_lock() {
    let stack = Stack::new();
    let proxy = aws_with_stuck_deployments(&stack);
    for image in [NEVER_HEALTHY, "prestashop/prestashop:8.1"] {
        through(
            &proxy,
            stack
                .cmd("apply")
                .arg("-auto-approve")
                .arg("-wait=false")
                .var("prestashop_image", image),
        )
        .run()
        .success();
    }
    let revision = |stack: &Stack| {
        stack.state()["resources"]["module.ecs.aws_ecs_task_definition.main"]["id"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(revision(&stack), "prestashop-dev:2");
    let run = Watched::start(
        // `-to`: neither revision ever ran healthy (both applied with -wait=false), so a plain
        // rollback would refuse to pick one.
        through(
            &proxy,
            stack
                .cmd("rollback")
                .arg("-to")
                .arg("1")
                .arg("-wait-timeout")
                .arg("2h"),
        )
        .spawn_piped(),
    );
    assert!(eventually(Duration::from_secs(60), || local_lock(&stack).exists()));
    std::thread::sleep(Duration::from_secs(2));
    let ended = run.signal_and_wait("INT", Duration::from_secs(30));
    assert_eq!(ended.code, Some(1), "{ended:?}");
    assert!(ended.took < Duration::from_secs(10), "{ended:?}");
    assert!(
        ended.stderr.contains("Interrupted: stopped waiting")
            && ended.stderr.contains("stackctl status"),
        "{ended:?}"
    );
    assert_eq!(revision(&stack), "prestashop-dev:1", "{ended:?}");
    assert!(!local_lock(&stack).exists(), "the lock file stayed");
}

/// Ctrl-C during `plan` (slow AWS, so it lands mid-refresh): the lock file goes with it.
#[test]
fn ctrl_c_during_plan_releases_the_lock() {
    let stack = Stack::applied();
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::none().with_latency(Duration::from_millis(300)),
    );
    let run = Watched::start(
        stack
            .cmd("plan")
            .env("AWS_ENDPOINT_URL", &proxy.endpoint)
            .spawn_piped(),
    );
    assert!(eventually(Duration::from_secs(60), || local_lock(&stack).exists()));
    std::thread::sleep(Duration::from_millis(500));
    let ended = run.signal_and_wait("INT", Duration::from_secs(30));
    assert_eq!(ended.code, Some(1), "{ended:?}");
    assert!(ended.stderr.contains("Interrupted"), "{ended:?}");
    assert!(!local_lock(&stack).exists(), "the lock file stayed");
}

/// Ctrl-C while waiting for another run's lock (-lock-timeout) ends the wait at once and
/// leaves that run's lock alone.
#[test]
fn ctrl_c_while_waiting_for_the_lock_leaves_the_holders_lock() {
    let stack = Stack::new();
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::none().with_latency(Duration::from_millis(300)),
    );
    let holder = Watched::start(
        stack
            .cmd("apply")
            .arg("-auto-approve")
            .env("AWS_ENDPOINT_URL", &proxy.endpoint)
            .spawn_piped(),
    );
    assert!(eventually(Duration::from_secs(60), || local_lock(&stack).exists()));
    let waiter = Watched::start(
        stack
            .cmd("plan")
            .arg("-lock-timeout")
            .arg("5m")
            .spawn_piped(),
    );
    std::thread::sleep(Duration::from_secs(2));
    let ended = waiter.signal_and_wait("INT", Duration::from_secs(30));
    assert_eq!(ended.code, Some(1), "{ended:?}");
    assert!(ended.took < Duration::from_secs(5), "{ended:?}");
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(local_lock(&stack)).unwrap()).unwrap();
    assert_eq!(lock["pid"], holder.child.id(), "{lock}");
    assert_eq!(lock["command"], "apply", "{lock}");
    let holder = holder.signal_and_wait("INT", Duration::from_secs(60));
    assert_eq!(holder.code, Some(1), "{holder:?}");
    assert!(!local_lock(&stack).exists(), "the holder's lock stayed");
}

/// Ctrl-C at apply's confirmation prompt (a real terminal on stdin): nothing is changed and
/// the lock file goes.
#[test]
fn ctrl_c_at_the_confirmation_prompt_releases_the_lock() {
    let stack = Stack::new();
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors into the given places; the others may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "no pseudo-terminal");
    // SAFETY: `slave` is a descriptor openpty just opened, owned from here on.
    let tty = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(slave) };
    let run = Watched::start(stack.cmd("apply").spawn_piped_with_stdin(Stdio::from(tty)));
    assert!(
        eventually(Duration::from_secs(60), || run.stdout_has("Enter a value:")),
        "no prompt"
    );
    assert!(local_lock(&stack).exists(), "apply holds no lock");
    let ended = run.signal_and_wait("INT", Duration::from_secs(30));
    // SAFETY: the master side is ours and closed once.
    unsafe { libc::close(master) };
    assert_eq!(ended.code, Some(1), "{ended:?}");
    assert!(ended.stderr.contains("Interrupted"), "{ended:?}");
    assert!(!local_lock(&stack).exists(), "the lock file stayed");
    assert!(!stack.state_path().exists(), "something was recorded");
}

/// SIGTERM, as a CI runner cancelling a job sends it, during a plan on the remote state: the
/// lock object goes with it.
#[test]
fn sigterm_releases_the_remote_lock() {
    let stack = Stack::new();
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, "");
    remote(&stack, &["apply", "-auto-approve"], &vars)
        .run()
        .success();
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::none().with_latency(Duration::from_millis(300)),
    );
    let aws = Remote::new(&stack);
    let run = Watched::start(
        remote(&stack, &["plan"], &vars)
            .env("AWS_ENDPOINT_URL", &proxy.endpoint)
            .spawn_piped(),
    );
    assert!(eventually(Duration::from_secs(60), || aws
        .object(LOCK_KEY)
        .is_some()));
    std::thread::sleep(Duration::from_millis(500));
    let ended = run.signal_and_wait("TERM", Duration::from_secs(30));
    assert_eq!(ended.code, Some(1), "{ended:?}");
    assert_eq!(aws.object(LOCK_KEY), None, "the lock object stayed");
}

/// Ctrl-C during `init -migrate-state`, which holds the local lock and the remote one: both
/// go, and the exit says it was interrupted.
#[test]
fn ctrl_c_during_a_migration_releases_both_locks() {
    let stack = Stack::applied();
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, "");
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::none().with_latency(Duration::from_millis(1000)),
    );
    let aws = Remote::new(&stack);
    let run = Watched::start(
        remote(&stack, &["init", "-migrate-state"], &vars)
            .env("AWS_ENDPOINT_URL", &proxy.endpoint)
            .spawn_piped(),
    );
    assert!(eventually(Duration::from_secs(60), || aws
        .object(LOCK_KEY)
        .is_some()));
    assert!(local_lock(&stack).exists(), "no local lock");
    let ended = run.signal_and_wait("INT", Duration::from_secs(30));
    assert_eq!(ended.code, Some(1), "{ended:?}");
    assert!(ended.stderr.contains("Interrupted"), "{ended:?}");
    assert_eq!(
        aws.object(LOCK_KEY),
        None,
        "the lock object stayed: {ended:?}"
    );
    assert!(
        !local_lock(&stack).exists(),
        "the local lock file stayed: {ended:?}"
    );
}

/// A second Ctrl-C stops at once and releases the lock too: here the first one finds apply
/// sending requests that each take 1.5 s, the second ends the run before they return.
#[test]
fn a_second_ctrl_c_releases_the_remote_lock_too() {
    let stack = Stack::new();
    bootstrap(&stack, true);
    let vars = remote_vars(
        &stack,
        &format!("use_lockfile = true\ndynamodb_table = \"{TABLE}\"\n"),
    );
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::none().with_latency(Duration::from_millis(1500)),
    );
    let aws = Remote::new(&stack);
    let run = Watched::start(
        remote(&stack, &["apply", "-auto-approve"], &vars)
            .env("AWS_ENDPOINT_URL", &proxy.endpoint)
            .spawn_piped(),
    );
    assert!(eventually(Duration::from_secs(120), || aws
        .object(KEY)
        .is_some()));
    signal(&run.child, "INT");
    std::thread::sleep(Duration::from_millis(200));
    let ended = run.signal_and_wait("INT", Duration::from_secs(30));
    assert_eq!(ended.code, Some(1), "{ended:?}");
    assert!(
        ended.stdout.contains("Second interrupt: stopping now"),
        "{ended:?}"
    );
    assert_eq!(aws.object(LOCK_KEY), None, "the lock object stayed");
    assert_eq!(aws.item(), None, "the DynamoDB item stayed");
    eprintln!(
        "second Ctrl-C: exit 1 {:?} after it, both locks released (1.5 s per request)",
        ended.took
    );
}

/// A lock object left on this host by a process that is gone, written where the boot id and
/// pid namespace cannot be read (macOS writes none): the pid alone shows it is stale, and the
/// next run takes it over.
#[test]
fn a_lock_left_by_a_dead_pid_on_this_host_is_taken_over() {
    let stack = Stack::new();
    bootstrap(&stack, false);
    let vars = remote_vars(&stack, "");
    let aws = Remote::new(&stack);
    // A process that has ended: its pid is free (until reused, which a run this short
    // will not see).
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 60;
    aws.put_object(
        LOCK_KEY,
        serde_json::json!({"id": "dead-run", "pid": pid, "host": host, "command": "apply", "since": since})
            .to_string(),
    );
    let plan = remote(&stack, &["plan"], &vars).run();
    plan.success()
        .stderr_has(format!("left by apply (pid {pid} on {host}"))
        .stderr_has("is stale: that process is gone. Taking it over.");
    assert_eq!(aws.object(LOCK_KEY), None);

    // A live process of this host keeps its lock.
    let mut live = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    aws.put_object(
        LOCK_KEY,
        serde_json::json!({"id": "live-run", "pid": live.id(), "host": host, "command": "apply", "since": since})
            .to_string(),
    );
    let refused = remote(&stack, &["plan"], &vars).run();
    live.kill().unwrap();
    live.wait().unwrap();
    assert_eq!(refused.code, 1, "{refused:?}");
    refused.stderr_has("lock id live-run");
}

/// While a run holds the DynamoDB lock, its item exists with the holder's info: the id
/// another run is refused with, the operation, who (pid and host). With `use_lockfile` on as
/// well, both the item and the lock object are taken, and both released at the end.
#[test]
fn the_dynamodb_item_and_the_lock_object_are_both_held_and_released() {
    let stack = Stack::new();
    bootstrap(&stack, true);
    let vars = remote_vars(
        &stack,
        &format!("use_lockfile = true\ndynamodb_table = \"{TABLE}\"\n"),
    );
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::none().with_latency(Duration::from_millis(100)),
    );
    let aws = Remote::new(&stack);
    let apply = remote(&stack, &["apply", "-auto-approve"], &vars)
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .spawn_piped();
    assert!(
        eventually(Duration::from_secs(60), || aws.item().is_some()),
        "no DynamoDB item while apply runs"
    );
    let item: serde_json::Value = serde_json::from_str(&aws.item().unwrap()).unwrap();
    let object: serde_json::Value =
        serde_json::from_str(&aws.object(LOCK_KEY).expect("no lock object")).unwrap();
    assert_eq!(item["command"], "apply", "{item}");
    assert_eq!(item["pid"], apply.id(), "{item}");
    assert_eq!(
        item["host"].as_str(),
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .as_deref()
            .map(str::trim),
        "{item}"
    );
    assert_eq!(
        item["id"], object["id"],
        "one lock id for both: {item} {object}"
    );
    let refused = remote(&stack, &["plan"], &vars).run();
    assert_eq!(refused.code, 1, "{refused:?}");
    refused
        .stderr_has("is locked by apply")
        .stderr_has(format!("lock id {}", item["id"].as_str().unwrap()));
    let out = apply.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(aws.item(), None, "the DynamoDB item stayed");
    assert_eq!(aws.object(LOCK_KEY), None, "the lock object stayed");
}
