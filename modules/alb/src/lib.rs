//! The alb module: the internet-facing application load balancer, its target group and listener.
//!
//! Elastic Load Balancing keeps tags apart from the resources (`DescribeTags`), so every read is
//! two calls; the health check settings, flat in the API, are one `health_check` object here so
//! that a change to any of them is a single `ModifyTargetGroup`.

mod listener;
mod load_balancer;
mod provider;
pub mod status;
mod target_group;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_elasticloadbalancingv2::types::Tag;
use aws_sdk_elasticloadbalancingv2::Client;
use serde_json::{json, Value as J};
use stackctl_contract::value::string_set;
use stackctl_contract::{
    aws_error, wait, Absent, Instance, Kind, Planned, Prior, Ref, ResourceError, ResourceSpec,
    TagApi, Tags, Val, Values,
};

pub use listener::{ListenerArgs, ListenerKind};
pub use load_balancer::{LoadBalancerArgs, LoadBalancerKind};
pub use target_group::{HealthCheckArgs, TargetGroupArgs, TargetGroupKind};

pub const LB: &str = "module.alb.aws_lb.main";
pub const TARGET_GROUP: &str = "module.alb.aws_lb_target_group.main";
pub const LISTENER: &str = "module.alb.aws_lb_listener.http";

/// Error codes meaning the resource (or the load balancer it hangs off) is gone.
pub(crate) const LB_GONE: &[&str] = &["LoadBalancerNotFound"];
pub(crate) const TG_GONE: &[&str] = &["TargetGroupNotFound"];
pub(crate) const LISTENER_GONE: &[&str] = &["ListenerNotFound", "LoadBalancerNotFound"];

/// The batch group of the three kinds: a refresh reads them together and tags them all in one
/// `DescribeTags`.
pub(crate) const BATCH: &str = "elbv2";

/// What the three kinds' `Kind` impls share, written once: their type name and arguments, and
/// the batch they are refreshed in together ([`read_batch`]: one describe per type and one
/// `DescribeTags` for all). A kind holds its client as `elb`. Used inside an `#[async_trait]`
/// impl, which does not see into a macro: `read_many` is therefore written as that attribute
/// writes an `async fn` out (a boxed future living as long as its arguments).
macro_rules! elbv2_kind {
    ($type_name:literal, $args:ty) => {
        fn type_name(&self) -> &'static str {
            $type_name
        }

        fn fields(&self) -> &'static [stackctl_contract::Field] {
            <$args as stackctl_contract::Args>::FIELDS
        }

        fn batch_group(&self) -> &'static str {
            crate::BATCH
        }

        fn read_many<'s, 'p, 'i, 'async_trait>(
            &'s self,
            priors: &'p [stackctl_contract::Prior<'i>],
        ) -> futures::future::BoxFuture<
            'async_trait,
            Result<Vec<Option<stackctl_contract::Instance>>, stackctl_contract::ResourceError>,
        >
        where
            's: 'async_trait,
            'p: 'async_trait,
            'i: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(crate::read_batch(&self.elb, priors))
        }
    };
}
pub(crate) use elbv2_kind;

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

/// The module's kinds, built here only so that `kinds` and `specs` hand out the same.
struct Kinds {
    load_balancer: Arc<dyn Kind>,
    target_group: Arc<dyn Kind>,
    listener: Arc<dyn Kind>,
}

impl Kinds {
    fn new(sdk: &aws_types::SdkConfig) -> Self {
        let elb = Client::new(sdk);
        Kinds {
            load_balancer: Arc::new(LoadBalancerKind::new(elb.clone())),
            target_group: Arc::new(TargetGroupKind::new(elb.clone())),
            listener: Arc::new(ListenerKind::new(elb)),
        }
    }
}

/// The kinds this module implements, for the engine's registry.
pub fn kinds(sdk: &aws_types::SdkConfig) -> Vec<Arc<dyn Kind>> {
    let k = Kinds::new(sdk);
    vec![k.load_balancer, k.target_group, k.listener]
}

/// The health check PrestaShop answers: any non-error page at `/` on the traffic port.
///
/// Chosen for fast deploys (README, "How long a deploy takes"): a new task counts as healthy
/// after `healthy_threshold x interval` = 20 s of passing checks (AWS's defaults, 5 x 30 s,
/// take 150 s), and a task that stops answering is out after 3 x 10 s. PrestaShop's slow
/// first start (its installer) is covered by the service's health-check grace period, not
/// by lenient checks.
pub fn default_health_check() -> J {
    HealthCheckArgs {
        enabled: true,
        path: "/".to_owned(),
        protocol: "HTTP".to_owned(),
        port: "traffic-port".to_owned(),
        interval: 10,
        timeout: 5,
        healthy_threshold: 2,
        unhealthy_threshold: 3,
        matcher: "200-399".to_owned(),
    }
    .to_json()
}

/// Seconds a deregistered task keeps serving its in-flight requests. AWS's default (300 s) is
/// added to every rolling deploy, whose old tasks stop only after it; a PrestaShop request
/// takes well under a second, and a checkout under 30 s.
pub const DEREGISTRATION_DELAY_SECONDS: i64 = 30;

/// The load balancer in the given subnets, a target group of Fargate task IPs on port 80, and
/// an HTTP listener forwarding everything to it.
pub fn specs(sdk: &aws_types::SdkConfig, inputs: &Inputs) -> Vec<ResourceSpec> {
    let k = Kinds::new(sdk);

    let lb = {
        let name = format!("{}-alb", inputs.name_prefix);
        let subnets = string_set(inputs.subnet_ids.iter().cloned());
        let sg = inputs.security_group.clone();
        let tags = inputs.tags.to_json();
        ResourceSpec::new(LB, k.load_balancer, move |r| {
            LoadBalancerArgs::<Planned> {
                name: name.clone().into(),
                internal: false.into(),
                load_balancer_type: "application".into(),
                subnets: subnets.clone().into(),
                security_groups: Val::all([&sg.get(r)], |[id]| {
                    string_set(id.as_str().map(str::to_owned))
                }),
                ip_address_type: "ipv4".into(),
                tags: tags.clone().into(),
            }
            .into()
        })
    };

    let tg = {
        let name = format!("{}-tg", inputs.name_prefix);
        let vpc_id = inputs.vpc_id.clone();
        let tags = inputs.tags.to_json();
        ResourceSpec::new(TARGET_GROUP, k.target_group, move |_r| {
            TargetGroupArgs::<Planned> {
                name: name.clone().into(),
                port: 80.into(),
                protocol: "HTTP".into(),
                vpc_id: vpc_id.clone().into(),
                // Fargate tasks use awsvpc networking: targets are task IPs, not instances.
                target_type: "ip".into(),
                health_check: default_health_check().into(),
                deregistration_delay: Some(DEREGISTRATION_DELAY_SECONDS).into(),
                tags: tags.clone().into(),
            }
            .into()
        })
    };

    let listener = {
        let tags = inputs.tags.to_json();
        ResourceSpec::new(LISTENER, k.listener, move |r| {
            ListenerArgs::<Planned> {
                load_balancer_arn: r.get(LB, "arn"),
                port: 80.into(),
                protocol: "HTTP".into(),
                default_action: Val::all(
                    [&r.get(TARGET_GROUP, "arn")],
                    |[tg]| json!({ "type": "forward", "target_group_arn": tg }),
                ),
                tags: tags.clone().into(),
            }
            .into()
        })
    };

    vec![lb, tg, listener]
}

/// Refresh load balancers, target groups and listeners together: one describe per type, all
/// three at once, then one `DescribeTags` for everything found (it takes 20 ARNs at a time),
/// where reading each resource alone costs a describe and a `DescribeTags` apiece.
pub(crate) async fn read_batch(
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
    // The deregistration delay is an attribute of each group, outside DescribeTargetGroups.
    let mut delays = HashMap::new();
    for arn in tgs.iter().filter_map(|x| x.target_group_arn()) {
        delays.insert(arn, target_group::deregistration_delay(elb, arn).await?);
    }
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
                    .map(|x| load_balancer::to_instance(x, t.clone())),
                "aws_lb_target_group" => tgs
                    .iter()
                    .find(|x| x.target_group_arn() == Some(arn))
                    .map(|x| {
                        let delay = delays.get(arn).copied().flatten();
                        target_group::to_instance(x, t.clone(), delay)
                    }),
                "aws_lb_listener" => listeners
                    .iter()
                    .find(|x| x.listener_arn() == Some(arn))
                    .map(|x| listener::to_instance(x, t.clone())),
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
                        elb_tags_of(d.tags()),
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
pub(crate) async fn read_tags(
    elb: &Client,
    arn: &str,
    gone: &[&str],
) -> Result<Option<Tags>, ResourceError> {
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
        .map(|d| elb_tags_of(d.tags())))
}

/// ELBv2's tag calls, shared by the three kinds (resources are named by ARN).
pub(crate) struct ElbTagging<'a>(pub(crate) &'a Client);

impl TagApi for ElbTagging<'_> {
    async fn tag(&self, arn: &str, set: BTreeMap<String, String>) -> Result<(), ResourceError> {
        self.0
            .add_tags()
            .resource_arns(arn)
            .set_tags(elb_tags(&set))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("AddTags", e))
    }

    async fn untag(&self, arn: &str, keys: Vec<String>) -> Result<(), ResourceError> {
        self.0
            .remove_tags()
            .resource_arns(arn)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("RemoveTags", e))
    }
}

/// The resource as AWS has it now, riding out ELBv2's eventual consistency right after a
/// create or a change ("not found" for a moment).
pub(crate) async fn read_back(kind: &dyn Kind, arn: &str) -> Result<Instance, ResourceError> {
    wait::eventually(arn, || async {
        kind.read(&Instance::new(arn, Values::new()))
            .await?
            .ok_or_else(|| ResourceError::vanished("Describe", arn))
    })
    .await
}

/// Tags for a request; `None` when there are none, as AWS rejects an empty list.
pub(crate) fn elb_tags(tags: &BTreeMap<String, String>) -> Option<Vec<Tag>> {
    if tags.is_empty() {
        return None;
    }
    Some(
        tags.iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect(),
    )
}

/// The tags a resource has, from what `DescribeTags` answers.
fn elb_tags_of(tags: &[Tag]) -> Tags {
    Tags::from_sdk(tags.iter().map(|t| (t.key(), t.value())))
}

/// The part of an ELB ARN CloudWatch metrics use: `app/name/id`, `targetgroup/name/id`.
pub(crate) fn arn_suffix(arn: &str) -> &str {
    let resource = arn.rsplit(':').next().unwrap_or(arn);
    resource.strip_prefix("loadbalancer/").unwrap_or(resource)
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

    /// The state files and plans hold these shapes: the typed arguments must not change them.
    #[test]
    fn the_default_health_check_keeps_its_shape() {
        assert_eq!(
            default_health_check(),
            json!({
                "enabled": true,
                "path": "/",
                "protocol": "HTTP",
                "port": "traffic-port",
                "interval": 10,
                "timeout": 5,
                "healthy_threshold": 2,
                "unhealthy_threshold": 3,
                "matcher": "200-399",
            })
        );
    }

    #[test]
    fn replacements_are_the_ones_terraform_makes() {
        fn force_new(fields: &[stackctl_contract::Field]) -> Vec<&str> {
            fields
                .iter()
                .filter(|f| f.force_new())
                .map(|f| f.name)
                .collect()
        }
        use stackctl_contract::Args;
        assert_eq!(
            force_new(LoadBalancerArgs::FIELDS),
            ["name", "internal", "load_balancer_type"]
        );
        assert_eq!(
            force_new(TargetGroupArgs::FIELDS),
            ["name", "port", "protocol", "vpc_id", "target_type"]
        );
        assert_eq!(force_new(ListenerArgs::FIELDS), ["load_balancer_arn"]);
    }
}
