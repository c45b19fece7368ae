//! ECS under the lifecycle layer: an account's first cluster refused (no service-linked role
//! yet), a role ECS cannot assume yet, task definitions moto cannot run as written, and
//! services whose deployments roll out over minutes, with the fields moto drops answered as
//! AWS echoes them. One-off tasks are in `ecs_task`, the deployments' timeline in
//! `ecs_deployment`.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::call::{refuse, strings, Call, Refusal};
use super::ecs_deployment::{failure_of, running, view_with};
use super::ecs_task;
use super::profile::{Failure, Profile};
use super::world::{Deployment, EcsService, World};

/// Before forwarding an ECS call: what AWS refuses on a fresh account or with a new role.
pub(super) fn decide(profile: &Profile, w: &mut World, call: &Call, now: f64) -> Option<Refusal> {
    match call.operation.as_str() {
        "CreateCluster" if profile.fresh_account && !w.cluster_refused => {
            w.cluster_refused = true;
            refuse(
                400,
                "InvalidParameterException",
                "Unable to assume the service linked role. Please verify that the ECS service linked role exists.",
            )
        }
        "RegisterTaskDefinition" => {
            let fresh = ["executionRoleArn", "taskRoleArn"]
                .iter()
                .filter_map(|k| call.str(k))
                .find(|arn| {
                    w.roles
                        .get(*arn)
                        .is_some_and(|t| now - t < profile.seconds("iam_propagation"))
                })?;
            refuse(
                400,
                "ClientException",
                format!("Role is not valid: ECS cannot assume {fresh} yet"),
            )
        }
        _ => None,
    }
}

/// Before forwarding: RegisterTaskDefinition's body as moto must get it, when it differs.
/// Moto's RunTask adds up the containers' own memory and fails (a 500) when a container has
/// none, which Fargate allows (the task's memory is enough, as in this stack): a container
/// `memoryReservation` of 0 (AWS's minimum is 6) lets moto run the task definition's tasks,
/// and the answers drop it again ([`unreserved`]), so what AWS would answer is unchanged.
pub(super) fn request(call: &Call) -> Option<Vec<u8>> {
    if (call.service.as_str(), call.operation.as_str()) != ("ecs", "RegisterTaskDefinition") {
        return None;
    }
    let mut v = call.json.clone();
    let mut changed = false;
    for c in v.get_mut("containerDefinitions")?.as_array_mut()? {
        let Some(c) = c.as_object_mut() else { continue };
        if !c.contains_key("memory") && !c.contains_key("memoryReservation") {
            c.insert("memoryReservation".into(), json!(0));
            changed = true;
        }
    }
    changed.then(|| v.to_string().into_bytes())
}

/// After moto answered an ECS call: record task definitions and services, show services
/// and tasks as AWS would.
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
        "DescribeTaskDefinition" if ok => {
            let mut v: Value = serde_json::from_str(text).ok()?;
            unreserved(&mut v).then(|| (status, v.to_string()))
        }
        "RegisterTaskDefinition" if ok => {
            let mut v: Value = serde_json::from_str(text).ok()?;
            let changed = unreserved(&mut v);
            let td = v.get("taskDefinition")?;
            let arn = td.get("taskDefinitionArn")?.as_str()?.to_owned();
            let image = td
                .pointer("/containerDefinitions/0/image")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let roles = ["executionRoleArn", "taskRoleArn"]
                .iter()
                .filter_map(|k| td.get(*k).and_then(Value::as_str).map(str::to_owned))
                .collect();
            w.task_definitions.insert(arn, (image, roles));
            changed.then(|| (status, v.to_string()))
        }
        "CreateService" if ok => {
            let v: Value = serde_json::from_str(text).ok()?;
            let arn = v.pointer("/service/serviceArn")?.as_str()?.to_owned();
            let td = v.pointer("/service/taskDefinition")?.as_str()?.to_owned();
            w.deployments += 1;
            let svc = EcsService {
                name: call.str("serviceName").unwrap_or_default().to_owned(),
                desired: call
                    .json
                    .get("desiredCount")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
                deployments: vec![Deployment {
                    id: format!(
                        "ecs-svc/{:019}",
                        4_000_000_000_000_000_000u64 + w.deployments
                    ),
                    task_definition: td,
                    started: now,
                    replaces_in: profile.seconds("ecs_service_steady"),
                }],
                grace: call
                    .json
                    .get("healthCheckGracePeriodSeconds")
                    .and_then(Value::as_i64),
                deployment_configuration: call.json.get("deploymentConfiguration").cloned(),
                target_groups: target_groups(&call.json),
                security_groups: security_groups(&call.json),
                deleted: None,
                desired_before_delete: 0,
            };
            w.services.insert(arn, svc);
            services_answer(profile, w, text, now, "/service")
        }
        "UpdateService" if ok => {
            let v: Value = serde_json::from_str(text).ok()?;
            let arn = v.pointer("/service/serviceArn")?.as_str()?.to_owned();
            let td = v.pointer("/service/taskDefinition")?.as_str()?.to_owned();
            let next_id = w.deployments + 1;
            let timing = w
                .services
                .get(&arn)?
                .target_groups
                .first()
                .and_then(|tg| w.target_timing.get(tg))
                .copied()
                .unwrap_or_default();
            let replaces_in = profile.replacement_seconds(&timing);
            let svc = w.services.get_mut(&arn)?;
            if let Some(n) = call.json.get("desiredCount").and_then(Value::as_i64) {
                svc.desired = n;
            }
            if let Some(g) = call
                .json
                .get("healthCheckGracePeriodSeconds")
                .and_then(Value::as_i64)
            {
                svc.grace = Some(g);
            }
            if let Some(c) = call.json.get("deploymentConfiguration") {
                svc.deployment_configuration = Some(c.clone());
            }
            if call.json.get("networkConfiguration").is_some() {
                svc.security_groups = security_groups(&call.json);
            }
            let current = svc.deployments.last().map(|d| d.task_definition.clone());
            let new_deployment = current.as_deref() != Some(td.as_str())
                || call.json.get("forceNewDeployment").and_then(Value::as_bool) == Some(true)
                || call.json.get("networkConfiguration").is_some();
            if new_deployment {
                svc.deployments.push(Deployment {
                    id: format!("ecs-svc/{:019}", 4_000_000_000_000_000_000u64 + next_id),
                    task_definition: td,
                    started: now,
                    replaces_in,
                });
                w.deployments = next_id;
            }
            services_answer(profile, w, text, now, "/service")
        }
        "DeleteService" if ok => {
            let v: Value = serde_json::from_str(text).ok()?;
            let arn = v.pointer("/service/serviceArn")?.as_str()?.to_owned();
            let svc = w.services.get_mut(&arn)?;
            svc.deleted = Some(now);
            svc.desired_before_delete = running(profile, svc, now).max(svc.desired);
            services_answer(profile, w, text, now, "/service")
        }
        "DescribeServices" if ok => services_answer(profile, w, text, now, "/services"),
        "RunTask" | "StopTask" | "DescribeTasks" => {
            ecs_task::rewrite(profile, w, call, status, text, now)
        }
        _ => None,
    }
}

/// A service answer (`pointer`: `/service` or `/services`) with the service as AWS shows it
/// `now`.
fn services_answer(
    profile: &Profile,
    w: &World,
    text: &str,
    now: f64,
    pointer: &str,
) -> Option<(u16, String)> {
    let mut v: Value = serde_json::from_str(text).ok()?;
    let mut one = |svc: &mut Value| {
        let Some(arn) = svc.get("serviceArn").and_then(Value::as_str) else {
            return;
        };
        let Some(known) = w.services.get(arn) else {
            return;
        };
        let images: HashMap<&str, Option<(Failure, String)>> = known
            .deployments
            .iter()
            .map(|d| {
                (
                    d.task_definition.as_str(),
                    failure_of(profile, w, &d.task_definition),
                )
            })
            .collect();
        let view = view_with(profile, known, now, &|td| images.get(td).cloned().flatten());
        svc["status"] = json!(view.status);
        svc["runningCount"] = json!(view.running);
        svc["pendingCount"] = json!((known.desired - view.running).max(0));
        if view.status == "ACTIVE" {
            svc["deployments"] = Value::Array(view.deployments);
            if let Some(td) = view.task_definition {
                svc["taskDefinition"] = json!(td);
            }
        } else {
            svc["desiredCount"] = json!(0);
        }
        // What moto drops and AWS echoes.
        if let Some(g) = known.grace {
            svc["healthCheckGracePeriodSeconds"] = json!(g);
        }
        if let Some(c) = &known.deployment_configuration {
            svc["deploymentConfiguration"] = c.clone();
        }
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let events: Vec<Value> = view
            .events
            .iter()
            .rev()
            .enumerate()
            .map(|(i, m)| json!({ "id": format!("lifecycle-{i}"), "createdAt": at, "message": m }))
            .collect();
        if !events.is_empty() {
            svc["events"] = Value::Array(events);
        }
    };
    match v.pointer_mut(pointer)? {
        Value::Array(list) => list.iter_mut().for_each(&mut one),
        svc @ Value::Object(_) => one(svc),
        _ => return None,
    }
    Some((200, v.to_string()))
}

/// Drop the container `memoryReservation` of 0 that [`request`] added for moto.
/// Whether there was one.
fn unreserved(v: &mut Value) -> bool {
    let Some(Value::Array(containers)) = v.pointer_mut("/taskDefinition/containerDefinitions")
    else {
        return false;
    };
    let mut found = false;
    for c in containers.iter_mut().filter_map(Value::as_object_mut) {
        if c.get("memoryReservation") == Some(&json!(0)) {
            c.remove("memoryReservation");
            found = true;
        }
    }
    found
}

/// The target groups a CreateService registers its tasks in.
fn target_groups(req: &Value) -> Vec<String> {
    req.get("loadBalancers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|lb| lb.get("targetGroupArn").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The security groups of a service's tasks (their network interfaces).
fn security_groups(req: &Value) -> Vec<String> {
    strings(req.pointer("/networkConfiguration/awsvpcConfiguration/securityGroups"))
}
