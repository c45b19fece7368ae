//! `stackctl run -- COMMAND...`: a one-off Fargate task with the service's task definition,
//! network and volume, its command overridden, its log streamed while it runs, and the
//! container's exit code at the end. A task left running costs money and may hold the
//! database: a timeout or an interrupt stops it (StopTask) before returning.

use std::cell::RefCell;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{ContainerOverride, LaunchType, NetworkConfiguration, Task, TaskOverride};
use aws_sdk_ecs::Client;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{aws_error, ResourceError};

use crate::log_events::{task_stream, LogEvent, LogReader};

/// The `startedBy` of every task `stackctl run` starts: how to find them (`aws ecs list-tasks
/// --started-by stackctl-run`), and what tells them from the service's own tasks.
pub const STARTED_BY: &str = "stackctl-run";

/// The error code of a one-off task that stopped before its command gave an exit code.
pub const TASK_FAILED: &str = "TaskFailedToStart";

/// How often the task and its log are read while it runs: about as often as `stackctl logs -f`
/// and `aws logs tail --follow` poll, so lines show within seconds.
const POLL: Duration = Duration::from_secs(2);

/// How long after the task stopped its last lines are looked for: the awslogs driver flushes
/// at the container's exit, and CloudWatch Logs indexes events a moment after they are put.
const LAST_LINES: Duration = Duration::from_secs(3);

/// What to run.
#[derive(Clone, Debug)]
pub struct OneOff<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
    /// The container's command, word by word (no shell: `sh -c '...'` for one).
    pub command: &'a [String],
    /// The longest the task may take, start included; it is stopped after that.
    pub timeout: Duration,
}

/// What the task did, as it happens.
#[derive(Debug)]
pub enum Seen<'a> {
    /// RunTask accepted it: the task's id, and the log stream it writes to (none when the
    /// task definition does not log with awslogs).
    Started {
        task: &'a str,
        stream: Option<&'a str>,
    },
    /// Its status changed (`PROVISIONING`, `PENDING`, `RUNNING`, ...).
    Status(&'a str),
    /// A line of its log.
    Log(&'a LogEvent),
    /// The log cannot be read (the task goes on): said once.
    LogUnreadable(&'a ResourceError),
}

/// How the task ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    /// The task's id, the last part of its ARN.
    pub task: String,
    /// The container's exit code.
    pub exit_code: i32,
}

/// What the service runs, as RunTask needs it.
struct Template {
    task_definition: String,
    network: NetworkConfiguration,
    container: String,
    tags: Vec<aws_sdk_ecs::types::Tag>,
    log: Option<(String, String)>,
}

/// Run `job` and wait for it to stop, telling `seen` what happens. Returns the container's
/// exit code; a task that stopped without one (an image that cannot be pulled, a secret or
/// EFS mount that failed) is an error with the reason. When `interrupted` completes first, or
/// `job.timeout` passes, the task is stopped and the error says so.
pub async fn run_task(
    sdk: &aws_types::SdkConfig,
    job: &OneOff<'_>,
    seen: impl FnMut(Seen<'_>),
    interrupted: impl Future<Output = ()>,
) -> Result<Finished, ResourceError> {
    // Polled once now so that an interrupt (a Ctrl-C handler) is caught from here on: one that
    // comes while RunTask is on its way still stops the task it starts.
    let mut interrupted = std::pin::pin!(interrupted);
    tokio::select! {
        biased;
        () = &mut interrupted => {
            return Err(ResourceError::new("run", "interrupted before the task was started"));
        }
        () = std::future::ready(()) => {}
    }
    let ecs = Client::new(sdk);
    let template = template(&ecs, job).await?;
    let task = start(&ecs, job, &template).await?;
    let arn = task.task_arn().unwrap_or_default().to_owned();
    let id = arn.rsplit('/').next().unwrap_or(&arn).to_owned();
    // A one-off task writes one stream: read it alone from its start (GetLogEvents and its
    // forward token), never the whole group.
    let log = template
        .log
        .as_ref()
        .map(|(group, prefix)| (group.clone(), task_stream(prefix, &template.container, &id)));
    let seen = RefCell::new(seen);
    (seen.borrow_mut())(Seen::Started {
        task: &id,
        stream: log.as_ref().map(|(_, stream)| stream.as_str()),
    });
    let watch = Watch {
        ecs: &ecs,
        cluster: job.cluster,
        arn: &arn,
        container: &template.container,
        reader: LogReader::new(sdk),
        log,
        token: RefCell::new(None),
        log_broken: RefCell::new(false),
        status: RefCell::new(String::new()),
        seen: &seen,
    };
    let outcome = tokio::select! {
        r = watch.until_stopped(job.timeout) => r,
        () = &mut interrupted => Err(Cut::Interrupted),
    };
    match outcome {
        Ok(stopped) => {
            // The last lines arrive after the container's exit.
            tokio::time::sleep(wait::scaled(LAST_LINES)).await;
            watch.read_log().await;
            watch.ended(&stopped, &id)
        }
        Err(Cut::Failed(e)) => {
            // The task may still run: it must not outlive the command that started it.
            let stop = stop(&ecs, job.cluster, &arn, "stackctl run failed while waiting").await;
            Err(match stop {
                Ok(()) => e,
                Err(s) => e.with_hint(format!(
                    "the task {id} may still be running and could not be stopped ({s}): stop it with `aws ecs stop-task --cluster {} --task {id}`",
                    job.cluster
                )),
            })
        }
        Err(cut) => {
            let logs = format!("`stackctl logs -since 1h -task {id}` shows what it printed");
            let (why, reason, hint) = match cut {
                Cut::Interrupted => (
                    "interrupted".to_owned(),
                    "stackctl run was interrupted",
                    logs,
                ),
                _ => (
                    format!(
                        "the task {id} did not finish within {}s (-timeout)",
                        wait::scaled(job.timeout).as_secs()
                    ),
                    "stackctl run timed out",
                    format!(
                        "a longer command needs a longer -timeout, such as -timeout 2h; {logs}"
                    ),
                ),
            };
            watch.read_log().await;
            match stop(&ecs, job.cluster, &arn, reason).await {
                Ok(()) => Err(ResourceError::new(
                    "run",
                    format!("{why}: stopped the task {id} (StopTask)"),
                )
                .with_hint(hint)),
                Err(e) => Err(ResourceError::new(
                    "run",
                    format!("{why}, and the task {id} could not be stopped: {e}"),
                )
                .with_hint(format!(
                    "it may still be running: stop it with `aws ecs stop-task --cluster {} --task {id}`",
                    job.cluster
                ))),
            }
        }
    }
}

/// Why the wait ended before the task stopped.
enum Cut {
    Interrupted,
    TimedOut,
    Failed(ResourceError),
}

/// The service's task definition, network and tags, and the container and log stream the
/// task definition names.
async fn template(ecs: &Client, job: &OneOff<'_>) -> Result<Template, ResourceError> {
    let service = crate::describe::service(ecs, job.cluster, job.service)
        .await?
        .ok_or_else(|| {
            ResourceError::new(
                "DescribeServices",
                format!(
                    "the ECS service {} is not in cluster {}",
                    job.service, job.cluster
                ),
            )
            .with_hint("the state names a service AWS does not have: run `stackctl apply` to create it again")
        })?;
    let task_definition = service
        .task_definition()
        .ok_or_else(|| ResourceError::new("DescribeServices", "AWS returned no task definition"))?
        .to_owned();
    let network = service.network_configuration().cloned().ok_or_else(|| {
        ResourceError::new(
            "DescribeServices",
            format!(
                "the ECS service {} has no network configuration",
                job.service
            ),
        )
        .with_hint("run `stackctl apply` to set it again")
    })?;
    let td = ecs
        .describe_task_definition()
        .task_definition(&task_definition)
        .send()
        .await
        .map_err(|e| aws_error("DescribeTaskDefinition", e))?;
    let def = td.task_definition().ok_or_else(|| {
        ResourceError::new("DescribeTaskDefinition", "AWS returned no task definition")
    })?;
    let containers = def.container_definitions();
    let main = containers
        .iter()
        .find(|c| c.essential() != Some(false))
        .or(containers.first())
        .ok_or_else(|| {
            ResourceError::new(
                "DescribeTaskDefinition",
                format!("{task_definition} has no container"),
            )
        })?;
    let container = main.name().unwrap_or_default().to_owned();
    let log = main
        .log_configuration()
        .filter(|l| l.log_driver().as_str() == "awslogs")
        .and_then(|l| {
            let o = l.options()?;
            Some((
                o.get("awslogs-group")?.clone(),
                o.get("awslogs-stream-prefix")?.clone(),
            ))
        });
    Ok(Template {
        task_definition,
        network,
        container,
        tags: service.tags().to_vec(),
        log,
    })
}

/// RunTask: one Fargate task of the service's revision, in its subnets and security groups,
/// with the container's command replaced.
async fn start(ecs: &Client, job: &OneOff<'_>, t: &Template) -> Result<Task, ResourceError> {
    let overrides = TaskOverride::builder()
        .container_overrides(
            ContainerOverride::builder()
                .name(&t.container)
                .set_command(Some(job.command.to_vec()))
                .build(),
        )
        .build();
    let out = ecs
        .run_task()
        .cluster(job.cluster)
        .task_definition(&t.task_definition)
        .launch_type(LaunchType::Fargate)
        .network_configuration(t.network.clone())
        .overrides(overrides)
        .started_by(STARTED_BY)
        .set_tags((!t.tags.is_empty()).then(|| t.tags.clone()))
        .send()
        .await
        .map_err(|e| aws_error("RunTask", e))?;
    if let Some(task) = out.tasks().first() {
        return Ok(task.clone());
    }
    let why = out
        .failures()
        .iter()
        .map(|f| {
            format!(
                "{}{}",
                f.reason().unwrap_or("no reason given"),
                f.detail().map(|d| format!(" ({d})")).unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(ResourceError::new(
        "RunTask",
        format!("AWS started no task: {}", if why.is_empty() { "no reason given" } else { &why }),
    )
    .with_hint("Fargate may lack capacity in the region for a moment: run the command again; `stackctl status` shows the service's state"))
}

/// StopTask, with the reason ECS records.
async fn stop(ecs: &Client, cluster: &str, arn: &str, reason: &str) -> Result<(), ResourceError> {
    ecs.stop_task()
        .cluster(cluster)
        .task(arn)
        .reason(reason)
        .send()
        .await
        .map(drop)
        .map_err(|e| aws_error("StopTask", e))
}

/// The running task, its log and what was already shown.
struct Watch<'a, F: FnMut(Seen<'_>)> {
    ecs: &'a Client,
    cluster: &'a str,
    arn: &'a str,
    container: &'a str,
    reader: LogReader,
    /// The task's log group and stream.
    log: Option<(String, String)>,
    /// Where the next read of the stream starts.
    token: RefCell<Option<String>>,
    log_broken: RefCell<bool>,
    status: RefCell<String>,
    seen: &'a RefCell<F>,
}

impl<F: FnMut(Seen<'_>)> Watch<'_, F> {
    /// Poll the task (and print its new lines) until it is STOPPED.
    async fn until_stopped(&self, timeout: Duration) -> Result<Task, Cut> {
        let start = Instant::now();
        let deadline = wait::scaled(timeout);
        let backoff = Backoff {
            first: POLL,
            factor: 1.0,
            max: POLL,
            // `until`'s own limit is past ours: the check below decides.
            timeout: timeout * 2 + Duration::from_secs(60),
            quiet: Duration::ZERO,
        };
        let stopped = wait::until("the one-off task to stop", backoff, || async move {
            let task = self.describe().await?;
            self.read_log().await;
            let status = task.last_status().unwrap_or("?").to_owned();
            if *self.status.borrow() != status {
                (self.seen.borrow_mut())(Seen::Status(&status));
                *self.status.borrow_mut() = status.clone();
            }
            Ok(if status == "STOPPED" {
                Poll::Ready(Some(task))
            } else if start.elapsed() >= deadline {
                Poll::Ready(None)
            } else {
                Poll::Pending(format!("task {status}"))
            })
        })
        .await
        .map_err(Cut::Failed)?;
        stopped.ok_or(Cut::TimedOut)
    }

    /// The task as ECS describes it; missing right after RunTask is ECS catching up.
    async fn describe(&self) -> Result<Task, ResourceError> {
        let out = self
            .ecs
            .describe_tasks()
            .cluster(self.cluster)
            .tasks(self.arn)
            .send()
            .await
            .map_err(|e| aws_error("DescribeTasks", e))?;
        out.tasks().first().cloned().ok_or_else(|| {
            ResourceError::vanished("DescribeTasks", &format!("the one-off task {}", self.arn))
        })
    }

    /// Show the log lines not shown yet. A log that cannot be read is said once; the task
    /// goes on regardless.
    async fn read_log(&self) {
        let Some((group, stream)) = &self.log else {
            return;
        };
        let token = self.token.borrow().clone();
        match self.reader.stream(group, stream, token).await {
            Ok((events, next)) => {
                *self.token.borrow_mut() = next;
                for e in &events {
                    (self.seen.borrow_mut())(Seen::Log(e));
                }
            }
            Err(e) => {
                if !self.log_broken.replace(true) {
                    (self.seen.borrow_mut())(Seen::LogUnreadable(&e));
                }
            }
        }
    }

    /// The container's exit code, or why the task stopped without one.
    fn ended(&self, task: &Task, id: &str) -> Result<Finished, ResourceError> {
        let container = task
            .containers()
            .iter()
            .find(|c| c.name() == Some(self.container))
            .or(task.containers().first());
        if let Some(code) = container.and_then(|c| c.exit_code()) {
            return Ok(Finished {
                task: id.to_owned(),
                exit_code: code,
            });
        }
        // The container's reason usually repeats the task's and says more (the image ref).
        let task_reason = task.stopped_reason().unwrap_or("no reason given");
        let why = match container.and_then(|c| c.reason()) {
            Some(r) if r.starts_with(task_reason) => r.to_owned(),
            Some(r) if !task_reason.contains(r) => format!("{task_reason}: {r}"),
            _ => task_reason.to_owned(),
        };
        let code = task
            .stop_code()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_else(|| TASK_FAILED.to_owned());
        Err(ResourceError::new(
            "run",
            format!("the task {id} stopped before its command gave an exit code: {why}"),
        )
        .with_code(code)
        .with_hint("check the image and tag (prestashop_image) and the secrets and EFS the task mounts; `stackctl status` shows whether the service's own tasks start"))
    }
}
