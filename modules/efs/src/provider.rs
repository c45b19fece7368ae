//! The file system and its mount targets as the AWS provider has them: the file system's
//! `name` (its `Name` tag) and owner, and no lifecycle policy, as stackctl creates it; the
//! backup policy as the provider's one `backup_policy` block.

use serde_json::json;
use stackctl_contract::provider::{self, Object};

/// `aws_efs_file_system`, from stackctl's attributes.
pub(crate) fn file_system(attrs: &Object) -> Object {
    let mut out = Object::new();
    provider::copy(
        attrs,
        &mut out,
        &[
            "id",
            "arn",
            "dns_name",
            "creation_token",
            "encrypted",
            "performance_mode",
            "throughput_mode",
            "tags",
        ],
    );
    // The provider's `name` is the value of the `Name` tag.
    if let Some(name) = attrs.get("tags").and_then(|t| t.get("Name")) {
        out.insert("name".to_owned(), name.clone());
    }
    if let Some(owner) = provider::arn_account(attrs.get("arn")) {
        out.insert("owner_id".to_owned(), owner);
    }
    // stackctl sets no lifecycle policy: files stay in the standard storage class.
    provider::defaults(&mut out, &[("lifecycle_policy", json!([]))]);
    out
}

/// `aws_efs_mount_target`, from stackctl's attributes (the same names).
pub(crate) fn mount_target(attrs: &Object) -> Object {
    let mut out = Object::new();
    provider::copy(
        attrs,
        &mut out,
        &[
            "id",
            "file_system_id",
            "subnet_id",
            "security_groups",
            "ip_address",
            "availability_zone_name",
        ],
    );
    out
}

/// `aws_efs_backup_policy`, from stackctl's attributes: the status in the provider's
/// `backup_policy` block; the stack's tags stackctl checks on the file system are not the
/// provider's.
pub(crate) fn backup_policy(attrs: &Object) -> Object {
    let mut out = Object::new();
    provider::copy(attrs, &mut out, &["id", "file_system_id"]);
    if let Some(status) = attrs.get("status") {
        out.insert(
            "backup_policy".to_owned(),
            json!([{ "status": status.clone() }]),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use aws_sdk_efs::types::{
        FileSystemDescription, FileSystemSize, LifeCycleState, MountTargetDescription,
        PerformanceMode, Tag, ThroughputMode,
    };

    use stackctl_contract::provider::UNKNOWN;
    use stackctl_contract::{Ref, Tags};

    use super::*;

    /// The kind of `type_name`'s translation of `attrs`, checked against the provider's schema.
    fn translate(type_name: &str, attrs: &Object) -> Object {
        let kinds = crate::kinds(&stackctl_testkit::offline_sdk());
        let kind = kinds.iter().find(|k| k.type_name() == type_name).unwrap();
        stackctl_testkit::translated(&**kind, type_name, attrs)
    }

    fn planned_all() -> Vec<Object> {
        let inputs = crate::Inputs {
            name_prefix: "shop-dev".into(),
            subnets: vec![("eu-west-3a".into(), "subnet-a".into())],
            security_group: Ref::new("module.security.aws_security_group.efs", "id"),
            tags: Tags::stack("shop", "dev"),
            backup: true,
        };
        crate::specs(&stackctl_testkit::offline_sdk(), &inputs)
            .iter()
            .map(|s| {
                stackctl_testkit::provider_object(s.desired(&stackctl_testkit::Known::default()))
            })
            .collect()
    }

    #[test]
    fn a_read_file_system_shows_its_name_owner_and_encryption() {
        let fs = FileSystemDescription::builder()
            .owner_id("123456789012")
            .creation_token("shop-dev-efs")
            .file_system_id("fs-1")
            .file_system_arn("arn:aws:elasticfilesystem:eu-west-3:123456789012:file-system/fs-1")
            .creation_time(aws_sdk_efs::primitives::DateTime::from_secs(0))
            .life_cycle_state(LifeCycleState::Available)
            .number_of_mount_targets(3)
            .size_in_bytes(FileSystemSize::builder().value(6144).build())
            .performance_mode(PerformanceMode::GeneralPurpose)
            .throughput_mode(ThroughputMode::Bursting)
            .encrypted(true)
            .tags(
                Tag::builder()
                    .key("Name")
                    .value("shop-dev-efs")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let attrs: Object = crate::file_system::fs_instance(&fs)
            .attrs
            .into_iter()
            .collect();
        let out = translate("aws_efs_file_system", &attrs);
        assert_eq!(out["encrypted"], json!(true));
        assert_eq!(out["performance_mode"], json!("generalPurpose"));
        assert_eq!(out["throughput_mode"], json!("bursting"));
        assert_eq!(out["creation_token"], json!("shop-dev-efs"));
        assert_eq!(out["name"], json!("shop-dev-efs"));
        assert_eq!(out["owner_id"], json!("123456789012"));
        assert_eq!(out["dns_name"], json!("fs-1.efs.eu-west-3.amazonaws.com"));
        assert_eq!(out["lifecycle_policy"], json!([]));
        // The key AWS picked (its default one) is not recorded: not claimed either way.
        assert!(!out.contains_key("kms_key_id"));
    }

    #[test]
    fn a_read_mount_target_keeps_its_groups_and_address() {
        let mt = MountTargetDescription::builder()
            .mount_target_id("fsmt-1")
            .file_system_id("fs-1")
            .subnet_id("subnet-a")
            .life_cycle_state(LifeCycleState::Available)
            .ip_address("172.31.0.4")
            .availability_zone_name("eu-west-3a")
            .build()
            .unwrap();
        let attrs: Object = crate::mount_target::mt_instance(&mt, &["sg-efs".into()])
            .attrs
            .into_iter()
            .collect();
        let out = translate("aws_efs_mount_target", &attrs);
        assert_eq!(out["security_groups"], json!(["sg-efs"]));
        assert_eq!(out["ip_address"], json!("172.31.0.4"));
        assert_eq!(out["availability_zone_name"], json!("eu-west-3a"));
        assert_eq!(out["id"], json!("fsmt-1"));
    }

    #[test]
    fn a_read_backup_policy_is_the_providers_block() {
        let attrs: Object = [
            ("id", json!("fs-1")),
            ("file_system_id", json!("fs-1")),
            ("status", json!("ENABLED")),
            ("stack_tags", json!({ "ManagedBy": "stackctl" })),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let out = translate("aws_efs_backup_policy", &attrs);
        assert_eq!(out["backup_policy"], json!([{ "status": "ENABLED" }]));
        assert_eq!(out["file_system_id"], json!("fs-1"));
        assert_eq!(out["id"], json!("fs-1"));
        assert!(!out.contains_key("stack_tags") && !out.contains_key("status"));
    }

    #[test]
    fn a_planned_backup_policy_waits_for_its_file_system() {
        let all = planned_all();
        let policy = all.last().unwrap();
        let out = translate("aws_efs_backup_policy", policy);
        assert_eq!(out["file_system_id"], json!(UNKNOWN));
        assert_eq!(out["backup_policy"], json!([{ "status": "ENABLED" }]));
        assert!(!out.contains_key("id"));
    }

    #[test]
    fn a_plan_from_empty_marks_what_waits_for_other_resources() {
        let all = planned_all();
        let fs = translate("aws_efs_file_system", &all[0]);
        assert_eq!(fs["encrypted"], json!(true));
        assert_eq!(fs["name"], json!("shop-dev-efs"));
        assert!(!fs.contains_key("id") && !fs.contains_key("owner_id"));
        let mt = translate("aws_efs_mount_target", &all[1]);
        assert_eq!(mt["file_system_id"], json!(UNKNOWN));
        assert_eq!(mt["security_groups"], json!(UNKNOWN));
        assert_eq!(mt["subnet_id"], json!("subnet-a"));
    }

    /// Attributes that are neither null nor `[]` in Terraform's `after` for each type in
    /// `shared/reference/terraform/plan-from-empty.json` (Terraform 1.11.4, AWS provider
    /// 5.100.0, the stack from an empty account).
    const TERRAFORM_AFTER_FILE_SYSTEM: &[&str] = &[
        "creation_token",
        "encrypted",
        "performance_mode",
        "throughput_mode",
    ];
    const TERRAFORM_AFTER_MOUNT_TARGET: &[&str] = &["subnet_id"];

    #[test]
    fn a_plan_from_empty_has_every_attribute_terraform_plans() {
        let all = planned_all();
        for (type_name, attrs, expected) in [
            ("aws_efs_file_system", &all[0], TERRAFORM_AFTER_FILE_SYSTEM),
            (
                "aws_efs_mount_target",
                &all[1],
                TERRAFORM_AFTER_MOUNT_TARGET,
            ),
        ] {
            let out = translate(type_name, attrs);
            let missing: Vec<&str> = expected
                .iter()
                .copied()
                .filter(|k| !out.contains_key(*k))
                .collect();
            assert!(missing.is_empty(), "{type_name}: {missing:?}");
        }
    }
}
