//! The alb module: the internet-facing application load balancer, its target group and listener.
//!
//! Elastic Load Balancing keeps tags apart from the resources (`DescribeTags`), so every read is
//! two calls; the health check settings, flat in the API, are one `health_check` object here so
//! that a change to any of them is a single `ModifyTargetGroup`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, IpAddressType, Listener, LoadBalancer, LoadBalancerSchemeEnum,
    LoadBalancerStateEnum, LoadBalancerTypeEnum, Matcher, ProtocolEnum, Tag, TargetGroup,
    TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use serde_json::{json, Value as J};
use stackctl_contract::value::string_set;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    aws_error, Absent, Attrs, Field, Flag, Instance, Kind, Prior, Ref, ResourceError, ResourceSpec,
    Tags, Val, Values, ValuesExt,
};

pub const LB: &str = "module.alb.aws_lb.main";
pub const TARGET_GROUP: &str = "module.alb.aws_lb_target_group.main";
pub const LISTENER: &str = "module.alb.aws_lb_listener.http";

/// Error codes meaning the resource (or the load balancer it hangs off) is gone.
const LB_GONE: &[&str] = &["LoadBalancerNotFound"];
const TG_GONE: &[&str] = &["TargetGroupNotFound"];
const LISTENER_GONE: &[&str] = &["ListenerNotFound", "LoadBalancerNotFound"];

/// The batch group of the three kinds: a refresh reads them together and tags them all in one
/// `DescribeTags`.
const BATCH: &str = "elbv2";

/// What the module needs from the root: Terraform's module variables.
pub struct Inputs {
    /// `{project_name}-{environment}`: every AWS name starts with it, so two environments or
    /// projects in one account never share a name.
    pub name_prefix: String,
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    /// The load balancer's security group: the security module's ALB group `id`.
    pub security_group: Ref,
    pub tags: Tags,
}

/// The kinds this module implements, for the engine's registry.
pub fn kinds(sdk: &aws_types::SdkConfig) -> Vec<Arc<dyn Kind>> {
    let elb = Client::new(sdk);
    vec![
        Arc::new(LoadBalancerKind { elb: elb.clone() }),
        Arc::new(TargetGroupKind { elb: elb.clone() }),
        Arc::new(ListenerKind { elb }),
    ]
}

/// The health check PrestaShop answers: any non-error page at `/` on the traffic port.
pub fn default_health_check() -> J {
    json!({
        "enabled": true,
        "path": "/",
        "protocol": "HTTP",
        "port": "traffic-port",
        "interval": 30,
        "timeout": 5,
        "healthy_threshold": 2,
        "unhealthy_threshold": 2,
        "matcher": "200-399",
    })
}

/// The load balancer in the given subnets, a target group of Fargate task IPs on port 80, and
/// an HTTP listener forwarding everything to it.
pub fn specs(sdk: &aws_types::SdkConfig, inputs: &Inputs) -> Vec<ResourceSpec> {
    let elb = Client::new(sdk);

    let lb = {
        let name = format!("{}-alb", inputs.name_prefix);
        let subnets = string_set(inputs.subnet_ids.iter().cloned());
        let sg = inputs.security_group.clone();
        let tags = inputs.tags.to_json();
        ResourceSpec::new(
            LB,
            Arc::new(LoadBalancerKind { elb: elb.clone() }),
            move |r| {
                let security_groups = Val::all([&sg.get(r)], |[id]| {
                    string_set(id.as_str().map(str::to_owned))
                });
                Attrs::from([
                    ("name".to_owned(), Val::from(name.clone())),
                    ("internal".to_owned(), Val::from(false)),
                    ("load_balancer_type".to_owned(), Val::from("application")),
                    ("subnets".to_owned(), Val::from(subnets.clone())),
                    ("security_groups".to_owned(), security_groups),
                    ("ip_address_type".to_owned(), Val::from("ipv4")),
                    ("tags".to_owned(), Val::from(tags.clone())),
                ])
            },
        )
    };

    let tg = {
        let name = format!("{}-tg", inputs.name_prefix);
        let vpc_id = inputs.vpc_id.clone();
        let tags = inputs.tags.to_json();
        ResourceSpec::new(
            TARGET_GROUP,
            Arc::new(TargetGroupKind { elb: elb.clone() }),
            move |_r| {
                Attrs::from([
                    ("name".to_owned(), Val::from(name.clone())),
                    ("port".to_owned(), Val::from(80)),
                    ("protocol".to_owned(), Val::from("HTTP")),
                    ("vpc_id".to_owned(), Val::from(vpc_id.clone())),
                    // Fargate tasks use awsvpc networking: targets are task IPs, not instances.
                    ("target_type".to_owned(), Val::from("ip")),
                    ("health_check".to_owned(), Val::from(default_health_check())),
                    ("tags".to_owned(), Val::from(tags.clone())),
                ])
            },
        )
    };

    let listener = {
        let tags = inputs.tags.to_json();
        ResourceSpec::new(LISTENER, Arc::new(ListenerKind { elb }), move |r| {
            let action = Val::all(
                [&r.get(TARGET_GROUP, "arn")],
                |[tg]| json!({ "type": "forward", "target_group_arn": tg }),
            );
            Attrs::from([
                ("load_balancer_arn".to_owned(), r.get(LB, "arn")),
                ("port".to_owned(), Val::from(80)),
                ("protocol".to_owned(), Val::from("HTTP")),
                ("default_action".to_owned(), action),
                ("tags".to_owned(), Val::from(tags.clone())),
            ])
        })
    };

    vec![lb, tg, listener]
}

// ---------------------------------------------------------------------------------------------
// aws_lb

/// `aws_lb`: an application load balancer.
pub struct LoadBalancerKind {
    elb: Client,
}

#[async_trait]
impl Kind for LoadBalancerKind {
    fn type_name(&self) -> &'static str {
        "aws_lb"
    }

    fn fields(&self) -> &'static [Field] {
        &[
            Field {
                name: "name",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "internal",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "load_balancer_type",
                flags: &[Flag::ForceNew],
            },
        ]
    }

    fn batch_group(&self) -> &'static str {
        BATCH
    }

    async fn read_many(
        &self,
        priors: &[Prior<'_>],
    ) -> Result<Vec<Option<Instance>>, ResourceError> {
        read_batch(&self.elb, priors).await
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        match self.describe_arn(&prior.id).await? {
            Some(lb) => self.instance(&lb).await,
            None => Ok(None),
        }
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let out = self
            .elb
            .describe_load_balancers()
            .names(desired.get_str("name")?)
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
        self.instance(&lb).await?.ok_or_else(|| vanished(&found.id))
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let scheme = if desired.get_bool("internal")? {
            LoadBalancerSchemeEnum::Internal
        } else {
            LoadBalancerSchemeEnum::InternetFacing
        };
        let out = self
            .elb
            .create_load_balancer()
            .name(desired.get_str("name")?)
            .set_subnets(Some(desired.get_strs("subnets")?))
            .set_security_groups(Some(desired.get_strs("security_groups")?))
            .scheme(scheme)
            .r#type(LoadBalancerTypeEnum::from(
                desired.get_str("load_balancer_type")?,
            ))
            .ip_address_type(IpAddressType::from(desired.get_str("ip_address_type")?))
            .set_tags(elb_tags(&Tags::from_json(desired.get("tags")).0))
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
        self.instance(&lb).await?.ok_or_else(|| vanished(&arn))
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let arn = prior.id.as_str();
        if changed.iter().any(|c| c == "subnets") {
            self.elb
                .set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(Some(desired.get_strs("subnets")?))
                .send()
                .await
                .map_err(|e| aws_error("SetSubnets", e))?;
        }
        if changed.iter().any(|c| c == "security_groups") {
            self.elb
                .set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(desired.get_strs("security_groups")?))
                .send()
                .await
                .map_err(|e| aws_error("SetSecurityGroups", e))?;
        }
        if changed.iter().any(|c| c == "ip_address_type") {
            self.elb
                .set_ip_address_type()
                .load_balancer_arn(arn)
                .ip_address_type(IpAddressType::from(desired.get_str("ip_address_type")?))
                .send()
                .await
                .map_err(|e| aws_error("SetIpAddressType", e))?;
        }
        if changed.iter().any(|c| c == "tags") {
            sync_tags(&self.elb, arn, prior, desired).await?;
        }
        wait::eventually(arn, || async {
            self.read(prior).await?.ok_or_else(|| vanished(arn))
        })
        .await
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

impl LoadBalancerKind {
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
                        lb.state().and_then(|s| s.reason()).unwrap_or("no reason given")
                    ),
                )
                .with_hint("check the subnets and security group, delete the load balancer, then run apply again")),
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
        Ok(Some(lb_instance(lb, &tags)))
    }
}

fn lb_instance(lb: &LoadBalancer, tags: &Tags) -> Instance {
    let arn = lb.load_balancer_arn().unwrap_or_default();
    let subnets = lb
        .availability_zones()
        .iter()
        .filter_map(|az| az.subnet_id())
        .map(str::to_owned);
    Instance::new(
        arn,
        Values::from([
            ("id".to_owned(), J::from(arn)),
            ("arn".to_owned(), J::from(arn)),
            ("arn_suffix".to_owned(), J::from(arn_suffix(arn))),
            (
                "dns_name".to_owned(),
                J::from(lb.dns_name().unwrap_or_default()),
            ),
            (
                "zone_id".to_owned(),
                J::from(lb.canonical_hosted_zone_id().unwrap_or_default()),
            ),
            (
                "vpc_id".to_owned(),
                J::from(lb.vpc_id().unwrap_or_default()),
            ),
            (
                "name".to_owned(),
                J::from(lb.load_balancer_name().unwrap_or_default()),
            ),
            (
                "internal".to_owned(),
                J::from(lb.scheme() == Some(&LoadBalancerSchemeEnum::Internal)),
            ),
            (
                "load_balancer_type".to_owned(),
                J::from(lb.r#type().map_or("", |t| t.as_str())),
            ),
            ("subnets".to_owned(), string_set(subnets)),
            (
                "security_groups".to_owned(),
                string_set(lb.security_groups().iter().cloned()),
            ),
            (
                "ip_address_type".to_owned(),
                J::from(lb.ip_address_type().map_or("", |t| t.as_str())),
            ),
            ("tags".to_owned(), tags.to_json()),
        ]),
    )
}

// ---------------------------------------------------------------------------------------------
// aws_lb_target_group

/// `aws_lb_target_group`: the group the ECS service registers its tasks in.
pub struct TargetGroupKind {
    elb: Client,
}

#[async_trait]
impl Kind for TargetGroupKind {
    fn type_name(&self) -> &'static str {
        "aws_lb_target_group"
    }

    fn fields(&self) -> &'static [Field] {
        &[
            Field {
                name: "name",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "port",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "protocol",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "vpc_id",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "target_type",
                flags: &[Flag::ForceNew],
            },
        ]
    }

    fn batch_group(&self) -> &'static str {
        BATCH
    }

    async fn read_many(
        &self,
        priors: &[Prior<'_>],
    ) -> Result<Vec<Option<Instance>>, ResourceError> {
        read_batch(&self.elb, priors).await
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        let out = self
            .elb
            .describe_target_groups()
            .target_group_arns(&prior.id)
            .send()
            .await
            .map_err(|e| aws_error("DescribeTargetGroups", e))
            .absent_if(TG_GONE)?;
        match out.as_ref().and_then(|out| out.target_groups().first()) {
            Some(tg) => self.instance(tg).await,
            None => Ok(None),
        }
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let out = self
            .elb
            .describe_target_groups()
            .names(desired.get_str("name")?)
            .send()
            .await
            .map_err(|e| aws_error("DescribeTargetGroups", e))
            .absent_if(TG_GONE)?;
        match out.as_ref().and_then(|out| out.target_groups().first()) {
            Some(tg) => self.instance(tg).await,
            None => Ok(None),
        }
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let hc = HealthCheck::from_values(desired)?;
        let out = self
            .elb
            .create_target_group()
            .name(desired.get_str("name")?)
            .port(to_i32("port", desired.get_i64("port")?)?)
            .protocol(ProtocolEnum::from(desired.get_str("protocol")?))
            .vpc_id(desired.get_str("vpc_id")?)
            .target_type(TargetTypeEnum::from(desired.get_str("target_type")?))
            .health_check_enabled(hc.enabled)
            .health_check_path(hc.path)
            .health_check_protocol(ProtocolEnum::from(hc.protocol.as_str()))
            .health_check_port(hc.port)
            .health_check_interval_seconds(hc.interval)
            .health_check_timeout_seconds(hc.timeout)
            .healthy_threshold_count(hc.healthy_threshold)
            .unhealthy_threshold_count(hc.unhealthy_threshold)
            .matcher(Matcher::builder().http_code(hc.matcher).build())
            .set_tags(elb_tags(&Tags::from_json(desired.get("tags")).0))
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
        self.read_back(&arn).await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        if changed.iter().any(|c| c == "health_check") {
            let hc = HealthCheck::from_values(desired)?;
            self.elb
                .modify_target_group()
                .target_group_arn(&prior.id)
                .health_check_enabled(hc.enabled)
                .health_check_path(hc.path)
                .health_check_protocol(ProtocolEnum::from(hc.protocol.as_str()))
                .health_check_port(hc.port)
                .health_check_interval_seconds(hc.interval)
                .health_check_timeout_seconds(hc.timeout)
                .healthy_threshold_count(hc.healthy_threshold)
                .unhealthy_threshold_count(hc.unhealthy_threshold)
                .matcher(Matcher::builder().http_code(hc.matcher).build())
                .send()
                .await
                .map_err(|e| aws_error("ModifyTargetGroup", e))?;
        }
        if changed.iter().any(|c| c == "tags") {
            sync_tags(&self.elb, &prior.id, prior, desired).await?;
        }
        self.read_back(&prior.id).await
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

impl TargetGroupKind {
    async fn instance(&self, tg: &TargetGroup) -> Result<Option<Instance>, ResourceError> {
        let arn = tg.target_group_arn().unwrap_or_default();
        let Some(tags) = read_tags(&self.elb, arn, TG_GONE).await? else {
            return Ok(None);
        };
        Ok(Some(tg_instance(tg, &tags)))
    }

    /// The resource as AWS has it now, riding out ELBv2's eventual consistency right after a
    /// create ("not found" for a moment).
    async fn read_back(&self, arn: &str) -> Result<Instance, ResourceError> {
        wait::eventually(arn, || async {
            self.read(&Instance::new(arn, Values::new()))
                .await?
                .ok_or_else(|| vanished(arn))
        })
        .await
    }
}

/// The health check settings, parsed from the `health_check` object.
struct HealthCheck {
    enabled: bool,
    path: String,
    protocol: String,
    port: String,
    interval: i32,
    timeout: i32,
    healthy_threshold: i32,
    unhealthy_threshold: i32,
    matcher: String,
}

impl HealthCheck {
    fn from_values(desired: &Values) -> Result<Self, ResourceError> {
        let hc: Values = desired
            .get("health_check")
            .and_then(J::as_object)
            .ok_or_else(|| {
                ResourceError::internal("attribute `health_check` is missing or not an object")
            })?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(HealthCheck {
            enabled: hc.get_bool("enabled")?,
            path: hc.get_str("path")?.to_owned(),
            protocol: hc.get_str("protocol")?.to_owned(),
            port: hc.get_str("port")?.to_owned(),
            interval: to_i32("health_check.interval", hc.get_i64("interval")?)?,
            timeout: to_i32("health_check.timeout", hc.get_i64("timeout")?)?,
            healthy_threshold: to_i32(
                "health_check.healthy_threshold",
                hc.get_i64("healthy_threshold")?,
            )?,
            unhealthy_threshold: to_i32(
                "health_check.unhealthy_threshold",
                hc.get_i64("unhealthy_threshold")?,
            )?,
            matcher: hc.get_str("matcher")?.to_owned(),
        })
    }
}

fn tg_instance(tg: &TargetGroup, tags: &Tags) -> Instance {
    let arn = tg.target_group_arn().unwrap_or_default();
    let health_check = json!({
        "enabled": tg.health_check_enabled().unwrap_or(true),
        "path": tg.health_check_path().unwrap_or_default(),
        "protocol": tg.health_check_protocol().map_or("", |p| p.as_str()),
        "port": tg.health_check_port().unwrap_or_default(),
        "interval": tg.health_check_interval_seconds().unwrap_or_default(),
        "timeout": tg.health_check_timeout_seconds().unwrap_or_default(),
        "healthy_threshold": tg.healthy_threshold_count().unwrap_or_default(),
        "unhealthy_threshold": tg.unhealthy_threshold_count().unwrap_or_default(),
        "matcher": tg.matcher().and_then(Matcher::http_code).unwrap_or_default(),
    });
    Instance::new(
        arn,
        Values::from([
            ("id".to_owned(), J::from(arn)),
            ("arn".to_owned(), J::from(arn)),
            ("arn_suffix".to_owned(), J::from(arn_suffix(arn))),
            (
                "name".to_owned(),
                J::from(tg.target_group_name().unwrap_or_default()),
            ),
            ("port".to_owned(), J::from(tg.port().unwrap_or_default())),
            (
                "protocol".to_owned(),
                J::from(tg.protocol().map_or("", |p| p.as_str())),
            ),
            (
                "vpc_id".to_owned(),
                J::from(tg.vpc_id().unwrap_or_default()),
            ),
            (
                "target_type".to_owned(),
                J::from(tg.target_type().map_or("", |t| t.as_str())),
            ),
            ("health_check".to_owned(), health_check),
            ("tags".to_owned(), tags.to_json()),
        ]),
    )
}

// ---------------------------------------------------------------------------------------------
// aws_lb_listener

/// `aws_lb_listener`: the HTTP listener forwarding to the target group.
pub struct ListenerKind {
    elb: Client,
}

#[async_trait]
impl Kind for ListenerKind {
    fn type_name(&self) -> &'static str {
        "aws_lb_listener"
    }

    fn fields(&self) -> &'static [Field] {
        &[Field {
            name: "load_balancer_arn",
            flags: &[Flag::ForceNew],
        }]
    }

    fn batch_group(&self) -> &'static str {
        BATCH
    }

    async fn read_many(
        &self,
        priors: &[Prior<'_>],
    ) -> Result<Vec<Option<Instance>>, ResourceError> {
        read_batch(&self.elb, priors).await
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        let out = self
            .elb
            .describe_listeners()
            .listener_arns(&prior.id)
            .send()
            .await
            .map_err(|e| aws_error("DescribeListeners", e))
            .absent_if(LISTENER_GONE)?;
        match out.as_ref().and_then(|out| out.listeners().first()) {
            Some(l) => self.instance(l).await,
            None => Ok(None),
        }
    }

    /// A load balancer has at most one listener per port: that one is ours.
    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let port = desired.get_i64("port")?;
        let out = self
            .elb
            .describe_listeners()
            .load_balancer_arn(desired.get_str("load_balancer_arn")?)
            .send()
            .await
            .map_err(|e| aws_error("DescribeListeners", e))
            .absent_if(LISTENER_GONE)?;
        let found = out.as_ref().and_then(|out| {
            out.listeners()
                .iter()
                .find(|l| l.port().map(i64::from) == Some(port))
        });
        match found {
            Some(l) => self.instance(l).await,
            None => Ok(None),
        }
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let out = self
            .elb
            .create_listener()
            .load_balancer_arn(desired.get_str("load_balancer_arn")?)
            .port(to_i32("port", desired.get_i64("port")?)?)
            .protocol(ProtocolEnum::from(desired.get_str("protocol")?))
            .default_actions(action(desired)?)
            .set_tags(elb_tags(&Tags::from_json(desired.get("tags")).0))
            .send()
            .await
            .map_err(|e| aws_error("CreateListener", e))?;
        let arn = out
            .listeners()
            .first()
            .and_then(Listener::listener_arn)
            .ok_or_else(|| ResourceError::new("CreateListener", "AWS returned no listener ARN"))?
            .to_owned();
        self.read_back(&arn).await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        if changed
            .iter()
            .any(|c| matches!(c.as_str(), "port" | "protocol" | "default_action"))
        {
            self.elb
                .modify_listener()
                .listener_arn(&prior.id)
                .port(to_i32("port", desired.get_i64("port")?)?)
                .protocol(ProtocolEnum::from(desired.get_str("protocol")?))
                .default_actions(action(desired)?)
                .send()
                .await
                .map_err(|e| aws_error("ModifyListener", e))?;
        }
        if changed.iter().any(|c| c == "tags") {
            sync_tags(&self.elb, &prior.id, prior, desired).await?;
        }
        self.read_back(&prior.id).await
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        self.elb
            .delete_listener()
            .listener_arn(&prior.id)
            .send()
            .await
            .map_err(|e| aws_error("DeleteListener", e))
            .absent_if(LISTENER_GONE)?;
        Ok(())
    }
}

impl ListenerKind {
    async fn instance(&self, l: &Listener) -> Result<Option<Instance>, ResourceError> {
        let arn = l.listener_arn().unwrap_or_default();
        let Some(tags) = read_tags(&self.elb, arn, LISTENER_GONE).await? else {
            return Ok(None);
        };
        Ok(Some(listener_instance(l, &tags)))
    }

    /// The resource as AWS has it now, riding out ELBv2's eventual consistency right after a
    /// create ("not found" for a moment).
    async fn read_back(&self, arn: &str) -> Result<Instance, ResourceError> {
        wait::eventually(arn, || async {
            self.read(&Instance::new(arn, Values::new()))
                .await?
                .ok_or_else(|| vanished(arn))
        })
        .await
    }
}

/// The listener's default action from the `default_action` object.
fn action(desired: &Values) -> Result<Action, ResourceError> {
    let a = desired
        .get("default_action")
        .and_then(J::as_object)
        .ok_or_else(|| {
            ResourceError::internal("attribute `default_action` is missing or not an object")
        })?;
    let kind = a.get("type").and_then(J::as_str).unwrap_or("forward");
    Ok(Action::builder()
        .r#type(ActionTypeEnum::from(kind))
        .set_target_group_arn(
            a.get("target_group_arn")
                .and_then(J::as_str)
                .map(str::to_owned),
        )
        .build())
}

fn listener_instance(l: &Listener, tags: &Tags) -> Instance {
    let arn = l.listener_arn().unwrap_or_default();
    let default_action = l.default_actions().first().map_or(J::Null, |a| {
        let mut obj = serde_json::Map::new();
        obj.insert(
            "type".to_owned(),
            J::from(a.r#type().map_or("", |t| t.as_str())),
        );
        // AWS reports a plain forward both ways; older answers only in the forward config.
        let tg = a.target_group_arn().or_else(|| {
            a.forward_config()
                .and_then(|f| f.target_groups().first())
                .and_then(|t| t.target_group_arn())
        });
        if let Some(tg) = tg {
            obj.insert("target_group_arn".to_owned(), J::from(tg));
        }
        J::Object(obj)
    });
    Instance::new(
        arn,
        Values::from([
            ("id".to_owned(), J::from(arn)),
            ("arn".to_owned(), J::from(arn)),
            (
                "load_balancer_arn".to_owned(),
                J::from(l.load_balancer_arn().unwrap_or_default()),
            ),
            ("port".to_owned(), J::from(l.port().unwrap_or_default())),
            (
                "protocol".to_owned(),
                J::from(l.protocol().map_or("", |p| p.as_str())),
            ),
            ("default_action".to_owned(), default_action),
            ("tags".to_owned(), tags.to_json()),
        ]),
    )
}

// ---------------------------------------------------------------------------------------------
// Shared

/// Refresh load balancers, target groups and listeners together: one describe per type, all
/// three at once, then one `DescribeTags` for everything found (it takes 20 ARNs at a time),
/// where reading each resource alone costs a describe and a `DescribeTags` apiece.
async fn read_batch(
    elb: &Client,
    priors: &[Prior<'_>],
) -> Result<Vec<Option<Instance>>, ResourceError> {
    let arns_of = |type_name: &str| -> Vec<String> {
        priors
            .iter()
            .filter(|p| p.type_name == type_name)
            .map(|p| p.instance.id.clone())
            .collect()
    };
    let (lbs, tgs, listeners) = tokio::try_join!(
        describe_all(arns_of("aws_lb"), LB_GONE, |arns| async move {
            elb.describe_load_balancers()
                .set_load_balancer_arns(Some(arns))
                .send()
                .await
                .map(|o| o.load_balancers().to_vec())
                .map_err(|e| aws_error("DescribeLoadBalancers", e))
        }),
        describe_all(arns_of("aws_lb_target_group"), TG_GONE, |arns| async move {
            elb.describe_target_groups()
                .set_target_group_arns(Some(arns))
                .send()
                .await
                .map(|o| o.target_groups().to_vec())
                .map_err(|e| aws_error("DescribeTargetGroups", e))
        }),
        describe_all(
            arns_of("aws_lb_listener"),
            LISTENER_GONE,
            |arns| async move {
                elb.describe_listeners()
                    .set_listener_arns(Some(arns))
                    .send()
                    .await
                    .map(|o| o.listeners().to_vec())
                    .map_err(|e| aws_error("DescribeListeners", e))
            }
        ),
    )?;
    let found: Vec<String> = lbs
        .iter()
        .filter_map(|x| x.load_balancer_arn())
        .chain(tgs.iter().filter_map(|x| x.target_group_arn()))
        .chain(listeners.iter().filter_map(|x| x.listener_arn()))
        .map(str::to_owned)
        .collect();
    let tags = tags_of(elb, &found).await?;
    priors
        .iter()
        .map(|p| {
            let arn = p.instance.id.as_str();
            // Not in the tag answer: deleted between the describe and DescribeTags.
            let Some(t) = tags.get(arn) else {
                return Ok(None);
            };
            Ok(match p.type_name {
                "aws_lb" => lbs
                    .iter()
                    .find(|x| x.load_balancer_arn() == Some(arn))
                    .map(|x| lb_instance(x, t)),
                "aws_lb_target_group" => tgs
                    .iter()
                    .find(|x| x.target_group_arn() == Some(arn))
                    .map(|x| tg_instance(x, t)),
                "aws_lb_listener" => listeners
                    .iter()
                    .find(|x| x.listener_arn() == Some(arn))
                    .map(|x| listener_instance(x, t)),
                other => {
                    return Err(ResourceError::internal(format!(
                        "the alb module cannot read a {other}"
                    )))
                }
            })
        })
        .collect()
}

/// `describe` for all of `arns` in one request. AWS fails the whole request when one of them
/// is gone (`gone` codes): then each is asked about alone, and the gone ones are left out.
async fn describe_all<T, F, Fut>(
    arns: Vec<String>,
    gone: &[&str],
    describe: F,
) -> Result<Vec<T>, ResourceError>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, ResourceError>>,
{
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    match describe(arns.clone()).await {
        Ok(found) => Ok(found),
        Err(e) if e.is(gone) && arns.len() > 1 => {
            let each = futures::future::try_join_all(arns.into_iter().map(|arn| {
                let one = describe(vec![arn]);
                async move {
                    match one.await {
                        Err(e) if e.is(gone) => Ok(Vec::new()),
                        other => other,
                    }
                }
            }))
            .await?;
            Ok(each.into_iter().flatten().collect())
        }
        Err(e) if e.is(gone) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The tags of each of `arns` that still exists, by ARN, in requests of 20 ARNs (the API's
/// limit). A resource deleted since it was described fails the request: then each is asked
/// about alone, and the gone ones are left out.
async fn tags_of(elb: &Client, arns: &[String]) -> Result<BTreeMap<String, Tags>, ResourceError> {
    const ALL_GONE: &[&str] = &[
        "LoadBalancerNotFound",
        "TargetGroupNotFound",
        "ListenerNotFound",
    ];
    let mut out = BTreeMap::new();
    for chunk in arns.chunks(20) {
        let answer = elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error("DescribeTags", e));
        match answer {
            Ok(answer) => {
                for d in answer.tag_descriptions() {
                    out.insert(
                        d.resource_arn().unwrap_or_default().to_owned(),
                        Tags::from_pairs(d.tags().iter().map(|t| {
                            (
                                t.key().unwrap_or_default().to_owned(),
                                t.value().unwrap_or_default().to_owned(),
                            )
                        })),
                    );
                }
                // AWS answers for every ARN it knows (with an empty list when it has no tags)
                // and fails the call for one it does not: an ARN missing from the answer is
                // not known to have no tags, so it is left out (read as gone, and read again
                // next time) rather than taken for an untagged resource.
            }
            Err(e) if e.is(ALL_GONE) => {
                for arn in chunk {
                    if let Some(t) = read_tags(elb, arn, ALL_GONE).await? {
                        out.insert(arn.clone(), t);
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The resource's tags, or `None` when AWS says the resource is gone (`gone` codes) or does
/// not answer for it.
async fn read_tags(elb: &Client, arn: &str, gone: &[&str]) -> Result<Option<Tags>, ResourceError> {
    let Some(out) = elb
        .describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .map_err(|e| aws_error("DescribeTags", e))
        .absent_if(gone)?
    else {
        return Ok(None);
    };
    Ok(out
        .tag_descriptions()
        .iter()
        .find(|d| d.resource_arn() == Some(arn))
        .map(|d| {
            Tags::from_pairs(d.tags().iter().map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            }))
        }))
}

/// Add and remove tags to go from the prior tags to the desired ones.
async fn sync_tags(
    elb: &Client,
    arn: &str,
    prior: &Instance,
    desired: &Values,
) -> Result<(), ResourceError> {
    let have = Tags::from_json(prior.attrs.get("tags"));
    let (set, remove) = have.delta(&Tags::from_json(desired.get("tags")));
    if !set.is_empty() {
        elb.add_tags()
            .resource_arns(arn)
            .set_tags(elb_tags(&set))
            .send()
            .await
            .map_err(|e| aws_error("AddTags", e))?;
    }
    if !remove.is_empty() {
        elb.remove_tags()
            .resource_arns(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| aws_error("RemoveTags", e))?;
    }
    Ok(())
}

/// Tags for a request; `None` when there are none, as AWS rejects an empty list.
fn elb_tags(tags: &BTreeMap<String, String>) -> Option<Vec<Tag>> {
    if tags.is_empty() {
        return None;
    }
    Some(
        tags.iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect(),
    )
}

/// The part of an ELB ARN CloudWatch metrics use: `app/name/id`, `targetgroup/name/id`.
fn arn_suffix(arn: &str) -> &str {
    let resource = arn.rsplit(':').next().unwrap_or(arn);
    resource.strip_prefix("loadbalancer/").unwrap_or(resource)
}

fn to_i32(key: &str, v: i64) -> Result<i32, ResourceError> {
    i32::try_from(v).map_err(|_| ResourceError::internal(format!("`{key}` = {v} is out of range")))
}

fn vanished(arn: &str) -> ResourceError {
    ResourceError::new(
        "Describe",
        format!("{arn} vanished right after it was changed"),
    )
    .retryable()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_suffixes_are_what_cloudwatch_wants() {
        assert_eq!(
            arn_suffix("arn:aws:elasticloadbalancing:eu-west-3:123:loadbalancer/app/p-alb/abc"),
            "app/p-alb/abc"
        );
        assert_eq!(
            arn_suffix("arn:aws:elasticloadbalancing:eu-west-3:123:targetgroup/p-tg/def"),
            "targetgroup/p-tg/def"
        );
    }

    #[test]
    fn health_check_parses_the_default() {
        let desired = Values::from([("health_check".to_owned(), default_health_check())]);
        let hc = HealthCheck::from_values(&desired).unwrap();
        assert_eq!(hc.port, "traffic-port");
        assert_eq!(hc.interval, 30);
        assert_eq!(hc.matcher, "200-399");
    }
}
