//! `aws_lb_target_group`: the target group the ECS service registers its tasks in, with the
//! health check the load balancer runs against them.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::builders::DescribeTargetGroupsFluentBuilder;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup, TargetGroupAttribute, TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use serde_json::Value as J;
use stackctl_contract::value::to_i32;
use stackctl_contract::wait;
use stackctl_contract::{
    args, aws_error, provider, Absent, Args, Changed, Instance, Kind, ResourceError, TagApi, Tags,
    Values,
};

use crate::{arn_suffix, elb_tags, elbv2_kind, read_back, read_tags, ElbTagging, TG_GONE};

args! {
    /// `aws_lb_target_group`'s arguments.
    pub struct TargetGroupArgs {
        [ForceNew] name: String,
        [ForceNew] port: i64,
        /// `HTTP`.
        [ForceNew] protocol: String,
        [ForceNew] vpc_id: String,
        /// `ip` for Fargate tasks.
        [ForceNew] target_type: String,
        /// The [`HealthCheckArgs`] as one object: the settings are flat in the API, but a
        /// change to any of them is a single `ModifyTargetGroup`.
        health_check: J,
        /// Seconds the load balancer lets a deregistered task finish its requests before it
        /// stops (`deregistration_delay.timeout_seconds`): every rolling deploy waits it out
        /// for the old tasks. Null when AWS does not report it.
        deregistration_delay: Option<i64>,
        tags: Tags,
    }
}

args! {
    /// The `health_check` object of `aws_lb_target_group`.
    pub struct HealthCheckArgs {
        enabled: bool,
        path: String,
        protocol: String,
        /// A port number or `traffic-port`.
        port: String,
        interval: i64,
        timeout: i64,
        healthy_threshold: i64,
        unhealthy_threshold: i64,
        /// The HTTP codes that mean healthy, such as `200-399`.
        matcher: String,
    }
}

impl HealthCheckArgs {
    /// The settings from the `health_check` object.
    pub fn from_json(v: &J) -> Result<Self, ResourceError> {
        let obj = v.as_object().ok_or_else(|| {
            ResourceError::internal("attribute `health_check` is missing or not an object")
        })?;
        Self::from_values(&obj.clone().into_iter().collect())
    }

    /// Interval, timeout, healthy and unhealthy thresholds, as the SDK takes them.
    fn counts(&self) -> Result<[i32; 4], ResourceError> {
        Ok([
            to_i32("health_check.interval", self.interval)?,
            to_i32("health_check.timeout", self.timeout)?,
            to_i32("health_check.healthy_threshold", self.healthy_threshold)?,
            to_i32("health_check.unhealthy_threshold", self.unhealthy_threshold)?,
        ])
    }

    /// The settings as the `health_check` object.
    pub fn to_json(&self) -> J {
        J::Object(self.to_values().into_iter().collect())
    }
}

/// `aws_lb_target_group`: the group the ECS service registers its tasks in, identified by its
/// ARN.
pub struct TargetGroupKind {
    elb: Client,
}

impl TargetGroupKind {
    pub fn new(elb: Client) -> Self {
        TargetGroupKind { elb }
    }

    async fn instance(&self, tg: &TargetGroup) -> Result<Option<Instance>, ResourceError> {
        let arn = tg.target_group_arn().unwrap_or_default();
        let Some(tags) = read_tags(&self.elb, arn, TG_GONE).await? else {
            return Ok(None);
        };
        let delay = deregistration_delay(&self.elb, arn).await?;
        Ok(Some(to_instance(tg, tags, delay)))
    }

    /// The first group `describe` answers (by ARN or by name), `None` when there is none.
    async fn first(
        &self,
        describe: DescribeTargetGroupsFluentBuilder,
    ) -> Result<Option<Instance>, ResourceError> {
        let out = describe
            .send()
            .await
            .map_err(|e| aws_error("DescribeTargetGroups", e))
            .absent_if(TG_GONE)?;
        match out.as_ref().and_then(|out| out.target_groups().first()) {
            Some(tg) => self.instance(tg).await,
            None => Ok(None),
        }
    }

    async fn set_deregistration_delay(&self, arn: &str, seconds: i64) -> Result<(), ResourceError> {
        self.elb
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(
                TargetGroupAttribute::builder()
                    .key(DEREGISTRATION_DELAY)
                    .value(seconds.to_string())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error("ModifyTargetGroupAttributes", e))?;
        Ok(())
    }
}

/// The target group attribute that holds the deregistration delay.
const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

/// The group's deregistration delay, in seconds; `None` for a group gone or AWS not saying.
pub(crate) async fn deregistration_delay(
    elb: &Client,
    arn: &str,
) -> Result<Option<i64>, ResourceError> {
    let out = elb
        .describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(|e| aws_error("DescribeTargetGroupAttributes", e))
        .absent_if(TG_GONE)?;
    Ok(out.and_then(|o| {
        o.attributes()
            .iter()
            .find(|a| a.key() == Some(DEREGISTRATION_DELAY))
            .and_then(|a| a.value())
            .and_then(|v| v.parse().ok())
    }))
}

pub(crate) fn to_instance(
    tg: &TargetGroup,
    tags: Tags,
    deregistration_delay: Option<i64>,
) -> Instance {
    let arn = tg.target_group_arn().unwrap_or_default();
    let health_check = HealthCheckArgs {
        enabled: tg.health_check_enabled().unwrap_or(true),
        path: tg.health_check_path().unwrap_or_default().to_owned(),
        protocol: tg
            .health_check_protocol()
            .map_or("", |p| p.as_str())
            .to_owned(),
        port: tg.health_check_port().unwrap_or_default().to_owned(),
        interval: tg
            .health_check_interval_seconds()
            .unwrap_or_default()
            .into(),
        timeout: tg.health_check_timeout_seconds().unwrap_or_default().into(),
        healthy_threshold: tg.healthy_threshold_count().unwrap_or_default().into(),
        unhealthy_threshold: tg.unhealthy_threshold_count().unwrap_or_default().into(),
        matcher: tg
            .matcher()
            .and_then(Matcher::http_code)
            .unwrap_or_default()
            .to_owned(),
    };
    let mut attrs = TargetGroupArgs {
        name: tg.target_group_name().unwrap_or_default().to_owned(),
        port: tg.port().unwrap_or_default().into(),
        protocol: tg.protocol().map_or("", |p| p.as_str()).to_owned(),
        vpc_id: tg.vpc_id().unwrap_or_default().to_owned(),
        target_type: tg.target_type().map_or("", |t| t.as_str()).to_owned(),
        health_check: health_check.to_json(),
        deregistration_delay,
        tags,
    }
    .to_values();
    attrs.insert("id".to_owned(), J::from(arn));
    attrs.insert("arn".to_owned(), J::from(arn));
    attrs.insert("arn_suffix".to_owned(), J::from(arn_suffix(arn)));
    Instance::new(arn, attrs)
}

#[async_trait]
impl Kind for TargetGroupKind {
    elbv2_kind!("aws_lb_target_group", TargetGroupArgs);

    fn provider_values(&self, _type_name: &str, attrs: &provider::Object) -> provider::Object {
        crate::provider::target_group(attrs)
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        self.first(
            self.elb
                .describe_target_groups()
                .target_group_arns(&prior.id),
        )
        .await
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let d = TargetGroupArgs::from_values(desired)?;
        self.first(self.elb.describe_target_groups().names(&d.name))
            .await
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = TargetGroupArgs::from_values(desired)?;
        let hc = HealthCheckArgs::from_json(&d.health_check)?;
        let [interval, timeout, healthy, unhealthy] = hc.counts()?;
        let out = self
            .elb
            .create_target_group()
            .name(&d.name)
            .port(to_i32("port", d.port)?)
            .protocol(ProtocolEnum::from(d.protocol.as_str()))
            .vpc_id(&d.vpc_id)
            .target_type(TargetTypeEnum::from(d.target_type.as_str()))
            .health_check_enabled(hc.enabled)
            .health_check_path(hc.path)
            .health_check_protocol(ProtocolEnum::from(hc.protocol.as_str()))
            .health_check_port(hc.port)
            .health_check_interval_seconds(interval)
            .health_check_timeout_seconds(timeout)
            .healthy_threshold_count(healthy)
            .unhealthy_threshold_count(unhealthy)
            .matcher(Matcher::builder().http_code(hc.matcher).build())
            .set_tags(elb_tags(&d.tags.0))
            .send()
            .await
            .map_err(|e| aws_error("CreateTargetGroup", e))?;
        let arn = out
            .target_groups()
            .first()
            .and_then(TargetGroup::target_group_arn)
            .ok_or_else(|| {
                ResourceError::new("CreateTargetGroup", "AWS returned no target group ARN")
            })?
            .to_owned();
        if let Some(seconds) = d.deregistration_delay {
            self.set_deregistration_delay(&arn, seconds).await?;
        }
        read_back(self, &arn).await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let d = TargetGroupArgs::from_values(desired)?;
        let changed = TargetGroupArgs::<Changed>::from_names(changed);
        if changed.health_check {
            let hc = HealthCheckArgs::from_json(&d.health_check)?;
            let [interval, timeout, healthy, unhealthy] = hc.counts()?;
            self.elb
                .modify_target_group()
                .target_group_arn(&prior.id)
                .health_check_enabled(hc.enabled)
                .health_check_path(hc.path)
                .health_check_protocol(ProtocolEnum::from(hc.protocol.as_str()))
                .health_check_port(hc.port)
                .health_check_interval_seconds(interval)
                .health_check_timeout_seconds(timeout)
                .healthy_threshold_count(healthy)
                .unhealthy_threshold_count(unhealthy)
                .matcher(Matcher::builder().http_code(hc.matcher).build())
                .send()
                .await
                .map_err(|e| aws_error("ModifyTargetGroup", e))?;
        }
        if changed.deregistration_delay {
            if let Some(seconds) = d.deregistration_delay {
                self.set_deregistration_delay(&prior.id, seconds).await?;
            }
        }
        if changed.tags {
            ElbTagging(&self.elb)
                .sync_tags(&prior.id, &prior.tags(), &d.tags)
                .await?;
        }
        read_back(self, &prior.id).await
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        // The listener (or the ECS service) that used the group may still be being deleted:
        // ResourceInUse only means wait.
        wait::delete_when_released(
            &format!("target group {} to be released", prior.id),
            Duration::from_secs(300),
            &["ResourceInUse"],
            TG_GONE,
            || async {
                self.elb
                    .delete_target_group()
                    .target_group_arn(&prior.id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| aws_error("DeleteTargetGroup", e))
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_check_parses_the_default() {
        let hc = HealthCheckArgs::from_json(&crate::default_health_check()).unwrap();
        assert_eq!(hc.port, "traffic-port");
        assert_eq!(hc.interval, 10);
        assert_eq!(hc.matcher, "200-399");
        assert_eq!(hc.to_json(), crate::default_health_check());
    }
}
