//! Waiting for a healthy deployment after the service or its task definition changes, and the
//! diagnosis when it fails: the circuit breaker's verdict, the stopped tasks' reasons, the
//! service's events, and what to do.

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{DeploymentRolloutState, DesiredStatus, Service};
use aws_sdk_ecs::Client;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{aws_error, ResourceError};

/// Whether and how long apply waits for a deployment (`-wait`, `-wait-timeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeployWait {
    pub enabled: bool,
    pub timeout: Duration,
}

impl Default for DeployWait {
    /// Twenty minutes: PrestaShop's first start (installer, cache warm-up) behind a 300 s
    /// grace period, plus a rolling replacement, fit well inside it.
    fn default() -> Self {
        DeployWait {
            enabled: true,
            timeout: Duration::from_secs(20 * 60),
        }
    }
}

/// The error code of a deployment that failed or did not finish in time.
pub const DEPLOYMENT_FAILED: &str = "DeploymentFailed";

/// How a deployment ended.
enum Rollout {
    Healthy(Service),
    Failed(Service, String),
    TimedOut(Service),
}

/// `family:N` from a task definition ARN.
fn revision_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The deployment an UpdateService or CreateService answer names as PRIMARY: the one that
/// call started (or, for a count change, the one it resized). Waiting for it by id, not by
/// revision, keeps a stale DescribeServices (the previous, completed deployment of the same
/// revision) from passing for it.
pub fn started(answer: Option<&Service>) -> Option<String> {
    answer?
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.id())
        .map(str::to_owned)
}

/// What apply waits for: the deployment (by id when the answer named it, else the PRIMARY one
/// of `revision`) and the desired count it must reach.
pub struct Want<'a> {
    pub revision: &'a str,
    pub deployment: Option<String>,
    pub desired: i32,
}

/// Wait until the service's deployment of `revision` has COMPLETED (ECS counts a task only
/// once it passes the target group's health checks) with as many tasks running as desired.
/// A failure (the circuit breaker tripped, the deployment rolled back) or the timeout is an
/// error that says why.
pub async fn until_healthy(
    ecs: &Client,
    cluster: &str,
    service: &str,
    want: &Want<'_>,
    timeout: Duration,
) -> Result<Service, ResourceError> {
    let revision = want.revision;
    let start = Instant::now();
    let deadline = wait::scaled(timeout);
    // Deployments take minutes on AWS (image pull, two passing health checks 30 s apart,
    // the old tasks' deregistration): check at once (an emulator, a deployment with nothing
    // to replace), then not before a minute, then every 10 s. `until`'s own limit is past
    // ours, so the check below decides.
    let backoff = Backoff::expecting(Duration::from_secs(120), timeout * 2);
    let rollout = wait::until(
        &format!(
            "ECS service {service} to run {} healthy",
            revision_name(revision)
        ),
        backoff,
        || async move {
            let s = crate::service::describe(ecs, cluster, service)
                .await?
                .ok_or_else(|| {
                    ResourceError::vanished("DescribeServices", &format!("ECS service {service}"))
                })?;
            let deployments = s.deployments();
            let ours = match &want.deployment {
                Some(id) => deployments.iter().find(|d| d.id() == Some(id.as_str())),
                None => deployments
                    .iter()
                    .filter(|d| d.task_definition() == Some(revision))
                    .min_by_key(|d| d.status() != Some("PRIMARY")),
            };
            let state = ours.and_then(|d| d.rollout_state());
            // A read from before the change may still show the old count: steady means the
            // count asked for.
            let steady =
                s.desired_count() == want.desired && s.running_count() == s.desired_count();
            Ok(match ours {
                Some(d)
                    if state == Some(&DeploymentRolloutState::Completed)
                        && d.status() == Some("PRIMARY")
                        && steady =>
                {
                    Poll::Ready(Rollout::Healthy(s))
                }
                Some(d) if state == Some(&DeploymentRolloutState::Failed) => {
                    let why = d
                        .rollout_state_reason()
                        .unwrap_or("the deployment failed")
                        .to_owned();
                    Poll::Ready(Rollout::Failed(s, why))
                }
                None if start.elapsed() >= wait::scaled(Duration::from_secs(15)) => {
                    Poll::Ready(Rollout::Failed(
                        s,
                        "the service has no deployment of this revision any more".into(),
                    ))
                }
                _ if start.elapsed() >= deadline => Poll::Ready(Rollout::TimedOut(s)),
                // The progress line shows the newest event too: ECS says there why tasks stop.
                _ => Poll::Pending(match s.events().first().and_then(|e| e.message()) {
                    Some(event) => format!("{}; latest event: {event}", progress(&s, revision)),
                    None => progress(&s, revision),
                }),
            })
        },
    )
    .await?;
    match rollout {
        Rollout::Healthy(s) => Ok(s),
        Rollout::Failed(s, why) => Err(diagnose(ecs, &s, cluster, service, revision, why).await),
        Rollout::TimedOut(s) => {
            let why = format!(
                "not healthy after {}s ({})",
                start.elapsed().as_secs(),
                progress(&s, revision)
            );
            Err(diagnose(ecs, &s, cluster, service, revision, why).await)
        }
    }
}

/// `deployment ecs-svc/1 IN_PROGRESS: 1/2 running, 1 pending, 0 failed`.
fn progress(s: &Service, revision: &str) -> String {
    match s
        .deployments()
        .iter()
        .find(|d| d.task_definition() == Some(revision))
    {
        Some(d) => format!(
            "deployment {} {}: {}/{} running, {} pending, {} failed",
            d.id().unwrap_or_default(),
            d.rollout_state().map(|r| r.as_str()).unwrap_or("?"),
            d.running_count(),
            d.desired_count(),
            d.pending_count(),
            d.failed_tasks()
        ),
        None => "no deployment of it yet".into(),
    }
}

/// The error a user reads: what failed, where the service is now, the stopped tasks' reasons,
/// the latest events, and what to do.
async fn diagnose(
    ecs: &Client,
    s: &Service,
    cluster: &str,
    service: &str,
    revision: &str,
    why: String,
) -> ResourceError {
    let name = revision_name(revision);
    let mut lines = vec![format!("the deployment of {name} failed: {why}")];
    let primary = s
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.task_definition());
    match primary {
        Some(p) if p != revision => lines.push(format!(
            "The circuit breaker rolled the service back: it runs {} again ({} of {} tasks).",
            revision_name(p),
            s.running_count(),
            s.desired_count()
        )),
        _ => lines.push(format!(
            "The service runs {} of {} tasks.",
            s.running_count(),
            s.desired_count()
        )),
    }
    for (task, reason) in stopped_reasons(ecs, cluster, service, revision).await {
        lines.push(format!("stopped task {task}: {reason}"));
    }
    for e in s.events().iter().take(5) {
        lines.push(format!("event: {}", e.message().unwrap_or_default()));
    }
    ResourceError::new("deployment", lines.join("\n"))
        .with_code(DEPLOYMENT_FAILED)
        .with_hint("check the image and tag (prestashop_image), the secrets and EFS the task mounts, and the health check path; `stackctl logs -since 30m` shows what the containers printed and `stackctl status` where the service stands; then apply again")
}

/// Up to three stopped tasks of `revision`, with why they stopped (a pull error, a secret or
/// EFS mount failure, failed health checks). Best effort: the diagnosis goes on without them.
async fn stopped_reasons(
    ecs: &Client,
    cluster: &str,
    service: &str,
    revision: &str,
) -> Vec<(String, String)> {
    let Ok(list) = ecs
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .map_err(|e| aws_error("ListTasks", e))
    else {
        return Vec::new();
    };
    if list.task_arns().is_empty() {
        return Vec::new();
    }
    let Ok(out) = ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(list.task_arns().iter().take(100).cloned().collect()))
        .send()
        .await
        .map_err(|e| aws_error("DescribeTasks", e))
    else {
        return Vec::new();
    };
    out.tasks()
        .iter()
        .filter(|t| t.task_definition_arn() == Some(revision))
        .take(3)
        .map(|t| {
            let container = t
                .containers()
                .iter()
                .find_map(|c| c.reason())
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            (
                t.task_arn()
                    .and_then(|a| a.rsplit('/').next())
                    .unwrap_or_default()
                    .to_owned(),
                format!(
                    "{}{container}",
                    t.stopped_reason().unwrap_or("no reason given")
                ),
            )
        })
        .collect()
}

/// `stackctl redeploy`: a new deployment of the revision the service runs (new secrets, a new
/// image behind the same tag), waited for as apply waits. Returns the revision.
pub async fn redeploy(
    sdk: &aws_types::SdkConfig,
    cluster: &str,
    service: &str,
    wait: DeployWait,
) -> Result<String, ResourceError> {
    let ecs = Client::new(sdk);
    let out = ecs
        .update_service()
        .cluster(cluster)
        .service(service)
        .force_new_deployment(true)
        .send()
        .await
        .map_err(|e| aws_error("UpdateService", e))?;
    let revision = out
        .service()
        .and_then(|s| s.task_definition())
        .ok_or_else(|| ResourceError::new("UpdateService", "AWS returned no task definition"))?
        .to_owned();
    if wait.enabled {
        let want = Want {
            revision: &revision,
            deployment: started(out.service()),
            desired: out.service().map_or(0, |s| s.desired_count()),
        };
        until_healthy(&ecs, cluster, service, &want, wait.timeout).await?;
    }
    Ok(revision)
}
