//! The session every operation that changes or plans the stack opens: its variables, its
//! locked state, AWS configured for its region and bound to its account, who the credentials
//! are; and the configuration alone, for `graph`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::locate::{
    default_state_path, gather, locate_args, locate_state, remote_store, states_in_dir, STATE_DIR,
};
use super::Options;
use crate::engine::backend::s3::S3Store;
use crate::engine::backend::Store;
use crate::engine::interrupt::{self, Held};
use crate::engine::plan::{self, Mode, Plan};
use crate::engine::state::{Location, State, StateError};
use crate::engine::Config;
use crate::ui::Printer;
use crate::vars::Vars;
use crate::{aws, stack};

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
    /// Where this run's output goes.
    pub ui: Printer,
    /// None with -lock=false.
    _lock: Option<Held>,
}

impl Session {
    pub async fn open(opts: &Options, command: &str, ui: Printer) -> Result<Session> {
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
        let lock = lock_state(ui, &store, command, opts.lock_timeout, opts.lock).await?;
        let mut state = store.load().await?;
        if let Store::S3(remote) = &store {
            warn_unpushed(
                ui,
                remote,
                &state,
                &locate_args(&opts.var_files, &opts.vars),
            );
        }
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
            ui,
            _lock: lock,
        })
    }

    /// Print what the user should know before reading the plan: the variables' warnings (on
    /// stderr) and the new-stack notice.
    pub fn print_notices(&self) {
        let ui = self.ui;
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
/// The lock is kept where Ctrl-C and SIGTERM release it too (engine::interrupt), so however the
/// run ends, the lock object, the DynamoDB item or the lock file goes with it.
/// Say so when an earlier run could not write this state to S3 and saved a newer copy of it
/// locally (`S3Store::save_errored`): until it is pushed back, the bucket misses what that run
/// recorded.
fn warn_unpushed(ui: Printer, remote: &S3Store, state: &State, locate: &str) {
    let path = remote.errored_path();
    let Ok(copy) = State::load(&path) else {
        return;
    };
    if copy.lineage == state.lineage && copy.serial > state.serial {
        ui.warn(&format!(
            "{} holds a newer copy of this state (serial {}, the bucket's is {}) that an earlier run could not write to S3\n  hint: `stackctl state push {} {locate}` puts it back; until then the bucket misses what that run recorded",
            path.display(),
            copy.serial,
            state.serial,
            path.display(),
        ));
    }
}

pub async fn lock_state(
    ui: Printer,
    store: &Store,
    command: &str,
    timeout: Duration,
    enabled: bool,
) -> Result<Option<Held>> {
    if enabled {
        let lock = store
            .lock(command, timeout, std::sync::Arc::new(ui))
            .await?;
        return Ok(Some(interrupt::hold(lock)));
    }
    ui.warn(&format!(
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
