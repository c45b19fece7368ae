//! `aws_ecs_cluster`: the cluster the service runs in, with Container Insights.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{Cluster, ClusterField, ClusterSetting, ClusterSettingName};
use aws_sdk_ecs::Client;
use serde_json::Value as J;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    aws_error, Absent, Instance, Kind, ResourceError, Tags, Values, ValuesExt,
};

use crate::{ecs_tags, ecs_tags_json, sync_ecs_tags, vanished};

/// `aws_ecs_cluster`, identified by its ARN. DescribeClusters keeps answering for a deleted
/// cluster (status INACTIVE) for a while: that reads as gone.
pub struct ClusterKind {
    ecs: Client,
}

impl ClusterKind {
    pub fn new(ecs: Client) -> Self {
        ClusterKind { ecs }
    }

    /// The cluster by name or ARN, unless it is missing or INACTIVE.
    async fn describe(&self, cluster: &str) -> Result<Option<Cluster>, ResourceError> {
        self.ecs
            .describe_clusters()
            .clusters(cluster)
            .include(ClusterField::Settings)
            .include(ClusterField::Tags)
            .send()
            .await
            .map_err(|e| aws_error("DescribeClusters", e))
            .absent_if(&["ClusterNotFoundException"])
            .map(|o| {
                o.and_then(|out| {
                    out.clusters()
                        .iter()
                        .find(|c| c.status() != Some("INACTIVE"))
                        .cloned()
                })
            })
    }

    /// Read back until the cluster is ACTIVE (it is PROVISIONING while capacity providers are
    /// set up).
    async fn until_active(&self, arn: &str) -> Result<Instance, ResourceError> {
        wait::until(
            &format!("ECS cluster {arn} to be active"),
            Backoff::standard(Duration::from_secs(600)),
            || async move {
                match self.describe(arn).await? {
                    Some(c) if c.status() == Some("ACTIVE") => Ok(Poll::Ready(to_instance(&c))),
                    Some(c) => Ok(Poll::Pending(c.status().unwrap_or("unknown").to_owned())),
                    None => Err(vanished("DescribeClusters", &format!("ECS cluster {arn}"))),
                }
            },
        )
        .await
    }
}

fn insights_setting(value: &str) -> ClusterSetting {
    ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(value)
        .build()
}

fn to_instance(c: &Cluster) -> Instance {
    let arn = c.cluster_arn().unwrap_or_default();
    let insights = c
        .settings()
        .iter()
        .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
        .and_then(|s| s.value())
        .unwrap_or("disabled");
    Instance::new(
        arn,
        Values::from([
            ("id".to_owned(), J::from(arn)),
            ("arn".to_owned(), J::from(arn)),
            (
                "name".to_owned(),
                J::from(c.cluster_name().unwrap_or_default()),
            ),
            ("container_insights".to_owned(), J::from(insights)),
            ("tags".to_owned(), ecs_tags_json(c.tags())),
        ]),
    )
}

#[async_trait]
impl Kind for ClusterKind {
    fn type_name(&self) -> &'static str {
        "aws_ecs_cluster"
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["name"]
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        Ok(self.describe(&prior.id).await?.map(|c| to_instance(&c)))
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        Ok(self
            .describe(desired.get_str("name")?)
            .await?
            .filter(|c| c.status() == Some("ACTIVE"))
            .map(|c| to_instance(&c)))
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let name = desired.get_str("name")?;
        let insights = desired.get_str("container_insights")?;
        let tags = ecs_tags(&Tags::from_json(desired.get("tags")).0);
        // On an account that never used ECS, AWS creates the service-linked role with the first
        // cluster and refuses that call while the role propagates.
        let out = wait::eventually(&format!("ECS cluster {name}"), || async {
            self.ecs
                .create_cluster()
                .cluster_name(name)
                .settings(insights_setting(insights))
                .set_tags(tags.clone())
                .send()
                .await
                .map_err(|e| crate::propagating(aws_error("CreateCluster", e)))
        })
        .await?;
        let arn = out
            .cluster()
            .and_then(|c| c.cluster_arn())
            .ok_or_else(|| ResourceError::new("CreateCluster", "AWS returned no cluster ARN"))?;
        self.until_active(arn).await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        if changed.iter().any(|c| c == "container_insights") {
            // UpdateCluster takes the settings too (UpdateClusterSettings is the older,
            // settings-only call) and it is the one both AWS and the test emulator serve.
            self.ecs
                .update_cluster()
                .cluster(&prior.id)
                .settings(insights_setting(desired.get_str("container_insights")?))
                .send()
                .await
                .map_err(|e| aws_error("UpdateCluster", e))?;
        }
        if changed.iter().any(|c| c == "tags") {
            sync_ecs_tags(&self.ecs, &prior.id, prior, desired).await?;
        }
        self.until_active(&prior.id).await
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        // Tasks of a just-deleted service can take a few minutes to stop; until they have, the
        // cluster refuses to go.
        wait::delete_when_released(
            &format!("ECS cluster {} to be deleted", prior.id),
            Duration::from_secs(600),
            &[
                "ClusterContainsServicesException",
                "ClusterContainsTasksException",
                "UpdateInProgressException",
            ],
            &["ClusterNotFoundException"],
            || async {
                self.ecs
                    .delete_cluster()
                    .cluster(&prior.id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| aws_error("DeleteCluster", e))
            },
        )
        .await
    }
}
