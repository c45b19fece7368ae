//! `aws_iam_role_policy`: an inline policy of a role (the execution role's read access to this
//! environment's secrets).

use async_trait::async_trait;
use aws_sdk_iam::Client;
use serde_json::Value as J;
use stackctl_contract::{
    args, aws_error, provider, Absent, Args, Field, Instance, Kind, ResourceError, Values,
};

use crate::iam::{document, policy_json, until_visible, NO_SUCH_ENTITY};

args! {
    /// `aws_iam_role_policy`'s arguments.
    pub struct RolePolicyArgs {
        /// The role's name.
        [ForceNew] role: String,
        [ForceNew] name: String,
        /// The policy document (JSON).
        policy: J,
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
                    let mut attrs = RolePolicyArgs {
                        role: out.role_name().to_owned(),
                        name: out.policy_name().to_owned(),
                        policy: policy_json(out.policy_document()),
                    }
                    .to_values();
                    attrs.insert("id".to_owned(), J::from(id.as_str()));
                    Instance::new(id, attrs)
                })
            })
    }

    async fn put(&self, role: &str, name: &str, policy: &J) -> Result<(), ResourceError> {
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(document("policy", policy)?)
            .send()
            .await
            .map_err(|e| aws_error("PutRolePolicy", e))?;
        Ok(())
    }
}

/// The role and name of a policy: from its attributes, else from its id.
fn role_policy_parts(prior: &Instance) -> Result<(String, String), ResourceError> {
    if let Ok(p) = RolePolicyArgs::from_values(&prior.attrs) {
        return Ok((p.role, p.name));
    }
    prior
        .id
        .split_once(':')
        .map(|(r, n)| (r.to_owned(), n.to_owned()))
        .ok_or_else(|| {
            ResourceError::internal(format!("role policy id `{}` is not role:name", prior.id))
        })
}

/// The provider's attributes of an inline policy: the document as JSON text; the id is
/// `role:name` already, as the provider's.
fn provider_values(attrs: &provider::Object) -> provider::Object {
    let mut out = provider::Object::new();
    provider::copy(attrs, &mut out, &["id", "role", "name"]);
    out.insert("policy".into(), provider::json_string(attrs.get("policy")));
    out
}

#[async_trait]
impl Kind for RolePolicyKind {
    fn type_name(&self) -> &'static str {
        "aws_iam_role_policy"
    }

    fn fields(&self) -> &'static [Field] {
        RolePolicyArgs::FIELDS
    }

    fn provider_values(&self, _type_name: &str, attrs: &provider::Object) -> provider::Object {
        provider_values(attrs)
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        let (role, name) = role_policy_parts(prior)?;
        self.get(&role, &name).await
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let d = RolePolicyArgs::from_values(desired)?;
        self.get(&d.role, &d.name).await
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = RolePolicyArgs::from_values(desired)?;
        let (role, name) = (&d.role, &d.name);
        self.put(role, name, &d.policy).await?;
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
        let d = RolePolicyArgs::from_values(desired)?;
        let (role, name) = role_policy_parts(prior)?;
        self.put(&role, &name, &d.policy).await?;
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
    use stackctl_contract::provider::{check, UNKNOWN};

    use crate::testing::{assert_covers, known_object, planned, resolved};

    const POLICY: &str = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"secretsmanager:GetSecretValue\",\"secretsmanager:DescribeSecret\"],\"Resource\":\"arn:aws:secretsmanager:eu-west-3:123456789012:secret:shop-dev-*\"}]}";

    #[test]
    fn a_read_policy_is_json_text_with_terraforms_id() {
        let attrs = RolePolicyArgs {
            role: "shop-dev-exec".into(),
            name: "shop-dev-secrets-access".into(),
            // As `get` records GetRolePolicy's URL-encoded answer.
            policy: crate::iam::policy_json(POLICY),
        }
        .to_values();
        let mut inst = Instance::new("shop-dev-exec:shop-dev-secrets-access", attrs);
        inst.attrs.insert("id".into(), J::from(inst.id.as_str()));
        let out = provider_values(&known_object(&inst));
        check("aws_iam_role_policy", &out).unwrap();
        assert_eq!(out["id"], json!("shop-dev-exec:shop-dev-secrets-access"));
        assert_eq!(out["role"], json!("shop-dev-exec"));
        let text = out["policy"].as_str().expect("JSON text");
        assert_eq!(
            serde_json::from_str::<J>(text).unwrap(),
            serde_json::from_str::<J>(POLICY).unwrap()
        );
    }

    #[test]
    fn the_planned_policy_names_its_role_once_known() {
        let out = provider_values(&planned(crate::EXECUTION_SECRETS_POLICY, &resolved(&[])));
        check("aws_iam_role_policy", &out).unwrap();
        assert_eq!(out["role"], json!(UNKNOWN));
        let doc: J = serde_json::from_str(out["policy"].as_str().expect("JSON text")).unwrap();
        assert_eq!(
            doc["Statement"][0]["Resource"],
            json!("arn:aws:secretsmanager:eu-west-3:123456789012:secret:shop-dev-*")
        );
    }

    /// The attributes Terraform's plan of this stack gives `aws_iam_role_policy.secrets` that
    /// are neither null nor `[]`: `after` in `../shared/reference/terraform/plan-from-empty.json`.
    const TERRAFORM: &[&str] = &["name", "policy"];

    #[test]
    fn every_attribute_terraform_plans_is_there() {
        let out = provider_values(&planned(crate::EXECUTION_SECRETS_POLICY, &resolved(&[])));
        assert_covers(&out, TERRAFORM, &[]);
    }

    #[test]
    fn the_id_splits_back_into_role_and_name() {
        let p = Instance::new("r:p", Values::new());
        assert_eq!(
            role_policy_parts(&p).unwrap(),
            ("r".to_owned(), "p".to_owned())
        );
    }
}
