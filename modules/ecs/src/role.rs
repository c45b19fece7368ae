//! `aws_iam_role`: the roles the PrestaShop tasks run with (execution and task role).

use async_trait::async_trait;
use aws_sdk_iam::types::Role;
use aws_sdk_iam::Client;
use serde_json::Value as J;
use stackctl_contract::{
    args, aws_error, Absent, Args, Changed, Field, Instance, Kind, ResourceError, TagApi, Tags,
    Values,
};
use stackctl_contract::{provider, wait};

use crate::iam::{
    document, iam_tags, policy_json, until_visible, IamTagging, NO_SUCH_ENTITY, PROPAGATION,
};

args! {
    /// `aws_iam_role`'s arguments.
    pub struct RoleArgs {
        [ForceNew] name: String,
        /// The trust policy: who may assume the role (a JSON document).
        assume_role_policy: J,
        tags: Tags,
    }
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

    pub(crate) async fn attached_policies(&self, name: &str) -> Result<Vec<String>, ResourceError> {
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
    let mut attrs = RoleArgs {
        name: role.role_name().to_owned(),
        assume_role_policy: role
            .assume_role_policy_document()
            .map(policy_json)
            .unwrap_or(J::Null),
        tags: Tags::from_pairs(
            role.tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned())),
        ),
    }
    .to_values();
    attrs.insert("id".to_owned(), J::from(role.role_name()));
    attrs.insert("arn".to_owned(), J::from(role.arn()));
    Instance::new(role.role_name(), attrs)
}

/// The provider's attributes of a role: the trust policy as JSON text, and what stackctl leaves
/// to AWS (path `/`, sessions of one hour) or does as the provider's flag would (a destroy
/// detaches and deletes every policy of the role first: `force_detach_policies`).
fn provider_values(attrs: &provider::Object) -> provider::Object {
    let mut out = provider::Object::new();
    provider::copy(attrs, &mut out, &["id", "arn", "name", "tags"]);
    out.insert(
        "assume_role_policy".into(),
        provider::json_string(attrs.get("assume_role_policy")),
    );
    out.insert("path".into(), J::from("/"));
    out.insert("max_session_duration".into(), J::from(3600));
    out.insert("force_detach_policies".into(), J::Bool(true));
    out
}

#[async_trait]
impl Kind for RoleKind {
    fn type_name(&self) -> &'static str {
        "aws_iam_role"
    }

    fn fields(&self) -> &'static [Field] {
        RoleArgs::FIELDS
    }

    fn provider_values(&self, _type_name: &str, attrs: &provider::Object) -> provider::Object {
        provider_values(attrs)
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        self.read_name(&prior.id).await
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        self.read_name(&RoleArgs::from_values(desired)?.name).await
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = RoleArgs::from_values(desired)?;
        let name = &d.name;
        self.iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(document("assume_role_policy", &d.assume_role_policy)?)
            .set_tags(iam_tags(&d.tags)?)
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
        let d = RoleArgs::from_values(desired)?;
        let changed = RoleArgs::<Changed>::from_names(changed);
        let name = prior.id.as_str();
        if changed.assume_role_policy {
            self.iam
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(document("assume_role_policy", &d.assume_role_policy)?)
                .send()
                .await
                .map_err(|e| aws_error("UpdateAssumeRolePolicy", e))?;
        }
        if changed.tags {
            IamTagging(&self.iam)
                .sync_tags(name, &prior.tags(), &d.tags)
                .await?;
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

#[cfg(test)]
mod tests {
    use serde_json::json;
    use stackctl_contract::provider::check;

    use super::*;
    use crate::testing::{assert_covers, known_object, planned, resolved};

    const ARN: &str = "arn:aws:iam::123456789012:role/shop-dev-ecs-task-role";

    /// The trust policy as GetRole answers it: URL-encoded.
    const ENCODED: &str = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ecs-tasks.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";

    fn trust() -> J {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": "ecs-tasks.amazonaws.com" },
                "Action": "sts:AssumeRole",
            }],
        })
    }

    #[test]
    fn a_read_role_has_its_trust_policy_as_json_text() {
        let role = Role::builder()
            .role_name("shop-dev-ecs-task-role")
            .arn(ARN)
            .path("/")
            .role_id("AROAEXAMPLE")
            .create_date(aws_sdk_iam::primitives::DateTime::from_secs(0))
            .assume_role_policy_document(ENCODED)
            .build()
            .unwrap();
        let out = provider_values(&known_object(&role_instance(&role)));
        check("aws_iam_role", &out).unwrap();
        let text = out["assume_role_policy"].as_str().expect("JSON text");
        assert_eq!(serde_json::from_str::<J>(text).unwrap(), trust());
        assert_eq!(out["id"], json!("shop-dev-ecs-task-role"));
        assert_eq!(out["arn"], json!(ARN));
        assert_eq!(out["path"], json!("/"));
    }

    #[test]
    fn the_planned_roles() {
        for (address, name) in [
            (crate::EXECUTION_ROLE, "shop-dev-ecs-task-execution-role"),
            (crate::TASK_ROLE, "shop-dev-ecs-task-role"),
        ] {
            let out = provider_values(&planned(address, &resolved(&[])));
            check("aws_iam_role", &out).unwrap();
            assert_eq!(out["name"], json!(name));
            let text = out["assume_role_policy"].as_str().expect("JSON text");
            assert_eq!(serde_json::from_str::<J>(text).unwrap(), trust());
            assert!(!out.contains_key("arn"));
        }
    }

    /// The attributes Terraform's plan of this stack gives `aws_iam_role.execution` and
    /// `.task` that are neither null nor `[]`: `after` in
    /// `../shared/reference/terraform/plan-from-empty.json`.
    const TERRAFORM: &[&str] = &[
        "assume_role_policy",
        "force_detach_policies",
        "max_session_duration",
        "name",
        "path",
    ];

    #[test]
    fn every_attribute_terraform_plans_is_there() {
        let out = provider_values(&planned(crate::TASK_ROLE, &resolved(&[])));
        assert_covers(&out, TERRAFORM, &[]);
    }
}
