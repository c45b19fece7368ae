//! `aws_cloudwatch_log_group`: the log group the PrestaShop containers write to.

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_sdk_cloudwatchlogs::Client;
use serde_json::Value as J;
use stackctl_contract::provider;
use stackctl_contract::value::to_i32;
use stackctl_contract::{
    args, aws_error, Absent, Args, Changed, Field, Instance, Kind, ResourceError, TagApi, Tags,
    Values,
};

use crate::LogsTagging;

const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

args! {
    /// `aws_cloudwatch_log_group`'s arguments.
    pub struct LogGroupArgs {
        [ForceNew] name: String,
        /// Days the events are kept; 0 keeps them forever.
        retention_in_days: i64,
        tags: Tags,
    }
}

/// `aws_cloudwatch_log_group`, identified by its name. A retention of 0 means "never expire",
/// as in Terraform.
pub struct LogGroupKind {
    logs: Client,
}

impl LogGroupKind {
    pub fn new(logs: Client) -> Self {
        LogGroupKind { logs }
    }

    /// The group with exactly this name: DescribeLogGroups only filters by prefix.
    async fn find(&self, name: &str) -> Result<Option<LogGroup>, ResourceError> {
        let mut token: Option<String> = None;
        loop {
            let out = self
                .logs
                .describe_log_groups()
                .log_group_name_prefix(name)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws_error("DescribeLogGroups", e))?;
            if let Some(g) = out
                .log_groups()
                .iter()
                .find(|g| g.log_group_name() == Some(name))
            {
                return Ok(Some(g.clone()));
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(None),
            }
        }
    }

    async fn read_name(&self, name: &str) -> Result<Option<Instance>, ResourceError> {
        let Some(group) = self.find(name).await? else {
            return Ok(None);
        };
        let arn = group_arn(&group);
        // The tagging API wants the ARN without the `:*` DescribeLogGroups appends.
        let Some(out) = self
            .logs
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| aws_error("ListTagsForResource", e))
            .absent_if(NOT_FOUND)?
        else {
            return Ok(None);
        };
        let mut attrs = LogGroupArgs {
            name: name.to_owned(),
            retention_in_days: group.retention_in_days().unwrap_or(0).into(),
            tags: Tags::from_pairs(
                out.tags()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone())),
            ),
        }
        .to_values();
        attrs.insert("id".to_owned(), J::from(name));
        attrs.insert("arn".to_owned(), J::from(arn));
        Ok(Some(Instance::new(name, attrs)))
    }

    async fn read_back(&self, name: &str) -> Result<Instance, ResourceError> {
        self.read_name(name).await?.ok_or_else(|| {
            ResourceError::vanished("DescribeLogGroups", &format!("log group {name}"))
        })
    }

    async fn set_retention(&self, name: &str, days: i64) -> Result<(), ResourceError> {
        if days > 0 {
            self.logs
                .put_retention_policy()
                .log_group_name(name)
                .retention_in_days(to_i32("retention_in_days", days)?)
                .send()
                .await
                .map_err(|e| aws_error("PutRetentionPolicy", e))?;
        } else {
            self.logs
                .delete_retention_policy()
                .log_group_name(name)
                .send()
                .await
                .map_err(|e| aws_error("DeleteRetentionPolicy", e))?;
        }
        Ok(())
    }
}

/// The group's ARN in the form the tagging API takes (no trailing `:*`).
fn group_arn(g: &LogGroup) -> String {
    match g.log_group_arn() {
        Some(a) => a.to_owned(),
        None => {
            let a = g.arn().unwrap_or_default();
            a.strip_suffix(":*").unwrap_or(a).to_owned()
        }
    }
}

/// The provider's attributes of a log group: stackctl's own names already, a retention of 0
/// (never expire) included, as the provider writes it; no KMS key (stackctl sets none, so the
/// engine writes null), the STANDARD class AWS gives a group created without one, and a destroy
/// that deletes the group.
fn provider_values(attrs: &provider::Object) -> provider::Object {
    let mut out = provider::Object::new();
    provider::copy(
        attrs,
        &mut out,
        &["id", "arn", "name", "retention_in_days", "tags"],
    );
    out.insert("log_group_class".into(), J::from("STANDARD"));
    out.insert("skip_destroy".into(), J::Bool(false));
    out
}

#[async_trait]
impl Kind for LogGroupKind {
    fn type_name(&self) -> &'static str {
        "aws_cloudwatch_log_group"
    }

    fn fields(&self) -> &'static [Field] {
        LogGroupArgs::FIELDS
    }

    fn provider_values(&self, _type_name: &str, attrs: &provider::Object) -> provider::Object {
        provider_values(attrs)
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        self.read_name(&prior.id).await
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        self.read_name(&LogGroupArgs::from_values(desired)?.name)
            .await
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = LogGroupArgs::from_values(desired)?;
        let name = &d.name;
        let tags = &d.tags;
        self.logs
            .create_log_group()
            .log_group_name(name)
            .set_tags((!tags.0.is_empty()).then(|| tags.0.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| aws_error("CreateLogGroup", e))?;
        if d.retention_in_days > 0 {
            self.set_retention(name, d.retention_in_days).await?;
        }
        self.read_back(name).await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let d = LogGroupArgs::from_values(desired)?;
        let changed = LogGroupArgs::<Changed>::from_names(changed);
        let name = prior.id.as_str();
        if changed.retention_in_days {
            self.set_retention(name, d.retention_in_days).await?;
        }
        if changed.tags {
            let arn = match prior.attrs.get("arn").and_then(J::as_str) {
                Some(a) => a.to_owned(),
                None => group_arn(
                    &self
                        .find(name)
                        .await?
                        .ok_or_else(|| ResourceError::vanished("DescribeLogGroups", name))?,
                ),
            };
            let arn = arn.as_str();
            LogsTagging(&self.logs)
                .sync_tags(arn, &prior.tags(), &d.tags)
                .await?;
        }
        self.read_back(name).await
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        self.logs
            .delete_log_group()
            .log_group_name(&prior.id)
            .send()
            .await
            .map_err(|e| aws_error("DeleteLogGroup", e))
            .absent_if(NOT_FOUND)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use stackctl_contract::provider::check;

    use super::*;
    use crate::testing::{assert_covers, known_object, planned, resolved};

    const ARN: &str = "arn:aws:logs:eu-west-3:123456789012:log-group:/ecs/shop-dev";

    /// A group as `read_name` records it.
    fn read_back(days: i64) -> provider::Object {
        let mut attrs = LogGroupArgs {
            name: "/ecs/shop-dev".into(),
            retention_in_days: days,
            tags: Tags::stack("shop", "dev"),
        }
        .to_values();
        attrs.insert("id".into(), J::from("/ecs/shop-dev"));
        attrs.insert("arn".into(), J::from(ARN));
        known_object(&Instance::new("/ecs/shop-dev", attrs))
    }

    #[test]
    fn a_read_group_keeps_its_retention_and_has_no_kms_key() {
        let out = provider_values(&read_back(30));
        check("aws_cloudwatch_log_group", &out).unwrap();
        assert_eq!(out["retention_in_days"], json!(30));
        assert_eq!(out["id"], json!("/ecs/shop-dev"));
        assert_eq!(out["arn"], json!(ARN));
        assert_eq!(out["tags"]["ManagedBy"], json!("stackctl"));
        // checkov's CKV_AWS_158 wants a key: stackctl sets none, so none is claimed.
        assert!(!out.contains_key("kms_key_id"));
        // 0 is "never expire" to the provider too (CKV_AWS_338 passes it), not "unset".
        assert_eq!(
            provider_values(&read_back(0))["retention_in_days"],
            json!(0)
        );
    }

    #[test]
    fn the_planned_group() {
        let out = provider_values(&planned(crate::LOG_GROUP, &resolved(&[])));
        check("aws_cloudwatch_log_group", &out).unwrap();
        assert_eq!(out["name"], json!("/ecs/shop-dev"));
        assert_eq!(out["retention_in_days"], json!(7));
        assert!(!out.contains_key("arn"));
    }

    /// The attributes Terraform's plan of this stack gives `aws_cloudwatch_log_group.main` that
    /// are neither null nor `[]`: `after` in `../shared/reference/terraform/plan-from-empty.json`.
    const TERRAFORM: &[&str] = &["name", "retention_in_days", "skip_destroy"];

    #[test]
    fn every_attribute_terraform_plans_is_there() {
        let out = provider_values(&planned(crate::LOG_GROUP, &resolved(&[])));
        assert_covers(&out, TERRAFORM, &[]);
    }
}
