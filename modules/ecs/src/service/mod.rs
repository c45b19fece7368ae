//! `aws_ecs_service`: the Fargate service that keeps the PrestaShop tasks running behind the ALB.
//! What follows an update to a new task definition revision is in `revisions`.

mod revisions;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, LaunchType, LoadBalancer, NetworkConfiguration, Service,
};
use aws_sdk_ecs::Client;
use serde_json::{json, Value as J};
use stackctl_contract::value::to_i32;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    args, aws_error, Absent, Args, Changed, Field, Instance, Kind, ResourceError, TagApi, Tags,
    Values,
};

use crate::deployment::{self, DeployWait};
use crate::describe;
use crate::log_events::LogReader;
use crate::{ecs_tags, ecs_tags_of, EcsTagging};
use stackctl_contract::args::required;
use stackctl_contract::target_health::TargetHealth;
use stackctl_contract::value::sorted_set;

/// How long a deleted service may take to drain its tasks and become INACTIVE.
const DRAIN: Duration = Duration::from_secs(20 * 60);

/// The health-check grace period of a new service's first task: PrestaShop's installer
/// creates the database schema before the web server answers, 2 to 6 minutes on a small
/// Fargate task. After it, a task answers within a minute of starting, and the service's own
/// (shorter) grace period lets a broken image fail fast.
const INSTALL_GRACE_SECONDS: i32 = 600;

/// How a new service starts: one task, with the installer's grace period.
struct Install {
    count: i32,
    grace: i32,
}

args! {
    /// `aws_ecs_service`'s arguments.
    pub struct ServiceArgs {
        [ForceNew] name: String,
        /// The cluster's ARN.
        [ForceNew] cluster: String,
        /// The ARN of the task definition revision the service runs.
        task_definition: String,
        desired_count: i64,
        /// Null for a service AWS reports without one (a capacity provider strategy).
        [ForceNew] launch_type: Option<String>,
        /// Sorted, as are the security groups.
        subnets: Vec<String>,
        security_groups: Vec<String>,
        assign_public_ip: bool,
        /// `{target_group_arn, container_name, container_port}`, or null.
        [ForceNew] load_balancer: J,
        /// Null when AWS does not report one.
        health_check_grace_period_seconds: Option<i64>,
        /// `{enable, rollback}`: a deployment whose tasks keep failing is stopped and rolled
        /// back to the last one that worked; null when AWS reports none.
        deployment_circuit_breaker: J,
        tags: Tags,
    }
}

/// `aws_ecs_service`, identified by its ARN; `cluster` (an ARN) says where to look for it.
pub struct ServiceKind {
    ecs: Client,
    wait: DeployWait,
    /// The target group's health, read by the deployment wait (none: trust ECS alone).
    targets: Option<Arc<dyn TargetHealth>>,
    logs: LogReader,
}

impl ServiceKind {
    pub fn new(
        ecs: Client,
        logs: LogReader,
        wait: DeployWait,
        targets: Option<Arc<dyn TargetHealth>>,
    ) -> Self {
        ServiceKind {
            ecs,
            wait,
            targets,
            logs,
        }
    }

    /// What a deployment wait on `service` reads.
    fn watch<'a>(&'a self, cluster: &'a str, service: &'a str) -> deployment::Watch<'a> {
        deployment::Watch {
            ecs: &self.ecs,
            targets: self.targets.as_deref(),
            logs: Some(&self.logs),
            cluster,
            service,
        }
    }

    async fn describe(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<Service>, ResourceError> {
        describe::service(&self.ecs, cluster, service).await
    }

    async fn read_back(&self, cluster: &str, id: &str) -> Result<Instance, ResourceError> {
        self.describe(cluster, id)
            .await?
            .map(|s| to_instance(&s))
            .ok_or_else(|| {
                ResourceError::vanished("DescribeServices", &format!("ECS service {id}"))
            })
    }
}

/// The cluster a known service lives in: its `cluster` attribute, else the cluster name in a
/// long-format service ARN (`...:service/<cluster>/<name>`).
fn cluster_of(prior: &Instance) -> String {
    if let Some(c) = prior.attrs.get("cluster").and_then(J::as_str) {
        return c.to_owned();
    }
    match prior.id.rsplit_once(":service/").map(|(_, p)| p.split('/')) {
        Some(mut parts) => match (parts.next(), parts.next()) {
            (Some(cluster), Some(_)) => cluster.to_owned(),
            _ => "default".to_owned(),
        },
        None => "default".to_owned(),
    }
}

fn network(d: &ServiceArgs) -> Result<NetworkConfiguration, ResourceError> {
    let assign = if d.assign_public_ip {
        AssignPublicIp::Enabled
    } else {
        AssignPublicIp::Disabled
    };
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(d.subnets.clone()))
        .set_security_groups(Some(d.security_groups.clone()))
        .assign_public_ip(assign)
        .build()
        .map_err(|e| ResourceError::internal(format!("service network configuration: {e}")))?;
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(vpc)
        .build())
}

/// The circuit breaker as the desired values say (null: none).
fn deployment_configuration(
    d: &ServiceArgs,
) -> Result<Option<aws_sdk_ecs::types::DeploymentConfiguration>, ResourceError> {
    let b = match &d.deployment_circuit_breaker {
        J::Null => return Ok(None),
        J::Object(b) => b,
        _ => {
            return Err(ResourceError::internal(
                "attribute `deployment_circuit_breaker` is not an object",
            ))
        }
    };
    let flag = |k: &str| b.get(k).and_then(J::as_bool).unwrap_or(false);
    let breaker = aws_sdk_ecs::types::DeploymentCircuitBreaker::builder()
        .enable(flag("enable"))
        .rollback(flag("rollback"))
        .build();
    Ok(Some(
        aws_sdk_ecs::types::DeploymentConfiguration::builder()
            .deployment_circuit_breaker(breaker)
            .build(),
    ))
}

fn grace_period(d: &ServiceArgs) -> Result<i32, ResourceError> {
    const KEY: &str = "health_check_grace_period_seconds";
    to_i32(KEY, *required(KEY, &d.health_check_grace_period_seconds)?)
}

fn load_balancer(d: &ServiceArgs) -> Result<Option<LoadBalancer>, ResourceError> {
    let lb = match &d.load_balancer {
        J::Null => return Ok(None),
        J::Object(lb) => lb,
        _ => {
            return Err(ResourceError::internal(
                "attribute `load_balancer` is not an object",
            ))
        }
    };
    let field = |k: &str| {
        lb.get(k).ok_or_else(|| {
            ResourceError::internal(format!("attribute `load_balancer` has no `{k}`"))
        })
    };
    let port = field("container_port")?
        .as_i64()
        .ok_or_else(|| ResourceError::internal("`load_balancer.container_port` is not a number"))?;
    Ok(Some(
        LoadBalancer::builder()
            .target_group_arn(field("target_group_arn")?.as_str().unwrap_or_default())
            .container_name(field("container_name")?.as_str().unwrap_or_default())
            .container_port(to_i32("load_balancer.container_port", port)?)
            .build(),
    ))
}

/// The canonical attributes of a service, as AWS answers them: a grace period AWS does not
/// report is unknown, not the value stackctl last set (drift in it must show).
fn to_instance(s: &Service) -> Instance {
    let arn = s.service_arn().unwrap_or_default();
    let vpc = s
        .network_configuration()
        .and_then(NetworkConfiguration::awsvpc_configuration);
    let load_balancer = s
        .load_balancers()
        .first()
        .map(|lb| {
            json!({
                "target_group_arn": lb.target_group_arn(),
                "container_name": lb.container_name(),
                "container_port": lb.container_port(),
            })
        })
        .unwrap_or(J::Null);
    let mut attrs = ServiceArgs {
        name: s.service_name().unwrap_or_default().to_owned(),
        cluster: s.cluster_arn().unwrap_or_default().to_owned(),
        task_definition: s.task_definition().unwrap_or_default().to_owned(),
        desired_count: s.desired_count().into(),
        launch_type: s.launch_type().map(|l| l.as_str().to_owned()),
        subnets: sorted_set(vpc.map(|v| v.subnets().to_vec()).unwrap_or_default()),
        security_groups: sorted_set(
            vpc.map(|v| v.security_groups().to_vec())
                .unwrap_or_default(),
        ),
        assign_public_ip: vpc.and_then(AwsVpcConfiguration::assign_public_ip)
            == Some(&AssignPublicIp::Enabled),
        load_balancer,
        health_check_grace_period_seconds: s.health_check_grace_period_seconds().map(i64::from),
        deployment_circuit_breaker: s
            .deployment_configuration()
            .and_then(|c| c.deployment_circuit_breaker())
            .map(|b| json!({ "enable": b.enable(), "rollback": b.rollback() }))
            .unwrap_or(J::Null),
        tags: ecs_tags_of(s.tags()),
    }
    .to_values();
    attrs.insert("id".to_owned(), J::from(arn));
    attrs.insert("arn".to_owned(), J::from(arn));
    Instance::new(arn, attrs)
}

#[async_trait]
impl Kind for ServiceKind {
    fn type_name(&self) -> &'static str {
        "aws_ecs_service"
    }

    fn fields(&self) -> &'static [Field] {
        ServiceArgs::FIELDS
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        Ok(self
            .describe(&cluster_of(prior), &prior.id)
            .await?
            .map(|s| to_instance(&s)))
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let d = ServiceArgs::from_values(desired)?;
        Ok(self
            .describe(&d.cluster, &d.name)
            .await?
            .filter(|s| s.status() == Some("ACTIVE"))
            .map(|s| to_instance(&s)))
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = ServiceArgs::from_values(desired)?;
        let cluster = &d.cluster;
        let desired_count = to_i32("desired_count", d.desired_count)?;
        let grace = grace_period(&d)?;
        // Install once: PrestaShop's installer (PS_INSTALL_AUTO) run by several tasks at once
        // against the empty database races, so the service starts with one task, under a
        // grace period long enough for the installer; the desired count and grace period
        // follow once that task is healthy.
        let install = Install {
            count: desired_count.min(1),
            grace: grace.max(INSTALL_GRACE_SECONDS),
        };
        let request = self
            .ecs
            .create_service()
            .cluster(cluster)
            .service_name(&d.name)
            .task_definition(&d.task_definition)
            .desired_count(install.count)
            .launch_type(LaunchType::from(
                required("launch_type", &d.launch_type)?.as_str(),
            ))
            .network_configuration(network(&d)?)
            .set_load_balancers(load_balancer(&d)?.map(|lb| vec![lb]))
            .health_check_grace_period_seconds(install.grace)
            .set_deployment_configuration(deployment_configuration(&d)?)
            .set_tags(ecs_tags(&d.tags.0));
        // A listener created a moment ago may not have reached ECS yet ("does not have an
        // associated load balancer"): the same call succeeds seconds later.
        let out = wait::eventually("ECS service", || async {
            request
                .clone()
                .send()
                .await
                .map_err(|e| crate::propagating(aws_error("CreateService", e)))
        })
        .await?;
        let arn = out
            .service()
            .and_then(Service::service_arn)
            .ok_or_else(|| ResourceError::new("CreateService", "AWS returned no service ARN"))?;
        let settled = install.count == desired_count && install.grace == grace;
        if !self.wait.enabled {
            if !settled {
                tracing::warn!(
                    "ECS service {}: started with {} task and a {}s health-check grace period, so PrestaShop's installer runs once; once `stackctl status` shows it healthy, run apply again to set its desired count ({desired_count}) and grace period ({grace}s): the plan shows it",
                    d.name,
                    install.count,
                    install.grace
                );
            }
            return self.read_back(cluster, arn).await;
        }
        // A failed first deployment leaves the service in AWS: the next plan finds it by its
        // name and this stack's tags and adopts it.
        let want = deployment::Want {
            revision: &d.task_definition,
            deployment: deployment::started(out.service()),
            desired: install.count,
        };
        let watch = self.watch(cluster, arn);
        // The first deployment runs PrestaShop's installer: minutes more than a rolling one.
        let s = deployment::until_healthy_expecting(
            &watch,
            &want,
            self.wait.timeout,
            deployment::FIRST_TYPICAL,
        )
        .await?;
        if settled {
            return Ok(to_instance(&s));
        }
        let answer = self
            .ecs
            .update_service()
            .cluster(cluster)
            .service(arn)
            .desired_count(desired_count)
            .health_check_grace_period_seconds(grace)
            .send()
            .await
            .map_err(|e| aws_error("UpdateService", e))?
            .service;
        let want = deployment::Want {
            revision: &d.task_definition,
            deployment: deployment::started(answer.as_ref()),
            desired: desired_count,
        };
        let s = deployment::until_healthy(&watch, &want, self.wait.timeout).await?;
        Ok(to_instance(&s))
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let d = ServiceArgs::from_values(desired)?;
        let changed = ServiceArgs::<Changed>::from_names(changed);
        let cluster = cluster_of(prior);
        let mut req = self
            .ecs
            .update_service()
            .cluster(&cluster)
            .service(&prior.id);
        let mut any = false;
        if changed.desired_count {
            req = req.desired_count(to_i32("desired_count", d.desired_count)?);
            any = true;
        }
        if changed.task_definition {
            req = req.task_definition(&d.task_definition);
            any = true;
        }
        if changed.subnets || changed.security_groups || changed.assign_public_ip {
            req = req.network_configuration(network(&d)?);
            any = true;
        }
        if changed.health_check_grace_period_seconds {
            req = req.health_check_grace_period_seconds(grace_period(&d)?);
            any = true;
        }
        if changed.deployment_circuit_breaker {
            req = req.set_deployment_configuration(deployment_configuration(&d)?);
            any = true;
        }
        let mut answer = None;
        if any {
            answer = req
                .send()
                .await
                .map_err(|e| aws_error("UpdateService", e))?
                .service;
        }
        if changed.tags {
            EcsTagging(&self.ecs)
                .sync_tags(&prior.id, &prior.tags(), &d.tags)
                .await?;
        }
        // What starts a deployment: apply reports success only once it is healthy.
        let deploys = changed.task_definition
            || changed.desired_count
            || changed.subnets
            || changed.security_groups
            || changed.assign_public_ip;
        if deploys && self.wait.enabled {
            let revision = d.task_definition.as_str();
            let want = deployment::Want {
                revision,
                deployment: deployment::started(answer.as_ref()),
                desired: to_i32("desired_count", d.desired_count)?,
            };
            let service = deployment::until_healthy(
                &self.watch(&cluster, &prior.id),
                &want,
                self.wait.timeout,
            )
            .await?;
            if changed.task_definition {
                revisions::retire(&self.ecs, &service, revision, true, &d.tags).await;
            }
            return Ok(to_instance(&service));
        }
        if changed.task_definition {
            // The revisions the service ran before go only once it runs the new one.
            let revision = d.task_definition.as_str();
            let (service, runs) =
                revisions::deployed(&self.ecs, &cluster, &prior.id, revision).await?;
            revisions::retire(&self.ecs, &service, revision, runs, &d.tags).await;
            return Ok(to_instance(&service));
        }
        self.read_back(&cluster, &prior.id).await
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        let cluster = cluster_of(prior);
        let Some(service) = self.describe(&cluster, &prior.id).await? else {
            return Ok(());
        };
        // A DRAINING service is already being deleted: only the wait remains.
        if service.status() == Some("ACTIVE") {
            let gone = [
                "ServiceNotFoundException",
                "ServiceNotActiveException",
                "ClusterNotFoundException",
            ];
            // Scaling to zero first stops the tasks in an orderly way (deregistered from the
            // target group) before the service goes.
            self.ecs
                .update_service()
                .cluster(&cluster)
                .service(&prior.id)
                .desired_count(0)
                .send()
                .await
                .map_err(|e| aws_error("UpdateService", e))
                .absent_if(&gone)?;
            self.ecs
                .delete_service()
                .cluster(&cluster)
                .service(&prior.id)
                .force(true)
                .send()
                .await
                .map_err(|e| aws_error("DeleteService", e))
                .absent_if(&gone)?;
        }
        // The target group and the security group can only go once the tasks have stopped.
        wait::until(
            &format!("ECS service {} to drain", prior.id),
            // Tasks stop within about a minute (the target group's deregistration delay).
            Backoff::expecting(Duration::from_secs(60), DRAIN),
            || async {
                Ok(match self.describe(&cluster, &prior.id).await? {
                    None => Poll::Ready(()),
                    Some(s) => Poll::Pending(format!(
                        "{} with {} tasks running",
                        s.status().unwrap_or("unknown"),
                        s.running_count()
                    )),
                })
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_comes_from_attrs_or_arn() {
        let long = Instance::new(
            "arn:aws:ecs:eu-west-3:123:service/shop-cluster/shop-service",
            Values::new(),
        );
        assert_eq!(cluster_of(&long), "shop-cluster");
        let short = Instance::new(
            "arn:aws:ecs:eu-west-3:123:service/shop-service",
            Values::new(),
        );
        assert_eq!(cluster_of(&short), "default");
        let with = Instance::new(
            "x",
            Values::from([("cluster".to_owned(), J::from("arn:c"))]),
        );
        assert_eq!(cluster_of(&with), "arn:c");
    }
}
