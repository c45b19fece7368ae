//! stackctl's own marks on ECS resources, as tags: a service that has run one healthy
//! deployment (its install is done) and a task definition revision that ran healthy (a place a
//! rollback may go back to). They live in AWS, so they survive a failed, killed or
//! `-wait=false` apply and a lost state; they are left out of the `tags` attribute, so they
//! never diff against the stack's tags and an update never removes them.

use aws_sdk_ecs::types::Tag;
use aws_sdk_ecs::Client;
use stackctl_contract::{aws_error, ResourceError};

/// On a service: one of its deployments has been healthy, so PrestaShop is installed and the
/// service may run its full count with its own grace period.
pub(crate) const INSTALLED: &str = "stackctl:installed";

/// On a task definition revision: a deployment of it reached a healthy steady state.
pub(crate) const HEALTHY: &str = "stackctl:healthy";

/// The marks, which the `tags` attributes leave out.
pub(crate) const KEYS: [&str; 2] = [INSTALLED, HEALTHY];

/// Whether `tags` carry the mark `key`.
pub(crate) fn has(tags: &[Tag], key: &str) -> bool {
    tags.iter().any(|t| t.key() == Some(key))
}

/// Put the mark `key` on the ECS resource `arn`. The value says when, for whoever reads the
/// tags in the console.
pub(crate) async fn set(ecs: &Client, arn: &str, key: &str) -> Result<(), ResourceError> {
    let when = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    ecs.tag_resource()
        .resource_arn(arn)
        .tags(Tag::builder().key(key).value(when.to_string()).build())
        .send()
        .await
        .map(drop)
        .map_err(|e| aws_error("TagResource", e))
}

/// [`set`], where a failure only costs a warning: what was marked is done and healthy; the
/// mark is bookkeeping for later (`what` says what a missing mark costs).
pub(crate) async fn set_or_warn(ecs: &Client, arn: &str, key: &str, what: &str) {
    if let Err(e) = set(ecs, arn, key).await {
        let code = e.code.map(|c| format!(": {c}")).unwrap_or_default();
        tracing::warn!(
            "{arn} is healthy, but its tag {key} could not be set ({}{code}: {}), so {what}. Check that these credentials may call ecs:TagResource",
            e.operation,
            e.message
        );
    }
}
