//! `aws_secretsmanager_secret`: a Secrets Manager secret with its current string value.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, SecretListEntry, Tag};
use aws_sdk_secretsmanager::Client;
use serde_json::Value as J;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    args, aws_error, provider, Absent, Args, Changed, Field, Instance, Kind, Prior, ResourceError,
    TagApi, Tags, Values,
};

const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

args! {
    /// `aws_secretsmanager_secret`'s arguments.
    pub struct SecretArgs {
        [ForceNew] name: String,
        description: String,
        /// The current value. The engine stores and shows only its fingerprint, so the kind
        /// sees either the clear value or the prior fingerprint; null when the secret has no
        /// current version.
        [Sensitive] secret_string: Option<String>,
        tags: Tags,
    }
}

/// `aws_secretsmanager_secret`: a secret and its current string value.
pub struct SecretKind {
    sm: Client,
}

impl SecretKind {
    pub fn new(sm: Client) -> Self {
        SecretKind { sm }
    }
}

#[async_trait]
impl Kind for SecretKind {
    fn type_name(&self) -> &'static str {
        "aws_secretsmanager_secret"
    }

    fn fields(&self) -> &'static [Field] {
        SecretArgs::FIELDS
    }

    fn parts(&self) -> &'static [provider::Part] {
        crate::provider::PARTS
    }

    fn provider_values(&self, type_name: &str, attrs: &provider::Object) -> provider::Object {
        crate::provider::provider_values(type_name, attrs)
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        match self.describe_live(&prior.id).await? {
            Some(d) => self.instance(&Seen::described(&d), Some(prior)).await,
            None => Ok(None),
        }
    }

    /// Plan's refresh: one `ListSecrets` for the stack's secrets (filtered by their names and
    /// this stack's project tag) instead of a `DescribeSecret` each. ListSecrets may not show
    /// the changes of the last five minutes (AWS's API reference), so a secret it leaves out,
    /// or shows otherwise than the state recorded it, is described on its own: a deletion,
    /// drift and stackctl's own recent writes are read as `DescribeSecret` reads them; only a
    /// change made by hand minutes ago may wait for the next plan to show.
    async fn read_many(
        &self,
        priors: &[Prior<'_>],
    ) -> Result<Vec<Option<Instance>>, ResourceError> {
        let names: Vec<String> = priors
            .iter()
            .filter_map(|p| p.instance.attrs.get("name").and_then(J::as_str))
            .map(str::to_owned)
            .collect();
        // ListSecrets takes at most 10 names; one secret is one request either way.
        let listed = if priors.len() > 1 && names.len() == priors.len() && names.len() <= 10 {
            self.list(names).await?
        } else {
            HashMap::new()
        };
        // Those the list cannot answer for are described one after the other: on a plan with
        // no change there are none.
        let mut live = Vec::with_capacity(priors.len());
        for p in priors {
            let same = match listed.get(&p.instance.id) {
                Some(entry) => self.as_recorded(entry, p.instance).await?,
                None => None,
            };
            live.push(match same {
                Some(same) => Some(same),
                None => self.read(p.instance).await?,
            });
        }
        Ok(live)
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        match self
            .describe_live(&SecretArgs::from_values(desired)?.name)
            .await?
        {
            Some(d) => self.instance(&Seen::described(&d), None).await,
            None => Ok(None),
        }
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = SecretArgs::from_values(desired)?;
        let name = d.name.as_str();
        let value = secret_string(&d)?;
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
                    .description(&d.description)
                    .secret_string(value)
                    .set_tags(sm_tags(&d.tags.0))
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
                let put = version.map(|v| known(&v, value));
                self.read_back(&arn, put.as_ref()).await
            }
            Created::Restored(arn) => {
                tracing::info!(name, "reusing the secret scheduled for deletion");
                let live = self.read_back(&arn, None).await?;
                // The name is the one it was restored by: only the other arguments can differ.
                let changed: Vec<String> = SecretArgs::FIELDS
                    .iter()
                    .filter(|f| live.attrs.get(f.name) != desired.get(f.name))
                    .map(|f| f.name.to_owned())
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
        let d = SecretArgs::from_values(desired)?;
        let changed = SecretArgs::<Changed>::from_names(changed);
        let id = prior.id.as_str();
        // The value and version the secret has after this update, so the read-back need not
        // fetch the value again.
        let mut current = Some(prior.clone());
        if changed.secret_string {
            let value = secret_string(&d)?;
            let out = self
                .sm
                .put_secret_value()
                .secret_id(id)
                .secret_string(value)
                .send()
                .await
                .map_err(|e| aws_error("PutSecretValue", e))?;
            current = out.version_id().map(|v| known(v, value));
        }
        if changed.description {
            self.sm
                .update_secret()
                .secret_id(id)
                .description(&d.description)
                .send()
                .await
                .map_err(|e| aws_error("UpdateSecret", e))?;
        }
        if changed.tags {
            SmTagging(&self.sm)
                .sync_tags(id, &prior.tags(), &d.tags)
                .await?;
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

/// The value to write: a spec always has one (a secret without a value only reads back so).
fn secret_string(d: &SecretArgs) -> Result<&str, ResourceError> {
    stackctl_contract::args::required("secret_string", &d.secret_string).map(String::as_str)
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
    pub(crate) async fn instance(
        &self,
        d: &Seen<'_>,
        prior: Option<&Instance>,
    ) -> Result<Option<Instance>, ResourceError> {
        let arn = d.arn;
        let current = d.current();
        // `prior` may be only what a write told (see `known`), so it is read key by key.
        let recorded = prior.and_then(|p| {
            let version = p.attrs.get(VERSION_ID).and_then(J::as_str)?;
            let value = p.attrs.get("secret_string").and_then(J::as_str)?;
            Some((version, value))
        });
        let (version, value) = match (current, recorded) {
            (Some(current), Some((version, value))) if current == version => {
                (Some(current), Some(value.to_owned()))
            }
            _ => match self.sm.get_secret_value().secret_id(arn).send().await {
                Ok(v) => (
                    v.version_id().map(str::to_owned),
                    v.secret_string().map(str::to_owned),
                ),
                Err(e) => {
                    let e = aws_error("GetSecretValue", e);
                    if e.is(NOT_FOUND) {
                        // A secret without a current version: the value shows as a change.
                        (None, None)
                    } else if e.is(&["InvalidRequestException"]) {
                        // Marked for deletion since the describe.
                        return Ok(None);
                    } else {
                        return Err(e);
                    }
                }
            },
        };
        let mut attrs = SecretArgs {
            name: d.name.to_owned(),
            description: d.description.to_owned(),
            secret_string: value,
            tags: Tags::from_sdk(d.tags.iter().map(|t| (t.key(), t.value()))),
        }
        .to_values();
        attrs.insert("id".to_owned(), J::from(arn));
        attrs.insert("arn".to_owned(), J::from(arn));
        attrs.insert(VERSION_ID.to_owned(), version.map_or(J::Null, J::from));
        Ok(Some(Instance::new(arn, attrs)))
    }

    /// The secret right after a change; `current`: its version and value, when the change
    /// told them, so that only `DescribeSecret` is needed.
    async fn read_back(
        &self,
        id: &str,
        current: Option<&Instance>,
    ) -> Result<Instance, ResourceError> {
        let live = match self.describe_live(id).await? {
            Some(d) => self.instance(&Seen::described(&d), current).await?,
            None => None,
        };
        live.ok_or_else(|| ResourceError::vanished("DescribeSecret", &format!("secret {id}")))
    }
}

impl SecretKind {
    /// The live secrets among those named `names` (each a prefix to ListSecrets) that carry
    /// this stack's project tag, by ARN. Others that match are skipped unread.
    async fn list(
        &self,
        names: Vec<String>,
    ) -> Result<HashMap<String, SecretListEntry>, ResourceError> {
        let filters = vec![
            Filter::builder()
                .key(FilterNameStringType::Name)
                .set_values(Some(names))
                .build(),
            Filter::builder()
                .key(FilterNameStringType::TagKey)
                .values(stackctl_contract::tags::PROJECT)
                .build(),
        ];
        let mut found = HashMap::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .sm
                .list_secrets()
                .set_filters(Some(filters.clone()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws_error("ListSecrets", e))?;
            for entry in out.secret_list() {
                if let Some(arn) = entry.arn() {
                    found.insert(arn.to_owned(), entry.clone());
                }
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(found),
            }
        }
    }

    /// The secret as `entry` lists it, if that is exactly what the state recorded (`prior`),
    /// the current version included; `None` otherwise (it changed, or the list is behind).
    async fn as_recorded(
        &self,
        entry: &SecretListEntry,
        prior: &Instance,
    ) -> Result<Option<Instance>, ResourceError> {
        let seen = Seen::listed(entry);
        let recorded = prior.attrs.get(VERSION_ID).and_then(J::as_str);
        if seen.deleted || seen.current().as_deref() != recorded || recorded.is_none() {
            return Ok(None);
        }
        // The same version: `instance` takes the recorded value without a request.
        Ok(self
            .instance(&seen, Some(prior))
            .await?
            .filter(|live| live.id == prior.id && live.attrs == prior.attrs))
    }
}

/// What DescribeSecret or a ListSecrets entry says of a secret: the same fields, named
/// differently.
pub(crate) struct Seen<'a> {
    arn: &'a str,
    name: &'a str,
    description: &'a str,
    tags: &'a [Tag],
    versions: Option<&'a HashMap<String, Vec<String>>>,
    deleted: bool,
}

impl<'a> Seen<'a> {
    pub(crate) fn described(d: &'a DescribeSecretOutput) -> Self {
        Seen {
            arn: d.arn().unwrap_or_default(),
            name: d.name().unwrap_or_default(),
            description: d.description().unwrap_or_default(),
            tags: d.tags(),
            versions: d.version_ids_to_stages(),
            deleted: d.deleted_date().is_some(),
        }
    }

    fn listed(e: &'a SecretListEntry) -> Self {
        Seen {
            arn: e.arn().unwrap_or_default(),
            name: e.name().unwrap_or_default(),
            description: e.description().unwrap_or_default(),
            tags: e.tags(),
            versions: e.secret_versions_to_stages(),
            deleted: e.deleted_date().is_some(),
        }
    }

    /// The id of the version labelled AWSCURRENT.
    fn current(&self) -> Option<String> {
        self.versions.and_then(|versions| {
            versions
                .iter()
                .find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
                .map(|(v, _)| v.clone())
        })
    }
}

/// The computed attribute holding the id of the secret's current version.
const VERSION_ID: &str = "version_id";

/// What a secret holds after a write that AWS answered with version `version`: the value
/// written (the engine fingerprints it before it is stored).
fn known(version: &str, value: &str) -> Instance {
    Instance::new(
        "",
        Values::from([
            (VERSION_ID.to_owned(), J::from(version)),
            ("secret_string".to_owned(), J::from(value)),
        ]),
    )
}

/// Secrets Manager's tag calls, for the secret (named by id).
struct SmTagging<'a>(&'a Client);

impl TagApi for SmTagging<'_> {
    async fn tag(&self, id: &str, set: BTreeMap<String, String>) -> Result<(), ResourceError> {
        self.0
            .tag_resource()
            .secret_id(id)
            .set_tags(sm_tags(&set))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("TagResource", e))
    }

    async fn untag(&self, id: &str, keys: Vec<String>) -> Result<(), ResourceError> {
        self.0
            .untag_resource()
            .secret_id(id)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("UntagResource", e))
    }
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
