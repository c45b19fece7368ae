//! `aws_lb`: the application load balancer, the stack's public entry point.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer, LoadBalancerSchemeEnum, LoadBalancerStateEnum,
    LoadBalancerTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use serde_json::Value as J;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    args, aws_error, provider, Absent, Args, Changed, Instance, Kind, ResourceError, TagApi, Tags,
    Values,
};

use crate::{arn_suffix, elb_tags, elbv2_kind, read_back, read_tags, ElbTagging, LB_GONE};

args! {
    /// `aws_lb`'s arguments.
    pub struct LoadBalancerArgs {
        [ForceNew] name: String,
        /// Internal (`true`) or internet-facing (`false`): AWS's scheme.
        [ForceNew] internal: bool,
        /// `application`.
        [ForceNew] load_balancer_type: String,
        /// Sorted subnet ids, one per availability zone.
        subnets: Vec<String>,
        /// Sorted security group ids.
        security_groups: Vec<String>,
        /// `ipv4` or `dualstack`.
        ip_address_type: String,
        tags: Tags,
    }
}

/// What to do about a load balancer that failed to provision.
const FAILED_HINT: &str =
    "check the subnets and security group, delete the load balancer, then run apply again";

/// `aws_lb`: an application load balancer, identified by its ARN.
pub struct LoadBalancerKind {
    elb: Client,
}

impl LoadBalancerKind {
    pub fn new(elb: Client) -> Self {
        LoadBalancerKind { elb }
    }

    /// Wait until a load balancer is active (a new one takes a few minutes on real AWS).
    async fn wait_active(&self, arn: &str) -> Result<LoadBalancer, ResourceError> {
        wait::until(
            &format!("load balancer {arn} to be active"),
            // `provisioning` lasts 2 to 3 minutes.
            Backoff::expecting(Duration::from_secs(150), Duration::from_secs(600)),
            || async {
                // A new load balancer may not be visible to Describe for a moment.
                let Some(lb) = self.describe_arn(arn).await? else {
                    return Ok(Poll::Pending("not visible yet".into()));
                };
                let state = lb.state().and_then(|s| s.code());
                match state {
                    Some(LoadBalancerStateEnum::Active) => Ok(Poll::Ready(lb)),
                    Some(LoadBalancerStateEnum::Failed) => Err(ResourceError::new(
                        "CreateLoadBalancer",
                        format!(
                            "load balancer {arn} failed to provision: {}",
                            lb.state()
                                .and_then(|s| s.reason())
                                .unwrap_or("no reason given")
                        ),
                    )
                    .with_hint(FAILED_HINT)),
                    Some(s) => Ok(Poll::Pending(s.as_str().to_owned())),
                    None => Ok(Poll::Pending("in an unknown state".into())),
                }
            },
        )
        .await
    }

    async fn describe_arn(&self, arn: &str) -> Result<Option<LoadBalancer>, ResourceError> {
        self.elb
            .describe_load_balancers()
            .load_balancer_arns(arn)
            .send()
            .await
            .map_err(|e| aws_error("DescribeLoadBalancers", e))
            .absent_if(LB_GONE)
            .map(|o| o.and_then(|out| out.load_balancers().first().cloned()))
    }

    async fn instance(&self, lb: &LoadBalancer) -> Result<Option<Instance>, ResourceError> {
        let arn = lb.load_balancer_arn().unwrap_or_default();
        let Some(tags) = read_tags(&self.elb, arn, LB_GONE).await? else {
            return Ok(None);
        };
        Ok(Some(to_instance(lb, tags)))
    }
}

/// The canonical form of an id set: sorted, without duplicates, so that the order AWS happens to
/// answer in never shows as a change.
fn id_set<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let ids: BTreeSet<&str> = ids.into_iter().collect();
    ids.into_iter().map(str::to_owned).collect()
}

pub(crate) fn to_instance(lb: &LoadBalancer, tags: Tags) -> Instance {
    let arn = lb.load_balancer_arn().unwrap_or_default();
    let mut attrs = LoadBalancerArgs {
        name: lb.load_balancer_name().unwrap_or_default().to_owned(),
        internal: lb.scheme() == Some(&LoadBalancerSchemeEnum::Internal),
        load_balancer_type: lb.r#type().map_or("", |t| t.as_str()).to_owned(),
        subnets: id_set(
            lb.availability_zones()
                .iter()
                .filter_map(|az| az.subnet_id()),
        ),
        security_groups: id_set(lb.security_groups().iter().map(String::as_str)),
        ip_address_type: lb.ip_address_type().map_or("", |t| t.as_str()).to_owned(),
        tags,
    }
    .to_values();
    for (k, v) in [
        ("id", arn),
        ("arn", arn),
        ("arn_suffix", arn_suffix(arn)),
        ("dns_name", lb.dns_name().unwrap_or_default()),
        ("zone_id", lb.canonical_hosted_zone_id().unwrap_or_default()),
        ("vpc_id", lb.vpc_id().unwrap_or_default()),
    ] {
        attrs.insert(k.to_owned(), J::from(v));
    }
    Instance::new(arn, attrs)
}

#[async_trait]
impl Kind for LoadBalancerKind {
    elbv2_kind!("aws_lb", LoadBalancerArgs);

    fn provider_values(&self, _type_name: &str, attrs: &provider::Object) -> provider::Object {
        crate::provider::load_balancer(attrs)
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        match self.describe_arn(&prior.id).await? {
            Some(lb) => self.instance(&lb).await,
            None => Ok(None),
        }
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let d = LoadBalancerArgs::from_values(desired)?;
        let out = self
            .elb
            .describe_load_balancers()
            .names(&d.name)
            .send()
            .await
            .map_err(|e| aws_error("DescribeLoadBalancers", e))
            .absent_if(LB_GONE)?;
        // Found mid-creation (a run killed while waiting), it is returned as it is: `settle`
        // waits, in apply only.
        match out.as_ref().and_then(|out| out.load_balancers().first()) {
            Some(lb) => self.instance(lb).await,
            None => Ok(None),
        }
    }

    async fn settle(&self, found: Instance) -> Result<Instance, ResourceError> {
        let lb = self.wait_active(&found.id).await?;
        self.instance(&lb)
            .await?
            .ok_or_else(|| ResourceError::vanished("Describe", &found.id))
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = LoadBalancerArgs::from_values(desired)?;
        let scheme = if d.internal {
            LoadBalancerSchemeEnum::Internal
        } else {
            LoadBalancerSchemeEnum::InternetFacing
        };
        let out = self
            .elb
            .create_load_balancer()
            .name(&d.name)
            .set_subnets(Some(d.subnets))
            .set_security_groups(Some(d.security_groups))
            .scheme(scheme)
            .r#type(LoadBalancerTypeEnum::from(d.load_balancer_type.as_str()))
            .ip_address_type(IpAddressType::from(d.ip_address_type.as_str()))
            .set_tags(elb_tags(&d.tags.0))
            .send()
            .await
            .map_err(|e| aws_error("CreateLoadBalancer", e))?;
        let arn = out
            .load_balancers()
            .first()
            .and_then(LoadBalancer::load_balancer_arn)
            .ok_or_else(|| {
                ResourceError::new("CreateLoadBalancer", "AWS returned no load balancer ARN")
            })?
            .to_owned();
        let lb = self.wait_active(&arn).await?;
        self.instance(&lb)
            .await?
            .ok_or_else(|| ResourceError::vanished("Describe", &arn))
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let d = LoadBalancerArgs::from_values(desired)?;
        let changed = LoadBalancerArgs::<Changed>::from_names(changed);
        let arn = prior.id.as_str();
        if changed.subnets {
            self.elb
                .set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(Some(d.subnets))
                .send()
                .await
                .map_err(|e| aws_error("SetSubnets", e))?;
        }
        if changed.security_groups {
            self.elb
                .set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(d.security_groups))
                .send()
                .await
                .map_err(|e| aws_error("SetSecurityGroups", e))?;
        }
        if changed.ip_address_type {
            self.elb
                .set_ip_address_type()
                .load_balancer_arn(arn)
                .ip_address_type(IpAddressType::from(d.ip_address_type.as_str()))
                .send()
                .await
                .map_err(|e| aws_error("SetIpAddressType", e))?;
        }
        if changed.tags {
            ElbTagging(&self.elb)
                .sync_tags(arn, &prior.tags(), &d.tags)
                .await?;
        }
        read_back(self, arn).await
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        self.elb
            .delete_load_balancer()
            .load_balancer_arn(&prior.id)
            .send()
            .await
            .map_err(|e| aws_error("DeleteLoadBalancer", e))
            .absent_if(LB_GONE)?;
        wait::until(
            &format!("load balancer {} to be deleted", prior.id),
            Backoff::standard(Duration::from_secs(600)),
            || async {
                Ok(match self.describe_arn(&prior.id).await? {
                    None => Poll::Ready(()),
                    Some(lb) => Poll::Pending(
                        lb.state()
                            .and_then(|s| s.code())
                            .map_or("still listed", |s| s.as_str())
                            .to_owned(),
                    ),
                })
            },
        )
        .await
    }
}
