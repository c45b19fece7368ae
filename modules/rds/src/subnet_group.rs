//! `aws_db_subnet_group`: the subnets the database may be placed in, found by name.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_rds::types::DbSubnetGroup;
use aws_sdk_rds::Client;
use serde_json::Value as J;
use stackctl_contract::wait;
use stackctl_contract::{
    args, aws_error, provider, Absent, Args, Changed, Field, Instance, Kind, ResourceError, TagApi,
    Tags, Values, ValuesExt,
};

use crate::{rds_tags, rds_tags_of, RdsTagging};

/// A subnet group stays in use for a while after its database is deleted.
const SUBNET_GROUP_TIMEOUT: Duration = Duration::from_secs(30 * 60);

args! {
    /// `aws_db_subnet_group`'s arguments.
    pub struct SubnetGroupArgs {
        [ForceNew] name: String,
        description: String,
        /// Sorted: the order AWS answers in is not a change.
        subnet_ids: Vec<String>,
        tags: Tags,
    }
}

/// `aws_db_subnet_group`, identified by its name.
pub struct SubnetGroupKind {
    rds: Client,
}

impl SubnetGroupKind {
    pub fn new(rds: Client) -> Self {
        SubnetGroupKind { rds }
    }

    async fn describe(&self, name: &str) -> Result<Option<DbSubnetGroup>, ResourceError> {
        self.rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await
            .map_err(|e| aws_error("DescribeDBSubnetGroups", e))
            .absent_if(&["DBSubnetGroupNotFoundFault"])
            .map(|o| o.and_then(|out| out.db_subnet_groups().first().cloned()))
    }

    async fn read_back(&self, name: &str) -> Result<Instance, ResourceError> {
        self.read(&Instance::new(name, Values::new()))
            .await?
            .ok_or_else(|| {
                ResourceError::vanished(
                    "DescribeDBSubnetGroups",
                    &format!("DB subnet group {name}"),
                )
            })
    }

    /// The group's attributes; its tags need a call of their own.
    async fn group_instance(&self, g: &DbSubnetGroup) -> Result<Instance, ResourceError> {
        let name = g.db_subnet_group_name().unwrap_or_default();
        let arn = g.db_subnet_group_arn().unwrap_or_default();
        let mut subnet_ids: Vec<String> = g
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier())
            .map(str::to_owned)
            .collect();
        subnet_ids.sort();
        subnet_ids.dedup();
        let mut attrs = SubnetGroupArgs {
            name: name.to_owned(),
            description: g
                .db_subnet_group_description()
                .unwrap_or_default()
                .to_owned(),
            subnet_ids,
            tags: list_tags(&self.rds, arn).await?,
        }
        .to_values();
        attrs.insert("id".to_owned(), J::from(name));
        attrs.insert("arn".to_owned(), J::from(arn));
        attrs.insert("vpc_id".to_owned(), J::from(g.vpc_id().unwrap_or_default()));
        Ok(Instance::new(name, attrs))
    }
}

#[async_trait]
impl Kind for SubnetGroupKind {
    fn type_name(&self) -> &'static str {
        "aws_db_subnet_group"
    }

    fn fields(&self) -> &'static [Field] {
        SubnetGroupArgs::FIELDS
    }

    /// The provider's names already: only what is not the provider's is left out.
    fn provider_values(&self, _type_name: &str, attrs: &provider::Object) -> provider::Object {
        let mut out = provider::Object::new();
        provider::copy(
            attrs,
            &mut out,
            &[
                "id",
                "arn",
                "name",
                "description",
                "subnet_ids",
                "vpc_id",
                "tags",
            ],
        );
        out
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        match self.describe(&prior.id).await? {
            Some(g) => Ok(Some(self.group_instance(&g).await?)),
            None => Ok(None),
        }
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let d = SubnetGroupArgs::from_values(desired)?;
        self.read(&Instance::new(d.name, Values::new())).await
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = SubnetGroupArgs::from_values(desired)?;
        let out = self
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(&d.name)
            .db_subnet_group_description(&d.description)
            .set_subnet_ids(Some(d.subnet_ids))
            .set_tags(Some(rds_tags(&d.tags.0)))
            .send()
            .await
            .map_err(|e| aws_error("CreateDBSubnetGroup", e))?;
        match out.db_subnet_group() {
            Some(g) => self.group_instance(g).await,
            None => self.read_back(&d.name).await,
        }
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let d = SubnetGroupArgs::from_values(desired)?;
        let changed = SubnetGroupArgs::<Changed>::from_names(changed);
        if changed.subnet_ids || changed.description {
            self.rds
                .modify_db_subnet_group()
                .db_subnet_group_name(&prior.id)
                .db_subnet_group_description(&d.description)
                .set_subnet_ids(Some(d.subnet_ids))
                .send()
                .await
                .map_err(|e| aws_error("ModifyDBSubnetGroup", e))?;
        }
        if changed.tags {
            let arn = match prior.attrs.get("arn").and_then(J::as_str) {
                Some(arn) => arn.to_owned(),
                None => self
                    .read_back(&prior.id)
                    .await?
                    .attrs
                    .get_str("arn")?
                    .to_owned(),
            };
            RdsTagging(&self.rds)
                .sync_tags(&arn, &prior.tags(), &d.tags)
                .await?;
        }
        self.read_back(&prior.id).await
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        // The database being deleted still holds the group for minutes: wait for it.
        wait::delete_when_released(
            &format!("DB subnet group {} to be released", prior.id),
            SUBNET_GROUP_TIMEOUT,
            &["InvalidDBSubnetGroupStateFault"],
            &["DBSubnetGroupNotFoundFault"],
            || async {
                self.rds
                    .delete_db_subnet_group()
                    .db_subnet_group_name(&prior.id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| aws_error("DeleteDBSubnetGroup", e))
            },
        )
        .await
    }
}

/// The tags of the subnet group `arn`: DescribeDBSubnetGroups does not return them.
async fn list_tags(rds: &Client, arn: &str) -> Result<Tags, ResourceError> {
    let out = rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| aws_error("ListTagsForResource", e))?;
    Ok(rds_tags_of(out.tag_list()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use stackctl_contract::provider::UNKNOWN;
    use stackctl_contract::{Ref, Tags};

    use super::*;

    const TYPE: &str = "aws_db_subnet_group";

    /// Attributes that are neither null nor `[]` in Terraform's `after` for
    /// `aws_db_subnet_group.main` in `shared/reference/terraform/plan-from-empty.json`
    /// (Terraform 1.11.4, AWS provider 5.100.0, the stack from an empty account).
    const TERRAFORM_AFTER: &[&str] = &["description", "name", "subnet_ids"];

    #[test]
    fn the_subnet_group_is_the_providers_planned_and_read() {
        let kind = SubnetGroupKind::new(Client::new(&crate::tests::sdk()));
        let inputs = crate::Inputs {
            name_prefix: "shop-dev".into(),
            environment: "dev".into(),
            engine_version: "8.4".into(),
            instance_class: "db.t3.micro".into(),
            allocated_storage: 20,
            max_allocated_storage: 0,
            db_name: "prestashop".into(),
            username: "prestashop".into(),
            password: "pw".into(),
            apply_immediately: false,
            multi_az: false,
            deletion_protection: false,
            backup_retention_days: 7,
            performance_insights: false,
            subnet_ids: vec!["subnet-b".into(), "subnet-a".into()],
            security_group: Ref::new("module.security.aws_security_group.rds", "id"),
            tags: Tags::stack("shop", "dev"),
        };
        let planned: provider::Object = crate::specs(&crate::tests::sdk(), &inputs)[0]
            .desired(&stackctl_testkit::Known::default())
            .into_iter()
            .map(|(k, v)| (k, v.known().cloned().unwrap_or_else(|| J::from(UNKNOWN))))
            .collect();
        let out = kind.provider_values(TYPE, &planned);
        provider::check(TYPE, &out).unwrap();
        assert_eq!(out["subnet_ids"], json!(["subnet-a", "subnet-b"]));
        let missing: Vec<&str> = TERRAFORM_AFTER
            .iter()
            .copied()
            .filter(|k| !out.contains_key(*k))
            .collect();
        assert!(missing.is_empty(), "{missing:?}");
        // As a refresh records it (group_instance): the computed values too.
        let mut read = planned.clone();
        read.insert("id".into(), json!("shop-dev-db-subnet-group"));
        read.insert(
            "arn".into(),
            json!("arn:aws:rds:eu-west-3:123456789012:subgrp:shop-dev-db-subnet-group"),
        );
        read.insert("vpc_id".into(), json!("vpc-1"));
        let out = kind.provider_values(TYPE, &read);
        provider::check(TYPE, &out).unwrap();
        assert_eq!(out["vpc_id"], json!("vpc-1"));
        assert_eq!(out["id"], json!("shop-dev-db-subnet-group"));
    }
}
