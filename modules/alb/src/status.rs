//! The target group's targets for `stackctl status`: each task's health as the load balancer
//! sees it, with the reason code when it is not healthy; also what a deployment waits on.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::Client;
pub use stackctl_contract::target_health::Target;
use stackctl_contract::target_health::TargetHealth;
use stackctl_contract::{aws_error, Absent, ResourceError};

/// The targets of `target_group_arn`; empty when the group is gone.
pub async fn target_health(
    sdk: &aws_types::SdkConfig,
    target_group_arn: &str,
) -> Result<Vec<Target>, ResourceError> {
    Targets::new(sdk).targets(target_group_arn).await
}

/// The target group's health as the ECS module's deployment wait reads it.
pub struct Targets(Client);

impl Targets {
    pub fn new(sdk: &aws_types::SdkConfig) -> Self {
        Targets(Client::new(sdk))
    }
}

#[async_trait]
impl TargetHealth for Targets {
    async fn targets(&self, target_group_arn: &str) -> Result<Vec<Target>, ResourceError> {
        read(&self.0, target_group_arn).await
    }
}

async fn read(elb: &Client, target_group_arn: &str) -> Result<Vec<Target>, ResourceError> {
    let out = elb
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
