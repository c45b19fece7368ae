//! What the crate's unit tests share: the module's inputs as a stack passes them, and the
//! attributes a kind's `provider_values` is given, planned (with markers for what is not known
//! yet) or read back, as the engine hands them over.

use serde_json::Value as J;
use stackctl_contract::provider::{self, Object};
use stackctl_contract::{Instance, Ref, Resolve, Tags, Val};
use stackctl_testkit::Known;

use crate::{DeployWait, Inputs};

/// The module's inputs for a `shop-dev` stack, every other module's value a reference.
pub(crate) fn inputs() -> Inputs {
    Inputs {
        name_prefix: "shop-dev".into(),
        region: "eu-west-3".into(),
        account_id: "123456789012".into(),
        partition: "aws".into(),
        tags: Tags::stack("shop", "dev"),
        log_retention_days: 7,
        cpu: "512".into(),
        memory: "1024".into(),
        desired_count: 2,
        image: "prestashop/prestashop:8".into(),
        db_name: "prestashop".into(),
        db_user: "admin".into(),
        db_host: Ref::new("module.rds.aws_db_instance.main", "address"),
        alb_dns_name: Ref::new("module.alb.aws_lb.main", "dns_name"),
        db_password_secret_arn: Ref::new("module.secrets.a", "arn"),
        admin_credentials_secret_arn: Ref::new("module.secrets.b", "arn"),
        efs_file_system_id: Ref::new("module.efs.aws_efs_file_system.main", "id"),
        subnet_ids: vec!["subnet-b".into(), "subnet-a".into()],
        security_group: Ref::new("module.security.aws_security_group.ecs", "id"),
        target_group_arn: Ref::new("module.alb.aws_lb_target_group.main", "arn"),
        wait_for: vec!["module.alb.aws_lb_listener.http".into()],
        wait: DeployWait::default(),
        targets: None,
    }
}

/// An SDK configuration that is never used to send anything.
pub(crate) fn offline_sdk() -> aws_types::SdkConfig {
    aws_types::SdkConfig::builder()
        .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
        .build()
}

/// The other resources' attributes `(address, attribute, value)` a plan knows; any other
/// reference is unknown.
pub(crate) fn resolved(known: &[(&str, &str, J)]) -> Known {
    let mut k = Known::default();
    for (address, attr, value) in known {
        k.set(address, attr, value.clone());
    }
    k
}

/// The desired attributes of the module's resource `address`, as the engine hands a plan's
/// to `provider_values`: a value not known yet as [`provider::UNKNOWN`].
pub(crate) fn planned(address: &str, known: &dyn Resolve) -> Object {
    let specs = crate::specs(&offline_sdk(), &inputs());
    let spec = specs
        .iter()
        .find(|s| s.address == address)
        .unwrap_or_else(|| panic!("no spec for {address}"));
    spec.desired(known)
        .into_iter()
        .map(|(k, v)| match v {
            Val::Known(v) => (k, v),
            Val::Unknown => (k, J::from(provider::UNKNOWN)),
        })
        .collect()
}

/// A read-back instance's attributes as the engine hands a state's to `provider_values`: with
/// `id`, the instance's id.
pub(crate) fn known_object(inst: &Instance) -> Object {
    let mut o: Object = inst
        .attrs
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    o.insert("id".into(), J::from(inst.id.as_str()));
    o
}

/// Every one of `terraform`'s keys (the attributes Terraform's own plan of this stack gives
/// the type, neither null nor `[]`) is in `ours`, set, but the `exceptions`, which must really
/// be absent (each is explained where it is listed).
pub(crate) fn assert_covers(ours: &Object, terraform: &[&str], exceptions: &[&str]) {
    for key in terraform {
        if exceptions.contains(key) {
            assert!(
                ours.get(*key).is_none_or(J::is_null),
                "`{key}` is listed as an exception but is there: {ours:?}"
            );
        } else {
            assert!(
                ours.get(*key).is_some_and(|v| !v.is_null()),
                "`{key}`, in Terraform's plan, is missing from {ours:?}"
            );
        }
    }
}
