//! The operations behind the commands: open a session (variables, state, lock, AWS), plan,
//! apply, destroy, show outputs. Command files only fill the options and call these.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::engine::apply::{self, Outcome, Persist};
use crate::engine::lock::Lock;
use crate::engine::plan::{self, Mode, Plan};
use crate::engine::render::{self, Progress};
use crate::engine::state::State;
use crate::engine::Config;
use crate::vars::{Raw, Vars};
use crate::{aws, stack};

/// Where states live by default, relative to the working directory (like `.terraform/`).
pub const STATE_DIR: &str = ".stackctl";

/// What every command that touches AWS takes.
pub struct Options {
    pub var_files: Vec<PathBuf>,
    pub vars: Vec<String>,
    pub state: Option<PathBuf>,
    pub lock_timeout: Duration,
    pub endpoint_url: Option<String>,
    /// Whether the full, checked variables are needed (plan, apply) or only enough to find the
    /// state and the region (destroy).
    pub needs_vars: bool,
}

/// Gather the raw variables from files, flags and the environment.
pub fn gather(var_files: &[PathBuf], vars: &[String]) -> Result<Raw> {
    Ok(Raw::gather(var_files, vars, std::env::vars())?)
}

pub fn default_state_path(project: &str, environment: &str) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{project}-{environment}.json"))
}

/// An open run: variables, the locked state, and AWS configuration.
pub struct Session {
    pub vars: Option<Vars>,
    pub state_path: PathBuf,
    pub state: State,
    pub sdk: aws_types::SdkConfig,
    _lock: Lock,
}

impl Session {
    pub async fn open(opts: &Options, command: &str) -> Result<Session> {
        let raw = gather(&opts.var_files, &opts.vars)?;
        let vars = if opts.needs_vars {
            Some(raw.check()?)
        } else {
            None
        };
        let (project, environment) = raw.project_env();
        let state_path = opts
            .state
            .clone()
            .unwrap_or_else(|| default_state_path(&project, &environment));
        let lock = Lock::acquire(&state_path, command, opts.lock_timeout)?;
        let state = State::load(&state_path)?;
        let sdk = aws::sdk_config(&raw.region(), opts.endpoint_url.as_deref()).await;
        Ok(Session {
            vars,
            state_path,
            state,
            sdk,
            _lock: lock,
        })
    }

    /// The configuration: reads the default VPC first, since the resources depend on its subnets.
    pub async fn config(&self) -> Result<Config> {
        let vars = self
            .vars
            .as_ref()
            .context("internal: variables were not loaded")?;
        let net = stackctl_networking::lookup(&self.sdk)
            .await
            .context("reading the default VPC (module.networking)")?;
        Ok(stack::config(&self.sdk, vars, &net))
    }

    pub async fn plan(&self, config: &Config, mode: Mode) -> Result<Plan> {
        let registry = stack::registry(&self.sdk);
        Ok(plan::plan(config, &registry, &self.state, mode).await?)
    }
}

/// Ask for `yes` on a terminal; refuse without one unless auto-approved.
pub fn confirm(question: &str, auto_approve: bool) -> Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("stdin is not a terminal, so the plan cannot be confirmed\n  hint: review it with `stackctl plan`, then run again with -auto-approve");
    }
    print!("\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// Apply a plan and report: the state is saved after each change, the outputs at the end.
pub async fn execute(session: Session, plan: &Plan, config: &Config) -> Result<ExitCode> {
    let started = Instant::now();
    let persist = Persist::new(session.state_path.clone(), plan.prior.clone());
    let outcome = apply::apply(plan, config, &persist, &Progress).await;
    if plan.mode == Mode::Apply {
        apply::compute_outputs(config, &persist)?;
    } else {
        persist.save_with(|s| {
            if s.resources.is_empty() {
                s.outputs.clear()
            }
        })?;
    }
    let state = persist.into_state();
    report(&outcome, plan, started.elapsed());
    if !outcome.ok() {
        return Ok(ExitCode::FAILURE);
    }
    if plan.mode == Mode::Apply && !state.outputs.is_empty() {
        println!("\nOutputs:\n\n{}", render::outputs(&state.outputs));
    }
    Ok(ExitCode::SUCCESS)
}

fn report(outcome: &Outcome, plan: &Plan, elapsed: Duration) {
    let (add, change, destroy) = plan.counts();
    if outcome.ok() {
        match plan.mode {
            Mode::Apply => println!("\nApply complete! Resources: {add} added, {change} changed, {destroy} destroyed. ({:.1}s)", elapsed.as_secs_f64()),
            Mode::Destroy => println!("\nDestroy complete! Resources: {destroy} destroyed. ({:.1}s)", elapsed.as_secs_f64()),
        }
        return;
    }
    let verb = if plan.mode == Mode::Apply {
        "Apply"
    } else {
        "Destroy"
    };
    eprintln!(
        "\n{verb} incomplete: {} done, {} failed, {} not started{}. The state records everything that exists; run the same command again to continue.",
        outcome.done,
        outcome.failed.len(),
        outcome.skipped.len(),
        if outcome.interrupted { " (interrupted)" } else { "" }
    );
    for (address, err) in &outcome.failed {
        eprintln!("\nError: {address}\n  {}", err.replace('\n', "\n  "));
    }
}
