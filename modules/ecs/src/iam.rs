//! The IAM roles of the tasks, the managed policy attached to one and its inline policy.
//!
//! IAM answers policy documents URL-encoded; they are decoded and parsed so that they compare
//! equal, as JSON values, to the documents in the desired attributes.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_iam::types::{Role, Tag};
use aws_sdk_iam::Client;
use serde_json::Value as J;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    aws_error, Absent, Field, Flag, Instance, Kind, ResourceError, Tags, Values, ValuesExt,
};

const NO_SUCH_ENTITY: &[&str] = &["NoSuchEntity"];

/// IAM is eventually consistent: what was just created may not be readable for a few seconds.
const PROPAGATION: Duration = Duration::from_secs(120);

/// Decode `%XX` escapes (RFC 3986, as IAM encodes documents); anything else is kept as is.
pub(crate) fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex);
            let lo = bytes.get(i + 2).copied().and_then(hex);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// A policy document as IAM returns it, as JSON; a document that does not parse is kept as a
/// string so the difference still shows.
pub(crate) fn policy_json(encoded: &str) -> J {
    let decoded = percent_decode(encoded);
    serde_json::from_str(&decoded).unwrap_or(J::String(decoded))
}

fn document(desired: &Values, key: &str) -> Result<String, ResourceError> {
    match desired.get(key) {
        Some(J::String(s)) => Ok(s.clone()),
        Some(v @ J::Object(_)) => Ok(v.to_string()),
        _ => Err(ResourceError::internal(format!(
            "attribute `{key}` is missing or not a policy document"
        ))),
    }
}

fn iam_tags(tags: &Tags) -> Result<Option<Vec<Tag>>, ResourceError> {
    if tags.0.is_empty() {
        return Ok(None);
    }
    tags.0
        .iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| ResourceError::internal(format!("IAM tag {k}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Poll `read` until it finds what was just created, riding out IAM's propagation delay.
async fn until_visible<F, Fut>(what: &str, read: F) -> Result<Instance, ResourceError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<Instance>, ResourceError>>,
{
    let mut read = read;
    wait::until(what, Backoff::standard(PROPAGATION), || {
        let fut = read();
        async move {
            Ok(match fut.await? {
                Some(i) => Poll::Ready(i),
                None => Poll::Pending("not yet visible".into()),
            })
        }
    })
    .await
}

/// `aws_iam_role`, identified by its name.
pub struct RoleKind {
    iam: Client,
}

impl RoleKind {
    pub fn new(iam: Client) -> Self {
        RoleKind { iam }
    }

    async fn read_name(&self, name: &str) -> Result<Option<Instance>, ResourceError> {
        self.iam
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(|e| aws_error("GetRole", e))
            .absent_if(NO_SUCH_ENTITY)
            .map(|o| o.and_then(|out| out.role().map(role_instance)))
    }

    async fn attached_policies(&self, name: &str) -> Result<Vec<String>, ResourceError> {
        let mut arns = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .iam
                .list_attached_role_policies()
                .role_name(name)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| aws_error("ListAttachedRolePolicies", e))?;
            arns.extend(
                out.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_owned)),
            );
            match (out.is_truncated(), out.marker()) {
                (true, Some(m)) => marker = Some(m.to_owned()),
                _ => return Ok(arns),
            }
        }
    }

    async fn inline_policies(&self, name: &str) -> Result<Vec<String>, ResourceError> {
        let mut names = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .iam
                .list_role_policies()
                .role_name(name)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| aws_error("ListRolePolicies", e))?;
            names.extend(out.policy_names().iter().cloned());
            match (out.is_truncated(), out.marker()) {
                (true, Some(m)) => marker = Some(m.to_owned()),
                _ => return Ok(names),
            }
        }
    }

    /// Detach and delete every policy still on the role: IAM refuses to delete a role that has
    /// any (DeleteConflict), and one attached by hand must not block a destroy.
    async fn strip_policies(&self, name: &str) -> Result<(), ResourceError> {
        for arn in self.attached_policies(name).await? {
            self.iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(&arn)
                .send()
                .await
                .map_err(|e| aws_error("DetachRolePolicy", e))
                .absent_if(NO_SUCH_ENTITY)?;
        }
        for policy in self.inline_policies(name).await? {
            self.iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(&policy)
                .send()
                .await
                .map_err(|e| aws_error("DeleteRolePolicy", e))
                .absent_if(NO_SUCH_ENTITY)?;
        }
        Ok(())
    }
}

fn role_instance(role: &Role) -> Instance {
    let tags = Tags::from_pairs(
        role.tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned())),
    );
    let policy = role
        .assume_role_policy_document()
        .map(policy_json)
        .unwrap_or(J::Null);
    Instance::new(
        role.role_name(),
        Values::from([
            ("id".to_owned(), J::from(role.role_name())),
            ("name".to_owned(), J::from(role.role_name())),
            ("arn".to_owned(), J::from(role.arn())),
            ("assume_role_policy".to_owned(), policy),
            ("tags".to_owned(), tags.to_json()),
        ]),
    )
}

#[async_trait]
impl Kind for RoleKind {
    fn type_name(&self) -> &'static str {
        "aws_iam_role"
    }

    fn fields(&self) -> &'static [Field] {
        &[Field {
            name: "name",
            flags: &[Flag::ForceNew],
        }]
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        self.read_name(&prior.id).await
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        self.read_name(desired.get_str("name")?).await
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let name = desired.get_str("name")?;
        self.iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(document(desired, "assume_role_policy")?)
            .set_tags(iam_tags(&Tags::from_json(desired.get("tags")))?)
            .send()
            .await
            .map_err(|e| aws_error("CreateRole", e))?;
        until_visible(&format!("IAM role {name}"), || self.read_name(name)).await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let name = prior.id.as_str();
        if changed.iter().any(|c| c == "assume_role_policy") {
            self.iam
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(document(desired, "assume_role_policy")?)
                .send()
                .await
                .map_err(|e| aws_error("UpdateAssumeRolePolicy", e))?;
        }
        if changed.iter().any(|c| c == "tags") {
            let have = Tags::from_json(prior.attrs.get("tags"));
            let (set, remove) = have.delta(&Tags::from_json(desired.get("tags")));
            if let Some(tags) = iam_tags(&Tags(set))? {
                self.iam
                    .tag_role()
                    .role_name(name)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| aws_error("TagRole", e))?;
            }
            if !remove.is_empty() {
                self.iam
                    .untag_role()
                    .role_name(name)
                    .set_tag_keys(Some(remove))
                    .send()
                    .await
                    .map_err(|e| aws_error("UntagRole", e))?;
            }
        }
        self.read_name(name)
            .await?
            .ok_or_else(|| ResourceError::vanished("GetRole", &format!("IAM role {name}")))
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        let name = prior.id.as_str();
        // A policy attached concurrently (or not yet seen by a list right after a detach) makes
        // DeleteRole fail with DeleteConflict: strip again and retry for a while.
        wait::delete_when_released(
            &format!("IAM role {name} to be deleted"),
            PROPAGATION,
            &["DeleteConflict"],
            NO_SUCH_ENTITY,
            || async move {
                if self
                    .strip_policies(name)
                    .await
                    .absent_if(NO_SUCH_ENTITY)?
                    .is_none()
                {
                    // The role itself is already gone.
                    return Ok(());
                }
                self.iam
                    .delete_role()
                    .role_name(name)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| aws_error("DeleteRole", e))
            },
        )
        .await
    }
}

/// `aws_iam_role_policy_attachment`: a managed policy attached to a role, identified as
/// `{role}/{policy_arn}` (role names cannot contain `/`).
pub struct RolePolicyAttachmentKind {
    iam: Client,
}

impl RolePolicyAttachmentKind {
    pub fn new(iam: Client) -> Self {
        RolePolicyAttachmentKind { iam }
    }

    async fn find(&self, role: &str, policy_arn: &str) -> Result<Option<Instance>, ResourceError> {
        let roles = RoleKind {
            iam: self.iam.clone(),
        };
        roles
            .attached_policies(role)
            .await
            .absent_if(NO_SUCH_ENTITY)
            .map(|o| {
                o.filter(|arns| arns.iter().any(|a| a == policy_arn))
                    .map(|_| attachment_instance(role, policy_arn))
            })
    }
}

fn attachment_instance(role: &str, policy_arn: &str) -> Instance {
    let id = format!("{role}/{policy_arn}");
    Instance::new(
        id.clone(),
        Values::from([
            ("id".to_owned(), J::from(id)),
            ("role".to_owned(), J::from(role)),
            ("policy_arn".to_owned(), J::from(policy_arn)),
        ]),
    )
}

/// The role and policy of an attachment: from its attributes, else from its id.
fn attachment_parts(prior: &Instance) -> Result<(String, String), ResourceError> {
    if let (Ok(role), Ok(arn)) = (
        prior.attrs.get_str("role"),
        prior.attrs.get_str("policy_arn"),
    ) {
        return Ok((role.to_owned(), arn.to_owned()));
    }
    prior
        .id
        .split_once('/')
        .map(|(r, a)| (r.to_owned(), a.to_owned()))
        .ok_or_else(|| {
            ResourceError::internal(format!(
                "policy attachment id `{}` is not role/policy_arn",
                prior.id
            ))
        })
}

#[async_trait]
impl Kind for RolePolicyAttachmentKind {
    fn type_name(&self) -> &'static str {
        "aws_iam_role_policy_attachment"
    }

    fn fields(&self) -> &'static [Field] {
        &[
            Field {
                name: "role",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "policy_arn",
                flags: &[Flag::ForceNew],
            },
        ]
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        let (role, arn) = attachment_parts(prior)?;
        self.find(&role, &arn).await
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        self.find(desired.get_str("role")?, desired.get_str("policy_arn")?)
            .await
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let role = desired.get_str("role")?;
        let arn = desired.get_str("policy_arn")?;
        self.iam
            .attach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error("AttachRolePolicy", e))?;
        until_visible(&format!("policy {arn} on role {role}"), || {
            self.find(role, arn)
        })
        .await
    }

    async fn update(
        &self,
        prior: &Instance,
        _desired: &Values,
        _changed: &[String],
    ) -> Result<Instance, ResourceError> {
        // Every attribute forces a replacement: there is nothing to change in place.
        let (role, arn) = attachment_parts(prior)?;
        Ok(attachment_instance(&role, &arn))
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        let (role, arn) = attachment_parts(prior)?;
        self.iam
            .detach_role_policy()
            .role_name(&role)
            .policy_arn(&arn)
            .send()
            .await
            .map_err(|e| aws_error("DetachRolePolicy", e))
            .absent_if(NO_SUCH_ENTITY)?;
        Ok(())
    }
}

/// `aws_iam_role_policy`: an inline policy of a role, identified as `{role}:{name}` (role
/// names cannot contain `:`).
pub struct RolePolicyKind {
    iam: Client,
}

impl RolePolicyKind {
    pub fn new(iam: Client) -> Self {
        RolePolicyKind { iam }
    }

    async fn get(&self, role: &str, name: &str) -> Result<Option<Instance>, ResourceError> {
        self.iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .map_err(|e| aws_error("GetRolePolicy", e))
            .absent_if(NO_SUCH_ENTITY)
            .map(|o| {
                o.map(|out| {
                    let id = format!("{role}:{name}");
                    Instance::new(
                        id.clone(),
                        Values::from([
                            ("id".to_owned(), J::from(id)),
                            ("role".to_owned(), J::from(out.role_name())),
                            ("name".to_owned(), J::from(out.policy_name())),
                            ("policy".to_owned(), policy_json(out.policy_document())),
                        ]),
                    )
                })
            })
    }

    async fn put(&self, role: &str, name: &str, desired: &Values) -> Result<(), ResourceError> {
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(document(desired, "policy")?)
            .send()
            .await
            .map_err(|e| aws_error("PutRolePolicy", e))?;
        Ok(())
    }
}

fn role_policy_parts(prior: &Instance) -> Result<(String, String), ResourceError> {
    if let (Ok(role), Ok(name)) = (prior.attrs.get_str("role"), prior.attrs.get_str("name")) {
        return Ok((role.to_owned(), name.to_owned()));
    }
    prior
        .id
        .split_once(':')
        .map(|(r, n)| (r.to_owned(), n.to_owned()))
        .ok_or_else(|| {
            ResourceError::internal(format!("role policy id `{}` is not role:name", prior.id))
        })
}

#[async_trait]
impl Kind for RolePolicyKind {
    fn type_name(&self) -> &'static str {
        "aws_iam_role_policy"
    }

    fn fields(&self) -> &'static [Field] {
        &[
            Field {
                name: "role",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "name",
                flags: &[Flag::ForceNew],
            },
        ]
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        let (role, name) = role_policy_parts(prior)?;
        self.get(&role, &name).await
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        self.get(desired.get_str("role")?, desired.get_str("name")?)
            .await
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let role = desired.get_str("role")?;
        let name = desired.get_str("name")?;
        self.put(role, name, desired).await?;
        until_visible(&format!("policy {name} of role {role}"), || {
            self.get(role, name)
        })
        .await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        _changed: &[String],
    ) -> Result<Instance, ResourceError> {
        // Only `policy` can change in place, and PutRolePolicy replaces the whole document.
        let (role, name) = role_policy_parts(prior)?;
        self.put(&role, &name, desired).await?;
        self.get(&role, &name)
            .await?
            .ok_or_else(|| ResourceError::vanished("GetRolePolicy", &format!("policy {name}")))
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        let (role, name) = role_policy_parts(prior)?;
        self.iam
            .delete_role_policy()
            .role_name(&role)
            .policy_name(&name)
            .send()
            .await
            .map_err(|e| aws_error("DeleteRolePolicy", e))
            .absent_if(NO_SUCH_ENTITY)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_iam_documents() {
        let enc = "%7B%22Version%22%3A%20%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            policy_json(enc),
            json!({ "Version": "2012-10-17", "Statement": [] })
        );
        // Malformed escapes and multi-byte characters survive.
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%C3%A9"), "%zzé");
    }

    #[test]
    fn ids_split_back_into_parts() {
        let a = Instance::new("r/arn:aws:iam::aws:policy/service-role/X", Values::new());
        assert_eq!(
            attachment_parts(&a).unwrap(),
            (
                "r".to_owned(),
                "arn:aws:iam::aws:policy/service-role/X".to_owned()
            )
        );
        let p = Instance::new("r:p", Values::new());
        assert_eq!(
            role_policy_parts(&p).unwrap(),
            ("r".to_owned(), "p".to_owned())
        );
    }
}
