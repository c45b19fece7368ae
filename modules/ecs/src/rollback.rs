//! `stackctl rollback [-to REVISION]`: the service back to an earlier task definition revision
//! of this stack (the newest earlier one that ran healthy, or the one named), waited for as
//! apply waits; or, when the circuit breaker already rolled it back, only saying so.

use aws_sdk_ecs::types::{DeploymentRolloutState, Service};
use aws_sdk_ecs::Client;
use stackctl_contract::target_health::TargetHealth;
use stackctl_contract::{aws_error, ResourceError, Tags};

use crate::deployment::{self, DeployWait, Watch};
use crate::log_events::LogReader;
use crate::marks;
use crate::task_definition::{family_of, marked_revisions, KEEP_PREVIOUS};

/// What a rollback did: the revision the service ran and the one it runs now (ARNs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rolled {
    pub from: String,
    pub to: String,
    /// Set when the service already ran `to` (the circuit breaker, or someone, rolled it
    /// back from `from`, the revision the state recorded): why, and nothing was changed.
    pub already: Option<String>,
}

/// The revision number at the end of a task definition ARN or `family:N`.
fn number(revision: &str) -> Option<u32> {
    revision.rsplit_once(':')?.1.parse().ok()
}

/// `family:N` from an ARN.
fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The revision to go back to among this stack's ACTIVE ones (`revisions`, newest first, each
/// with whether a deployment of it ran healthy): `to` (`7`, `family:7` or an ARN), or the
/// newest one older than `current` that ran healthy. One whose deployment failed or never
/// completed is no place to go back to.
pub fn choose(
    revisions: &[(String, bool)],
    current: &str,
    to: Option<&str>,
) -> Result<String, ResourceError> {
    let listed = || {
        revisions
            .iter()
            .map(|(r, healthy)| {
                let mark = if *healthy { "" } else { " (never healthy)" };
                format!("{}{mark}", short(r))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let cur = number(current).unwrap_or(u32::MAX);
    let chosen = match to {
        None => revisions
            .iter()
            .filter(|(_, healthy)| *healthy)
            .map(|(r, _)| r)
            .find(|r| number(r).is_some_and(|n| n < cur))
            .ok_or_else(|| {
                ResourceError::new(
                    "rollback",
                    format!(
                        "the service runs {}, and no earlier revision of this stack ran healthy (ACTIVE: {})",
                        short(current),
                        listed()
                    ),
                )
                .with_hint("nothing known to be good to roll back to: `-to N` picks a revision anyway, or change prestashop_image back in the variables and apply")
            })?,
        Some(want) => {
            let n = want
                .trim()
                .rsplit(':')
                .next()
                .and_then(|n| n.parse::<u32>().ok())
                .ok_or_else(|| {
                    ResourceError::new(
                        "rollback",
                        format!("-to {want:?} is not a task definition revision"),
                    )
                    .with_hint("give the revision number (-to 7), family:number or the ARN, as `stackctl status` shows it")
                })?;
            let family_given = want.contains(':').then(|| {
                want.rsplit_once(':')
                    .map(|(f, _)| f.rsplit('/').next().unwrap_or(f))
            });
            revisions
                .iter()
                .map(|(r, _)| r)
                .find(|r| {
                    number(r) == Some(n)
                        && family_given
                            .flatten()
                            .is_none_or(|f| family_of(r) == Some(f))
                })
                .ok_or_else(|| {
                    ResourceError::new(
                        "rollback",
                        format!(
                            "{want} is not one of this stack's ACTIVE task definition revisions ({})",
                            listed()
                        ),
                    )
                    .with_hint(format!(
                        "apply keeps the {KEEP_PREVIOUS} revisions before the current one; pick one of those, or set prestashop_image and apply"
                    ))
                })?
        }
    };
    if chosen == current {
        return Err(ResourceError::new(
            "rollback",
            format!("the service already runs {}", short(current)),
        )
        .with_hint("`stackctl status` shows what runs; -to picks another revision"));
    }
    Ok(chosen.clone())
}

/// Why the service runs `current` though the state records `recorded`, a newer revision:
/// the circuit breaker rolled it back (a FAILED deployment of `recorded` shows it), or
/// something else did. `None` when the state and the service agree, or the service runs a
/// newer revision than the state knows.
fn rolled_back_already(s: &Service, current: &str, recorded: &str) -> Option<String> {
    let older = number(current)? < number(recorded)?;
    if current == recorded || !older || family_of(current) != family_of(recorded) {
        return None;
    }
    let by_breaker = s.deployments().iter().any(|d| {
        d.task_definition() == Some(recorded)
            && d.rollout_state() == Some(&DeploymentRolloutState::Failed)
    });
    Some(if by_breaker {
        format!(
            "the circuit breaker rolled it back from {}",
            short(recorded)
        )
    } else {
        format!(
            "the state recorded {}, which it no longer runs",
            short(recorded)
        )
    })
}

/// Point the service at an earlier revision of this stack (`stack`: its identifying tags)
/// and wait for the deployment as apply does. `recorded` is the revision the state records:
/// when the service already runs an older one (the circuit breaker rolled it back), going on
/// to the one before would undo a good rollback, so nothing changes and [`Rolled::already`]
/// says why.
pub async fn rollback(
    sdk: &aws_types::SdkConfig,
    targets: Option<&dyn TargetHealth>,
    (cluster, service): (&str, &str),
    (stack, recorded): (&Tags, Option<&str>),
    to: Option<&str>,
    wait: DeployWait,
) -> Result<Rolled, ResourceError> {
    let ecs = Client::new(sdk);
    let s = crate::describe::service(&ecs, cluster, service)
        .await?
        .ok_or_else(|| {
            ResourceError::vanished("DescribeServices", &format!("ECS service {service}"))
        })?;
    // What the service is moving to is what a rollback goes back from.
    let current = s
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.task_definition())
        .or(s.task_definition())
        .ok_or_else(|| {
            ResourceError::new("DescribeServices", "the service names no task definition")
        })?
        .to_owned();
    if let (None, Some(recorded)) = (to, recorded) {
        if let Some(why) = rolled_back_already(&s, &current, recorded) {
            return Ok(Rolled {
                from: recorded.to_owned(),
                to: current,
                already: Some(why),
            });
        }
    }
    let family = family_of(&current).ok_or_else(|| {
        ResourceError::new(
            "rollback",
            format!("{current} is not a task definition revision ARN"),
        )
    })?;
    // A deployment ECS shows COMPLETED ran healthy, though no stackctl wait saw it (an apply
    // with -wait=false, or one killed): mark its revision now.
    let mut completed = Vec::new();
    for d in s.deployments() {
        if d.rollout_state() == Some(&DeploymentRolloutState::Completed) {
            if let Some(td) = d.task_definition() {
                completed.push(td.to_owned());
            }
        }
    }
    let mut revisions = marked_revisions(&ecs, family, stack).await?;
    for (arn, healthy) in revisions.iter_mut() {
        if !*healthy && completed.contains(arn) {
            *healthy = true;
            marks::set_or_warn(
                &ecs,
                arn,
                marks::HEALTHY,
                "a later rollback may not take it",
            )
            .await;
        }
    }
    let target = choose(&revisions, &current, to)?;
    let out = ecs
        .update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(&target)
        .send()
        .await
        .map_err(|e| aws_error("UpdateService", e))?;
    if wait.enabled {
        let logs = LogReader::new(sdk);
        let watch = Watch {
            ecs: &ecs,
            targets,
            logs: Some(&logs),
            cluster,
            service,
        };
        let want = deployment::Want {
            revision: &target,
            deployment: deployment::started(out.service()),
            desired: out
                .service()
                .map_or(s.desired_count(), |s| s.desired_count()),
        };
        deployment::until_healthy(&watch, &want, wait.timeout).await?;
    }
    Ok(Rolled {
        from: current,
        to: target,
        already: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "arn:aws:ecs:eu-west-3:1:task-definition/shop-dev";

    /// Revisions that all ran healthy.
    fn revs(ns: &[u32]) -> Vec<(String, bool)> {
        ns.iter().map(|n| (format!("{A}:{n}"), true)).collect()
    }

    #[test]
    fn the_default_skips_revisions_that_never_ran_healthy() {
        // A (7) healthy, B (8) failed, C (9) healthy: back from C is A.
        let r = vec![
            (format!("{A}:9"), true),
            (format!("{A}:8"), false),
            (format!("{A}:7"), true),
        ];
        assert_eq!(
            choose(&r, &format!("{A}:9"), None).unwrap(),
            format!("{A}:7")
        );
        // -to still takes it, when named.
        assert_eq!(
            choose(&r, &format!("{A}:9"), Some("8")).unwrap(),
            format!("{A}:8")
        );
        let e = choose(&r[..2], &format!("{A}:9"), None).unwrap_err();
        assert!(
            e.message
                .contains("no earlier revision of this stack ran healthy"),
            "{e}"
        );
        assert!(e.message.contains("shop-dev:8 (never healthy)"), "{e}");
    }

    #[test]
    fn the_default_is_the_newest_revision_before_the_current_one() {
        let r = revs(&[9, 8, 6]);
        assert_eq!(
            choose(&r, &format!("{A}:9"), None).unwrap(),
            format!("{A}:8")
        );
        // After a rollback to 8, the next one goes to 6.
        assert_eq!(
            choose(&r, &format!("{A}:8"), None).unwrap(),
            format!("{A}:6")
        );
        let e = choose(&r, &format!("{A}:6"), None).unwrap_err();
        assert!(e.message.contains("no earlier revision"), "{e}");
    }

    #[test]
    fn to_takes_a_number_a_family_revision_or_an_arn() {
        let r = revs(&[9, 8, 6]);
        let cur = format!("{A}:9");
        for to in ["6", "shop-dev:6", &format!("{A}:6")] {
            assert_eq!(
                choose(&r, &cur, Some(to)).unwrap(),
                format!("{A}:6"),
                "{to}"
            );
        }
        // A revision apply deregistered, or another family's, is refused with the list.
        let e = choose(&r, &cur, Some("7")).unwrap_err();
        assert!(
            e.message.contains("shop-dev:9, shop-dev:8, shop-dev:6"),
            "{e}"
        );
        assert!(choose(&r, &cur, Some("other:6")).is_err());
        assert!(choose(&r, &cur, Some("latest"))
            .unwrap_err()
            .message
            .contains("not a task definition revision"));
        assert!(choose(&r, &cur, Some("9"))
            .unwrap_err()
            .message
            .contains("already runs"));
    }
}
