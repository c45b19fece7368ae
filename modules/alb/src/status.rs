//! The target group's targets for `stackctl status`: each task's health as the load balancer
//! sees it, with the reason code when it is not healthy.

use aws_sdk_elasticloadbalancingv2::Client;
use stackctl_contract::{aws_error, Absent, ResourceError};

/// One registered target.
#[derive(Clone, Debug, Default)]
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

/// The targets of `target_group_arn`; empty when the group is gone.
pub async fn target_health(
    sdk: &aws_types::SdkConfig,
    target_group_arn: &str,
) -> Result<Vec<Target>, ResourceError> {
    let out = Client::new(sdk)
        .describe_target_health()
        .target_group_arn(target_group_arn)
        .send()
        .await
        .map_err(|e| aws_error("DescribeTargetHealth", e))
        .absent_if(crate::TG_GONE)?;
    Ok(out
        .map(|o| {
            o.target_health_descriptions()
                .iter()
                .map(|d| {
                    let h = d.target_health();
                    Target {
                        id: d
                            .target()
                            .and_then(|t| t.id())
                            .unwrap_or_default()
                            .to_owned(),
                        port: d.target().and_then(|t| t.port()).unwrap_or_default(),
                        state: h
                            .and_then(|h| h.state())
                            .map(|s| s.as_str().to_owned())
                            .unwrap_or_default(),
                        reason: h
                            .and_then(|h| h.reason())
                            .map(|r| r.as_str().to_owned())
                            .unwrap_or_default(),
                        description: h
                            .and_then(|h| h.description())
                            .unwrap_or_default()
                            .to_owned(),
                    }
                })
                .collect()
        })
        .unwrap_or_default())
}
