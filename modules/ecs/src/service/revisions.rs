//! After an update to a new task definition revision: the wait for the service's PRIMARY
//! deployment to show it, then the deregistration of this stack's older revisions beyond the
//! ones a rollback may need.

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::Service;
use aws_sdk_ecs::Client;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{ResourceError, Tags};

use crate::describe;
use crate::task_definition::{deregister_old, KEEP_PREVIOUS};

/// How long an updated service may take to show its new PRIMARY deployment. UpdateService
/// creates it at once; this only covers DescribeServices' eventual consistency.
const DEPLOYMENT_SHOWS: Duration = Duration::from_secs(15);

/// The service once its PRIMARY deployment runs `revision`, with `true`; or as it last
/// read after [`DEPLOYMENT_SHOWS`], with `false`, when it still runs another.
pub(super) async fn deployed(
    ecs: &Client,
    cluster: &str,
    service: &str,
    revision: &str,
) -> Result<(Service, bool), ResourceError> {
    let start = Instant::now();
    // Twice as long for `until` itself: the check below ends the wait first.
    let backoff = Backoff::standard(DEPLOYMENT_SHOWS * 2);
    wait::until(
        &format!("ECS service {service} to deploy {revision}"),
        backoff,
        || async move {
            let s = describe::service(ecs, cluster, service)
                .await?
                .ok_or_else(|| {
                    ResourceError::vanished("DescribeServices", &format!("ECS service {service}"))
                })?;
            let runs = primary_revision(&s) == Some(revision);
            Ok(
                if runs || start.elapsed() >= wait::scaled(DEPLOYMENT_SHOWS) {
                    Poll::Ready((s, runs))
                } else {
                    Poll::Pending(format!(
                        "its PRIMARY deployment runs {}",
                        primary_revision(&s).unwrap_or("no revision")
                    ))
                },
            )
        },
    )
    .await
}

/// After the update to `revision`: deregister this stack's revisions beyond the ones a
/// rollback may need, but only when the service's PRIMARY deployment runs the new one
/// (`runs`). Neither a deployment that does not show nor a failed deregistration fails the
/// update, which is done: a warning says what stays ACTIVE and what to do.
pub(super) async fn retire(
    ecs: &Client,
    service: &Service,
    revision: &str,
    runs: bool,
    stack: &Tags,
) {
    let name = service.service_name().unwrap_or_default();
    if !runs {
        tracing::warn!(
            "ECS service {name}: its PRIMARY deployment still runs {} {}s after the update to {revision}, so no older task definition revision was deregistered: they stay ACTIVE until an apply registers another revision. Check the service's deployments with `aws ecs describe-services --cluster {} --services {name}`",
            primary_revision(service).unwrap_or("no revision"),
            DEPLOYMENT_SHOWS.as_secs(),
            service.cluster_arn().unwrap_or_default(),
        );
        return;
    }
    match deregister_old(ecs, revision, stack).await {
        Ok(done) => {
            for arn in done {
                tracing::debug!(%arn, keep = KEEP_PREVIOUS, "deregistered an old task definition revision");
            }
        }
        Err(e) => {
            // AWS's words on one line; the hint of a ResourceError would break it.
            let code = e.code.map(|c| format!(": {c}")).unwrap_or_default();
            tracing::warn!(
                "ECS service {name} runs {revision}, but this stack's older task definition revisions could not all be deregistered, so some stay ACTIVE ({}{code}: {}). An apply that registers another revision tries again; or deregister them with `aws ecs deregister-task-definition`",
                e.operation,
                e.message
            )
        }
    }
}

/// The task definition the service's PRIMARY deployment runs: the one ECS is moving to.
fn primary_revision(s: &Service) -> Option<&str> {
    s.deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.task_definition())
}
