//! The rds module: the MySQL database PrestaShop uses, and the subnet group it lives in.
//!
//! AWS cannot return some attributes (the master password, what to do on deletion, whether to
//! apply changes at once): `read` carries them over from the prior state, and `delete` takes its
//! final-snapshot decision from them.
//!
//! Without `apply_immediately` (Terraform's default), ModifyDBInstance leaves class, storage,
//! engine and subnet group changes for the maintenance window: `read` reports them under
//! `pending`, so they are not sent again on every apply. The plan refuses what AWS would only
//! refuse midway through an apply: storage that shrinks, grows by less than 10 %, or changes
//! again within 6 hours of the last change or while that change is still being optimized.

mod db_instance;
pub mod status;
mod subnet_group;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_rds::types::Tag;
use aws_sdk_rds::Client;
use serde_json::Value as J;
use stackctl_contract::value::string_set;
use stackctl_contract::{
    aws_error, Kind, Planned, Ref, ResourceError, ResourceSpec, TagApi, Tags, Val,
};

pub use db_instance::{check_storage_change, DbInstanceArgs, DbInstanceKind, StorageRefusal};
pub use subnet_group::{SubnetGroupArgs, SubnetGroupKind};

pub const SUBNET_GROUP: &str = "module.rds.aws_db_subnet_group.main";
pub const INSTANCE: &str = "module.rds.aws_db_instance.main";

/// What the module needs from the root: Terraform's module variables.
pub struct Inputs {
    /// `{project_name}-{environment}`: every AWS name starts with it, so two environments or
    /// projects in one account never share a name.
    pub name_prefix: String,
    /// `prod` keeps a final snapshot when the database is destroyed.
    pub environment: String,
    pub engine_version: String,
    pub instance_class: String,
    pub allocated_storage: i64,
    /// Storage autoscaling's ceiling, GiB; 0 is off.
    pub max_allocated_storage: i64,
    pub db_name: String,
    pub username: String,
    pub password: String,
    /// Terraform's `apply_immediately`: change the class, storage, engine or subnet group at
    /// once (with an outage for most) instead of in the next maintenance window.
    pub apply_immediately: bool,
    /// A standby in a second zone.
    pub multi_az: bool,
    /// RDS refuses to delete the database while it is set.
    pub deletion_protection: bool,
    /// Days RDS keeps automated backups.
    pub backup_retention_days: i64,
    /// Performance Insights (not on the smallest classes: the root's variables refuse those).
    pub performance_insights: bool,
    pub subnet_ids: Vec<String>,
    /// The RDS security group's `id`.
    pub security_group: Ref,
    pub tags: Tags,
}

/// The module's kinds, built here only so that `kinds` and `specs` hand out the same.
struct Kinds {
    subnet_group: Arc<dyn Kind>,
    db_instance: Arc<dyn Kind>,
}

impl Kinds {
    fn new(sdk: &aws_types::SdkConfig) -> Self {
        Kinds {
            subnet_group: Arc::new(SubnetGroupKind::new(Client::new(sdk))),
            db_instance: Arc::new(DbInstanceKind::new(Client::new(sdk))),
        }
    }
}

/// The kinds this module implements, for the engine's registry.
pub fn kinds(sdk: &aws_types::SdkConfig) -> Vec<Arc<dyn Kind>> {
    let k = Kinds::new(sdk);
    vec![k.subnet_group, k.db_instance]
}

/// The subnet group over the given subnets, and a private, encrypted MySQL instance in it.
pub fn specs(sdk: &aws_types::SdkConfig, inputs: &Inputs) -> Vec<ResourceSpec> {
    let k = Kinds::new(sdk);

    // AWS stores both names in lower case: asking for them so keeps plans quiet.
    let group_name = format!("{}-db-subnet-group", inputs.name_prefix).to_lowercase();
    let description = format!("Subnets of the {} database", inputs.name_prefix);
    let subnet_ids = string_set(inputs.subnet_ids.iter().cloned());
    let group_tags = inputs.tags.clone().with("Name", group_name.clone());
    let subnet_group = ResourceSpec::new(SUBNET_GROUP, k.subnet_group, move |_r| {
        SubnetGroupArgs::<Planned> {
            name: group_name.clone().into(),
            description: description.clone().into(),
            subnet_ids: subnet_ids.clone().into(),
            tags: group_tags.to_json().into(),
        }
        .into()
    });

    let identifier = format!("{}-db", inputs.name_prefix).to_lowercase();
    let prod = inputs.environment == "prod";
    let final_snapshot = if prod {
        J::from(format!("{identifier}-final"))
    } else {
        J::Null
    };
    let sg = inputs.security_group.clone();
    let group = Ref::new(SUBNET_GROUP, "name");
    let db_tags = inputs.tags.clone().with("Name", identifier.clone());
    let engine_version = inputs.engine_version.clone();
    let instance_class = inputs.instance_class.clone();
    let allocated_storage = inputs.allocated_storage;
    let max_allocated_storage = inputs.max_allocated_storage;
    let db_name = inputs.db_name.clone();
    let username = inputs.username.clone();
    let password = inputs.password.clone();
    let apply_immediately = inputs.apply_immediately;
    let multi_az = inputs.multi_az;
    let deletion_protection = inputs.deletion_protection;
    let backup_retention = inputs.backup_retention_days;
    let performance_insights = inputs.performance_insights;
    let instance = ResourceSpec::new(INSTANCE, k.db_instance, move |r| {
        DbInstanceArgs::<Planned> {
            identifier: identifier.clone().into(),
            engine: "mysql".into(),
            engine_version: engine_version.clone().into(),
            instance_class: instance_class.clone().into(),
            allocated_storage: allocated_storage.into(),
            max_allocated_storage: max_allocated_storage.into(),
            storage_encrypted: true.into(),
            backup_retention_period: backup_retention.into(),
            multi_az: multi_az.into(),
            publicly_accessible: false.into(),
            deletion_protection: deletion_protection.into(),
            performance_insights_enabled: performance_insights.into(),
            vpc_security_group_ids: Val::all([&sg.get(r)], |[id]| J::Array(vec![id.clone()])),
            db_subnet_group_name: group.get(r),
            db_name: db_name.clone().into(),
            username: username.clone().into(),
            password: password.clone().into(),
            apply_immediately: apply_immediately.into(),
            skip_final_snapshot: (!prod).into(),
            final_snapshot_identifier: Val::Known(final_snapshot.clone()),
            tags: db_tags.to_json().into(),
        }
        .into()
    });
    vec![subnet_group, instance]
}

/// RDS tags from a tag map.
fn rds_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The tags an RDS resource has, from what RDS answers.
fn rds_tags_of(tags: &[Tag]) -> Tags {
    Tags::from_sdk(tags.iter().map(|t| (t.key(), t.value())))
}

/// RDS's tag calls, for the subnet group and the database (named by ARN).
struct RdsTagging<'a>(&'a Client);

impl TagApi for RdsTagging<'_> {
    async fn tag(&self, arn: &str, set: BTreeMap<String, String>) -> Result<(), ResourceError> {
        self.0
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(rds_tags(&set)))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("AddTagsToResource", e))
    }

    async fn untag(&self, arn: &str, keys: Vec<String>) -> Result<(), ResourceError> {
        self.0
            .remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("RemoveTagsFromResource", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use stackctl_contract::Resolve;

    struct Fake;
    impl Resolve for Fake {
        fn get(&self, address: &str, attr: &str) -> Val {
            Val::from(format!("{address}.{attr}"))
        }
    }

    pub(crate) fn sdk() -> aws_types::SdkConfig {
        aws_types::SdkConfig::builder()
            .behavior_version(aws_sdk_rds::config::BehaviorVersion::latest())
            .region(aws_types::region::Region::new("eu-west-3"))
            .build()
    }

    fn inputs(environment: &str) -> Inputs {
        Inputs {
            name_prefix: "Shop-dev".into(),
            environment: environment.into(),
            engine_version: "8.0".into(),
            instance_class: "db.t3.micro".into(),
            allocated_storage: 20,
            max_allocated_storage: 0,
            db_name: "prestashop".into(),
            username: "admin".into(),
            password: "pw".into(),
            apply_immediately: false,
            multi_az: false,
            deletion_protection: false,
            backup_retention_days: 7,
            performance_insights: false,
            subnet_ids: vec!["subnet-b".into(), "subnet-a".into()],
            security_group: Ref::new("module.security.aws_security_group.rds", "id"),
            tags: Tags::stack("Shop", environment),
        }
    }

    #[test]
    fn specs_wire_the_group_and_the_security_group() {
        let specs = specs(&sdk(), &inputs("dev"));
        assert_eq!(specs[0].address, SUBNET_GROUP);
        assert_eq!(specs[1].address, INSTANCE);
        let group = specs[0].desired(&Fake);
        assert_eq!(group["name"], Val::from("shop-dev-db-subnet-group"));
        assert_eq!(
            group["subnet_ids"],
            Val::from(json!(["subnet-a", "subnet-b"]))
        );
        let db = specs[1].desired(&Fake);
        assert_eq!(db["identifier"], Val::from("shop-dev-db"));
        assert_eq!(
            db["vpc_security_group_ids"],
            Val::from(json!(["module.security.aws_security_group.rds.id"]))
        );
        assert_eq!(
            db["db_subnet_group_name"],
            Val::from(format!("{SUBNET_GROUP}.name"))
        );
        assert_eq!(db["skip_final_snapshot"], Val::from(true));
        assert_eq!(db["final_snapshot_identifier"], Val::Known(J::Null));
        // Terraform's default: nothing restarts during apply.
        assert_eq!(db["apply_immediately"], Val::from(false));
        let deps = specs[1].dependencies();
        assert!(deps.contains(SUBNET_GROUP), "{deps:?}");
        assert!(
            deps.contains("module.security.aws_security_group.rds"),
            "{deps:?}"
        );
    }

    #[test]
    fn prod_keeps_a_final_snapshot() {
        let db = specs(&sdk(), &inputs("prod"))[1].desired(&Fake);
        assert_eq!(db["skip_final_snapshot"], Val::from(false));
        assert_eq!(
            db["final_snapshot_identifier"],
            Val::from("shop-dev-db-final")
        );
    }

    #[test]
    fn the_database_settings_come_from_the_inputs() {
        let db = specs(&sdk(), &inputs("dev"))[1].desired(&Fake);
        for key in [
            "multi_az",
            "deletion_protection",
            "performance_insights_enabled",
        ] {
            assert_eq!(db[key], Val::from(false), "{key}");
        }
        assert_eq!(db["backup_retention_period"], Val::from(7));
        let prod = Inputs {
            multi_az: true,
            deletion_protection: true,
            backup_retention_days: 14,
            performance_insights: true,
            ..inputs("prod")
        };
        let db = specs(&sdk(), &prod)[1].desired(&Fake);
        for key in [
            "multi_az",
            "deletion_protection",
            "performance_insights_enabled",
        ] {
            assert_eq!(db[key], Val::from(true), "{key}");
        }
        assert_eq!(db["backup_retention_period"], Val::from(14));
    }
}
