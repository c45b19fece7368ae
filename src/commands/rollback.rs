//! `stackctl rollback [-to REVISION]`: the service back to the newest earlier task definition
//! revision of this stack that ran healthy (or the one named), waited for as apply waits; the
//! state then says what runs, so the next plan shows what the variables would change back.
//! When the circuit breaker already rolled the service back, it only records that.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use stackctl_contract::interrupt::{waits_end, INTERRUPTED};
use stackctl_contract::{Instance, Tags};

use crate::cli::args::{reword, EndpointArgs, LocateArgs, LockArgs, WaitArgs};
use crate::engine::interrupt;
use crate::engine::scrub_instance;
use crate::engine::state::State;
use crate::stack;
use crate::ui::Printer;

#[derive(Debug, Args)]
// The service's lock warns of what it risks for the service; the flag is LockArgs' own.
#[command(mut_args(reword(
    "lock",
    "-lock=false: do not lock the state (warned: an apply could change the service meanwhile)"
)))]
pub struct RollbackArgs {
    /// The revision to go back to: its number (7), family:number or ARN; default the newest
    /// revision before the one the service runs that ran healthy
    #[arg(long = "to", value_name = "REVISION")]
    pub to: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub lock: LockArgs,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub locate: LocateArgs,
}

pub async fn exec(args: RollbackArgs, ui: Printer) -> Result<ExitCode> {
    let super::LockedService {
        store,
        _lock,
        mut state,
        applied:
            super::Applied {
                cluster,
                service,
                sdk,
            },
    } = super::lock_service(ui, "rollback", &args.locate, &args.lock, &args.endpoint).await?;
    let td = state
        .resources
        .get(stackctl_ecs::TASK_DEFINITION)
        .cloned()
        .with_context(|| {
            format!(
                "{} holds no task definition for the service\n  hint: run `stackctl apply` first",
                store.describe()
            )
        })?;
    // The stack's identity tags, as the task definition carries them: only revisions with
    // them are this stack's to run.
    let tags: Tags = serde_json::from_value(td.attrs.get("tags").cloned().unwrap_or_default())
        .unwrap_or_default();
    let wait = args.wait.deploy_wait();
    let started = Instant::now();
    // The first Ctrl-C ends the wait for the deployment (engine::interrupt): the service goes
    // on moving in AWS, and the state records what it runs now.
    let _handling = interrupt::handling(|| {});
    let rolled = waits_end(stackctl_ecs::rollback::rollback(
        &sdk,
        Some(&stackctl_alb::status::Targets::new(&sdk)),
        (&cluster, &service),
        (&tags, Some(td.id.as_str())),
        args.to.as_deref(),
        wait,
    ))
    .await;
    let rolled = match rolled {
        Err(e) if e.is(&[INTERRUPTED]) => {
            record_running(&mut state, &sdk, &service, None).await?;
            store.save(&mut state).await?;
            ui.notice(&format!(
                "Interrupted: stopped waiting; the service goes on moving to the revision it was given ({e}). The state records what it runs now and its lock is released.\n  `stackctl status` shows how the deployment goes; `stackctl rollback` again waits for it."
            ));
            return Ok(ExitCode::FAILURE);
        }
        r => r?,
    };

    // Record what runs now: the service as AWS reads it, and the revision it runs as the
    // stack's task definition (the one it left stays registered, for a roll forward).
    record_running(&mut state, &sdk, &service, Some(rolled.to.clone())).await?;
    store.save(&mut state).await?;

    let name = |arn: &str| arn.rsplit('/').next().unwrap_or(arn).to_owned();
    let (from, to) = (name(&rolled.from), name(&rolled.to));
    if let Some(why) = &rolled.already {
        if ui.json() {
            ui.document(&json!({ "from": from, "to": to, "already": why }));
        } else {
            ui.result(&format!(
                "Nothing to roll back: the service already runs {to} ({why}); the state now records {to}.\n`stackctl rollback -to N` picks another revision; `stackctl plan` shows what an apply would change back."
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if ui.json() {
        ui.document(&json!({
            "from": from,
            "to": to,
            "waited": wait.enabled,
            "seconds": started.elapsed().as_secs_f64(),
        }));
    } else if wait.enabled {
        ui.result(&format!(
            "Rollback complete: the service runs {to} (was {from}), healthy ({:.1}s).\nThe variables still say what {from} ran: `stackctl plan` shows what an apply would change back; fix the variables first.",
            started.elapsed().as_secs_f64()
        ));
    } else {
        ui.result(&format!(
            "Rollback started: the service moves from {from} to {to}; `stackctl status` follows it."
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Put in `state` the service as AWS reads it and the revision `to` it runs as the stack's
/// task definition; without `to`, the one the service names now.
async fn record_running(
    state: &mut State,
    sdk: &aws_types::SdkConfig,
    service: &str,
    to: Option<String>,
) -> Result<()> {
    let registry = stack::registry(sdk);
    let salt = state.fingerprint_salt.clone();
    let mut to = to;
    for address in [stackctl_ecs::SERVICE, stackctl_ecs::TASK_DEFINITION] {
        let rs = state
            .resources
            .get(address)
            .cloned()
            .context("state changed")?;
        let new_id = match address {
            stackctl_ecs::SERVICE => service.to_owned(),
            _ => to.clone().context("the service names no task definition")?,
        };
        let kind = registry
            .get(&rs.type_name)
            .with_context(|| format!("no kind for {}", rs.type_name))?;
        let prior = Instance::new(new_id.clone(), rs.attrs.clone());
        let read = kind
            .read(&prior)
            .await
            .with_context(|| format!("reading back {address} after the rollback"))?
            .with_context(|| format!("{address} ({new_id}) is gone right after the rollback"))?;
        if address == stackctl_ecs::SERVICE && to.is_none() {
            to = read
                .attrs
                .get("task_definition")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
        }
        let read = scrub_instance(read, &kind.sensitive(), &salt);
        let entry = state.resources.get_mut(address).expect("checked above");
        entry.id = read.id;
        entry.attrs = read.attrs;
    }
    Ok(())
}
