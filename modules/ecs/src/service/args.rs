//! `aws_ecs_service`'s arguments, and the parts of a CreateService or UpdateService request
//! that follow from them (network, circuit breaker, grace period, load balancer).

use aws_sdk_ecs::types::{AssignPublicIp, AwsVpcConfiguration, LoadBalancer, NetworkConfiguration};
use serde_json::Value as J;
use stackctl_contract::args::required;
use stackctl_contract::value::to_i32;
use stackctl_contract::{args, ResourceError, Tags};

args! {
    /// `aws_ecs_service`'s arguments.
    pub struct ServiceArgs {
        [ForceNew] name: String,
        /// The cluster's ARN.
        [ForceNew] cluster: String,
        /// The ARN of the task definition revision the service runs.
        task_definition: String,
        desired_count: i64,
        /// Null for a service AWS reports without one (a capacity provider strategy).
        [ForceNew] launch_type: Option<String>,
        /// Sorted, as are the security groups.
        subnets: Vec<String>,
        security_groups: Vec<String>,
        assign_public_ip: bool,
        /// `{target_group_arn, container_name, container_port}`, or null.
        [ForceNew] load_balancer: J,
        /// Null when AWS does not report one.
        health_check_grace_period_seconds: Option<i64>,
        /// `{enable, rollback}`: a deployment whose tasks keep failing is stopped and rolled
        /// back to the last one that worked; null when AWS reports none.
        deployment_circuit_breaker: J,
        tags: Tags,
    }
}

pub(super) fn network(d: &ServiceArgs) -> Result<NetworkConfiguration, ResourceError> {
    let assign = if d.assign_public_ip {
        AssignPublicIp::Enabled
    } else {
        AssignPublicIp::Disabled
    };
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(d.subnets.clone()))
        .set_security_groups(Some(d.security_groups.clone()))
        .assign_public_ip(assign)
        .build()
        .map_err(|e| ResourceError::internal(format!("service network configuration: {e}")))?;
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(vpc)
        .build())
}

/// The circuit breaker as the desired values say (null: none).
pub(super) fn deployment_configuration(
    d: &ServiceArgs,
) -> Result<Option<aws_sdk_ecs::types::DeploymentConfiguration>, ResourceError> {
    let b = match &d.deployment_circuit_breaker {
        J::Null => return Ok(None),
        J::Object(b) => b,
        _ => {
            return Err(ResourceError::internal(
                "attribute `deployment_circuit_breaker` is not an object",
            ))
        }
    };
    let flag = |k: &str| b.get(k).and_then(J::as_bool).unwrap_or(false);
    let breaker = aws_sdk_ecs::types::DeploymentCircuitBreaker::builder()
        .enable(flag("enable"))
        .rollback(flag("rollback"))
        .build();
    Ok(Some(
        aws_sdk_ecs::types::DeploymentConfiguration::builder()
            .deployment_circuit_breaker(breaker)
            .build(),
    ))
}

pub(super) fn grace_period(d: &ServiceArgs) -> Result<i32, ResourceError> {
    const KEY: &str = "health_check_grace_period_seconds";
    to_i32(KEY, *required(KEY, &d.health_check_grace_period_seconds)?)
}

pub(super) fn load_balancer(d: &ServiceArgs) -> Result<Option<LoadBalancer>, ResourceError> {
    let lb = match &d.load_balancer {
        J::Null => return Ok(None),
        J::Object(lb) => lb,
        _ => {
            return Err(ResourceError::internal(
                "attribute `load_balancer` is not an object",
            ))
        }
    };
    let field = |k: &str| {
        lb.get(k).ok_or_else(|| {
            ResourceError::internal(format!("attribute `load_balancer` has no `{k}`"))
        })
    };
    let port = field("container_port")?
        .as_i64()
        .ok_or_else(|| ResourceError::internal("`load_balancer.container_port` is not a number"))?;
    Ok(Some(
        LoadBalancer::builder()
            .target_group_arn(field("target_group_arn")?.as_str().unwrap_or_default())
            .container_name(field("container_name")?.as_str().unwrap_or_default())
            .container_port(to_i32("load_balancer.container_port", port)?)
            .build(),
    ))
}
