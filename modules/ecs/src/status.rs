//! The live service for `stackctl status`: its counts, deployments, tasks and recent events,
//! read with the module's own ECS client.

use aws_sdk_ecs::Client;
use stackctl_contract::{aws_error, Absent, ResourceError};

/// One deployment of the service (the PRIMARY one is what ECS is moving to).
#[derive(Clone, Debug, Default)]
pub struct Deployment {
    pub id: String,
    /// PRIMARY, ACTIVE (being replaced) or INACTIVE.
    pub status: String,
    /// IN_PROGRESS, COMPLETED or FAILED.
    pub rollout_state: String,
    pub rollout_reason: String,
    /// The task definition revision, `family:N`.
    pub revision: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub failed: i32,
}

/// One task of the service.
#[derive(Clone, Debug, Default)]
pub struct Task {
    pub id: String,
    pub zone: String,
    pub last_status: String,
    pub health: String,
    pub revision: String,
    pub started: Option<String>,
    pub stopped_reason: Option<String>,
}

/// The service as ECS reports it now.
#[derive(Clone, Debug, Default)]
pub struct ServiceStatus {
    pub status: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub deployments: Vec<Deployment>,
    pub tasks: Vec<Task>,
    /// The most recent events, newest first: (time, message).
    pub events: Vec<(String, String)>,
}

impl ServiceStatus {
    /// Steady: every deployment completed, as many tasks running as desired.
    pub fn steady(&self) -> bool {
        self.status == "ACTIVE"
            && self.running == self.desired
            && self
                .deployments
                .iter()
                .all(|d| d.rollout_state == "COMPLETED" && d.status == "PRIMARY")
    }
}

/// `family:N` from a task definition ARN.
fn revision(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_owned()
}

/// The service `service` of `cluster`, with its tasks and last `events` events; `None` when it
/// is gone.
pub async fn service_status(
    sdk: &aws_types::SdkConfig,
    cluster: &str,
    service: &str,
    events: usize,
) -> Result<Option<ServiceStatus>, ResourceError> {
    let ecs = Client::new(sdk);
    let Some(out) = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| aws_error("DescribeServices", e))
        .absent_if(&["ClusterNotFoundException", "ServiceNotFoundException"])?
    else {
        return Ok(None);
    };
    let Some(s) = out
        .services()
        .iter()
        .find(|s| s.status() != Some("INACTIVE"))
    else {
        return Ok(None);
    };
    let deployments = s
        .deployments()
        .iter()
        .map(|d| Deployment {
            id: d.id().unwrap_or_default().to_owned(),
            status: d.status().unwrap_or_default().to_owned(),
            rollout_state: d
                .rollout_state()
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default(),
            rollout_reason: d.rollout_state_reason().unwrap_or_default().to_owned(),
            revision: revision(d.task_definition().unwrap_or_default()),
            desired: d.desired_count(),
            running: d.running_count(),
            pending: d.pending_count(),
            failed: d.failed_tasks(),
        })
        .collect();
    let events = s
        .events()
        .iter()
        .take(events)
        .map(|e| {
            (
                e.created_at().map(|t| t.to_string()).unwrap_or_default(),
                e.message().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Ok(Some(ServiceStatus {
        status: s.status().unwrap_or_default().to_owned(),
        desired: s.desired_count(),
        running: s.running_count(),
        pending: s.pending_count(),
        deployments,
        tasks: tasks(&ecs, cluster, service).await?,
        events,
    }))
}

/// The service's running and recently stopped tasks.
async fn tasks(ecs: &Client, cluster: &str, service: &str) -> Result<Vec<Task>, ResourceError> {
    let mut arns: Vec<String> = Vec::new();
    for status in [
        aws_sdk_ecs::types::DesiredStatus::Running,
        aws_sdk_ecs::types::DesiredStatus::Stopped,
    ] {
        let out = ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(service)
            .desired_status(status)
            .send()
            .await
            .map_err(|e| aws_error("ListTasks", e))?;
        arns.extend(out.task_arns().iter().cloned());
    }
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let mut tasks = Vec::new();
    // DescribeTasks takes at most 100 tasks.
    for chunk in arns.chunks(100) {
        let out = ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error("DescribeTasks", e))?;
        tasks.extend(out.tasks().iter().map(|t| {
            Task {
                id: t
                    .task_arn()
                    .and_then(|a| a.rsplit('/').next())
                    .unwrap_or_default()
                    .to_owned(),
                zone: t.availability_zone().unwrap_or_default().to_owned(),
                last_status: t.last_status().unwrap_or_default().to_owned(),
                health: t
                    .health_status()
                    .map(|h| h.as_str().to_owned())
                    .unwrap_or_default(),
                revision: revision(t.task_definition_arn().unwrap_or_default()),
                started: t.started_at().map(|d| d.to_string()),
                stopped_reason: t.stopped_reason().map(str::to_owned),
            }
        }));
    }
    Ok(tasks)
}
