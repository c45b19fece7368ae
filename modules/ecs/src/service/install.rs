//! Install once: PrestaShop's installer (PS_INSTALL_AUTO) run by several tasks at once against
//! the empty database races, so a service runs one task, under a grace period long enough for
//! the installer, until one of its deployments has been healthy; then one apply gives it its
//! desired count and its own grace period. The install phase is a property of the service in
//! AWS (no deployment of it ever healthy: no [`marks::INSTALLED`] tag and no COMPLETED
//! deployment), not of the `create` call: a failed, timed-out, killed or `-wait=false` first
//! apply, and the adopt-then-update path, all leave a service that is still installing.

use aws_sdk_ecs::operation::update_service::builders::UpdateServiceFluentBuilder;
use aws_sdk_ecs::types::{DeploymentRolloutState, Service};
use serde_json::Value as J;
use stackctl_contract::{Changed, Instance, ResourceError};

use super::args::{deployment_configuration, network, ServiceArgs};
use crate::marks;

/// The health-check grace period of a service's installing task: PrestaShop's installer
/// creates the database schema before the web server answers, 2 to 6 minutes on a small
/// Fargate task; 8 minutes leaves 2 of margin. It is also what makes the circuit breaker's
/// verdict on a broken first deployment slow (3 failed tasks, one after the other, each
/// stopped only after it): `DeployWait`'s default is chosen from it. After the install, the
/// service's own (shorter) grace period lets a broken image fail fast.
pub(super) const GRACE_SECONDS: i32 = 480;

/// The attribute a read adds while the service is still installing, for the plan's notes.
pub(super) const ATTR: &str = "installing";

/// How a service runs while it installs: one task (none if none is desired), with the
/// installer's grace period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Install {
    pub(super) count: i32,
    pub(super) grace: i32,
}

impl Install {
    pub(super) fn of(desired_count: i32, grace: i32) -> Install {
        Install {
            count: desired_count.min(1),
            grace: grace.max(GRACE_SECONDS),
        }
    }

    /// Whether the install values are the desired ones: nothing to change once installed.
    pub(super) fn settled(&self, desired_count: i32, grace: i32) -> bool {
        self.count == desired_count && self.grace == grace
    }
}

/// Whether no deployment of `s` has been healthy yet. A COMPLETED deployment counts even
/// without the mark: one that finished after a killed or `-wait=false` apply, or a service
/// from before the mark existed.
pub(super) fn installing(s: &Service) -> bool {
    !marks::has(s.tags(), marks::INSTALLED)
        && !s
            .deployments()
            .iter()
            .any(|d| d.rollout_state() == Some(&DeploymentRolloutState::Completed))
}

/// Whether the state's or the plan's read of a service says it is still installing.
pub(super) fn read_as_installing(live: &Instance) -> bool {
    live.attrs.get(ATTR).and_then(J::as_bool) == Some(true)
}

/// The plan's note on `attr` (the count or the grace period) of a service still installing.
pub(super) fn note(attr: &str) -> String {
    match attr {
        "desired_count" => "still installing: 1 task until a deployment of the service is healthy; apply waits for one, then sets this".to_owned(),
        _ => format!("still installing: the installer's {GRACE_SECONDS}s until then"),
    }
}

/// The UpdateService of a service still installing (`live`, as just described), if it needs
/// one: whatever `changed` asks for but the count and grace period, which stay the install's
/// (`install`); and another try when the circuit breaker stopped the first deployment.
pub(super) fn request(
    mut req: UpdateServiceFluentBuilder,
    live: &Service,
    d: &ServiceArgs,
    changed: &[String],
    install: &Install,
) -> Result<Option<UpdateServiceFluentBuilder>, ResourceError> {
    let changed = ServiceArgs::<Changed>::from_names(changed);
    let mut any = false;
    let mut deploys = false;
    if changed.task_definition {
        req = req.task_definition(&d.task_definition);
        (any, deploys) = (true, true);
    }
    if changed.subnets || changed.security_groups || changed.assign_public_ip {
        req = req.network_configuration(network(d)?);
        (any, deploys) = (true, true);
    }
    if changed.deployment_circuit_breaker {
        req = req.set_deployment_configuration(deployment_configuration(d)?);
        any = true;
    }
    // What an earlier version (or a hand) may have set before the install was done.
    if live.desired_count() != install.count {
        req = req.desired_count(install.count);
        any = true;
    }
    if live.health_check_grace_period_seconds() != Some(install.grace) {
        req = req.health_check_grace_period_seconds(install.grace);
        any = true;
    }
    if primary_failed(live) && !deploys {
        // The circuit breaker stopped the first deployment: this apply tries again.
        req = req.force_new_deployment(true);
        any = true;
    }
    Ok(any.then_some(req))
}

/// What a finished install still sets: `its desired count (2) and grace period (120s)`, or
/// only the grace period when the count is already the desired one.
pub(super) fn rest(desired_count: i32, grace: i32, install: &Install) -> String {
    match (install.count == desired_count, install.grace == grace) {
        (false, false) => {
            format!("its desired count ({desired_count}) and grace period ({grace}s)")
        }
        (false, true) => format!("its desired count ({desired_count})"),
        (true, false) => format!("its grace period ({grace}s)"),
        (true, true) => "nothing more".to_owned(),
    }
}

/// Whether the service's PRIMARY deployment failed (the circuit breaker stopped it with
/// nothing to roll back to).
fn primary_failed(s: &Service) -> bool {
    s.deployments().iter().any(|d| {
        d.status() == Some("PRIMARY") && d.rollout_state() == Some(&DeploymentRolloutState::Failed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_runs_one_task_under_the_installers_grace_period() {
        assert_eq!(
            Install::of(2, 120),
            Install {
                count: 1,
                grace: GRACE_SECONDS
            }
        );
        assert_eq!(Install::of(0, 900).count, 0);
        assert_eq!(Install::of(0, 900).grace, 900);
        assert!(Install::of(1, 900).settled(1, 900));
        assert!(!Install::of(2, 120).settled(2, 120));
    }

    #[test]
    fn the_warning_names_only_what_is_left_to_set() {
        let one = Install::of(1, 120);
        assert_eq!(rest(1, 120, &one), "its grace period (120s)");
        assert_eq!(
            rest(2, 120, &Install::of(2, 120)),
            "its desired count (2) and grace period (120s)"
        );
    }
}
