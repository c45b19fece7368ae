//! The operations behind the commands: open a session (variables, state, lock, AWS), plan,
//! apply, destroy, show outputs. Command files only fill the options and call these.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::engine::apply::{self, Outcome, Persist};
use crate::engine::backend::{s3::S3Store, BackendConfig, Store, StoreLock};
use crate::engine::plan::{self, Mode, Plan};
use crate::engine::render::{self, Progress};
use crate::engine::state::{Location, State, StateError};
use crate::engine::Config;
use crate::ui::{self, Mode as UiMode};
use crate::vars::{Raw, Vars};
use crate::{aws, stack};

/// A JSON stream has no room for the confirmation prompt: apply and destroy with `-json` must
/// be approved on the command line, as Terraform requires.
pub fn json_needs_auto_approve(command: &str, auto_approve: bool) -> Result<()> {
    if ui::get().json() && !auto_approve {
        bail!("-json needs -auto-approve for {command}: a JSON stream cannot carry the confirmation prompt\n  hint: review the plan with `stackctl plan -json`, then run `stackctl {command} -json -auto-approve`");
    }
    Ok(())
}

/// `-input=false`: never ask (a CI job with a terminal must not hang on a prompt).
static NO_INPUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_input(input: bool) {
    NO_INPUT.store(!input, std::sync::atomic::Ordering::Relaxed);
}

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
    /// state (destroy, which takes its region from the state).
    pub needs_vars: bool,
    /// `-lock=false` turns this off: no lock on the state, with a warning.
    pub lock: bool,
    /// `-parallelism`: at most this many changes at once (10 if not given, as in Terraform);
    /// when given, plan's reads are bounded too, else they are all sent at once.
    pub parallelism: Option<usize>,
}

/// Gather the raw variables from files, flags and the environment.
pub fn gather(var_files: &[PathBuf], vars: &[String]) -> Result<Raw> {
    Ok(Raw::gather(var_files, vars, std::env::vars())?)
}

pub fn default_state_path(project: &str, environment: &str) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{project}-{environment}.json"))
}

/// Whether the user named a stack: a var file, a `-var`, or the project or environment in the
/// environment (`STACKCTL_VAR_project_name`). Without one, the defaults name `prestashop-dev`,
/// which is a guess, never a reason to touch that stack.
pub fn names_a_stack(var_files: &[PathBuf], vars: &[String]) -> bool {
    !var_files.is_empty()
        || !vars.is_empty()
        || ["STACKCTL_VAR_project_name", "STACKCTL_VAR_environment"]
            .iter()
            .any(|k| std::env::var_os(k).is_some())
}

/// Every state in `.stackctl/` (a state that is only locked, from a first apply killed before
/// it wrote anything, counts), sorted.
pub fn states_in_dir() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(STATE_DIR) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let state = name.strip_suffix(".lock").unwrap_or(name);
            (state.ends_with(".json") && !state.starts_with('.')).then(|| p.with_file_name(state))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The state a command that works from a state alone means (destroy, output, state,
/// force-unlock): `-state`, else the stack the variables name, else the only state in
/// `.stackctl/`. Several states and no variables is refused: picking one would be a guess.
pub fn locate_state(
    explicit: Option<&Path>,
    var_files: &[PathBuf],
    vars: &[String],
) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    if names_a_stack(var_files, vars) {
        let (project, env) = gather(var_files, vars)?.project_env();
        return Ok(default_state_path(&project, &env));
    }
    let mut found = states_in_dir();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!(
            "no state found in {}\n  hint: run `stackctl apply -var-file FILE` first, or pass -state PATH",
            STATE_DIR
        ),
        _ => bail!(
            "several states in {}, and no variables say which stack is meant: {}\n  hint: name it with -var-file FILE (the one you applied with) or -state PATH",
            STATE_DIR,
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The S3 store a `[backend]` table names for the stack of `raw`.
pub async fn remote_store(config: &BackendConfig, raw: &Raw, endpoint_url: Option<&str>) -> Store {
    let (project, env) = raw.project_env();
    let region = config.region.clone().unwrap_or_else(|| raw.region());
    let sdk = aws::sdk_config(&region, endpoint_url).await;
    Store::S3(S3Store::new(
        config,
        config.key_for(&project, &env),
        &sdk,
        format!("-var-file {}", config.origin.display()),
    ))
}

/// The store of the state a command that works from a state alone means: `-state PATH` is a
/// local file; else the `[backend]` table of the var files; else the file [`locate_state`]
/// finds.
pub async fn locate_store(
    explicit: Option<&Path>,
    var_files: &[PathBuf],
    vars: &[String],
    endpoint_url: Option<&str>,
) -> Result<Store> {
    if explicit.is_none() && names_a_stack(var_files, vars) {
        let raw = gather(var_files, vars)?;
        if let Some(config) = &raw.backend {
            return Ok(remote_store(config, &raw, endpoint_url).await);
        }
    }
    Ok(Store::Local(locate_state(explicit, var_files, vars)?))
}

/// How a hint names the stack on the command line: its var files.
pub fn locate_args(var_files: &[PathBuf], vars: &[String]) -> String {
    let mut args: Vec<String> = var_files
        .iter()
        .map(|f| format!("-var-file {}", f.display()))
        .collect();
    if args.is_empty() && !vars.is_empty() {
        args.push("-var ...".to_owned());
    }
    args.join(" ")
}

/// An open run: variables, the locked state, AWS configuration and who the credentials are.
pub struct Session {
    pub vars: Option<Vars>,
    /// The state's file, or `s3://bucket/key`, for messages.
    pub state_path: PathBuf,
    pub store: Store,
    pub state: State,
    pub sdk: aws_types::SdkConfig,
    pub identity: aws::Identity,
    /// The state holds resources but no location: an earlier stackctl wrote it, before names
    /// carried the environment.
    legacy: bool,
    /// `-parallelism`, if given.
    pub parallelism: Option<usize>,
    /// None with -lock=false.
    _lock: Option<StoreLock>,
}

impl Session {
    pub async fn open(opts: &Options, command: &str) -> Result<Session> {
        let raw = gather(&opts.var_files, &opts.vars)?;
        let vars = if opts.needs_vars {
            Some(raw.check()?)
        } else {
            None
        };
        let store = match (&opts.state, &raw.backend) {
            (None, Some(config)) => remote_store(config, &raw, opts.endpoint_url.as_deref()).await,
            _ => Store::Local(match &vars {
                Some(v) => opts
                    .state
                    .clone()
                    .unwrap_or_else(|| default_state_path(&v.project_name, &v.environment)),
                None => locate_state(opts.state.as_deref(), &opts.var_files, &opts.vars)?,
            }),
        };
        let state_path = store.message_path();
        if let Store::S3(_) = &store {
            // A stack applied before its var file had a [backend] table has its state here:
            // starting an empty remote state would create the whole stack a second time.
            let (project, env) = raw.project_env();
            let local = default_state_path(&project, &env);
            if !store.exists().await? && State::load(&local).is_ok_and(|s| !s.resources.is_empty())
            {
                bail!(
                    "the backend {} has no state yet, but the local state {} holds this stack's resources; nothing was changed\n  hint: move it there first with `stackctl init -migrate-state {}` (the local file is kept)",
                    store.describe(),
                    local.display(),
                    locate_args(&opts.var_files, &opts.vars),
                );
            }
        }
        if vars.is_none() && !store.exists().await? {
            // Destroy works from a state: without one there is nothing it may delete, and an
            // empty state must not be left behind as if a stack had been destroyed.
            let others = states_in_dir();
            bail!(
                "no state at {}: there is nothing stackctl knows to {command}\n  hint: {}",
                state_path.display(),
                if matches!(store, Store::S3(_)) {
                    "check the [backend] table of the var file: its bucket and key name the state (`stackctl init -var-file FILE` says where it looks)".to_owned()
                } else if others.is_empty() {
                    "check -var-file / -state: they name the stack you applied".to_owned()
                } else {
                    format!(
                        "the states here are {}; name one with -var-file or -state",
                        others
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            );
        }
        let lock = lock_state(&store, command, opts.lock_timeout, opts.lock).await?;
        let mut state = store.load().await?;
        let legacy = state.aws.is_none() && !state.resources.is_empty();
        // The region: the variables' for plan and apply (aws_region wins over AWS_REGION and
        // the profile, as `provider "aws" { region = var.aws_region }` does); the state's for
        // destroy, which may run without the var file.
        let given_region = raw.given("aws_region");
        let region = match (&vars, &state.aws) {
            (Some(v), _) => v.aws_region.clone(),
            (None, Some(loc)) => loc.region.clone(),
            (None, None) => raw.region(),
        };
        if let Some(loc) = state.aws.as_ref().filter(|_| !state.resources.is_empty()) {
            if loc.region != region && (vars.is_some() || given_region.is_some()) {
                return Err(StateError::OtherRegion {
                    path: state_path,
                    state_region: loc.region.clone(),
                    region,
                    origin: given_region
                        .map(|(_, o)| o)
                        .or_else(|| vars.is_some().then(|| "its default".to_owned())),
                }
                .into());
            }
        }
        let sdk = aws::sdk_config(&region, opts.endpoint_url.as_deref()).await;
        let identity = aws::identity(&sdk).await?;
        let here = Location {
            account_id: identity.account.clone(),
            partition: identity.partition.clone(),
            region,
        };
        match &state.aws {
            Some(loc) if !state.resources.is_empty() && loc.account_id != here.account_id => {
                return Err(StateError::OtherAccount {
                    path: state_path,
                    state_account: loc.account_id.clone(),
                    account: here.account_id,
                }
                .into());
            }
            // Bound at the first apply (saved with the first resource); an empty state may move.
            _ => state.aws = Some(here),
        }
        tracing::debug!(account = %identity.account, partition = %identity.partition, "identity");
        Ok(Session {
            vars,
            state_path,
            store,
            state,
            sdk,
            identity,
            legacy,
            parallelism: opts.parallelism,
            _lock: lock,
        })
    }

    /// Print what the user should know before reading the plan: the variables' warnings (on
    /// stderr) and the new-stack notice.
    pub fn print_notices(&self) {
        let ui = ui::get();
        if let Some(vars) = &self.vars {
            for w in vars.warnings() {
                ui.warn(&w);
            }
        }
        if let Some(n) = self.new_stack_notice() {
            ui.caution(&n);
        }
        if self.legacy {
            ui.caution(&format!(
                "{} was written by an earlier stackctl, whose names did not carry the\n  environment. Names now start with <project>-<environment>, and a name cannot change in place:\n  the plan below replaces what was renamed, the database included (only prod keeps a final\n  snapshot). Read it before you apply.\n",
                self.state_path.display()
            ));
        }
    }

    /// A word before the plan when the variables name a stack that has no state yet while
    /// `.stackctl/` holds another of the same project: a renamed environment or project would
    /// otherwise quietly become a second stack.
    pub fn new_stack_notice(&self) -> Option<String> {
        let vars = self.vars.as_ref()?;
        if self.state_path.exists()
            || self.state_path != default_state_path(&vars.project_name, &vars.environment)
        {
            return None;
        }
        let prefix = format!("{}-", vars.project_name);
        let siblings: Vec<String> = states_in_dir()
            .into_iter()
            .filter(|p| p != &self.state_path)
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
            })
            .map(|p| p.display().to_string())
            .collect();
        (!siblings.is_empty()).then(|| {
            format!(
                "no state at {} yet, but {} holds {} of project {:?}.\n  This plan creates a second, separate stack ({}-{}). If you meant the existing one (a renamed\n  environment or project), stop here and use the var file it was applied with.\n",
                self.state_path.display(),
                STATE_DIR,
                siblings.join(", "),
                vars.project_name,
                vars.project_name,
                vars.environment,
            )
        })
    }

    /// The configuration: reads the default VPC first, since the resources depend on its subnets.
    pub async fn config(&self, wait: stackctl_ecs::DeployWait) -> Result<Config> {
        let vars = self
            .vars
            .as_ref()
            .context("internal: variables were not loaded")?;
        let net = stackctl_networking::lookup(&self.sdk)
            .await
            .context("reading the default VPC (module.networking)")?;
        Ok(stack::config(&self.sdk, vars, &net, &self.identity, wait))
    }

    pub async fn plan(&self, config: &Config, mode: Mode) -> Result<Plan> {
        let registry = stack::registry(&self.sdk);
        // A plan's reads go out all at once (a first plan's ~25 lookups take one round trip)
        // unless -parallelism asks for fewer, as a rate-limited account may.
        let reads = self.parallelism.unwrap_or(usize::MAX);
        Ok(plan::plan(plan::PlanRequest {
            config,
            registry: &registry,
            state: &self.state,
            mode,
            parallelism: reads,
            targeting: &plan::Targeting::default(),
        })
        .await?)
    }

    /// [`Session::plan`], narrowed by -target and forced by -replace.
    pub async fn plan_targeted(
        &self,
        config: &Config,
        mode: Mode,
        targeting: &plan::Targeting,
    ) -> Result<Plan> {
        let registry = stack::registry(&self.sdk);
        let reads = self.parallelism.unwrap_or(usize::MAX);
        Ok(plan::plan(plan::PlanRequest {
            config,
            registry: &registry,
            state: &self.state,
            mode,
            parallelism: reads,
            targeting,
        })
        .await?)
    }
}

/// Lock the state for `command`; with `-lock=false` (`enabled` false), warn instead: None.
pub async fn lock_state(
    store: &Store,
    command: &str,
    timeout: Duration,
    enabled: bool,
) -> Result<Option<StoreLock>> {
    if enabled {
        return Ok(Some(store.lock(command, timeout).await?));
    }
    ui::get().warn(&format!(
        "-lock=false: {} is not locked; another run changing this stack meanwhile could lose its changes or yours. Use it only when the lock cannot be taken and nothing else runs",
        store.describe()
    ));
    Ok(None)
}

/// The configuration alone, for `graph`: the variables, who the credentials are and the
/// default VPC (mount targets are one per subnet), with no state and no lock.
pub async fn config_only(opts: &Options) -> Result<Config> {
    let vars = gather(&opts.var_files, &opts.vars)?.check()?;
    let sdk = aws::sdk_config(&vars.aws_region, opts.endpoint_url.as_deref()).await;
    let identity = aws::identity(&sdk).await?;
    let net = stackctl_networking::lookup(&sdk)
        .await
        .context("reading the default VPC (module.networking)")?;
    Ok(stack::config(
        &sdk,
        &vars,
        &net,
        &identity,
        stackctl_ecs::DeployWait::default(),
    ))
}

/// Ask for `yes` on a terminal; refuse without one unless auto-approved.
pub fn confirm(question: &str, auto_approve: bool) -> Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if NO_INPUT.load(std::sync::atomic::Ordering::Relaxed) {
        bail!("-input=false: stackctl may not ask for confirmation, and -auto-approve was not given\n  hint: review the plan with `stackctl plan`, then run again with -auto-approve");
    }
    if !std::io::stdin().is_terminal() {
        bail!("stdin is not a terminal, so the plan cannot be confirmed\n  hint: review it with `stackctl plan`, then run again with -auto-approve");
    }
    ui::get().prompt(&format!(
        "\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    ));
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// Apply a plan and report: the state is saved after each change, the outputs at the end.
pub async fn execute(session: Session, plan: &Plan, config: &Config) -> Result<ExitCode> {
    let started = Instant::now();
    let persist = Persist::with_store(session.store.clone(), plan.prior.clone());
    let parallelism = session.parallelism.unwrap_or(apply::DEFAULT_PARALLELISM);
    let outcome = apply::apply(plan, config, &persist, &Progress, parallelism).await;
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
    let ui = ui::get();
    if plan.mode == Mode::Apply {
        // A change deferred to a maintenance window is accepted, not done: say so.
        let pending = render::pending_in_state(&state);
        if !pending.is_empty() {
            ui.detail(&pending);
        }
    }
    if plan.mode == Mode::Apply && !state.outputs.is_empty() {
        ui.detail(&format!(
            "\nOutputs:\n\n{}",
            render::outputs(&state.outputs)
        ));
        ui.event(
            "outputs",
            "Outputs",
            render::fields([("outputs", render::outputs_json(&state.outputs, false))]),
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn report(outcome: &Outcome, plan: &Plan, elapsed: Duration) {
    // What was done, not what was planned: a planned update that found nothing left to change
    // is not counted, and an adoption is named.
    let adopted = match outcome.adopted {
        0 => String::new(),
        n => format!("{n} adopted, "),
    };
    let ui = ui::get();
    let operation = match plan.mode {
        Mode::Apply => "apply",
        Mode::Destroy => "destroy",
    };
    if outcome.ok() {
        let line = match plan.mode {
            Mode::Apply => format!(
                "Apply complete! Resources: {adopted}{} added, {} changed, {} destroyed.",
                outcome.added, outcome.changed, outcome.destroyed,
            ),
            Mode::Destroy => format!(
                "Destroy complete! Resources: {} destroyed.",
                outcome.destroyed
            ),
        };
        ui.result(&format!("\n{line} ({:.1}s)", elapsed.as_secs_f64()));
        ui.event(
            "change_summary",
            &line,
            render::fields([(
                "changes",
                json!({
                    "add": outcome.added,
                    "change": outcome.changed,
                    "import": outcome.adopted,
                    "remove": outcome.destroyed,
                    "operation": operation,
                    "elapsed_seconds": elapsed.as_secs_f64(),
                }),
            )]),
        );
        return;
    }
    let verb = if plan.mode == Mode::Apply {
        "Apply"
    } else {
        "Destroy"
    };
    let line = format!(
        "{verb} incomplete: {} done, {} failed, {} not started{}. The state records everything that exists; run the same command again to continue.",
        outcome.done,
        outcome.failed.len(),
        outcome.skipped.len(),
        if outcome.interrupted { " (interrupted)" } else { "" }
    );
    match ui.mode() {
        UiMode::Json => ui.event(
            "change_summary",
            &line,
            render::fields([(
                "changes",
                json!({
                    "done": outcome.done,
                    "failed": outcome.failed.len(),
                    "not_started": outcome.skipped.len(),
                    "interrupted": outcome.interrupted,
                    "operation": operation,
                }),
            )]),
        ),
        _ => ui.notice(&format!("\n{line}")),
    }
    for (address, err) in &outcome.failed {
        ui.error(err, Some(address));
    }
}
