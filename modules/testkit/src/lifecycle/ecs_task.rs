//! One-off ECS tasks (RunTask, `stackctl run`) under the lifecycle layer: moto creates a task
//! but never runs or stops it; the layer plays it as Fargate does, from PROVISIONING to
//! STOPPED with its container's exit code.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::call::Call;
use super::ecs_deployment::failure_of;
use super::profile::{Failure, Profile};
use super::world::{OneOffTask, World};

/// After moto answered RunTask, StopTask or DescribeTasks: the tasks as AWS shows them.
pub(super) fn rewrite(
    profile: &Profile,
    w: &mut World,
    call: &Call,
    status: u16,
    text: &str,
    now: f64,
) -> Option<(u16, String)> {
    let ok = (200..300).contains(&status);
    match call.operation.as_str() {
        "RunTask" if ok => {
            let mut v: Value = serde_json::from_str(text).ok()?;
            let command = call
                .json
                .pointer("/overrides/containerOverrides/0/command")
                .and_then(Value::as_array)
                .and_then(|c| c.last())
                .and_then(Value::as_str)
                .unwrap_or_default();
            let exit_code = command
                .strip_prefix("exit:")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            for t in v.get_mut("tasks")?.as_array_mut()? {
                let arn = t.get("taskArn").and_then(Value::as_str)?.to_owned();
                let td = t.get("taskDefinitionArn").and_then(Value::as_str);
                let task = OneOffTask {
                    started: now,
                    exit_code,
                    failure: td.and_then(|td| failure_of(profile, w, td)),
                    stopped: None,
                };
                // RunTask answers before anything ran, whatever the timeline.
                task_json(t, &task, "PROVISIONING", None);
                w.tasks.insert(arn, task);
            }
            Some((status, v.to_string()))
        }
        "StopTask" if ok => {
            let mut v: Value = serde_json::from_str(text).ok()?;
            let arn = v.pointer("/task/taskArn")?.as_str()?.to_owned();
            let task = w.tasks.get_mut(&arn)?;
            if task.stopped.is_none() {
                let reason = call.str("reason").unwrap_or("Task stopped by user");
                task.stopped = Some((now, reason.to_owned()));
            }
            one_off(profile, task, v.get_mut("task")?, now);
            Some((status, v.to_string()))
        }
        "DescribeTasks" if ok => {
            let mut v: Value = serde_json::from_str(text).ok()?;
            for t in v.get_mut("tasks")?.as_array_mut()? {
                let Some(known) = t
                    .get("taskArn")
                    .and_then(Value::as_str)
                    .and_then(|a| w.tasks.get(a))
                else {
                    continue;
                };
                one_off(profile, known, t, now);
            }
            Some((status, v.to_string()))
        }
        _ => None,
    }
}

/// A RunTask'd task as AWS shows it `now`: PROVISIONING, PENDING (the image pull), RUNNING,
/// then STOPPED `ecs_task_run` after RunTask with its container's exit code; an image that
/// cannot be pulled stops after `ecs_task_failure` with no exit code; StopTask stops it at
/// once (Fargate's SIGTERM: exit 143 if the command was running).
fn one_off(profile: &Profile, t: &OneOffTask, v: &mut Value, now: f64) {
    let pull_fails = matches!(t.failure, Some((Failure::CannotPull, _)));
    let run = if pull_fails {
        profile.seconds("ecs_task_failure")
    } else {
        profile.seconds("ecs_task_run")
    };
    let end = t.started + run;
    // Layer time (real-AWS seconds since the start) as a wall-clock timestamp.
    let epoch = |at: f64| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        wall - (now - at).max(0.0) * profile.scale
    };
    let phase = |at: f64| {
        let frac = (at - t.started) / run.max(f64::EPSILON);
        match () {
            _ if frac < 1.0 / 3.0 => "PROVISIONING",
            _ if frac < 2.0 / 3.0 || pull_fails => "PENDING",
            _ => "RUNNING",
        }
    };
    match &t.stopped {
        Some((at, reason)) if *at < end && now >= *at => {
            let code = (phase(*at) == "RUNNING").then_some(143);
            let stop = Stop {
                code: "UserInitiated",
                reason: reason.clone(),
                exit_code: code,
                container_reason: None,
                at_epoch: epoch(*at),
            };
            task_json(v, t, "STOPPED", Some(stop))
        }
        _ if now >= end => {
            let stop = match &t.failure {
                Some((Failure::CannotPull, image)) => Stop {
                    code: "TaskFailedToStart",
                    reason: "CannotPullContainerError: pull image manifest has been retried 5 time(s)".into(),
                    exit_code: None,
                    container_reason: Some(format!(
                        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {image}: not found"
                    )),
                    at_epoch: epoch(end),
                },
                _ => Stop {
                    code: "EssentialContainerExited",
                    reason: "Essential container in task exited".into(),
                    exit_code: Some(t.exit_code),
                    container_reason: None,
                    at_epoch: epoch(end),
                },
            };
            task_json(v, t, "STOPPED", Some(stop))
        }
        _ => task_json(v, t, phase(now), None),
    }
}

/// How a one-off task stopped.
struct Stop {
    code: &'static str,
    reason: String,
    exit_code: Option<i64>,
    container_reason: Option<String>,
    /// When, in seconds since the Unix epoch.
    at_epoch: f64,
}

/// Write a one-off task's status (and, once stopped, why and its exit code) into moto's task:
/// moto's own status advances by one step per describe and its exit code is always 0.
fn task_json(v: &mut Value, t: &OneOffTask, status: &str, stop: Option<Stop>) {
    let Some(task) = v.as_object_mut() else {
        return;
    };
    task.insert("lastStatus".into(), json!(status));
    let desired = if stop.is_some() || t.stopped.is_some() {
        "STOPPED"
    } else {
        "RUNNING"
    };
    task.insert("desiredStatus".into(), json!(desired));
    for k in ["stopCode", "stoppedReason", "stoppedAt", "stoppingAt"] {
        task.remove(k);
    }
    let container_status = match status {
        "RUNNING" => "RUNNING",
        "STOPPED" => "STOPPED",
        _ => "PENDING",
    };
    if let Some(s) = &stop {
        task.insert("stopCode".into(), json!(s.code));
        task.insert("stoppedReason".into(), json!(s.reason));
        task.insert("stoppedAt".into(), json!(s.at_epoch));
    }
    if let Some(Value::Array(containers)) = task.get_mut("containers") {
        if let Some(Value::Object(c)) = containers.first_mut() {
            c.insert("lastStatus".into(), json!(container_status));
            c.remove("exitCode");
            c.remove("reason");
            if let Some(s) = &stop {
                if let Some(code) = s.exit_code {
                    c.insert("exitCode".into(), json!(code));
                }
                if let Some(r) = &s.container_reason {
                    c.insert("reason".into(), json!(r));
                }
            }
        }
    }
}
