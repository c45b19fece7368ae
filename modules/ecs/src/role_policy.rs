//! `aws_iam_role_policy`: an inline policy of a role (the execution role's read access to this
//! environment's secrets).

use async_trait::async_trait;
use aws_sdk_iam::Client;
use serde_json::Value as J;
use stackctl_contract::{
    args, aws_error, Absent, Args, Field, Instance, Kind, ResourceError, Values,
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

#[async_trait]
impl Kind for RolePolicyKind {
    fn type_name(&self) -> &'static str {
        "aws_iam_role_policy"
    }

    fn fields(&self) -> &'static [Field] {
        RolePolicyArgs::FIELDS
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

    #[test]
    fn the_id_splits_back_into_role_and_name() {
        let p = Instance::new("r:p", Values::new());
        assert_eq!(
            role_policy_parts(&p).unwrap(),
            ("r".to_owned(), "p".to_owned())
        );
    }
}
