//! An ECS service's deployments over time, as AWS shows them: each deployment rolling out,
//! completing, or failing (and rolling back with the circuit breaker), the tasks running, and
//! the service's events; a deleted service draining.

use serde_json::{json, Value};

use super::profile::{Failure, Profile};
use super::world::{Deployment, EcsService, World};

/// A service as AWS shows it at one moment.
pub(super) struct View {
    pub(super) status: &'static str,
    pub(super) running: i64,
    pub(super) deployments: Vec<Value>,
    pub(super) task_definition: Option<String>,
    pub(super) events: Vec<String>,
}

/// Tasks running for a service now.
pub(super) fn running(profile: &Profile, s: &EcsService, now: f64) -> i64 {
    service_view(profile, s, now).running
}

/// How the image of this task definition fails to deploy, if the profile says it does.
pub(super) fn failure_of(
    profile: &Profile,
    w: &World,
    task_definition: &str,
) -> Option<(Failure, String)> {
    let (image, _) = w.task_definitions.get(task_definition)?;
    profile
        .failing_images
        .iter()
        .find(|(p, _)| image.contains(p.as_str()))
        .map(|(_, f)| (*f, image.clone()))
}

fn service_view(profile: &Profile, s: &EcsService, now: f64) -> View {
    // Placeholder for services without a known failure; `services_answer` fills failures.
    view_with(profile, s, now, &|_| None)
}

/// The service `now`, `failure` telling which task definitions fail to deploy, and how.
pub(super) fn view_with(
    profile: &Profile,
    s: &EcsService,
    now: f64,
    failure: &dyn Fn(&str) -> Option<(Failure, String)>,
) -> View {
    if let Some(d) = s.deleted {
        let drain = profile.seconds("ecs_service_drain");
        let left = if now - d < drain {
            ((s.desired_before_delete as f64) * (1.0 - (now - d) / drain)).ceil() as i64
        } else {
            0
        };
        return View {
            status: if now - d < drain {
                "DRAINING"
            } else {
                "INACTIVE"
            },
            running: left,
            deployments: Vec::new(),
            task_definition: None,
            events: Vec::new(),
        };
    }
    let breaker = s
        .deployment_configuration
        .as_ref()
        .and_then(|c| c.pointer("/deploymentCircuitBreaker"));
    let breaker_on = breaker
        .and_then(|b| b.get("enable"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let rollback = breaker
        .and_then(|b| b.get("rollback"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // Walk the deployments in order: each either completes, fails (and may roll back to
    // the last one that completed) or is still in progress.
    let mut stable: Option<(String, String)> = None; // (deployment id, task definition)
    let mut view = View {
        status: "ACTIVE",
        running: 0,
        deployments: Vec::new(),
        task_definition: None,
        events: Vec::new(),
    };
    let desired = s.desired;
    for (i, dep) in s.deployments.iter().enumerate() {
        let superseded_at = s.deployments.get(i + 1).map(|n| n.started);
        let end = superseded_at.unwrap_or(now);
        let age = end - dep.started;
        // A deployment that replaces running tasks takes what the target group's settings
        // make it take; the service's first one, its first start.
        let steady = if stable.is_some() {
            dep.replaces_in
        } else {
            profile.seconds("ecs_service_steady")
        }
        .max(f64::EPSILON);
        match failure(&dep.task_definition) {
            None => {
                if age >= steady {
                    stable = Some((dep.id.clone(), dep.task_definition.clone()));
                    if superseded_at.is_none() {
                        view.deployments = vec![deployment_json(
                            dep,
                            "PRIMARY",
                            "COMPLETED",
                            desired,
                            desired,
                            0,
                            format!("ECS deployment {} completed.", dep.id),
                        )];
                        view.running = desired;
                        view.task_definition = Some(dep.task_definition.clone());
                        view.events
                            .push(format!("(service {}) has reached a steady state.", s.name));
                    }
                } else if superseded_at.is_none() {
                    let new = ((desired as f64) * age / steady).floor() as i64;
                    let mut deps = vec![deployment_json(
                        dep,
                        "PRIMARY",
                        "IN_PROGRESS",
                        desired,
                        new.min(desired),
                        0,
                        format!("ECS deployment {} in progress.", dep.id),
                    )];
                    let old = stable.as_ref().map_or(0, |_| desired);
                    if let Some((sid, std)) = &stable {
                        deps.push(completed(sid, std, "ACTIVE", old));
                    }
                    view.deployments = deps;
                    view.running = new.min(desired) + old;
                    view.task_definition = Some(dep.task_definition.clone());
                    view.events.push(format!(
                        "(service {}) has started {} tasks.",
                        s.name,
                        new.min(desired)
                    ));
                }
            }
            Some((kind, image)) => {
                // A task that never passes its health check is stopped only once the
                // service's grace period is over, as ECS does: the grace period the service
                // has (the install's, then its own) sets the pace of the circuit breaker.
                let grace = if profile.instant {
                    0.0
                } else {
                    s.grace.unwrap_or(0) as f64
                };
                let cycle = match kind {
                    Failure::CannotPull => profile.seconds("ecs_task_failure"),
                    Failure::Unhealthy => grace + profile.seconds("ecs_health_failure"),
                }
                .max(f64::EPSILON);
                let reason = match kind {
                    Failure::CannotPull => format!(
                        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {}: not found",
                        image
                    ),
                    Failure::Unhealthy => "Task failed ELB health checks in (target-group)".to_owned(),
                };
                let per_cycle = desired.max(1);
                let failed = ((age / cycle).floor() as i64) * per_cycle;
                let threshold = ((desired as f64 * 0.5).ceil() as i64).clamp(3, 200);
                let tripped = breaker_on && failed >= threshold;
                if superseded_at.is_some() {
                    continue;
                }
                let old = stable.as_ref().map_or(0, |_| desired);
                if failed > 0 {
                    view.events.push(format!(
                        "(service {}) (deployment {}) {} tasks stopped: {reason}",
                        s.name, dep.id, failed
                    ));
                }
                if tripped {
                    view.events.push(format!(
                        "(service {}) (deployment {}) deployment failed: tasks failed to start.",
                        s.name, dep.id
                    ));
                    let failed_dep = deployment_json(
                        dep,
                        "ACTIVE",
                        "FAILED",
                        0,
                        0,
                        failed,
                        "ECS deployment circuit breaker: tasks failed to start.".into(),
                    );
                    match (&stable, rollback) {
                        (Some((sid, std)), true) => {
                            view.events.push(format!(
                                "(service {}) rolling back to deployment {sid}.",
                                s.name
                            ));
                            view.deployments =
                                vec![completed(sid, std, "PRIMARY", desired), failed_dep];
                            view.running = desired;
                            view.task_definition = Some(std.clone());
                        }
                        _ => {
                            let mut primary = failed_dep;
                            primary["status"] = json!("PRIMARY");
                            view.deployments = vec![primary];
                            view.running = old;
                            view.task_definition = Some(dep.task_definition.clone());
                        }
                    }
                } else {
                    let mut deps = vec![deployment_json(
                        dep,
                        "PRIMARY",
                        "IN_PROGRESS",
                        desired,
                        0,
                        failed,
                        format!("ECS deployment {} in progress.", dep.id),
                    )];
                    if let Some((sid, std)) = &stable {
                        deps.push(completed(sid, std, "ACTIVE", desired));
                    }
                    view.deployments = deps;
                    view.running = old;
                    view.task_definition = Some(dep.task_definition.clone());
                }
            }
        }
    }
    view
}

/// A deployment that reached steady state: `count` tasks of `task_definition` running.
fn completed(id: &str, task_definition: &str, status: &str, count: i64) -> Value {
    json!({
        "id": id, "status": status, "taskDefinition": task_definition,
        "desiredCount": count, "runningCount": count, "pendingCount": 0, "failedTasks": 0,
        "launchType": "FARGATE", "rolloutState": "COMPLETED",
        "rolloutStateReason": format!("ECS deployment {id} completed."),
    })
}

/// One deployment in a DescribeServices answer.
fn deployment_json(
    dep: &Deployment,
    status: &str,
    rollout: &str,
    desired: i64,
    running: i64,
    failed: i64,
    reason: String,
) -> Value {
    json!({
        "id": dep.id,
        "status": status,
        "taskDefinition": dep.task_definition,
        "desiredCount": desired,
        "runningCount": running,
        "pendingCount": (desired - running).max(0),
        "failedTasks": failed,
        "launchType": "FARGATE",
        "rolloutState": rollout,
        "rolloutStateReason": reason,
    })
}
