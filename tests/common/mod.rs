//! End-to-end test support: run the real stackctl binary against a private moto server, in a
//! temporary working directory, with a fluent builder for its arguments.

#![allow(dead_code)]

// The end-to-end tests play stackctl's waits on a scaled clock and kill it after the N-th AWS
// operation: a binary built without the hooks would wait real minutes or never abort.
#[cfg(not(feature = "test-hooks"))]
compile_error!(
    "the end-to-end tests need stackctl's test hooks (STACKCTL_TIME_SCALE, STACKCTL_FAIL_AFTER): run scripts/test.sh, or cargo test --workspace --locked --features stackctl/test-hooks"
);

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use stackctl_testkit::Moto;

pub mod account;
pub mod checkov;
pub mod remote;

/// The passwords every test applies with; tests search everything stackctl wrote and printed
/// for them.
pub const DB_PASSWORD: &str = "DbPass-e2e-7f3a91";
pub const ADMIN_PASSWORD: &str = "AdminPass-e2e-c4d2b8";

/// One stack under test: a moto server and a working directory for the state.
pub struct Stack {
    pub moto: Moto,
    pub dir: tempfile::TempDir,
    /// Everything any run printed, to search for secrets.
    pub transcript: std::cell::RefCell<String>,
}

/// The result of one stackctl run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The run printed `text` on stdout; the failure shows both streams.
    #[track_caller]
    pub fn stdout_has(&self, text: impl AsRef<str>) -> &Self {
        let text = text.as_ref();
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}:\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The run printed `text` on stderr; the failure shows both streams.
    #[track_caller]
    pub fn stderr_has(&self, text: impl AsRef<str>) -> &Self {
        let text = text.as_ref();
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "stackctl failed:\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A stackctl invocation being built: `stack.cmd("plan").var("desired_count", 3).run()`.
pub struct Cmd<'a> {
    stack: &'a Stack,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Variables of the stack's environment to leave out (`AWS_ACCESS_KEY_ID` for a run
    /// without credentials).
    unset: Vec<String>,
}

impl Stack {
    pub fn new() -> Stack {
        Stack::on(Moto::start())
    }

    /// A stack on this emulator (one started with other settings).
    pub fn on(moto: Moto) -> Stack {
        let dir = tempfile::tempdir().expect("temp dir");
        Stack {
            moto,
            dir,
            transcript: Default::default(),
        }
    }

    /// A stack with the dev example applied.
    pub fn applied() -> Stack {
        let stack = Stack::new();
        stack.cmd("apply").arg("-auto-approve").run().success();
        stack
    }

    /// An empty account and no local state, for the next run on the same server.
    pub fn fresh(&self) {
        self.moto.reset();
        let _ = std::fs::remove_dir_all(self.dir.path().join(".stackctl"));
    }

    /// A command with the dev example's variables and the test passwords (from the
    /// environment, as users are told to pass them).
    pub fn cmd(&self, command: &str) -> Cmd<'_> {
        self.cmd_for(command, "dev")
    }

    /// A command with the variables of `examples/{environment}.toml` (dev, staging, prod) and
    /// the test passwords.
    pub fn cmd_for(&self, command: &str, environment: &str) -> Cmd<'_> {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(format!("{environment}.toml"));
        Cmd {
            stack: self,
            args: vec![
                command.to_owned(),
                "-var-file".to_owned(),
                examples.display().to_string(),
            ],
            env: vec![
                ("STACKCTL_VAR_db_password".into(), DB_PASSWORD.into()),
                ("STACKCTL_VAR_admin_password".into(), ADMIN_PASSWORD.into()),
            ],
            unset: Vec::new(),
        }
    }

    /// A command with exactly these arguments and no variables.
    pub fn bare(&self, args: &[&str]) -> Cmd<'_> {
        Cmd {
            stack: self,
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            unset: Vec::new(),
        }
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join(".stackctl/prestashop-dev.json")
    }

    pub fn state(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.state_path()).expect("state file");
        serde_json::from_str(&text).expect("state is JSON")
    }

    /// The id the state records for `address`.
    #[track_caller]
    pub fn id(&self, address: &str) -> String {
        self.state()["resources"][address]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{address} in the state"))
            .to_owned()
    }

    pub async fn sdk(&self) -> aws_types::SdkConfig {
        self.moto.sdk_config().await
    }

    /// The stream a task's container writes to, from what the state says of the task definition.
    pub fn task_stream(&self, task: &str) -> String {
        let td = &self.state()["resources"]["module.ecs.aws_ecs_task_definition.main"]["attrs"];
        format!(
            "{}/{}/{task}",
            td["log_stream_prefix"].as_str().unwrap(),
            td["container_name"].as_str().unwrap()
        )
    }

    /// Put `(milliseconds ago, message)` events into a task's stream, as the awslogs driver
    /// does.
    pub async fn put_logs(&self, task: &str, events: &[(i64, &str)]) {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&self.sdk().await);
        let group = "/ecs/prestashop-dev";
        let stream = self.task_stream(task);
        // The stream exists after the first put.
        let _ = logs
            .create_log_stream()
            .log_group_name(group)
            .log_stream_name(&stream)
            .send()
            .await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let mut batch: Vec<_> = events
            .iter()
            .map(|(ago, m)| {
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(now - ago)
                    .message(*m)
                    .build()
                    .unwrap()
            })
            .collect();
        batch.sort_by_key(|e| e.timestamp());
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name(&stream)
            .set_log_events(Some(batch))
            .send()
            .await
            .unwrap();
    }

    /// Every byte stackctl wrote (state, backup) and printed so far.
    pub fn everything_written(&self) -> String {
        let mut all = self.transcript.borrow().clone();
        for entry in walk(self.dir.path()) {
            all.push_str(&String::from_utf8_lossy(
                &std::fs::read(entry).unwrap_or_default(),
            ));
        }
        all
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

impl Cmd<'_> {
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn var(mut self, key: &str, value: impl ToString) -> Self {
        self.args.push("-var".into());
        self.args.push(format!("{key}={}", value.to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Run without this variable of the stack's environment.
    pub fn unset(mut self, key: &str) -> Self {
        self.unset.push(key.into());
        self
    }

    /// The process to run, with this stack's environment and nothing of the caller's AWS or
    /// stackctl settings.
    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stackctl"));
        c.args(&self.args)
            .current_dir(self.stack.dir.path())
            .stdin(Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") || k.starts_with("STACKCTL_") {
                c.env_remove(k);
            }
        }
        c.envs(
            self.stack
                .moto
                .env()
                .into_iter()
                .filter(|(k, _)| !self.unset.contains(k)),
        )
        .envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// Start it without waiting, output discarded (for tests that kill it).
    pub fn spawn(self) -> std::process::Child {
        self.command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn stackctl")
    }

    /// Start it without waiting, its output captured (`wait_with_output`).
    pub fn spawn_piped(self) -> std::process::Child {
        self.command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn stackctl")
    }

    /// Start it without waiting, its output captured, reading `stdin` (a terminal, for a test
    /// of the confirmation prompt).
    pub fn spawn_piped_with_stdin(self, stdin: Stdio) -> std::process::Child {
        self.command()
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn stackctl")
    }

    pub fn run(self) -> Run {
        let mut c = self.command();
        let out = c.output().expect("run stackctl");
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let mut t = self.stack.transcript.borrow_mut();
        t.push_str(&run.stdout);
        t.push_str(&run.stderr);
        run
    }
}

/// Neither password appears in anything stackctl wrote or printed so far.
pub fn assert_no_secrets(stack: &Stack) {
    let all = stack.everything_written();
    assert!(!all.is_empty());
    for secret in [DB_PASSWORD, ADMIN_PASSWORD] {
        assert!(
            !all.contains(secret),
            "a password appears in stackctl's files or output"
        );
    }
}

/// IAM policy documents come back URL-encoded.
pub fn decode_policy(doc: &str) -> serde_json::Value {
    let mut bytes = Vec::new();
    let raw = doc.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' && i + 2 < raw.len() {
            if let Ok(b) = u8::from_str_radix(&doc[i + 1..i + 3], 16) {
                bytes.push(b);
                i += 3;
                continue;
            }
        }
        bytes.push(if raw[i] == b'+' { b' ' } else { raw[i] });
        i += 1;
    }
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("policy {doc}: {e}"))
}

/// Runs of spaces folded to one, so assertions do not depend on column alignment.
pub fn squash(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The items in order, so that lists AWS returns in any order compare.
pub fn sorted(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = items.into_iter().collect();
    v.sort();
    v
}
