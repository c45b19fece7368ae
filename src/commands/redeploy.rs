//! `stackctl redeploy [-wait=false] [-wait-timeout 35m]`: a new deployment of the revision the
//! service runs (new secrets, a new image behind the same tag), waited for as apply waits;
//! found from the state as `output` finds it, under the state's lock.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::cli::args::{reword, EndpointArgs, LocateArgs, LockArgs, WaitArgs};
use crate::engine::interrupt;
use crate::ui::Printer;
use stackctl_contract::interrupt::{waits_end, INTERRUPTED};

#[derive(Debug, Args)]
// The service's lock warns of what it risks for the service; the flag is LockArgs' own.
#[command(mut_args(reword(
    "lock",
    "-lock=false: do not lock the state (warned: an apply could change the service meanwhile)"
)))]
pub struct RedeployArgs {
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub lock: LockArgs,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub locate: LocateArgs,
}

pub async fn exec(args: RedeployArgs, ui: Printer) -> Result<ExitCode> {
    let super::LockedService {
        store: _store,
        _lock,
        state: _,
        applied:
            super::Applied {
                cluster,
                service,
                sdk,
            },
    } = super::lock_service(ui, "redeploy", &args.locate, &args.lock, &args.endpoint).await?;
    let wait = args.wait.deploy_wait();
    let started = Instant::now();
    // The first Ctrl-C ends the wait for the deployment (engine::interrupt): the deployment
    // goes on in AWS, and the lock is released on return.
    let _handling = interrupt::handling(|| {});
    let revision = match waits_end(stackctl_ecs::redeploy(
        &sdk,
        Some(&stackctl_alb::status::Targets::new(&sdk)),
        &cluster,
        &service,
        wait,
    ))
    .await
    {
        Err(e) if e.is(&[INTERRUPTED]) => {
            ui.notice(&format!(
                "Interrupted: stopped waiting; the new deployment goes on in AWS ({e}). The state's lock is released.\n  `stackctl status` shows how it goes; `stackctl redeploy` again starts another deployment."
            ));
            return Ok(ExitCode::FAILURE);
        }
        r => r?,
    };
    let name = revision.rsplit('/').next().unwrap_or(&revision);
    if ui.json() {
        ui.document(&json!({
            "revision": name,
            "waited": wait.enabled,
            "seconds": started.elapsed().as_secs_f64(),
        }));
    } else if wait.enabled {
        ui.result(&format!(
            "Redeploy complete: a new deployment of {name} is healthy ({:.1}s).",
            started.elapsed().as_secs_f64()
        ));
    } else {
        ui.result(&format!(
            "Redeploy started: a new deployment of {name}; `stackctl status` follows it."
        ));
    }
    Ok(ExitCode::SUCCESS)
}
