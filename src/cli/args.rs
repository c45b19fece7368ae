//! The flag groups several commands share, each declared once and flattened where it is used
//! (`#[command(flatten)]`), and the duration parser their flags use. A flag's place in a
//! command's help is where its group is flattened.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, Args};

/// The variables: var files and `-var`.
#[derive(Debug, Clone, Args)]
pub struct VarArgs {
    /// TOML file of variables; repeatable, later files win
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// One variable, such as -var desired_count=3; wins over var files
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
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

/// `-endpoint-url`: every AWS client at another endpoint.
#[derive(Debug, Clone, Args)]
pub struct EndpointArgs {
    /// Send every AWS request to this endpoint (a local emulator); AWS_ENDPOINT_URL also works
    #[arg(long = "endpoint-url", value_name = "URL")]
    pub endpoint_url: Option<String>,
}

/// `-lock-timeout`: how long to wait for another run's lock on the state.
#[derive(Debug, Clone, Args)]
pub struct LockTimeout {
    /// How long to wait for another run's lock on the state, such as 30s or 5m
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

/// `-lock-timeout` and `-lock`: the state's lock, for the commands that take it and may be
/// told not to.
#[derive(Debug, Clone, Args)]
pub struct LockArgs {
    #[command(flatten)]
    pub timeout: LockTimeout,
    /// -lock=false: do not lock the state (warned: a concurrent run could lose changes)
    #[arg(long = "lock", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub lock: bool,
}

/// What plan, apply, destroy, import and refresh take besides the variables: the state, its
/// lock, the endpoint and -parallelism.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// State file [default: .stackctl/<project_name>-<environment>.json]
    #[arg(long = "state", value_name = "PATH")]
    pub state: Option<PathBuf>,
    #[command(flatten)]
    pub timeout: LockTimeout,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// -lock=false: do not lock the state (warned: a concurrent run could lose changes)
    #[arg(long = "lock", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub lock: bool,
    /// At most this many changes at once (and, when given, AWS reads at once), as Terraform's
    /// -parallelism [default: 10]
    #[arg(long = "parallelism", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: Option<u16>,
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

/// How apply waits for the service's deployment after a change to it or its task definition.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Wait until the new deployment is complete and its tasks healthy (-wait=false: return
    /// as soon as AWS accepted the change)
    #[arg(long = "wait", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub wait: bool,
    /// The longest apply waits for a deployment, such as 20m (the default leaves the circuit
    /// breaker time to judge a broken first deployment: see the README)
    #[arg(long = "wait-timeout", value_name = "DURATION", default_value = "35m", value_parser = parse_duration)]
    pub wait_timeout: Duration,
}

impl WaitArgs {
    /// The deployment wait these flags ask for.
    pub fn deploy_wait(&self) -> stackctl_ecs::DeployWait {
        stackctl_ecs::DeployWait {
            enabled: self.wait,
            timeout: self.wait_timeout,
        }
    }
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

/// For `#[command(mut_args(...))]`: a shared flag with its help worded for one command, left in
/// its place (`mut_arg` would move it last, and the completion scripts list flags in order).
pub fn reword(id: &'static str, help: &'static str) -> impl FnMut(Arg) -> Arg {
    move |a| {
        if a.get_id() == id {
            a.help(help)
        } else {
            a
        }
    }
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
    fn durations() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert!(parse_duration("5 parsecs").is_err());
    }
}
