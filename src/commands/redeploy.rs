//! `stackctl redeploy [-wait=false] [-wait-timeout 20m]`: a new deployment of the revision the
//! service runs (new secrets, a new image behind the same tag), waited for as apply waits;
//! found from the state as `output` finds it, under the state's lock.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use crate::cli::RedeployArgs;
use crate::ui;

pub async fn exec(args: RedeployArgs) -> Result<ExitCode> {
    let store = super::store(&args.locate, args.endpoint_url.as_deref()).await?;
    // An apply changing the service meanwhile would race this deployment.
    let _lock = crate::ops::lock_state(&store, "redeploy", args.lock_timeout, args.lock).await?;
    let state = store.load_existing().await?;
    let super::Applied {
        cluster,
        service,
        sdk,
    } = super::applied(&state, &store, args.endpoint_url.as_deref()).await?;
    let wait = stackctl_ecs::DeployWait {
        enabled: args.wait.wait,
        timeout: args.wait.wait_timeout,
    };
    let started = Instant::now();
    let revision = stackctl_ecs::redeploy(
        &sdk,
        Some(&stackctl_alb::status::Targets::new(&sdk)),
        &cluster,
        &service,
        wait,
    )
    .await?;
    let name = revision.rsplit('/').next().unwrap_or(&revision);
    let ui = ui::get();
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
