//! DescribeServices: the one read of an ECS service, which the service kind, the deployment
//! wait, rollback and run_task share (its own file, so none of them depends on another for it).

use aws_sdk_ecs::types::{Service, ServiceField};
use aws_sdk_ecs::Client;
use stackctl_contract::{aws_error, Absent, ResourceError};

/// The service by name or ARN, unless it is missing or INACTIVE (ECS keeps answering for
/// deleted services for a while).
pub(crate) async fn service(
    ecs: &Client,
    cluster: &str,
    service: &str,
) -> Result<Option<Service>, ResourceError> {
    ecs.describe_services()
        .cluster(cluster)
        .services(service)
        .include(ServiceField::Tags)
        .send()
        .await
        .map_err(|e| aws_error("DescribeServices", e))
        .absent_if(&["ClusterNotFoundException", "ServiceNotFoundException"])
        .map(|o| {
            o.and_then(|out| {
                out.services()
                    .iter()
                    .find(|s| s.status() != Some("INACTIVE"))
                    .cloned()
            })
        })
}
