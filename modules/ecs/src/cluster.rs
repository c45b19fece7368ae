//! `aws_ecs_cluster`: the cluster the service runs in, with Container Insights.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{Cluster, ClusterField, ClusterSetting, ClusterSettingName};
use aws_sdk_ecs::Client;
use serde_json::{json, Value as J};
use stackctl_contract::provider;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    args, aws_error, Absent, Args, Changed, Field, Instance, Kind, ResourceError, TagApi, Tags,
    Values,
};

use crate::{ecs_tags, ecs_tags_of, EcsTagging};

args! {
    /// `aws_ecs_cluster`'s arguments.
    pub struct ClusterArgs {
        [ForceNew] name: String,
        /// CloudWatch Container Insights: `enabled` or `disabled`.
        container_insights: String,
        tags: Tags,
    }
}

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
                    None => Err(ResourceError::vanished(
                        "DescribeClusters",
                        &format!("ECS cluster {arn}"),
                    )),
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
    let mut attrs = ClusterArgs {
        name: c.cluster_name().unwrap_or_default().to_owned(),
        container_insights: insights.to_owned(),
        tags: ecs_tags_of(c.tags()),
    }
    .to_values();
    attrs.insert("id".to_owned(), J::from(arn));
    attrs.insert("arn".to_owned(), J::from(arn));
    Instance::new(arn, attrs)
}

/// The provider's attributes of a cluster: Container Insights is one of its `setting` blocks.
fn provider_values(attrs: &provider::Object) -> provider::Object {
    let mut out = provider::Object::new();
    provider::copy(attrs, &mut out, &["id", "arn", "name", "tags"]);
    if let Some(v) = attrs.get("container_insights").filter(|v| !v.is_null()) {
        out.insert(
            "setting".into(),
            json!([{ "name": "containerInsights", "value": v }]),
        );
    }
    out
}

#[async_trait]
impl Kind for ClusterKind {
    fn type_name(&self) -> &'static str {
        "aws_ecs_cluster"
    }

    fn fields(&self) -> &'static [Field] {
        ClusterArgs::FIELDS
    }

    fn provider_values(&self, _type_name: &str, attrs: &provider::Object) -> provider::Object {
        provider_values(attrs)
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        Ok(self.describe(&prior.id).await?.map(|c| to_instance(&c)))
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let d = ClusterArgs::from_values(desired)?;
        Ok(self
            .describe(&d.name)
            .await?
            .filter(|c| c.status() == Some("ACTIVE"))
            .map(|c| to_instance(&c)))
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = ClusterArgs::from_values(desired)?;
        let name = &d.name;
        let tags = ecs_tags(&d.tags.0);
        // On an account that never used ECS, AWS creates the service-linked role with the first
        // cluster and refuses that call while the role propagates.
        let out = wait::eventually(&format!("ECS cluster {name}"), || async {
            self.ecs
                .create_cluster()
                .cluster_name(name)
                .settings(insights_setting(&d.container_insights))
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
        let d = ClusterArgs::from_values(desired)?;
        let changed = ClusterArgs::<Changed>::from_names(changed);
        if changed.container_insights {
            // UpdateCluster takes the settings too (UpdateClusterSettings is the older,
            // settings-only call) and it is the one both AWS and the test emulator serve.
            self.ecs
                .update_cluster()
                .cluster(&prior.id)
                .settings(insights_setting(&d.container_insights))
                .send()
                .await
                .map_err(|e| aws_error("UpdateCluster", e))?;
        }
        if changed.tags {
            EcsTagging(&self.ecs)
                .sync_tags(&prior.id, &prior.tags(), &d.tags)
                .await?;
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

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::Tag;
    use stackctl_contract::provider::check;

    use super::*;
    use crate::testing::{assert_covers, known_object, planned, resolved};

    const ARN: &str = "arn:aws:ecs:eu-west-3:123456789012:cluster/shop-dev-cluster";

    fn described(insights: Option<&str>) -> Cluster {
        let mut c = Cluster::builder()
            .cluster_arn(ARN)
            .cluster_name("shop-dev-cluster")
            .status("ACTIVE")
            .tags(Tag::builder().key("Project").value("shop").build());
        if let Some(v) = insights {
            c = c.settings(insights_setting(v));
        }
        c.build()
    }

    #[test]
    fn container_insights_is_a_setting_block() {
        let out = provider_values(&known_object(&to_instance(&described(Some("enabled")))));
        check("aws_ecs_cluster", &out).unwrap();
        // checkov's CKV_AWS_65 reads this block.
        assert_eq!(
            out["setting"],
            json!([{ "name": "containerInsights", "value": "enabled" }])
        );
        assert_eq!(out["id"], json!(ARN));
        assert_eq!(out["arn"], json!(ARN));
        assert_eq!(out["tags"], json!({ "Project": "shop" }));
        assert!(!out.contains_key("container_insights"));

        // A cluster AWS reports without the setting has it disabled, and says so.
        let off = provider_values(&known_object(&to_instance(&described(None))));
        assert_eq!(off["setting"][0]["value"], json!("disabled"));
    }

    #[test]
    fn the_planned_cluster() {
        let out = provider_values(&planned(crate::CLUSTER, &resolved(&[])));
        check("aws_ecs_cluster", &out).unwrap();
        assert_eq!(out["setting"][0]["value"], json!("enabled"));
        assert_eq!(out["name"], json!("shop-dev-cluster"));
        assert!(!out.contains_key("id") && !out.contains_key("arn"));
    }

    /// The attributes Terraform's plan of this stack gives `aws_ecs_cluster.main` that are
    /// neither null nor `[]`: `after` in `../shared/reference/terraform/plan-from-empty.json`.
    const TERRAFORM: &[&str] = &["name", "setting"];

    #[test]
    fn every_attribute_terraform_plans_is_there() {
        let out = provider_values(&planned(crate::CLUSTER, &resolved(&[])));
        assert_covers(&out, TERRAFORM, &[]);
    }
}
