//! `aws_db_instance` as the AWS provider has it: stackctl's attributes (the provider's names
//! already) without its bookkeeping (`status`, `pending`, the storage clock), and the settings
//! AWS applies to a database created without them (no IAM
//! authentication, no log exports, no enhanced monitoring), so that a policy checker reads
//! what is really there.

use serde_json::{json, Value as J};
use stackctl_contract::provider::{self, Object};

/// `aws_db_instance`, from stackctl's attributes. The password comes in as
/// [`provider::SENSITIVE`] and stays so.
pub(crate) fn db_instance(attrs: &Object) -> Object {
    let mut out = Object::new();
    provider::copy(
        attrs,
        &mut out,
        &[
            "id",
            "arn",
            "identifier",
            "engine",
            "engine_version",
            "instance_class",
            "allocated_storage",
            "max_allocated_storage",
            "storage_encrypted",
            "backup_retention_period",
            "multi_az",
            "publicly_accessible",
            "deletion_protection",
            "performance_insights_enabled",
            "vpc_security_group_ids",
            "db_subnet_group_name",
            "db_name",
            "username",
            "password",
            "apply_immediately",
            "skip_final_snapshot",
            "final_snapshot_identifier",
            "maintenance_window",
            "ca_cert_identifier",
            "address",
            "port",
            "endpoint",
            "tags",
        ],
    );
    // The engine's own port until AWS reports the endpoint's: stackctl asks for no other.
    let port = match attrs.get("engine").and_then(J::as_str) {
        Some("mysql" | "mariadb") => Some(3306),
        Some("postgres") => Some(5432),
        _ => None,
    };
    if let Some(port) = port {
        provider::defaults(&mut out, &[("port", json!(port))]);
    }
    // CreateDBInstance leaves these at AWS's defaults, and stackctl never changes them.
    // `delete_automated_backups`: stackctl's delete removes them, as the provider's default.
    provider::defaults(
        &mut out,
        &[
            ("auto_minor_version_upgrade", json!(true)),
            ("copy_tags_to_snapshot", json!(false)),
            ("dedicated_log_volume", json!(false)),
            ("delete_automated_backups", json!(true)),
            ("enabled_cloudwatch_logs_exports", json!([])),
            ("iam_database_authentication_enabled", json!(false)),
            ("monitoring_interval", json!(0)),
        ],
    );
    out
}

#[cfg(test)]
mod tests {
    use aws_sdk_rds::types::{DbInstance, DbSubnetGroup, Endpoint, VpcSecurityGroupMembership};
    use aws_sdk_rds::Client;
    use stackctl_contract::provider::{SENSITIVE, UNKNOWN};
    use stackctl_contract::{Attrs, Kind, Ref, Tags, Val, Values};

    use super::super::read::db_instance as read_back;
    use super::super::DbInstanceKind;
    use super::*;

    const TYPE: &str = "aws_db_instance";

    fn kind() -> DbInstanceKind {
        DbInstanceKind::new(Client::new(&crate::tests::sdk()))
    }

    fn translate(attrs: &Object) -> Object {
        stackctl_testkit::translated(&kind(), TYPE, attrs)
    }

    /// What the engine hands a kind: secrets as [`SENSITIVE`], unknown values as [`UNKNOWN`].
    fn engine_view(attrs: impl IntoIterator<Item = (String, Val)>) -> Object {
        stackctl_testkit::engine_view(&kind().sensitive(), attrs)
    }

    /// The database as a refresh reads it, with the prior state's carried-over settings.
    fn read_db() -> Object {
        let db = DbInstance::builder()
            .db_instance_identifier("shop-dev-db")
            .db_instance_arn("arn:aws:rds:eu-west-3:123456789012:db:shop-dev-db")
            .engine("mysql")
            .engine_version("8.4.3")
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .storage_encrypted(true)
            .backup_retention_period(7)
            .publicly_accessible(false)
            .vpc_security_groups(
                VpcSecurityGroupMembership::builder()
                    .vpc_security_group_id("sg-rds")
                    .status("active")
                    .build(),
            )
            .db_subnet_group(
                DbSubnetGroup::builder()
                    .db_subnet_group_name("shop-dev-db-subnet-group")
                    .build(),
            )
            .db_name("prestashop")
            .master_username("prestashop")
            .db_instance_status("available")
            .storage_operation_status("optimizing")
            .preferred_maintenance_window("wed:06:38-wed:07:08")
            .endpoint(
                Endpoint::builder()
                    .address("shop-dev-db.abc.eu-west-3.rds.amazonaws.com")
                    .port(3306)
                    .build(),
            )
            .build();
        let prior = Values::from([
            ("engine_version".to_owned(), json!("8.4")),
            ("password".to_owned(), json!("fingerprint:1234")),
            ("skip_final_snapshot".to_owned(), json!(true)),
            ("final_snapshot_identifier".to_owned(), J::Null),
            ("apply_immediately".to_owned(), json!(false)),
            (
                "storage_modified_at".to_owned(),
                json!("2026-01-01T00:00:00Z"),
            ),
        ]);
        engine_view(
            read_back(&db, &prior)
                .attrs
                .into_iter()
                .map(|(k, v)| (k, Val::Known(v))),
        )
    }

    #[test]
    fn a_read_database_shows_what_aws_has_and_hides_the_password() {
        let out = translate(&read_db());
        assert_eq!(out["password"], json!(SENSITIVE));
        assert_eq!(out["publicly_accessible"], json!(false));
        assert_eq!(out["storage_encrypted"], json!(true));
        assert_eq!(out["vpc_security_group_ids"], json!(["sg-rds"]));
        assert_eq!(out["backup_retention_period"], json!(7));
        assert_eq!(out["engine_version"], json!("8.4"));
        assert_eq!(
            out["endpoint"],
            json!("shop-dev-db.abc.eu-west-3.rds.amazonaws.com:3306")
        );
        assert_eq!(out["port"], json!(3306));
        assert_eq!(out["maintenance_window"], json!("wed:06:38-wed:07:08"));
        assert_eq!(
            out["db_subnet_group_name"],
            json!("shop-dev-db-subnet-group")
        );
        // What checkov's RDS checks read, as AWS has them for the database stackctl creates.
        assert_eq!(out["multi_az"], json!(false));
        assert_eq!(out["deletion_protection"], json!(false));
        assert_eq!(out["iam_database_authentication_enabled"], json!(false));
        assert_eq!(out["auto_minor_version_upgrade"], json!(true));
        assert_eq!(out["copy_tags_to_snapshot"], json!(false));
        assert_eq!(out["monitoring_interval"], json!(0));
        assert_eq!(out["performance_insights_enabled"], json!(false));
        assert_eq!(out["enabled_cloudwatch_logs_exports"], json!([]));
        // stackctl's bookkeeping is not the provider's.
        for key in [
            "status",
            "storage_operation_status",
            "storage_modified_at",
            "pending",
        ] {
            assert!(!out.contains_key(key), "{key}");
        }
    }

    #[test]
    fn a_pending_change_is_left_out() {
        let mut attrs = read_db();
        attrs.insert("pending".into(), json!({"instance_class": "db.t3.small"}));
        let out = translate(&attrs);
        assert!(!out.contains_key("pending"));
        assert_eq!(out["instance_class"], json!("db.t3.micro"));
    }

    fn planned_db() -> Object {
        let inputs = crate::Inputs {
            name_prefix: "shop-dev".into(),
            environment: "dev".into(),
            engine_version: "8.4".into(),
            instance_class: "db.t3.micro".into(),
            allocated_storage: 20,
            max_allocated_storage: 0,
            db_name: "prestashop".into(),
            username: "prestashop".into(),
            password: "DevPassw0rd-123".into(),
            apply_immediately: false,
            multi_az: false,
            deletion_protection: false,
            backup_retention_days: 7,
            performance_insights: false,
            subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
            security_group: Ref::new("module.security.aws_security_group.rds", "id"),
            tags: Tags::stack("shop", "dev"),
        };
        let desired: Attrs = crate::specs(&crate::tests::sdk(), &inputs)[1]
            .desired(&stackctl_testkit::Known::default());
        engine_view(desired)
    }

    #[test]
    fn a_planned_database_marks_what_waits_for_other_resources() {
        let out = translate(&planned_db());
        assert_eq!(out["vpc_security_group_ids"], json!(UNKNOWN));
        assert_eq!(out["db_subnet_group_name"], json!(UNKNOWN));
        assert_eq!(out["password"], json!(SENSITIVE));
        assert!(!J::Object(out.clone()).to_string().contains("DevPassw0rd"));
        assert_eq!(out["port"], json!(3306));
        assert_eq!(out["skip_final_snapshot"], json!(true));
        assert!(!out.contains_key("id") && !out.contains_key("endpoint"));
    }

    /// Attributes that are neither null nor `[]` in Terraform's `after` for
    /// `aws_db_instance.main` in `shared/reference/terraform/plan-from-empty.json` (Terraform
    /// 1.11.4, AWS provider 5.100.0, the stack from an empty account).
    const TERRAFORM_AFTER: &[&str] = &[
        "allocated_storage",
        "apply_immediately",
        "auto_minor_version_upgrade",
        "backup_retention_period",
        "copy_tags_to_snapshot",
        "db_name",
        "db_subnet_group_name",
        "dedicated_log_volume",
        "delete_automated_backups",
        "engine",
        "engine_version",
        "identifier",
        "instance_class",
        "monitoring_interval",
        "password",
        "performance_insights_enabled",
        "publicly_accessible",
        "skip_final_snapshot",
        "storage_encrypted",
        "username",
    ];

    #[test]
    fn a_planned_database_has_every_attribute_terraform_plans() {
        let out = translate(&planned_db());
        let missing: Vec<&str> = TERRAFORM_AFTER
            .iter()
            .copied()
            .filter(|k| !out.contains_key(*k))
            .collect();
        assert!(missing.is_empty(), "{missing:?}");
    }
}
