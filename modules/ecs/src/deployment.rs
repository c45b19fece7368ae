//! Waiting for a healthy deployment after the service or its task definition changes, and the
//! diagnosis when it fails: the circuit breaker's verdict, the stopped tasks' reasons, the
//! targets' health, the containers' last log lines, the service's events, and what to do.

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{DeploymentRolloutState, DesiredStatus, Service};
use aws_sdk_ecs::Client;
use stackctl_contract::target_health::{self, Target, TargetHealth};
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{aws_error, ResourceError};

use crate::log_events::{LogQuery, LogReader};

/// Whether and how long apply waits for a deployment (`-wait`, `-wait-timeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeployWait {
    pub enabled: bool,
    pub timeout: Duration,
}

impl Default for DeployWait {
    /// Thirty-five minutes: long enough for the circuit breaker's verdict on a broken first
    /// deployment. ECS stops a task that fails its health checks only after the grace period;
    /// a new service runs one task under the installer's grace period (`service/install.rs`,
    /// 480 s), and the breaker trips after 3 failed tasks, one after the other: 3 x (up to
    /// 90 s to pull and start + 480 s grace + up to 30 s of failed checks) = 1800 s. A
    /// healthy first deployment takes about 5 minutes, an image change about 2.
    fn default() -> Self {
        DeployWait {
            enabled: true,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// `-wait-timeout`'s default (see [`DeployWait::default`]).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(35 * 60);

/// How long a deployment may show no task started before its progress line says what to
/// check: Fargate starts a task within about two minutes (ENI, image pull).
const NO_TASK_AFTER: Duration = Duration::from_secs(180);

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

/// The service a deployment wait watches, and what it reads besides ECS: the target group's
/// health (the load balancer's verdict on each task) and the containers' logs (for the
/// diagnosis). Without them the wait trusts ECS alone and the diagnosis says less.
pub struct Watch<'a> {
    pub ecs: &'a Client,
    pub targets: Option<&'a dyn TargetHealth>,
    pub logs: Option<&'a LogReader>,
    pub cluster: &'a str,
    pub service: &'a str,
}

impl Watch<'_> {
    /// The targets of the service's target group, when there is one and it can be read: a
    /// failed read only leaves them out of the progress line.
    async fn targets(&self, s: &Service) -> Option<Vec<Target>> {
        let reader = self.targets?;
        let tg = s.load_balancers().first()?.target_group_arn()?;
        match reader.targets(tg).await {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::debug!(error = %e, "target health unreadable; going on without it");
                None
            }
        }
    }
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
    watch: &Watch<'_>,
    want: &Want<'_>,
    timeout: Duration,
) -> Result<Service, ResourceError> {
    until_healthy_expecting(watch, want, timeout, TYPICAL).await
}

/// What a rolling deploy typically takes with stackctl's target group settings: a task
/// started (30 to 120 s), 20 s of passing checks, 30 s to deregister the old one (README, "How
/// long a deploy takes").
pub const TYPICAL: Duration = Duration::from_secs(120);

/// What a new service's first deployment typically takes: image pull, PrestaShop's installer
/// and the health checks, 3 to 7.5 minutes (modules/testkit/profiles/realistic.toml,
/// `ecs_service_steady`).
pub const FIRST_TYPICAL: Duration = Duration::from_secs(300);

/// [`until_healthy`] for a deployment AWS typically takes `typical` over.
pub async fn until_healthy_expecting(
    watch: &Watch<'_>,
    want: &Want<'_>,
    timeout: Duration,
    typical: Duration,
) -> Result<Service, ResourceError> {
    let (ecs, cluster, service) = (watch.ecs, watch.cluster, watch.service);
    let revision = want.revision;
    let start = Instant::now();
    let deadline = wait::scaled(timeout);
    // Deployments take minutes on AWS (image pull, two passing health checks 10 s apart,
    // the old tasks' deregistration): check at once (an emulator, a deployment with nothing
    // to replace), early on a doubling interval, then every 10 s from three fifths of the
    // typical time (`Backoff::expecting`). That time is cut to the timeout, so a short
    // -wait-timeout ends at its limit, not at the end of the early checks. `until`'s own limit
    // is past ours, so the check below decides.
    let backoff = Backoff::expecting(typical.min(timeout * 2), timeout * 2);
    // The targets are read on the first poll, every third one after, and whenever ECS says
    // done: the progress line keeps the last summary between reads, so a minutes-long wait
    // costs about 1.3 requests per poll instead of 2.
    let polls = std::sync::atomic::AtomicU32::new(0);
    let last_targets: std::sync::Mutex<Option<String>> = Default::default();
    let (polls, last_targets) = (&polls, &last_targets);
    let rollout = wait::until(
        &format!(
            "ECS service {service} to run {} healthy",
            revision_name(revision)
        ),
        backoff,
        || async move {
            let s = crate::describe::service(ecs, cluster, service)
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
            let done = ours.is_some_and(|d| {
                state == Some(&DeploymentRolloutState::Completed)
                    && d.status() == Some("PRIMARY")
                    && steady
            });
            // ECS counts a task once the load balancer finds it healthy; the targets are read
            // anyway, once ECS is done (so a stale or lenient ECS answer cannot pass alone)
            // and now and then while it is not (for the progress line).
            let poll = polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let targets = if done || (ours.is_some() && poll % 3 == 0) {
                watch.targets(&s).await
            } else {
                None
            };
            if let Some(t) = &targets {
                if let Ok(mut last) = last_targets.lock() {
                    *last = Some(target_health::summary(t));
                }
            }
            let healthy = targets
                .as_ref()
                .map(|t| t.iter().filter(|t| t.state == "healthy").count());
            let targets_ok = healthy.is_none_or(|h| h >= want.desired.max(0) as usize);
            let progress = |s: &Service| {
                let mut line = progress(s, revision);
                if let Some(t) = last_targets.lock().ok().and_then(|t| t.clone()) {
                    line.push_str(&format!("; targets: {t}"));
                }
                if let Some(hint) = no_task_yet(s, revision, start.elapsed()) {
                    line.push_str(&format!("; {hint}"));
                }
                // The newest event too: ECS says there why tasks stop.
                if let Some(event) = s.events().first().and_then(|e| e.message()) {
                    line.push_str(&format!("; latest event: {event}"));
                }
                line
            };
            Ok(match ours {
                Some(_) if done && targets_ok => Poll::Ready(Rollout::Healthy(s)),
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
                _ => Poll::Pending(progress(&s)),
            })
        },
    )
    .await?;
    match rollout {
        Rollout::Healthy(s) => {
            // A place a rollback may go back to.
            crate::marks::set_or_warn(
                ecs,
                revision,
                crate::marks::HEALTHY,
                "`stackctl rollback` will not take it for a revision that ran healthy (-to still can)",
            )
            .await;
            Ok(s)
        }
        Rollout::Failed(s, why) => Err(diagnose(watch, &s, revision, start, why).await),
        Rollout::TimedOut(s) => {
            let mut state = progress(&s, revision);
            if let Some(hint) = no_task_yet(&s, revision, start.elapsed()) {
                state.push_str(&format!("; {hint}"));
            }
            let why = format!(
                "not healthy within the -wait-timeout of {} ({state})",
                duration_text(timeout),
            );
            Err(diagnose(watch, &s, revision, start, why).await)
        }
    }
}

/// `20m`, `1m30s`, `45s`: a timeout as the flag takes it.
fn duration_text(d: Duration) -> String {
    let (m, s) = (d.as_secs() / 60, d.as_secs() % 60);
    match (m, s) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// What to check when a deployment has started no task after [`NO_TASK_AFTER`] (`elapsed`
/// on the run's clock) and none failed, which would have said why in the service's events.
fn no_task_yet(s: &Service, revision: &str, elapsed: Duration) -> Option<String> {
    if elapsed < wait::scaled(NO_TASK_AFTER) || s.running_count() > 0 {
        return None;
    }
    let d = s
        .deployments()
        .iter()
        .find(|d| d.task_definition() == Some(revision))?;
    (d.running_count() == 0 && d.failed_tasks() == 0).then(|| format!(
        "no task has started after {}: check that Fargate has capacity in the service's subnets, that the tasks can reach the image's registry (a public IP or a NAT gateway, or VPC endpoints) and that the execution role may pull it; an emulator that runs no tasks never gets further",
        duration_text(elapsed.div_f64(wait::time_scale()))
    ))
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
    watch: &Watch<'_>,
    s: &Service,
    revision: &str,
    started: Instant,
    why: String,
) -> ResourceError {
    let (ecs, cluster, service) = (watch.ecs, watch.cluster, watch.service);
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
    if let Some(t) = watch.targets(s).await {
        lines.push(format!("targets: {}", target_health::summary(&t)));
        for t in t.iter().filter(|t| t.state != "healthy").take(3) {
            lines.push(format!(
                "target {}:{} {}: {}{}",
                t.id,
                t.port,
                t.state,
                t.reason,
                match t.description.as_str() {
                    "" => String::new(),
                    d => format!(" ({d})"),
                }
            ));
        }
    }
    for line in last_log_lines(watch, revision, started).await {
        lines.push(format!("log: {line}"));
    }
    for e in s.events().iter().take(5) {
        lines.push(format!("event: {}", e.message().unwrap_or_default()));
    }
    ResourceError::new("deployment", lines.join("\n"))
        .with_code(DEPLOYMENT_FAILED)
        .with_hint("check the image and tag (prestashop_image), the secrets and EFS the task mounts, and the health check path; `stackctl logs -since 30m` shows what the containers printed and `stackctl status` where the service stands; then apply again")
}

/// How many of the containers' last log lines a diagnosis shows.
const LOG_LINES: usize = 10;

/// The containers' last log lines since shortly before the deployment started, from the log
/// group the revision's container writes to: a PHP fatal error, a database that refuses the
/// connection, an installer that stopped half-way. Best effort, as the stopped reasons.
async fn last_log_lines(watch: &Watch<'_>, revision: &str, started: Instant) -> Vec<String> {
    let Some(reader) = watch.logs else {
        return Vec::new();
    };
    let Ok(td) = watch
        .ecs
        .describe_task_definition()
        .task_definition(revision)
        .send()
        .await
    else {
        return Vec::new();
    };
    let Some(group) = td
        .task_definition()
        .and_then(|t| t.container_definitions().first())
        .and_then(|c| c.log_configuration())
        .and_then(|l| l.options())
        .and_then(|o| o.get("awslogs-group"))
    else {
        return Vec::new();
    };
    // A minute before the wait began: the tasks of this deployment start after it.
    let since = std::time::SystemTime::now()
        .checked_sub(started.elapsed() + Duration::from_secs(60))
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64);
    let query = LogQuery {
        group: group.clone(),
        since_ms: since,
        ..LogQuery::default()
    };
    match reader.read(&query).await {
        Ok(events) => {
            let skip = events.len().saturating_sub(LOG_LINES);
            events
                .into_iter()
                .skip(skip)
                .map(|e| format!("[{}] {}", e.task(), e.message))
                .collect()
        }
        Err(_) => Vec::new(),
    }
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
    targets: Option<&dyn TargetHealth>,
    cluster: &str,
    service: &str,
    wait: DeployWait,
) -> Result<String, ResourceError> {
    let ecs = Client::new(sdk);
    let logs = LogReader::new(sdk);
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
        let watch = Watch {
            ecs: &ecs,
            targets,
            logs: Some(&logs),
            cluster,
            service,
        };
        until_healthy(&watch, &want, wait.timeout).await?;
    }
    Ok(revision)
}
