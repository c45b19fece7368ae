//! Command-line interface: clap derive, with Terraform's single-dash long flags accepted too.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Plan, apply and destroy the PrestaShop-on-Fargate AWS stack, without Terraform.
///
/// Variables come from TOML var files (-var-file), -var KEY=VALUE and STACKCTL_VAR_<name>
/// environment variables. AWS credentials come from the usual chain (environment, profile, SSO,
/// instance role); AWS_ENDPOINT_URL or -endpoint-url points every client at another endpoint.
#[derive(Debug, Parser)]
#[command(name = "stackctl", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Machine-readable output: one JSON event per line (plan, progress, summary, errors), or
    /// one JSON document (output, state list/show, validate)
    #[arg(long = "json", global = true)]
    pub json: bool,
    /// Print only results, warnings and errors: no plan details, no progress lines
    #[arg(long = "quiet", global = true, conflicts_with = "json")]
    pub quiet: bool,
    /// No colour, even on a terminal (NO_COLOR does the same)
    #[arg(long = "no-color", global = true)]
    pub no_color: bool,
    /// Never ask anything (-input=false): apply and destroy then need -auto-approve
    #[arg(long = "input", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub input: bool,
    /// Switch to this directory before anything else, as Terraform's -chdir (before the command)
    #[arg(long = "chdir", value_name = "DIR")]
    pub chdir: Option<PathBuf>,
}

impl Cli {
    pub fn ui_mode(&self) -> crate::ui::Mode {
        match (self.json, self.quiet) {
            (true, _) => crate::ui::Mode::Json,
            (false, true) => crate::ui::Mode::Quiet,
            (false, false) => crate::ui::Mode::Human,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the changes apply would make (exit 2 with -detailed-exitcode when there are some)
    Plan(PlanArgs),
    /// Create or update the stack so it matches the variables
    Apply(ApplyArgs),
    /// Delete every resource of the stack
    Destroy(ChangeArgs),
    /// Print the stack's outputs, or one output's bare value
    Output(OutputArgs),
    /// Check the variables without calling AWS
    Validate(VarArgs),
    /// Print the shop's container logs (CloudWatch Logs), or follow them with -f
    Logs(LogsArgs),
    /// Show the live stack: URL, service, deployments, tasks, targets, database, EFS, events
    /// (exit 0 healthy, 3 degraded)
    Status(StatusArgs),
    /// Start a new deployment of the revision the service runs (new secrets, a new image
    /// behind the same tag) and wait for it to be healthy
    Redeploy(RedeployArgs),
    /// Put the service back on the previous task definition revision (or -to REVISION) and
    /// wait for it to be healthy; the state then records what runs
    Rollback(RollbackArgs),
    /// Run a one-off command in a new task of the service (its image, network, secrets and
    /// volume), print its log as it runs, and exit with its exit code
    Run(RunArgs),
    /// Read or edit the state: list, show, rm, pull, push
    #[command(subcommand)]
    State(StateCommand),
    /// Remove the lock a dead run left on the state, given that lock's id
    ForceUnlock(ForceUnlockArgs),
    /// Print the dependency graph of the configuration in DOT (Graphviz)
    Graph(GraphArgs),
    /// Show a saved plan (FILE), or the state without one; -json gives Terraform's JSON shape
    Show(ShowArgs),
    /// Take an existing AWS resource into the state at ADDRESS, by its ID; the next plan shows
    /// how it differs from the configuration
    Import(ImportArgs),
    /// Record drift into the state without changing AWS (apply -refresh-only -auto-approve)
    Refresh(RefreshArgs),
    /// Print stackctl's version
    Version,
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell
    Completions(CompletionsArgs),
    /// Set up a remote state: the S3 bucket (and optionally the DynamoDB lock table)
    #[command(subcommand)]
    Backend(BackendCommand),
    /// Check the state's backend; -migrate-state copies a local state into the [backend] bucket
    Init(InitArgs),
}

#[derive(Debug, Subcommand)]
pub enum BackendCommand {
    /// Create the state bucket (versioning, encryption, public access blocked, TLS only) and
    /// optionally the lock table; run again, it changes nothing. Prints the [backend] table
    Bootstrap(BootstrapArgs),
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    /// The bucket's name [default: the [backend] table's, else <project>-<environment>-tfstate-<account id>]
    #[arg(long = "bucket", value_name = "NAME")]
    pub bucket: Option<String>,
    /// Also create this DynamoDB lock table (key LockID) [default: the [backend] table's]
    #[arg(long = "dynamodb-table", value_name = "NAME")]
    pub dynamodb_table: Option<String>,
    /// Send every AWS request to this endpoint (a local emulator); AWS_ENDPOINT_URL also works
    #[arg(long = "endpoint-url", value_name = "URL")]
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Copy the local state (.stackctl/<project>-<environment>.json, or -state PATH) into the
    /// backend; the local file is kept
    #[arg(long = "migrate-state")]
    pub migrate_state: bool,
    /// The local state to migrate [default: .stackctl/<project_name>-<environment>.json]
    #[arg(long = "state", value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// How long to wait for another run's lock on the remote state, such as 30s or 5m
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Send every AWS request to this endpoint (a local emulator); AWS_ENDPOINT_URL also works
    #[arg(long = "endpoint-url", value_name = "URL")]
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print the address of every resource in the state, one per line
    List(StateListArgs),
    /// Print one resource of the state: its type, id and attributes
    Show(StateShowArgs),
    /// Forget resources: remove them from the state only; they stay in AWS
    Rm(StateRmArgs),
    /// Print the whole state as JSON (from S3 with a [backend] table)
    Pull(LocateArgs),
    /// Replace the state with FILE: refused for another lineage or an older serial unless -force
    Push(StatePushArgs),
}

#[derive(Debug, Args)]
pub struct StatePushArgs {
    /// The state file to write, as `state pull` printed it
    pub file: PathBuf,
    /// Write it even if its lineage differs or its serial is older than the current state's
    #[arg(long = "force")]
    pub force: bool,
    #[command(flatten)]
    pub locate: LocateArgs,
    /// How long to wait for another run's lock on the state, such as 30s or 5m
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

/// Where the state is, for commands that read it without planning: `-state`, else the
/// variables' project and environment, else the only state in .stackctl/.
#[derive(Debug, Clone, Args)]
pub struct LocateArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    /// State file [default: found from the variables, or the only one in .stackctl/]
    #[arg(long = "state", value_name = "PATH")]
    pub state: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StateListArgs {
    /// Only these addresses and what is inside them, such as module.rds
    pub addresses: Vec<String>,
    #[command(flatten)]
    pub locate: LocateArgs,
}

#[derive(Debug, Args)]
pub struct StateShowArgs {
    /// The resource's address, as `state list` prints it
    pub address: String,
    #[command(flatten)]
    pub locate: LocateArgs,
}

#[derive(Debug, Args)]
pub struct StateRmArgs {
    /// The addresses to forget; all must be in the state, or nothing is removed
    #[arg(required = true)]
    pub addresses: Vec<String>,
    #[command(flatten)]
    pub locate: LocateArgs,
    /// How long to wait for another run's lock on the state, such as 30s or 5m
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// -lock=false: do not lock the state (warned: a concurrent run could lose changes)
    #[arg(long = "lock", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub lock: bool,
}

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The lock id, as the lock error printed it; the lock is removed only if it matches
    pub id: String,
    #[command(flatten)]
    pub locate: LocateArgs,
}

#[derive(Debug, Clone, Args)]
pub struct VarArgs {
    /// TOML file of variables; repeatable, later files win
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// One variable, such as -var desired_count=3; wins over var files
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// State file [default: .stackctl/<project_name>-<environment>.json]
    #[arg(long = "state", value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// How long to wait for another run's lock on the state, such as 30s or 5m
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Send every AWS request to this endpoint (a local emulator); AWS_ENDPOINT_URL also works
    #[arg(long = "endpoint-url", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// -lock=false: do not lock the state (warned: a concurrent run could lose changes)
    #[arg(long = "lock", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub lock: bool,
    /// At most this many changes at once (and, when given, AWS reads at once), as Terraform's
    /// -parallelism [default: 10]
    #[arg(long = "parallelism", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: Option<u16>,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Send every AWS request to this endpoint (a local emulator); AWS_ENDPOINT_URL also works
    #[arg(long = "endpoint-url", value_name = "URL")]
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub state: StateArgs,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error
    #[arg(long = "detailed-exitcode")]
    pub detailed_exitcode: bool,
    /// Save the plan to FILE (JSON, no secret value); `stackctl apply FILE` applies exactly it
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub targeting: TargetArgs,
}

/// What narrows or forces a plan: Terraform's -target, -replace and -refresh-only.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Plan only this resource or module (such as module.rds) and what it needs; repeatable.
    /// For exceptions: the rest of the stack is left as it is
    #[arg(long = "target", value_name = "ADDRESS")]
    pub target: Vec<String>,
    /// Replace this resource even if nothing forces it; repeatable
    #[arg(long = "replace", value_name = "ADDRESS")]
    pub replace: Vec<String>,
    /// Only read AWS and record what changed outside stackctl into the state; change nothing
    #[arg(long = "refresh-only", conflicts_with_all = ["target", "replace"])]
    pub refresh_only: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan file written by `plan -out`; without it, the state
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub locate: LocateArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The resource's address in the configuration, such as module.ecs.aws_cloudwatch_log_group.main
    pub address: String,
    /// Its id in AWS, as `state show` prints ids (a log group's name, a cluster's ARN ...)
    pub id: String,
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `plan -out`: apply exactly it, or refuse it if the stack moved since
    #[arg(value_name = "FILE", conflicts_with_all = ["target", "replace", "refresh_only"])]
    pub plan_file: Option<PathBuf>,
    #[command(flatten)]
    pub change: ChangeArgs,
    #[command(flatten)]
    pub targeting: TargetArgs,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// How apply waits for the service's deployment after a change to it or its task definition.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Wait until the new deployment is complete and its tasks healthy (-wait=false: return
    /// as soon as AWS accepted the change)
    #[arg(long = "wait", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub wait: bool,
    /// The longest apply waits for a deployment, such as 20m
    #[arg(long = "wait-timeout", value_name = "DURATION", default_value = "20m", value_parser = parse_duration)]
    pub wait_timeout: Duration,
}

/// What apply and destroy take: they change AWS, so they ask first.
#[derive(Debug, Args)]
pub struct ChangeArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub state: StateArgs,
    /// Do not ask for confirmation (needed when stdin is not a terminal)
    #[arg(long = "auto-approve")]
    pub auto_approve: bool,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// One output's name: print its bare value alone (as JSON with -json)
    pub name: Option<String>,
    /// With NAME: the bare string, without a newline, as `terraform output -raw`
    #[arg(long = "raw", requires = "name", conflicts_with = "json")]
    pub raw: bool,
    #[command(flatten)]
    pub locate: LocateArgs,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing new events as they arrive, until Ctrl-C
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
    /// How far back to start, such as 30s, 10m, 1h or 2d
    #[arg(long = "since", value_name = "AGE", default_value = "10m", value_parser = parse_duration)]
    pub since: Duration,
    /// Only events matching this CloudWatch Logs filter pattern, such as ERROR or "PHP Fatal"
    #[arg(long = "filter", value_name = "PATTERN")]
    pub filter: Option<String>,
    /// Only this task's events (its id, the last part of its ARN)
    #[arg(long = "task", value_name = "ID")]
    pub task: Option<String>,
    /// Send every AWS request to this endpoint (a local emulator); AWS_ENDPOINT_URL also works
    #[arg(long = "endpoint-url", value_name = "URL")]
    pub endpoint_url: Option<String>,
    #[command(flatten)]
    pub locate: LocateArgs,
}

#[derive(Debug, Args)]
pub struct RedeployArgs {
    #[command(flatten)]
    pub wait: WaitArgs,
    /// How long to wait for another run's lock on the state, such as 30s or 5m
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// -lock=false: do not lock the state (warned: an apply could change the service meanwhile)
    #[arg(long = "lock", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub lock: bool,
    /// Send every AWS request to this endpoint (a local emulator); AWS_ENDPOINT_URL also works
    #[arg(long = "endpoint-url", value_name = "URL")]
    pub endpoint_url: Option<String>,
    #[command(flatten)]
    pub locate: LocateArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The revision to go back to: its number (7), family:number or ARN; default the newest
    /// revision before the one the service runs
    #[arg(long = "to", value_name = "REVISION")]
    pub to: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// How long to wait for another run's lock on the state, such as 30s or 5m
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// -lock=false: do not lock the state (warned: an apply could change the service meanwhile)
    #[arg(long = "lock", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub lock: bool,
    /// Send every AWS request to this endpoint (a local emulator); AWS_ENDPOINT_URL also works
    #[arg(long = "endpoint-url", value_name = "URL")]
    pub endpoint_url: Option<String>,
    #[command(flatten)]
    pub locate: LocateArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The longest the task may take, start included, such as 30m or 2h; it is stopped then
    #[arg(long = "timeout", value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Send every AWS request to this endpoint (a local emulator); AWS_ENDPOINT_URL also works
    #[arg(long = "endpoint-url", value_name = "URL")]
    pub endpoint_url: Option<String>,
    #[command(flatten)]
    pub locate: LocateArgs,
    /// The command and its arguments, after `--`, such as -- php bin/console cache:clear
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Send every AWS request to this endpoint (a local emulator); AWS_ENDPOINT_URL also works
    #[arg(long = "endpoint-url", value_name = "URL")]
    pub endpoint_url: Option<String>,
    #[command(flatten)]
    pub locate: LocateArgs,
}

/// Long flags that Terraform spells with one dash; `-var-file x` becomes `--var-file x`.
const LONG_FLAGS: &[&str] = &[
    "var-file",
    "var",
    "state",
    "lock-timeout",
    "endpoint-url",
    "detailed-exitcode",
    "auto-approve",
    "wait",
    "wait-timeout",
    "json",
    "follow",
    "since",
    "filter",
    "task",
    "to",
    "timeout",
    "quiet",
    "no-color",
    "help",
    "version",
    "bucket",
    "dynamodb-table",
    "migrate-state",
    "force",
];

/// Rewrite Terraform's single-dash long flags to clap's double-dash form (clap would read
/// `-var-file` as the short flags -v -a -r ...). Everything after `--` is left alone.
///
/// A single-dash word that is not in [`LONG_FLAGS`] is rewritten too: stackctl's only short
/// flags are `-f`, `-h` and `-V`, each used alone, so `-raw` or `-out` is a long flag stackctl
/// lacks. Clap then reports it by its name (and the Terraform flag table can explain it), not
/// as an unknown `-r` to be passed as `-- -r`.
pub fn normalize_args<I: IntoIterator<Item = String>>(args: I) -> Vec<String> {
    let mut out = Vec::new();
    let mut passthrough = false;
    for a in args {
        if a == "--" {
            passthrough = true;
        }
        if !passthrough && a.starts_with('-') && !a.starts_with("--") {
            let name = a[1..].split('=').next().unwrap_or_default();
            if LONG_FLAGS.contains(&name) || looks_long(name) {
                out.push(format!("-{a}"));
                continue;
            }
        }
        out.push(a);
    }
    out
}

/// `refresh`, `out`, `state-out`: a lowercase word of two or more letters, digits and hyphens.
fn looks_long(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A usage error in Terraform's spelling: clap names flags as `--flag`, and suggests passing an
/// unknown one after `--`, which makes no sense for a Terraform flag; the user typed `-flag`.
pub fn terraform_spelling(mut e: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    let single = |s: &str| match s.strip_prefix("--") {
        Some(rest) if !rest.is_empty() => format!("-{rest}"),
        _ => s.to_owned(),
    };
    let mut edits = Vec::new();
    for (kind, value) in e.context() {
        match (kind, value) {
            (ContextKind::Suggested, ContextValue::StyledStrs(tips)) => {
                let kept = tips
                    .iter()
                    .filter(|t| !t.to_string().contains("as a value, use '--"))
                    .cloned()
                    .collect();
                edits.push((kind, ContextValue::StyledStrs(kept)));
            }
            (ContextKind::InvalidArg | ContextKind::PriorArg, ContextValue::String(s)) => {
                // `--lock <BOOL>`: only the flag's own name is respelled.
                let (flag, rest) = s.split_once(' ').unwrap_or((s.as_str(), ""));
                let fixed = if rest.is_empty() {
                    single(flag)
                } else {
                    format!("{} {rest}", single(flag))
                };
                edits.push((kind, ContextValue::String(fixed)));
            }
            (ContextKind::Usage, ContextValue::StyledStr(usage)) => {
                let text = usage.to_string().replace(" --", " -").replace("[--", "[-");
                edits.push((kind, ContextValue::StyledStr(text.into())));
            }
            (ContextKind::SuggestedArg, ContextValue::String(s)) => {
                edits.push((kind, ContextValue::String(single(s))));
            }
            (ContextKind::SuggestedArg, ContextValue::Strings(v)) => {
                edits.push((
                    kind,
                    ContextValue::Strings(v.iter().map(|s| single(s)).collect()),
                ));
            }
            _ => {}
        }
    }
    for (kind, value) in edits {
        e.insert(kind, value);
    }
    e
}

/// `90s`, `5m`, `1h`, `2d`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 30s, 5m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{s:?} is not a duration such as 30s, 5m or 1h")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_dash_long_flags_are_accepted() {
        let args = normalize_args(
            [
                "stackctl",
                "plan",
                "-var-file",
                "dev.toml",
                "-var=desired_count=3",
                "-detailed-exitcode",
                "-h",
            ]
            .map(String::from),
        );
        assert_eq!(
            args,
            [
                "stackctl",
                "plan",
                "--var-file",
                "dev.toml",
                "--var=desired_count=3",
                "--detailed-exitcode",
                "-h"
            ]
        );
        let cli = Cli::try_parse_from(args.iter().filter(|a| *a != "-h")).unwrap();
        match cli.command {
            Command::Plan(p) => {
                assert_eq!(p.vars.var_files, vec![PathBuf::from("dev.toml")]);
                assert_eq!(p.vars.vars, vec!["desired_count=3".to_owned()]);
                assert!(p.detailed_exitcode);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn state_and_force_unlock_parse_with_terraform_flags() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(normalize_args(
                std::iter::once("stackctl")
                    .chain(args.iter().copied())
                    .map(String::from),
            ))
        };
        match parse(&[
            "state",
            "rm",
            "a.b",
            "c.d",
            "-state",
            "s.json",
            "-lock-timeout",
            "1m",
        ])
        .unwrap()
        .command
        {
            Command::State(StateCommand::Rm(a)) => {
                assert_eq!(a.addresses, ["a.b", "c.d"]);
                assert_eq!(a.locate.state, Some(PathBuf::from("s.json")));
                assert_eq!(a.lock_timeout, Duration::from_secs(60));
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(parse(&["state", "rm"]).is_err(), "rm needs an address");
        match parse(&["force-unlock", "abc", "-var-file", "dev.toml"])
            .unwrap()
            .command
        {
            Command::ForceUnlock(a) => {
                assert_eq!(a.id, "abc");
                assert_eq!(a.locate.vars.var_files, [PathBuf::from("dev.toml")]);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn unknown_single_dash_words_are_long_flags_in_errors() {
        let args = normalize_args(
            ["stackctl", "logs", "-f", "-raw", "-V", "--", "-out"].map(String::from),
        );
        assert_eq!(
            args,
            ["stackctl", "logs", "-f", "--raw", "-V", "--", "-out"]
        );
        let e = Cli::try_parse_from(normalize_args(
            ["stackctl", "output", "-rew", "x"].map(String::from),
        ))
        .unwrap_err();
        let text = terraform_spelling(e).to_string();
        assert!(text.contains("unexpected argument '-rew' found"), "{text}");
        assert!(text.contains("a similar argument exists: '-raw'"), "{text}");
        assert!(!text.contains("-- "), "{text}");
    }

    #[test]
    fn terraform_globals_parse() {
        let cli = Cli::try_parse_from(normalize_args(
            [
                "stackctl",
                "-chdir=infra",
                "apply",
                "-input=false",
                "-lock=false",
                "-parallelism=1",
            ]
            .map(String::from),
        ))
        .unwrap();
        assert_eq!(cli.chdir, Some(PathBuf::from("infra")));
        assert!(!cli.input);
        match cli.command {
            Command::Apply(a) => {
                assert!(!a.change.state.lock);
                assert_eq!(a.change.state.parallelism, Some(1));
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["stackctl", "plan", "--parallelism=0"]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert!(parse_duration("5 parsecs").is_err());
    }
}
