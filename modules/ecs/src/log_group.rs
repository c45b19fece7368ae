//! `aws_cloudwatch_log_group`: the log group the PrestaShop containers write to.

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_sdk_cloudwatchlogs::Client;
use serde_json::Value as J;
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

#[async_trait]
impl Kind for LogGroupKind {
    fn type_name(&self) -> &'static str {
        "aws_cloudwatch_log_group"
    }

    fn fields(&self) -> &'static [Field] {
        LogGroupArgs::FIELDS
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
