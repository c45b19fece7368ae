//! The secrets module: the Secrets Manager secrets the PrestaShop tasks read at start-up.
//!
//! One kind manages a secret and its current value together (Terraform's `aws_secretsmanager_secret`
//! and `aws_secretsmanager_secret_version` merged): the stack only ever needs the current value,
//! and a separate version resource would have no identity of its own to adopt or delete.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::Tag;
use aws_sdk_secretsmanager::Client;
use serde_json::{json, Value as J};
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    aws_error, Absent, Attrs, Field, Flag, Instance, Kind, Ref, Resolve, ResourceError,
    ResourceSpec, Tags, Val, Values, ValuesExt,
};

pub const DB_PASSWORD: &str = "module.secrets.aws_secretsmanager_secret.db_password";
pub const ADMIN_CREDENTIALS: &str = "module.secrets.aws_secretsmanager_secret.admin_credentials";
pub const DB_CONFIG: &str = "module.secrets.aws_secretsmanager_secret.db_config";

const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

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

/// The kinds this module implements, for the engine's registry.
pub fn kinds(sdk: &aws_types::SdkConfig) -> Vec<Arc<dyn Kind>> {
    vec![Arc::new(SecretKind {
        sm: Client::new(sdk),
    })]
}

/// The database password, the shop administrator's credentials, and the database connection
/// settings (known only once the database exists).
pub fn specs(sdk: &aws_types::SdkConfig, inputs: &Inputs) -> Vec<ResourceSpec> {
    let kind: Arc<dyn Kind> = Arc::new(SecretKind {
        sm: Client::new(sdk),
    });
    let prefix = format!("{}-{}", inputs.project, inputs.environment);
    let secret = |address: &str,
                  suffix: &str,
                  description: &str,
                  value: Box<dyn Fn(&dyn Resolve) -> Val + Send + Sync>| {
        let name = format!("{prefix}-{suffix}");
        let description = description.to_owned();
        let tags = inputs.tags.to_json();
        ResourceSpec::new(address, kind.clone(), move |r| {
            Attrs::from([
                ("name".to_owned(), Val::from(name.clone())),
                ("description".to_owned(), Val::from(description.clone())),
                ("secret_string".to_owned(), value(r)),
                ("tags".to_owned(), Val::from(tags.clone())),
            ])
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

/// `aws_secretsmanager_secret`: a secret and its current string value.
pub struct SecretKind {
    sm: Client,
}

#[async_trait]
impl Kind for SecretKind {
    fn type_name(&self) -> &'static str {
        "aws_secretsmanager_secret"
    }

    fn fields(&self) -> &'static [Field] {
        &[
            Field {
                name: "name",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "secret_string",
                flags: &[Flag::Sensitive],
            },
        ]
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        match self.describe_live(&prior.id).await? {
            Some(d) => self.instance(&d, Some(prior)).await,
            None => Ok(None),
        }
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        match self.describe_live(desired.get_str("name")?).await? {
            Some(d) => self.instance(&d, None).await,
            None => Ok(None),
        }
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let name = desired.get_str("name")?;
        let tags = Tags::from_json(desired.get("tags"));
        // A destroy force-deletes, but AWS releases the name asynchronously, and a secret
        // deleted by hand waits out its recovery window: restore such a secret and reuse it,
        // and wait for a name that is still being released.
        let outcome = wait::until(
            &format!("secret name {name} to be free"),
            Backoff::standard(Duration::from_secs(180)),
            || async {
                let out = self
                    .sm
                    .create_secret()
                    .name(name)
                    .description(desired.get_str("description")?)
                    .secret_string(desired.get_str("secret_string")?)
                    .set_tags(sm_tags(&tags.0))
                    .send()
                    .await;
                let e = match out {
                    Ok(out) => {
                        return Ok(Poll::Ready(Created::New(
                            out.arn().unwrap_or(name).to_owned(),
                            out.version_id().map(str::to_owned),
                        )))
                    }
                    Err(e) => aws_error("CreateSecret", e),
                };
                if !name_taken(&e) {
                    return Err(e);
                }
                let Some(existing) = self.describe_any(name).await? else {
                    return Ok(Poll::Pending("a deleted secret still holds the name".into()));
                };
                if existing.deleted_date().is_none() {
                    return Err(e.with_hint(
                        "a secret with this name exists but stackctl's state does not know it: delete it (aws secretsmanager delete-secret --force-delete-without-recovery --secret-id NAME) or pick another project_name/environment, then run apply again",
                    ));
                }
                let arn = existing.arn().unwrap_or(name).to_owned();
                match self.sm.restore_secret().secret_id(&arn).send().await {
                    Ok(_) => Ok(Poll::Ready(Created::Restored(arn))),
                    Err(re) => {
                        let re = aws_error("RestoreSecret", re);
                        // Force-deleted a moment ago: it cannot come back, the name frees soon.
                        if re.is(&["InvalidRequestException"]) || re.is(NOT_FOUND) {
                            Ok(Poll::Pending("a deleted secret still holds the name".into()))
                        } else {
                            Err(re)
                        }
                    }
                }
            },
        )
        .await?;
        match outcome {
            Created::New(arn, version) => {
                let put = version.map(|v| known(&v, desired.get("secret_string")));
                self.read_back(&arn, put.as_ref()).await
            }
            Created::Restored(arn) => {
                tracing::info!(name, "reusing the secret scheduled for deletion");
                let live = self.read_back(&arn, None).await?;
                let changed: Vec<String> = ["description", "secret_string", "tags"]
                    .iter()
                    .filter(|k| live.attrs.get(**k) != desired.get(**k))
                    .map(|k| (*k).to_owned())
                    .collect();
                self.update(&live, desired, &changed).await
            }
        }
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let id = prior.id.as_str();
        // The value and version the secret has after this update, so the read-back need not
        // fetch the value again.
        let mut current = Some(prior.clone());
        if changed.iter().any(|c| c == "secret_string") {
            let out = self
                .sm
                .put_secret_value()
                .secret_id(id)
                .secret_string(desired.get_str("secret_string")?)
                .send()
                .await
                .map_err(|e| aws_error("PutSecretValue", e))?;
            current = out
                .version_id()
                .map(|v| known(v, desired.get("secret_string")));
        }
        if changed.iter().any(|c| c == "description") {
            self.sm
                .update_secret()
                .secret_id(id)
                .description(desired.get_str("description")?)
                .send()
                .await
                .map_err(|e| aws_error("UpdateSecret", e))?;
        }
        if changed.iter().any(|c| c == "tags") {
            let have = Tags::from_json(prior.attrs.get("tags"));
            let (set, remove) = have.delta(&Tags::from_json(desired.get("tags")));
            if !set.is_empty() {
                self.sm
                    .tag_resource()
                    .secret_id(id)
                    .set_tags(sm_tags(&set))
                    .send()
                    .await
                    .map_err(|e| aws_error("TagResource", e))?;
            }
            if !remove.is_empty() {
                self.sm
                    .untag_resource()
                    .secret_id(id)
                    .set_tag_keys(Some(remove))
                    .send()
                    .await
                    .map_err(|e| aws_error("UntagResource", e))?;
            }
        }
        self.read_back(id, current.as_ref()).await
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        // Without a recovery window, so that applying the stack again can use the same names.
        self.sm
            .delete_secret()
            .secret_id(&prior.id)
            .force_delete_without_recovery(true)
            .send()
            .await
            .map_err(|e| aws_error("DeleteSecret", e))
            .absent_if(NOT_FOUND)?;
        Ok(())
    }
}

/// How `create` got its secret.
enum Created {
    /// A new secret: its ARN and the version id of the value it was made with.
    New(String, Option<String>),
    /// A secret scheduled for deletion under the same name, brought back.
    Restored(String),
}

/// Whether CreateSecret failed because the name is held: by a live secret (ResourceExists) or
/// by one scheduled for deletion (InvalidRequest, which AWS also uses for unrelated mistakes).
fn name_taken(e: &ResourceError) -> bool {
    e.is(&["ResourceExistsException"])
        || (e.is(&["InvalidRequestException"]) && e.message.to_lowercase().contains("delet"))
}

impl SecretKind {
    /// The secret by ARN or name, including one scheduled for deletion; `None` if there is none.
    async fn describe_any(&self, id: &str) -> Result<Option<DescribeSecretOutput>, ResourceError> {
        self.sm
            .describe_secret()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| aws_error("DescribeSecret", e))
            .absent_if(NOT_FOUND)
    }

    /// The secret unless it is gone or scheduled for deletion (as good as gone for the stack).
    async fn describe_live(&self, id: &str) -> Result<Option<DescribeSecretOutput>, ResourceError> {
        Ok(self
            .describe_any(id)
            .await?
            .filter(|d| d.deleted_date().is_none()))
    }

    /// The secret as the state keeps it. Its value is fetched only when the current version
    /// is not the one `prior` recorded (set outside stackctl, or never recorded): the value of
    /// a version never changes, so the recorded fingerprint still stands, and a refresh costs
    /// one `DescribeSecret` per secret instead of two requests.
    async fn instance(
        &self,
        d: &DescribeSecretOutput,
        prior: Option<&Instance>,
    ) -> Result<Option<Instance>, ResourceError> {
        let arn = d.arn().unwrap_or_default();
        let current = d.version_ids_to_stages().and_then(|versions| {
            versions
                .iter()
                .find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
                .map(|(v, _)| v.clone())
        });
        let recorded = prior.and_then(|p| {
            let version = p.attrs.get("version_id").and_then(J::as_str)?;
            let value = p.attrs.get("secret_string").filter(|v| v.is_string())?;
            Some((version, value))
        });
        let (version, value) = match (current, recorded) {
            (Some(current), Some((version, value))) if current == version => {
                (J::from(current), value.clone())
            }
            _ => match self.sm.get_secret_value().secret_id(arn).send().await {
                Ok(v) => (
                    v.version_id().map_or(J::Null, J::from),
                    v.secret_string().map_or(J::Null, J::from),
                ),
                Err(e) => {
                    let e = aws_error("GetSecretValue", e);
                    if e.is(NOT_FOUND) {
                        // A secret without a current version: the value shows as a change.
                        (J::Null, J::Null)
                    } else if e.is(&["InvalidRequestException"]) {
                        // Marked for deletion since the describe.
                        return Ok(None);
                    } else {
                        return Err(e);
                    }
                }
            },
        };
        let tags = Tags::from_pairs(d.tags().iter().map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        }));
        Ok(Some(Instance::new(
            arn,
            Values::from([
                ("id".to_owned(), J::from(arn)),
                ("arn".to_owned(), J::from(arn)),
                ("name".to_owned(), J::from(d.name().unwrap_or_default())),
                (
                    "description".to_owned(),
                    J::from(d.description().unwrap_or_default()),
                ),
                ("secret_string".to_owned(), value),
                ("version_id".to_owned(), version),
                ("tags".to_owned(), tags.to_json()),
            ]),
        )))
    }

    /// The secret right after a change; `current`: its version and value, when the change
    /// told them, so that only `DescribeSecret` is needed.
    async fn read_back(
        &self,
        id: &str,
        current: Option<&Instance>,
    ) -> Result<Instance, ResourceError> {
        let live = match self.describe_live(id).await? {
            Some(d) => self.instance(&d, current).await?,
            None => None,
        };
        live.ok_or_else(|| {
            ResourceError::new(
                "DescribeSecret",
                format!("secret {id} vanished right after it was changed"),
            )
            .retryable()
        })
    }
}

/// What a secret holds after a write that AWS answered with version `version`: the value
/// written (the engine fingerprints it before it is stored).
fn known(version: &str, value: Option<&J>) -> Instance {
    let mut attrs = Values::from([("version_id".to_owned(), J::from(version))]);
    if let Some(v) = value {
        attrs.insert("secret_string".to_owned(), v.clone());
    }
    Instance::new("", attrs)
}

/// Tags for a request; `None` when there are none.
fn sm_tags(tags: &BTreeMap<String, String>) -> Option<Vec<Tag>> {
    if tags.is_empty() {
        return None;
    }
    Some(
        tags.iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_strings_become_numbers() {
        assert_eq!(as_number(&json!("3306")), json!(3306));
        assert_eq!(as_number(&json!(3306)), json!(3306));
    }

    #[test]
    fn only_deletion_conflicts_count_as_a_taken_name() {
        let scheduled = ResourceError::new(
            "CreateSecret",
            "You can't create this secret because a secret with this name is already scheduled for deletion.",
        )
        .with_code("InvalidRequestException");
        assert!(name_taken(&scheduled));
        let other =
            ResourceError::new("CreateSecret", "bad KMS key").with_code("InvalidRequestException");
        assert!(!name_taken(&other));
        assert!(name_taken(
            &ResourceError::new("CreateSecret", "exists").with_code("ResourceExistsException")
        ));
    }
}
