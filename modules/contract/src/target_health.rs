//! The load balancer's view of a service's tasks: the module that owns the target group (alb)
//! reads it, the one that deploys into it (ecs) waits on it, and neither depends on the other.

use async_trait::async_trait;

use crate::ResourceError;

/// One registered target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// The task's IP address.
    pub id: String,
    pub port: i32,
    /// initial, healthy, unhealthy, unused, draining or unavailable.
    pub state: String,
    /// Why it is not healthy (`Target.FailedHealthChecks`, `Elb.RegistrationInProgress`...).
    pub reason: String,
    pub description: String,
}

/// Reads the targets of a target group (DescribeTargetHealth).
#[async_trait]
pub trait TargetHealth: Send + Sync {
    /// The targets of `target_group_arn`; empty when the group is gone.
    async fn targets(&self, target_group_arn: &str) -> Result<Vec<Target>, ResourceError>;
}

/// `2 healthy, 1 unhealthy (Target.FailedHealthChecks)`: the count per state, in a fixed
/// order, with the reason codes of the targets that are not healthy.
pub fn summary(targets: &[Target]) -> String {
    if targets.is_empty() {
        return "no target registered".to_owned();
    }
    const ORDER: [&str; 6] = [
        "healthy",
        "initial",
        "unhealthy",
        "draining",
        "unused",
        "unavailable",
    ];
    let mut parts = Vec::new();
    let mut states: Vec<&str> = ORDER.to_vec();
    for t in targets {
        if !states.contains(&t.state.as_str()) {
            states.push(&t.state);
        }
    }
    for state in states {
        let of: Vec<&Target> = targets.iter().filter(|t| t.state == state).collect();
        if of.is_empty() {
            continue;
        }
        let mut reasons: Vec<&str> = of
            .iter()
            .map(|t| t.reason.as_str())
            .filter(|r| !r.is_empty())
            .collect();
        reasons.sort_unstable();
        reasons.dedup();
        if reasons.is_empty() || state == "healthy" {
            parts.push(format!("{} {state}", of.len()));
        } else {
            parts.push(format!("{} {state} ({})", of.len(), reasons.join(", ")));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(state: &str, reason: &str) -> Target {
        Target {
            state: state.into(),
            reason: reason.into(),
            ..Target::default()
        }
    }

    #[test]
    fn the_summary_counts_states_with_their_reasons() {
        assert_eq!(summary(&[]), "no target registered");
        assert_eq!(
            summary(&[
                t("unhealthy", "Target.FailedHealthChecks"),
                t("healthy", ""),
                t("unhealthy", "Target.Timeout"),
                t("unhealthy", "Target.FailedHealthChecks"),
                t("draining", "Target.DeregistrationInProgress"),
            ]),
            "1 healthy, 3 unhealthy (Target.FailedHealthChecks, Target.Timeout), 1 draining (Target.DeregistrationInProgress)"
        );
    }
}
