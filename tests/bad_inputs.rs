//! Bad inputs: every one makes `plan` exit 1 with a message naming where the value came from,
//! the key and the rule, before any AWS request, leaving the state as it was. Several bad inputs
//! in one run are all reported. Last, `validate` warns about valid but costly values.
//!
//! `plan` is the command under test because it would call AWS: its endpoint is a listener of
//! this test that must never see a connection.

mod common;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::{Stack, ADMIN_PASSWORD, DB_PASSWORD};

/// A valid state with one resource, hand-written in the state format, at the default path of
/// the dev variables: it must come out of every row byte for byte.
const STATE: &str = r#"{
  "format_version": 1,
  "serial": 7,
  "lineage": "6f1c2a52-1d0e-4b8e-9a43-4f3f0f8e2b11",
  "stackctl_version": "0.1.0",
  "fingerprint_salt": "00112233445566778899aabbccddeeff",
  "resources": {
    "module.ecs.aws_cloudwatch_log_group.main": {
      "type": "aws_cloudwatch_log_group",
      "id": "/ecs/prestashop",
      "attrs": {
        "name": "/ecs/prestashop",
        "retention_in_days": 3
      },
      "depends_on": []
    }
  },
  "outputs": {}
}
"#;

/// Which of the two required passwords the row gets from the environment (valid ones).
#[derive(Clone, Copy, PartialEq)]
enum Passwords {
    Both,
    NoDb,
    NoAdmin,
    Neither,
}

/// One bad input and what its error must say.
struct Row {
    what: &'static str,
    /// TOML content of a var file passed with -var-file.
    file: Option<&'static str>,
    /// Pass a var file that does not exist.
    missing_file: bool,
    /// More arguments, such as `-var k=v`.
    args: Vec<&'static str>,
    env: Vec<(&'static str, &'static str)>,
    passwords: Passwords,
    /// The key the message must name.
    key: &'static str,
    /// Fragments of the rule the message must state.
    rule: Vec<&'static str>,
    /// Whether the message must name the var file (the bad value came from it).
    names_file: bool,
    /// A password of this row that must not be echoed.
    secret: Option<&'static str>,
}

fn row(what: &'static str, key: &'static str, rule: &'static str) -> Row {
    Row {
        what,
        file: None,
        missing_file: false,
        args: Vec::new(),
        env: Vec::new(),
        passwords: Passwords::Both,
        key,
        rule: vec![rule],
        names_file: false,
        secret: None,
    }
}

impl Row {
    /// The bad value comes from this var file, which the message must name.
    fn file(mut self, toml: &'static str) -> Self {
        self.file = Some(toml);
        self.names_file = true;
        self
    }
    /// The var file given does not exist; the message must name it.
    fn missing_file(mut self) -> Self {
        self.missing_file = true;
        self.names_file = true;
        self
    }
    fn var(mut self, kv: &'static str) -> Self {
        self.args.extend(["-var", kv]);
        self
    }
    fn env(mut self, k: &'static str, v: &'static str) -> Self {
        self.env.push((k, v));
        self
    }
    fn secret(mut self, s: &'static str) -> Self {
        self.secret = Some(s);
        self
    }
    fn also(mut self, fragment: &'static str) -> Self {
        self.rule.push(fragment);
        self
    }
    fn passwords(mut self, p: Passwords) -> Self {
        self.passwords = p;
        self
    }
}

fn rows() -> Vec<Row> {
    const FARGATE: &str = "(Fargate rule)";
    const STORAGE: &str = "between 20 and 65536 GB";
    const NO_CHARS: &str = "must not contain / \" @ or a space";
    const NAME: &str = "letters, digits and hyphens";
    const PREFIX: &str = "variables `project_name` and `environment` make the name prefix";
    const TWO: &str = "2 problems in the variables";
    vec![
        // Files that are not TOML, or not ours.
        row("malformed TOML", "desired_count", "not valid TOML")
            .file("desired_count = 3 4\n")
            .also("line 1, column 17"),
        row("unquoted password", "db_password", "not valid TOML")
            .file("db_password = Unquoted9Zq\n")
            .secret("Unquoted9Zq"),
        row("duplicate key", "desired_count", "duplicate key")
            .file("desired_count = 1\ndesired_count = 2\n")
            .also("line 2"),
        row("unknown key in a file", "desired_cout", "unknown variable")
            .file("desired_cout = 3\n")
            .also("did you mean `desired_count`?"),
        row("unknown -var key", "region", "unknown variable").var("region=eu-west-1"),
        row("unknown environment key", "desired_cnt", "unknown variable")
            .env("STACKCTL_VAR_desired_cnt", "2")
            .also("STACKCTL_VAR_desired_cnt"),
        row(
            "var file that does not exist",
            "missing.toml",
            "cannot read var file",
        )
        .missing_file(),
        // Wrong types.
        row(
            "string for a number",
            "desired_count",
            "must be a whole number",
        )
        .file("desired_count = \"two\"\n"),
        row("boolean for a string", "project_name", "must be a string")
            .file("project_name = true\n"),
        row(
            "number for a boolean",
            "apply_immediately",
            "must be a boolean (true or false)",
        )
        .file("apply_immediately = 1\n")
        .also("integer 1"),
        row(
            "-var word for a boolean",
            "apply_immediately",
            "must be a boolean (true or false)",
        )
        .var("apply_immediately=yes")
        .also("\"yes\""),
        row(
            "array for a number",
            "db_allocated_storage",
            "must be a whole number",
        )
        .file("db_allocated_storage = [20]\n"),
        row(
            "float 1.5 for a whole number",
            "desired_count",
            "must be a whole number",
        )
        .file("desired_count = 1.5\n")
        .also("float 1.5"),
        row("array for a password", "db_password", "must be a string")
            .file("db_password = [\"Arr4yPass9Zq\"]\n")
            .secret("Arr4yPass9Zq"),
        row(
            "-var float for a number",
            "desired_count",
            "must be a whole number",
        )
        .var("desired_count=1.5"),
        row(
            "environment word for a number",
            "desired_count",
            "must be a whole number",
        )
        .env("STACKCTL_VAR_desired_count", "many")
        .also("STACKCTL_VAR_desired_count"),
        // Missing values.
        row("missing db_password", "db_password", "is required").passwords(Passwords::NoDb),
        row("missing admin_password", "admin_password", "is required")
            .passwords(Passwords::NoAdmin),
        row("both passwords missing", "db_password", "is required")
            .passwords(Passwords::Neither)
            .also("`admin_password` is required")
            .also(TWO),
        // Numbers out of range.
        row("desired_count -1", "desired_count", "between 0 and 5000").file("desired_count = -1\n"),
        row("storage 10", "db_allocated_storage", STORAGE).file("db_allocated_storage = 10\n"),
        row("storage 70000", "db_allocated_storage", STORAGE).var("db_allocated_storage=70000"),
        row("retention 8", "log_retention_days", "CloudWatch").file("log_retention_days = 8\n"),
        row(
            "backups 0 days",
            "db_backup_retention_days",
            "between 1 and 35 days",
        )
        .file("db_backup_retention_days = 0\n"),
        row(
            "backups 36 days",
            "db_backup_retention_days",
            "between 1 and 35 days",
        )
        .var("db_backup_retention_days=36"),
        row("multi-AZ as a word", "db_multi_az", "must be a boolean").var("db_multi_az=yes"),
        row(
            "autoscaling ceiling at the size",
            "db_max_allocated_storage",
            "above db_allocated_storage (20)",
        )
        .file("db_max_allocated_storage = 20\n"),
        row(
            "Performance Insights on db.t3.micro",
            "db_performance_insights",
            "RDS MySQL has no Performance Insights on db.t3.micro",
        )
        .file("db_instance_class = \"db.t3.micro\"\ndb_performance_insights = true\n"),
        // Fargate cpu/memory pairs AWS rejects.
        row("cpu 256 with 4096 MiB", "ecs_memory", FARGATE)
            .file("ecs_cpu = \"256\"\necs_memory = \"4096\"\n")
            .also("512, 1024, 2048"),
        row("cpu 300", "ecs_cpu", "must be one of 256, 512").file("ecs_cpu = 300\n"),
        row("cpu 1024 with 1024 MiB", "ecs_memory", FARGATE)
            .file("ecs_cpu = 1024\necs_memory = 1024\n"),
        // Passwords RDS MySQL rejects, from each source.
        row(
            "db_password of 7 characters",
            "db_password",
            "at least 8 characters",
        )
        .var("db_password=Xq7kZp!")
        .secret("Xq7kZp!"),
        row(
            "db_password of 42 characters",
            "db_password",
            "at most 41 characters",
        )
        .env(
            "STACKCTL_VAR_db_password",
            "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2H1g0Fe",
        )
        .secret("Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2H1g0Fe"),
        row("db_password with /", "db_password", NO_CHARS)
            .file("db_password = \"Slash/Word9Zq\"\n")
            .secret("Slash/Word9Zq"),
        row("db_password with \"", "db_password", NO_CHARS)
            .file("db_password = \"Quote\\\"Word9Zq\"\n")
            .secret("Quote\"Word9Zq"),
        row("db_password with @", "db_password", NO_CHARS)
            .var("db_password=At@Word9Zq")
            .secret("At@Word9Zq"),
        row("db_password with a space", "db_password", NO_CHARS)
            .env("STACKCTL_VAR_db_password", "Space Word9Zq")
            .secret("Space Word9Zq"),
        row(
            "admin_password too short",
            "admin_password",
            "at least 8 characters",
        )
        .var("admin_password=Adm1n!")
        .secret("Adm1n!"),
        row(
            "-var db_password without =",
            "db_password",
            "is not KEY=VALUE",
        )
        .var("db_password:Colon9Zq")
        .secret("Colon9Zq"),
        // Regions, images, names.
        row("region mars", "aws_region", "must be an AWS region").file("aws_region = \"mars\"\n"),
        row("region in capitals", "aws_region", "must be an AWS region")
            .var("aws_region=EU-WEST-3"),
        row("region eu-west-33", "aws_region", "must be an AWS region")
            .file("aws_region = \"eu-west-33\"\n")
            .also("did you mean `eu-west-3`?")
            .also("needs a newer stackctl"),
        row("region mars-north-1", "aws_region", "must be an AWS region")
            .var("aws_region=mars-north-1")
            .also("\"mars-north-1\""),
        row("empty image", "prestashop_image", "container image").file("prestashop_image = \"\"\n"),
        row("image with a space", "prestashop_image", "container image")
            .var("prestashop_image=prestashop/prestashop latest"),
        row(
            "project_name of 29 characters",
            "project_name",
            "at most 28",
        )
        .file("project_name = \"shop-abcdefghijklmnopqrstuvwx\"\n")
        .also("ELBv2 allows 32")
        .also("33 characters"),
        // 25 + `-dev`: one character too many for `{prefix}-alb`.
        row("name prefix of 29 characters", "project_name", PREFIX)
            .file("project_name = \"abcdefghijklmnopqrstuvwxy\"\n")
            .also("\"abcdefghijklmnopqrstuvwxy-dev\", 29 characters"),
        row(
            "environment making the prefix too long",
            "environment",
            PREFIX,
        )
        .var("environment=production-eu-west-3-blue"),
        row("project_name with _", "project_name", NAME).file("project_name = \"my_shop\"\n"),
        row(
            "project_name starting with a digit",
            "project_name",
            "start with a letter",
        )
        .var("project_name=1shop"),
        row(
            "project_name with --",
            "project_name",
            "no two hyphens in a row",
        )
        .var("project_name=my--shop"),
        row("empty environment", "environment", NAME).file("environment = \"\"\n"),
        row(
            "environment starting with a digit",
            "environment",
            "start with a letter",
        )
        .var("environment=2024"),
        row(
            "environment with --",
            "environment",
            "no two hyphens in a row",
        )
        .file("environment = \"qa--1\"\n"),
        row(
            "db_username starting with a digit",
            "db_username",
            "must start with a letter",
        )
        .file("db_username = \"1admin\"\n"),
        row(
            "db_username of 17 characters",
            "db_username",
            "1 to 16 characters",
        )
        .var("db_username=prestashop_user01"),
        row("db_name with -", "db_name", "letters, digits and _ only")
            .file("db_name = \"presta-shop\"\n"),
        row(
            "admin_email without @",
            "admin_email",
            "must be an email address",
        )
        .file("admin_email = \"admin.example.com\"\n"),
        row("-var without =", "desired_count", "is not KEY=VALUE").var("desired_count"),
        row(
            "db_instance_class without db.",
            "db_instance_class",
            "RDS class such as db.t3.micro",
        )
        .file("db_instance_class = \"t3.micro\"\n"),
        row(
            "db_engine_version a word",
            "db_engine_version",
            "MySQL version",
        )
        .var("db_engine_version=latest"),
        // Several bad inputs: all reported by one run.
        row(
            "two bad values in a file",
            "aws_region",
            "must be an AWS region",
        )
        .file("aws_region = \"eu-west-33\"\ndb_username = \"prestashop_user01\"\n")
        .also("`db_username` must start with a letter")
        .also(TWO),
        row(
            "bad values from three sources",
            "desired_count",
            "between 0 and 5000",
        )
        .file("desired_count = -1\n")
        .var("ecs_cpu=300")
        .env("STACKCTL_VAR_admin_password", "Adm1n!")
        .secret("Adm1n!")
        .also("`ecs_cpu` must be one of")
        .also("STACKCTL_VAR_admin_password: variable `admin_password`")
        .also("3 problems in the variables"),
        row(
            "two numbers of the wrong type",
            "desired_count",
            "must be a whole number",
        )
        .var("desired_count=two")
        .var("log_retention_days=weekly")
        .also("`log_retention_days` must be a whole number")
        .also(TWO),
        row(
            "two unknown keys in a file",
            "desired_cout",
            "unknown variable",
        )
        .file("desired_cout = 3\nregion = \"eu-west-3\"\n")
        .also("unknown variable `region`")
        .also(TWO),
    ]
}

/// Everything in `.stackctl/`, by name.
fn state_dir_listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(".stackctl"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Run one row; `Err` says everything that was wrong with the result.
fn check(
    stack: &Stack,
    aws: &TcpListener,
    endpoint: &str,
    n: usize,
    r: &Row,
) -> Result<(), String> {
    let var_file: Option<PathBuf> = if r.missing_file {
        Some(stack.dir.path().join("missing.toml"))
    } else {
        r.file.map(|content| {
            let p = stack.dir.path().join(format!("row{n:02}.toml"));
            std::fs::write(&p, content).unwrap();
            p
        })
    };
    let mut cmd = stack.bare(&["plan"]).env("AWS_ENDPOINT_URL", endpoint);
    if !matches!(r.passwords, Passwords::NoDb | Passwords::Neither) {
        cmd = cmd.env("STACKCTL_VAR_db_password", DB_PASSWORD);
    }
    if !matches!(r.passwords, Passwords::NoAdmin | Passwords::Neither) {
        cmd = cmd.env("STACKCTL_VAR_admin_password", ADMIN_PASSWORD);
    }
    for (k, v) in &r.env {
        cmd = cmd.env(k, v);
    }
    if let Some(p) = &var_file {
        cmd = cmd.arg("-var-file").arg(p.display().to_string());
    }
    for a in &r.args {
        cmd = cmd.arg(*a);
    }
    let run = cmd.run();
    let all = format!("{}{}", run.stdout, run.stderr);
    let mut wrong = Vec::new();
    if run.code != 1 {
        wrong.push(format!("exit code {} instead of 1", run.code));
    }
    if !run.stderr.contains("Error: ") {
        wrong.push("no `Error:` on stderr".to_owned());
    }
    if !run.stderr.contains("hint: ") {
        wrong.push("no `hint:` line".to_owned());
    }
    if !run.stderr.contains(r.key) {
        wrong.push(format!("the key {:?} is not named", r.key));
    }
    for fragment in &r.rule {
        if !run.stderr.contains(fragment) {
            wrong.push(format!("the rule fragment {fragment:?} is missing"));
        }
    }
    if r.names_file {
        let p = var_file.as_ref().unwrap().display().to_string();
        if !run.stderr.contains(&p) {
            wrong.push(format!("the var file {p} is not named"));
        }
    }
    for secret in [Some(DB_PASSWORD), Some(ADMIN_PASSWORD), r.secret]
        .into_iter()
        .flatten()
    {
        if all.contains(secret) {
            wrong.push("a password is echoed".to_owned());
        }
    }
    match aws.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok(_) => wrong.push("an AWS request was sent".to_owned()),
        Err(e) => wrong.push(format!("cannot poll the AWS listener: {e}")),
    }
    if std::fs::read(stack.state_path()).ok().as_deref() != Some(STATE.as_bytes()) {
        wrong.push("the state file changed".to_owned());
    }
    let listing = state_dir_listing(stack.dir.path());
    if listing != ["prestashop-dev.json"] {
        wrong.push(format!(
            ".stackctl/ holds {listing:?} (a lock, backup or other state)"
        ));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "row {n} ({}): {}\n--- stdout\n{}--- stderr\n{}",
            r.what,
            wrong.join("; "),
            run.stdout,
            run.stderr
        ))
    }
}

#[test]
fn every_bad_input_exits_1_naming_key_and_rule_with_no_aws_request_and_the_state_unchanged() {
    let stack = Stack::new();
    std::fs::create_dir_all(stack.state_path().parent().unwrap()).unwrap();
    std::fs::write(stack.state_path(), STATE).unwrap();
    // The "AWS endpoint": it is never accepted from, so a request would wait in its backlog.
    let aws = TcpListener::bind("127.0.0.1:0").unwrap();
    aws.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", aws.local_addr().unwrap());

    // Without a row's bad input the variables are valid, so each row fails for its own reason.
    stack
        .bare(&["validate"])
        .env("STACKCTL_VAR_db_password", DB_PASSWORD)
        .env("STACKCTL_VAR_admin_password", ADMIN_PASSWORD)
        .run()
        .success();

    let rows = rows();
    assert!(rows.len() >= 30, "only {} rows", rows.len());
    let failures: Vec<String> = rows
        .iter()
        .enumerate()
        .filter_map(|(n, r)| check(&stack, &aws, &endpoint, n, r).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n\n")
    );
}

/// A plan that gets past the checks does connect to the listener: its silence in the table
/// above means no request was made, not that requests went elsewhere.
#[test]
fn the_listener_sees_a_plan_that_gets_past_the_checks() {
    let stack = Stack::new();
    let aws = TcpListener::bind("127.0.0.1:0").unwrap();
    aws.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", aws.local_addr().unwrap());
    let mut child = stack.cmd("plan").env("AWS_ENDPOINT_URL", &endpoint).spawn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let connected = loop {
        match aws.accept() {
            Ok(_) => break true,
            Err(e) if e.kind() == ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Err(_) => break false,
        }
    };
    // Nobody answers it: stop it rather than wait out its retries.
    let _ = child.kill();
    let _ = child.wait();
    assert!(connected, "the plan never connected to AWS_ENDPOINT_URL");
}

/// MySQL 8.0 is valid but costs RDS extended support: `validate` says so on stderr and still
/// succeeds; the default, 8.4, gets no warning.
#[test]
fn validate_warns_about_mysql_8_0_on_stderr() {
    let stack = Stack::new();
    let validate = |args: &[&str]| {
        let mut cmd = stack
            .bare(&["validate"])
            .env("STACKCTL_VAR_db_password", DB_PASSWORD)
            .env("STACKCTL_VAR_admin_password", ADMIN_PASSWORD);
        for a in args {
            cmd = cmd.arg(*a);
        }
        let run = cmd.run();
        run.success();
        run.stdout_has("Success! The configuration is valid.");
        assert!(!run.stdout.contains("Warning"), "{run:?}");
        run.stderr
    };
    let warning = "Warning: db_engine_version 8.0: MySQL 8.0 left RDS standard support on 2026-07-31; RDS now bills extended support for it. Use 8.4";
    let stderr = validate(&["-var", "db_engine_version=8.0"]);
    assert!(stderr.contains(warning), "{stderr}");
    let file = stack.dir.path().join("mysql80.toml");
    std::fs::write(&file, "db_engine_version = \"8.0.39\"\n").unwrap();
    let stderr = validate(&["-var-file", &file.display().to_string()]);
    assert!(
        stderr.contains("Warning: db_engine_version 8.0.39: MySQL 8.0 left RDS standard support"),
        "{stderr}"
    );
    for args in [&[][..], &["-var", "db_engine_version=8.4"][..]] {
        let stderr = validate(args);
        assert!(!stderr.contains("Warning"), "{args:?}: {stderr}");
    }
    common::assert_no_secrets(&stack);
}
