//! ELBv2 under the lifecycle layer: a load balancer `provisioning`, new ARNs a describe cannot
//! find yet, a target group still in use while a deleted service drains, the target group
//! settings a rolling deploy's time depends on, and the health of an ECS service's targets
//! (moto runs no task, so it registers none).

use std::collections::HashMap;

use super::call::{refuse, Call, Refusal};
use super::ecs_deployment::{failure_of, view_with};
use super::profile::{Failure, Profile, TargetTiming};
use super::world::World;
use super::xml::{items, tag_text};

/// Before forwarding an ELBv2 call: what AWS refuses while an ARN is new or a group in use.
pub(super) fn decide(profile: &Profile, w: &mut World, call: &Call, now: f64) -> Option<Refusal> {
    match call.operation.as_str() {
        op @ ("DescribeTargetGroups" | "DescribeListeners" | "DescribeLoadBalancers") => {
            // Named by ARN right after their create, ELBv2 answers "not found".
            let (param, code, what) = match op {
                "DescribeTargetGroups" => {
                    ("TargetGroupArns", "TargetGroupNotFound", "target groups")
                }
                "DescribeListeners" => ("ListenerArns", "ListenerNotFound", "listeners"),
                _ => ("LoadBalancerArns", "LoadBalancerNotFound", "load balancers"),
            };
            let fresh = call
                .params_like(&format!("{param}.member"), "")
                .into_iter()
                .any(|arn| {
                    w.elb_created
                        .get(arn)
                        .is_some_and(|t| now - t < profile.seconds("ec2_consistency"))
                });
            fresh.then(|| Refusal {
                status: 400,
                code: code.into(),
                message: format!("One or more {what} not found"),
                body: None,
            })
        }
        "DeleteTargetGroup" => {
            let arn = call.param("TargetGroupArn")?;
            let svc = w.services.values().find(|s| {
                s.target_groups.iter().any(|t| t == arn)
                    && s.deleted
                        .is_none_or(|d| now - d < profile.seconds("ecs_service_drain"))
            })?;
            refuse(
                400,
                "ResourceInUse",
                format!(
                    "Target group '{arn}' is currently in use by a listener or a rule (ECS service {} still registers targets)",
                    svc.name
                ),
            )
        }
        _ => None,
    }
}

/// After moto answered an ELBv2 call: record new ARNs and target group settings, show a new
/// load balancer `provisioning` and an ECS service's targets.
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
        "CreateTargetGroup" if ok => {
            let arn = tag_text(text, "TargetGroupArn")?.to_owned();
            w.elb_created.insert(arn.clone(), now);
            w.target_timing.entry(arn).or_default().update(call);
            None
        }
        "ModifyTargetGroup" | "ModifyTargetGroupAttributes" if ok => {
            let arn = call.param("TargetGroupArn")?.to_owned();
            w.target_timing.entry(arn).or_default().update(call);
            None
        }
        "CreateListener" if ok => {
            w.elb_created
                .insert(tag_text(text, "ListenerArn")?.to_owned(), now);
            None
        }
        "CreateLoadBalancer" if ok => {
            let arn = tag_text(text, "LoadBalancerArn")?;
            w.lbs.insert(arn.to_owned(), now);
            w.elb_created.insert(arn.to_owned(), now);
            provisioning(profile, w, text, now)
        }
        "DescribeLoadBalancers" if ok => provisioning(profile, w, text, now),
        "DescribeTargetHealth" if ok => {
            target_health(profile, w, call.param("TargetGroupArn")?, text, now)
        }
        _ => None,
    }
}

impl TargetTiming {
    /// Take what a CreateTargetGroup, ModifyTargetGroup or ModifyTargetGroupAttributes call
    /// sets.
    fn update(&mut self, call: &Call) {
        let num = |k: &str| call.param(k).and_then(|v| v.parse().ok());
        if let Some(n) = num("HealthCheckIntervalSeconds") {
            self.interval = n;
        }
        if let Some(n) = num("HealthyThresholdCount") {
            self.healthy_threshold = n;
        }
        for (k, v) in &call.params {
            if v == "deregistration_delay.timeout_seconds" && k.ends_with(".Key") {
                let value = format!("{}.Value", k.trim_end_matches(".Key"));
                if let Some(n) = num(&value) {
                    self.deregistration_delay = n;
                }
            }
        }
    }
}

/// DescribeTargetHealth for a target group an ECS service registers its tasks in (moto
/// runs no task, so it has none): the running tasks `healthy`, those of a deployment in
/// progress `initial`, or `unhealthy` when its image never passes the health check, and a
/// deleted service's tasks `draining`.
fn target_health(
    profile: &Profile,
    w: &World,
    tg: &str,
    text: &str,
    now: f64,
) -> Option<(u16, String)> {
    let svc = w
        .services
        .values()
        .filter(|s| s.target_groups.iter().any(|t| t == tg))
        .max_by(|a, b| a.deleted.is_none().cmp(&b.deleted.is_none()))?;
    let failures: HashMap<&str, Option<(Failure, String)>> = svc
        .deployments
        .iter()
        .map(|d| {
            (
                d.task_definition.as_str(),
                failure_of(profile, w, &d.task_definition),
            )
        })
        .collect();
    let view = view_with(profile, svc, now, &|td| failures.get(td).cloned().flatten());
    let mut states: Vec<(&str, Option<&str>)> = Vec::new();
    let running_state = if view.status == "ACTIVE" {
        "healthy"
    } else {
        "draining"
    };
    states.extend((0..view.running).map(|_| (running_state, None)));
    if let Some(primary) = view
        .deployments
        .iter()
        .find(|d| d["status"] == "PRIMARY" && d["rolloutState"] == "IN_PROGRESS")
    {
        let pending = primary["desiredCount"].as_i64().unwrap_or(0)
            - primary["runningCount"].as_i64().unwrap_or(0);
        let td = primary["taskDefinition"].as_str().unwrap_or_default();
        match failures.get(td).cloned().flatten().map(|(f, _)| f) {
            // Tasks that never start never register.
            Some(Failure::CannotPull) => {}
            Some(Failure::Unhealthy) => states
                .extend((0..pending).map(|_| ("unhealthy", Some("Target.FailedHealthChecks")))),
            None => {
                states.extend((0..pending).map(|_| ("initial", Some("Elb.RegistrationInProgress"))))
            }
        }
    }
    let members: String = states
        .iter()
        .enumerate()
        .map(|(i, (state, reason))| {
            format!(
                "<member><Target><Id>10.0.{}.{}</Id><Port>80</Port></Target><HealthCheckPort>80</HealthCheckPort><TargetHealth><State>{state}</State>{}</TargetHealth></member>",
                i / 250,
                i % 250 + 4,
                reason.map(|r| format!("<Reason>{r}</Reason>")).unwrap_or_default()
            )
        })
        .collect();
    let out = if text.contains("<TargetHealthDescriptions/>") {
        text.replacen(
            "<TargetHealthDescriptions/>",
            &format!("<TargetHealthDescriptions>{members}</TargetHealthDescriptions>"),
            1,
        )
    } else if text.contains("</TargetHealthDescriptions>") {
        if !items(text, "TargetHealthDescriptions", "member").is_empty() {
            // Targets someone registered by hand: moto's answer stands.
            return None;
        }
        text.replacen(
            "</TargetHealthDescriptions>",
            &format!("{members}</TargetHealthDescriptions>"),
            1,
        )
    } else if text.contains("<DescribeTargetHealthResult/>") {
        text.replacen(
            "<DescribeTargetHealthResult/>",
            &format!("<DescribeTargetHealthResult><TargetHealthDescriptions>{members}</TargetHealthDescriptions></DescribeTargetHealthResult>"),
            1,
        )
    } else if text.contains("<DescribeTargetHealthResult>") {
        text.replacen(
            "<DescribeTargetHealthResult>",
            &format!("<DescribeTargetHealthResult><TargetHealthDescriptions>{members}</TargetHealthDescriptions>"),
            1,
        )
    } else {
        return None;
    };
    Some((200, out))
}

/// A load balancer created less than `alb_create` ago shows `provisioning`, not `active`.
fn provisioning(profile: &Profile, w: &World, text: &str, now: f64) -> Option<(u16, String)> {
    let mut out = text.to_owned();
    for (start, end) in items(text, "LoadBalancers", "member").into_iter().rev() {
        let block = &text[start..end];
        let Some(arn) = tag_text(block, "LoadBalancerArn") else {
            continue;
        };
        let fresh = w
            .lbs
            .get(arn)
            .is_some_and(|t| now - t < profile.seconds("alb_create"));
        if fresh {
            let new = block.replacen("<Code>active</Code>", "<Code>provisioning</Code>", 1);
            out.replace_range(start..end, &new);
        }
    }
    Some((200, out))
}
