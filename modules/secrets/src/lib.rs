//! The secrets module: the Secrets Manager secrets the PrestaShop tasks read at start-up.
//!
//! One kind manages a secret and its current value together, in the same calls: the stack only
//! ever needs the current value, and a separate version resource would have no identity of its
//! own to adopt or delete. Terraform's JSON (`show -json`, `plan -json`) shows them as the AWS
//! provider does, as two resources at the secret's address: the secret
//! (`aws_secretsmanager_secret`) and its value, a part of the kind
//! (`aws_secretsmanager_secret_version`, which owns `secret_string`: a new value is an update
//! of the version only). See `provider.rs`.

mod provider;
mod secret;

use std::sync::Arc;

use aws_sdk_secretsmanager::Client;
use serde_json::{json, Value as J};
use stackctl_contract::{Kind, Planned, Ref, ResourceSpec, Tags, Val, ValueFn};

pub use secret::{SecretArgs, SecretKind};

pub const DB_PASSWORD: &str = "module.secrets.aws_secretsmanager_secret.db_password";
pub const ADMIN_CREDENTIALS: &str = "module.secrets.aws_secretsmanager_secret.admin_credentials";
pub const DB_CONFIG: &str = "module.secrets.aws_secretsmanager_secret.db_config";

/// What the module needs from the root: Terraform's module variables.
pub struct Inputs {
    pub project: String,
    pub environment: String,
    pub db_password: String,
    pub admin_email: String,
    pub admin_password: String,
    pub db_username: String,
    pub db_name: String,
    /// The database's host name: the rds module's instance `address`.
    pub db_host: Ref,
    /// The database's port: the rds module's instance `port`.
    pub db_port: Ref,
    pub tags: Tags,
}

/// The module's one kind, built here only so that `kinds` and `specs` hand out the same.
fn module_kind(sdk: &aws_types::SdkConfig) -> Arc<dyn Kind> {
    Arc::new(SecretKind::new(Client::new(sdk)))
}

/// The kinds this module implements, for the engine's registry.
pub fn kinds(sdk: &aws_types::SdkConfig) -> Vec<Arc<dyn Kind>> {
    vec![module_kind(sdk)]
}

/// The database password, the shop administrator's credentials, and the database connection
/// settings (known only once the database exists).
pub fn specs(sdk: &aws_types::SdkConfig, inputs: &Inputs) -> Vec<ResourceSpec> {
    let kind = module_kind(sdk);
    let prefix = format!("{}-{}", inputs.project, inputs.environment);
    let secret = |address: &str, suffix: &str, description: &str, value: Box<ValueFn>| {
        let name = format!("{prefix}-{suffix}");
        let description = description.to_owned();
        let tags = inputs.tags.to_json();
        ResourceSpec::new(address, kind.clone(), move |r| {
            SecretArgs::<Planned> {
                name: name.clone().into(),
                description: description.clone().into(),
                secret_string: value(r),
                tags: tags.clone().into(),
            }
            .into()
        })
    };

    let db_password = inputs.db_password.clone();
    // json! builds a sorted map, so the string (and its fingerprint) is the same every run.
    let admin = json!({
        "admin_email": inputs.admin_email,
        "admin_password": inputs.admin_password,
    })
    .to_string();
    let (host, port) = (inputs.db_host.clone(), inputs.db_port.clone());
    let (username, password, dbname) = (
        inputs.db_username.clone(),
        inputs.db_password.clone(),
        inputs.db_name.clone(),
    );

    vec![
        secret(
            DB_PASSWORD,
            "db-password",
            "PrestaShop database master password",
            Box::new(move |_| Val::from(db_password.clone())),
        ),
        secret(
            ADMIN_CREDENTIALS,
            "admin-credentials",
            "PrestaShop back-office administrator credentials",
            Box::new(move |_| Val::from(admin.clone())),
        ),
        secret(
            DB_CONFIG,
            "db-config",
            "PrestaShop database connection settings",
            Box::new(move |r| {
                Val::all([&host.get(r), &port.get(r)], |[host, port]| {
                    J::from(
                        json!({
                            "dbname": dbname,
                            "host": host,
                            "password": password,
                            "port": as_number(port),
                            "username": username,
                        })
                        .to_string(),
                    )
                })
            }),
        ),
    ]
}

/// A port as a JSON number, whether the database reported it as a number or a string.
fn as_number(v: &J) -> J {
    match v.as_str().and_then(|s| s.parse::<i64>().ok()) {
        Some(n) => J::from(n),
        None => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_strings_become_numbers() {
        assert_eq!(as_number(&json!("3306")), json!(3306));
        assert_eq!(as_number(&json!(3306)), json!(3306));
    }
}
