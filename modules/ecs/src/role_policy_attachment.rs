//! `aws_iam_role_policy_attachment`: a managed policy attached to a role (AWS's task execution
//! policy on the execution role).

use async_trait::async_trait;
use aws_sdk_iam::Client;
use serde_json::Value as J;
use stackctl_contract::{
    args, aws_error, provider, Absent, Args, Field, Instance, Kind, ResourceError, Values,
};

use crate::iam::{until_visible, NO_SUCH_ENTITY};
use crate::role::RoleKind;

args! {
    /// `aws_iam_role_policy_attachment`'s arguments.
    pub struct RolePolicyAttachmentArgs {
        /// The role's name.
        [ForceNew] role: String,
        [ForceNew] policy_arn: String,
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
        RoleKind::new(self.iam.clone())
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
    let mut attrs = RolePolicyAttachmentArgs {
        role: role.to_owned(),
        policy_arn: policy_arn.to_owned(),
    }
    .to_values();
    attrs.insert("id".to_owned(), J::from(id.as_str()));
    Instance::new(id, attrs)
}

/// The role and policy of an attachment: from its attributes, else from its id.
fn attachment_parts(prior: &Instance) -> Result<(String, String), ResourceError> {
    if let Ok(a) = RolePolicyAttachmentArgs::from_values(&prior.attrs) {
        return Ok((a.role, a.policy_arn));
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

/// The provider's attributes of an attachment: stackctl's own. Its id is `role/policy_arn`,
/// the form the provider imports; the provider's own ids are made up at creation.
fn provider_values(attrs: &provider::Object) -> provider::Object {
    let mut out = provider::Object::new();
    provider::copy(attrs, &mut out, &["id", "role", "policy_arn"]);
    out
}

#[async_trait]
impl Kind for RolePolicyAttachmentKind {
    fn type_name(&self) -> &'static str {
        "aws_iam_role_policy_attachment"
    }

    fn fields(&self) -> &'static [Field] {
        RolePolicyAttachmentArgs::FIELDS
    }

    fn provider_values(&self, _type_name: &str, attrs: &provider::Object) -> provider::Object {
        provider_values(attrs)
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        let (role, arn) = attachment_parts(prior)?;
        self.find(&role, &arn).await
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let d = RolePolicyAttachmentArgs::from_values(desired)?;
        self.find(&d.role, &d.policy_arn).await
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = RolePolicyAttachmentArgs::from_values(desired)?;
        let (role, arn) = (&d.role, &d.policy_arn);
        self.iam
            .attach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| missing_policy(aws_error("AttachRolePolicy", e), arn))?;
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

/// AttachRolePolicy's NoSuchEntity about the managed policy itself: AWS has no such policy in
/// this partition, or the emulator was started without its managed policies.
fn missing_policy(e: ResourceError, arn: &str) -> ResourceError {
    if e.is(NO_SUCH_ENTITY) && e.message.contains(arn) {
        e.with_hint(format!(
            "the managed policy {arn} does not exist in this account's partition: check the region (aws_region) and the account; against the moto emulator, start it with MOTO_IAM_LOAD_MANAGED_POLICIES=true (README, 'Against the emulator by hand')"
        ))
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;
    use stackctl_contract::provider::{check, UNKNOWN};

    use crate::testing::{assert_covers, known_object, planned, resolved};

    #[test]
    fn an_attachment_is_its_role_and_policy() {
        let arn = crate::execution_policy_arn("aws");
        let out = provider_values(&known_object(&attachment_instance("shop-dev-exec", &arn)));
        check("aws_iam_role_policy_attachment", &out).unwrap();
        assert_eq!(out["role"], json!("shop-dev-exec"));
        assert_eq!(out["policy_arn"], json!(arn));
        assert_eq!(out["id"], json!(format!("shop-dev-exec/{arn}")));

        let planned = provider_values(&planned(crate::EXECUTION_ROLE_POLICY, &resolved(&[])));
        check("aws_iam_role_policy_attachment", &planned).unwrap();
        assert_eq!(planned["role"], json!(UNKNOWN));
        assert_eq!(planned["policy_arn"], json!(arn));
    }

    /// The attributes Terraform's plan of this stack gives
    /// `aws_iam_role_policy_attachment.execution` that are neither null nor `[]`: `after` in
    /// `../shared/reference/terraform/plan-from-empty.json`.
    const TERRAFORM: &[&str] = &["policy_arn", "role"];

    #[test]
    fn every_attribute_terraform_plans_is_there() {
        let out = provider_values(&planned(crate::EXECUTION_ROLE_POLICY, &resolved(&[])));
        // `role` is there as unknown (the role does not exist yet): Terraform knows it from
        // its configuration's literal, stackctl reads it from the role.
        assert_covers(&out, TERRAFORM, &[]);
    }

    #[test]
    fn the_id_splits_back_into_role_and_policy() {
        let a = Instance::new("r/arn:aws:iam::aws:policy/service-role/X", Values::new());
        assert_eq!(
            attachment_parts(&a).unwrap(),
            (
                "r".to_owned(),
                "arn:aws:iam::aws:policy/service-role/X".to_owned()
            )
        );
    }
}
