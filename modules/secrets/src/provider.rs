//! A secret as the AWS provider has it: two resources, the secret (`aws_secretsmanager_secret`)
//! and its current value (`aws_secretsmanager_secret_version`), which stackctl manages in the
//! same calls (see the crate's header).

use serde_json::{json, Value as J};
use stackctl_contract::provider::{self, Object, Part, UNKNOWN};

/// The provider's type of a secret's value.
pub(crate) const VERSION: &str = "aws_secretsmanager_secret_version";

/// The value is a resource of its own in the provider; a change of only `secret_string` is an
/// update of it, not of the secret.
pub(crate) const PARTS: &[Part] = &[Part {
    type_name: VERSION,
    owns: &["secret_string"],
}];

/// `type_name` (the secret's type or [`VERSION`]) from stackctl's attributes of the secret.
pub(crate) fn provider_values(type_name: &str, attrs: &Object) -> Object {
    if type_name == VERSION {
        version(attrs)
    } else {
        secret(attrs)
    }
}

/// The secret, without its value.
fn secret(attrs: &Object) -> Object {
    let mut out = Object::new();
    provider::copy(
        attrs,
        &mut out,
        &["id", "arn", "name", "description", "tags"],
    );
    // stackctl deletes a secret without a recovery window (so that the names can be used again
    // at once): the provider's `recovery_window_in_days = 0`. No replicas to overwrite.
    provider::defaults(
        &mut out,
        &[
            ("recovery_window_in_days", json!(0)),
            ("force_overwrite_replica_secret", json!(false)),
        ],
    );
    out
}

/// The secret's current value: `secret_string` as the engine hands it (sensitive, or unknown
/// when it is made of values not known yet), in the secret named by its ARN.
fn version(attrs: &Object) -> Object {
    let mut out = Object::new();
    let secret_id = attrs
        .get("arn")
        .or_else(|| attrs.get("id"))
        .filter(|v| v.is_string())
        .cloned();
    if let Some(arn) = attrs.get("arn") {
        out.insert("arn".to_owned(), arn.clone());
    }
    out.insert(
        "secret_id".to_owned(),
        secret_id.clone().unwrap_or_else(|| J::from(UNKNOWN)),
    );
    provider::copy(attrs, &mut out, &["secret_string"]);
    // A value not known yet is a new version, whose id AWS gives when it is written.
    let value_unknown = attrs.get("secret_string") == Some(&J::from(UNKNOWN));
    let version_id = if value_unknown {
        Some(J::from(UNKNOWN))
    } else {
        attrs.get("version_id").cloned()
    };
    // A secret read back without a current version (its value removed outside stackctl) has
    // no version to show as the current one.
    if version_id.as_ref().is_some_and(J::is_null) {
        return out;
    }
    if let Some(v) = &version_id {
        out.insert("version_id".to_owned(), v.clone());
    }
    // The provider's id: `<secret ARN>|<version id>`.
    if let (Some(J::String(arn)), Some(J::String(v))) = (&secret_id, &version_id) {
        if arn != UNKNOWN && v != UNKNOWN {
            out.insert("id".to_owned(), J::from(format!("{arn}|{v}")));
        }
    }
    // CreateSecret and PutSecretValue label the version they write as the current one.
    out.insert("version_stages".to_owned(), json!(["AWSCURRENT"]));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
    use aws_sdk_secretsmanager::types::Tag;
    use aws_sdk_secretsmanager::Client;
    use stackctl_contract::provider::SENSITIVE;
    use stackctl_contract::{Instance, Kind, Ref, Tags, Val, Values};

    use super::*;
    use crate::secret::Seen;
    use crate::SecretKind;

    const SECRET: &str = "aws_secretsmanager_secret";
    const ARN: &str =
        "arn:aws:secretsmanager:eu-west-3:123456789012:secret:shop-dev-db-password-AbCdEf";
    const VERSION_ID: &str = "0b1b2a4c-6c2b-4b27-9d5e-3f3e2d9c8a11";

    fn kind() -> SecretKind {
        let sdk = aws_types::SdkConfig::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_types::region::Region::new("eu-west-3"))
            .build();
        SecretKind::new(Client::new(&sdk))
    }

    /// Both of the kind's types from the same attributes, each checked against the schema.
    fn translate(attrs: &Object) -> (Object, Object) {
        let kind = kind();
        assert_eq!(kind.parts(), PARTS);
        let [secret, version] =
            [SECRET, VERSION].map(|t| stackctl_testkit::translated(&kind, t, attrs));
        (secret, version)
    }

    /// What the engine hands a kind: secrets as [`SENSITIVE`], unknown values as [`UNKNOWN`].
    fn engine_view(attrs: impl IntoIterator<Item = (String, Val)>) -> Object {
        stackctl_testkit::engine_view(&kind().sensitive(), attrs)
    }

    /// The secret as a refresh reads it when its current version is the recorded one (no
    /// request: the recorded value stands).
    async fn read_secret() -> Object {
        let described = DescribeSecretOutput::builder()
            .arn(ARN)
            .name("shop-dev-db-password")
            .description("PrestaShop database master password")
            .tags(Tag::builder().key("Project").value("shop").build())
            .set_version_ids_to_stages(Some(HashMap::from([(
                VERSION_ID.to_owned(),
                vec!["AWSCURRENT".to_owned()],
            )])))
            .build();
        let prior = Instance::new(
            ARN,
            Values::from([
                ("version_id".to_owned(), json!(VERSION_ID)),
                ("secret_string".to_owned(), json!("fingerprint:1234")),
            ]),
        );
        let read = kind()
            .instance(&Seen::described(&described), Some(&prior))
            .await
            .unwrap()
            .unwrap();
        engine_view(read.attrs.into_iter().map(|(k, v)| (k, Val::Known(v))))
    }

    #[tokio::test]
    async fn a_read_secret_is_two_resources_and_only_the_version_holds_the_value() {
        let (secret, version) = translate(&read_secret().await);
        assert_eq!(secret["name"], json!("shop-dev-db-password"));
        assert_eq!(secret["arn"], json!(ARN));
        assert_eq!(secret["recovery_window_in_days"], json!(0));
        assert_eq!(secret["tags"], json!({"Project": "shop"}));
        assert!(!secret.contains_key("secret_string"));
        assert_eq!(version["secret_id"], json!(ARN));
        assert_eq!(version["secret_string"], json!(SENSITIVE));
        assert_eq!(version["version_id"], json!(VERSION_ID));
        assert_eq!(version["version_stages"], json!(["AWSCURRENT"]));
        assert_eq!(version["id"], json!(format!("{ARN}|{VERSION_ID}")));
        // The fingerprint the state holds is nowhere.
        let all = J::Array(vec![J::Object(secret), J::Object(version)]).to_string();
        assert!(!all.contains("fingerprint"), "{all}");
    }

    #[test]
    fn a_secret_without_a_current_version_shows_no_version() {
        let attrs = engine_view([
            ("id".to_owned(), Val::from(ARN)),
            ("arn".to_owned(), Val::from(ARN)),
            ("name".to_owned(), Val::from("shop-dev-db-password")),
            ("secret_string".to_owned(), Val::Known(J::Null)),
            ("version_id".to_owned(), Val::Known(J::Null)),
        ]);
        let (_, version) = translate(&attrs);
        assert_eq!(version["secret_id"], json!(ARN));
        assert!(!version.contains_key("version_id") && !version.contains_key("version_stages"));
    }

    /// The module's three secrets as a plan from an empty account has them.
    fn planned_all() -> Vec<Object> {
        let inputs = crate::Inputs {
            project: "shop".into(),
            environment: "dev".into(),
            db_password: "DevPassw0rd-123".into(),
            admin_email: "admin@example.com".into(),
            admin_password: "AdminPassw0rd-456".into(),
            db_username: "prestashop".into(),
            db_name: "prestashop".into(),
            db_host: Ref::new("module.rds.aws_db_instance.main", "address"),
            db_port: Ref::new("module.rds.aws_db_instance.main", "port"),
            tags: Tags::stack("shop", "dev"),
        };
        let sdk = aws_types::SdkConfig::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_types::region::Region::new("eu-west-3"))
            .build();
        crate::specs(&sdk, &inputs)
            .iter()
            .map(|s| engine_view(s.desired(&stackctl_testkit::Known::default())))
            .collect()
    }

    #[test]
    fn a_planned_secret_names_a_secret_not_created_yet() {
        let all = planned_all();
        let (secret, version) = translate(&all[0]);
        assert_eq!(secret["name"], json!("shop-dev-db-password"));
        assert!(!secret.contains_key("arn") && !secret.contains_key("secret_string"));
        assert_eq!(version["secret_id"], json!(UNKNOWN));
        assert_eq!(version["secret_string"], json!(SENSITIVE));
        assert!(!version.contains_key("id") && !version.contains_key("version_id"));
        // The connection settings wait for the database's address: a value not known yet.
        let (_, config) = translate(&all[2]);
        assert_eq!(config["secret_string"], json!(UNKNOWN));
        assert_eq!(config["version_id"], json!(UNKNOWN));
        let all = J::Array(all.into_iter().map(J::Object).collect()).to_string();
        assert!(!all.contains("Passw0rd"), "{all}");
    }

    /// Attributes that are neither null nor `[]` in Terraform's `after` for each type in
    /// `shared/reference/terraform/plan-from-empty.json` (Terraform 1.11.4, AWS provider
    /// 5.100.0, the stack from an empty account; `admin` and `db_password`: `db_config`'s value
    /// is unknown there).
    const TERRAFORM_AFTER_SECRET: &[&str] = &[
        "force_overwrite_replica_secret",
        "name",
        "recovery_window_in_days",
    ];
    const TERRAFORM_AFTER_VERSION: &[&str] = &["secret_string"];

    #[test]
    fn a_planned_secret_has_every_attribute_terraform_plans() {
        let (secret, version) = translate(&planned_all()[0]);
        for (type_name, out, expected) in [
            (SECRET, &secret, TERRAFORM_AFTER_SECRET),
            (VERSION, &version, TERRAFORM_AFTER_VERSION),
        ] {
            let missing: Vec<&str> = expected
                .iter()
                .copied()
                .filter(|k| !out.contains_key(*k))
                .collect();
            assert!(missing.is_empty(), "{type_name}: {missing:?}");
        }
    }
}
