//! `aws_ecs_service`: the Fargate service that keeps the PrestaShop tasks running behind the ALB.
//! What follows an update to a new task definition revision is in `revisions`; how a new
//! service installs PrestaShop once, in `install`; how Terraform's JSON shows it, in `provider`.

mod args;
mod install;
mod provider;
mod revisions;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, LaunchType, NetworkConfiguration, Service,
};
use aws_sdk_ecs::Client;
use serde_json::{json, Value as J};
use stackctl_contract::value::to_i32;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    aws_error, Absent, Args, Attrs, Changed, Field, Instance, Kind, ResourceError, TagApi, Values,
};

use crate::deployment::{self, DeployWait};
use crate::describe;
use crate::log_events::LogReader;
use crate::{ecs_tags, ecs_tags_of, marks, EcsTagging};
use stackctl_contract::args::required;
use stackctl_contract::target_health::TargetHealth;
use stackctl_contract::value::sorted_set;

pub use args::ServiceArgs;
use args::{deployment_configuration, grace_period, load_balancer, network};
use install::Install;

/// How long a deleted service may take to drain its tasks and become INACTIVE.
const DRAIN: Duration = Duration::from_secs(20 * 60);

/// `aws_ecs_service`, identified by its ARN; `cluster` (an ARN) says where to look for it.
pub struct ServiceKind {
    ecs: Client,
    wait: DeployWait,
    /// The target group's health, read by the deployment wait (none: trust ECS alone).
    targets: Option<Arc<dyn TargetHealth>>,
    logs: LogReader,
    /// The services (by ARN) whose deployment wait failed in this run, with the error. After
    /// a failed create, apply's recovery adopts the service and updates it: that update
    /// answers the same error at once instead of starting another wait (a second
    /// `-wait-timeout`) or another deployment of what just failed.
    failed: Mutex<HashMap<String, ResourceError>>,
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
            failed: Mutex::default(),
        }
    }

    /// Wait for `want` on the service `arn` within `-wait-timeout`; a failure is remembered
    /// for the rest of the run (`failed`), a success marks the service installed.
    async fn until_healthy(
        &self,
        cluster: &str,
        arn: &str,
        want: &deployment::Want<'_>,
        typical: Duration,
    ) -> Result<Service, ResourceError> {
        let watch = self.watch(cluster, arn);
        match deployment::until_healthy_expecting(&watch, want, self.wait.timeout, typical).await {
            Ok(s) => {
                if !marks::has(s.tags(), marks::INSTALLED) {
                    marks::set_or_warn(
                        &self.ecs,
                        arn,
                        marks::INSTALLED,
                        "a later apply takes its install as done only while a deployment shows COMPLETED",
                    )
                    .await;
                }
                Ok(s)
            }
            Err(e) => {
                if let Ok(mut failed) = self.failed.lock() {
                    failed.insert(arn.to_owned(), e.clone());
                }
                Err(e)
            }
        }
    }

    /// A service that is healthy at last (and marked installed by the wait): give it its
    /// desired count and grace period and wait for that deployment too.
    async fn finish_install(
        &self,
        cluster: &str,
        arn: &str,
        d: &ServiceArgs,
        healthy: Service,
    ) -> Result<Instance, ResourceError> {
        let desired_count = to_i32("desired_count", d.desired_count)?;
        let grace = grace_period(d)?;
        if healthy.desired_count() == desired_count
            && healthy.health_check_grace_period_seconds() == Some(grace)
        {
            return Ok(to_instance(&healthy));
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
        let s = self
            .until_healthy(cluster, arn, &want, deployment::TYPICAL)
            .await?;
        Ok(to_instance(&s))
    }

    /// An update of a service still installing (`live`, as just described): it keeps one task
    /// and the installer's grace period whatever else changes (`install::request`), and once
    /// a deployment is healthy, [`Self::finish_install`]. Without a wait it stays installing,
    /// and says so.
    async fn update_installing(
        &self,
        prior: &Instance,
        live: Service,
        d: &ServiceArgs,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let cluster = cluster_of(prior);
        let desired_count = to_i32("desired_count", d.desired_count)?;
        let grace = grace_period(d)?;
        let install = Install::of(desired_count, grace);
        let req = self
            .ecs
            .update_service()
            .cluster(&cluster)
            .service(&prior.id);
        let mut answer = None;
        if let Some(req) = install::request(req, &live, d, changed, &install)? {
            answer = req
                .send()
                .await
                .map_err(|e| aws_error("UpdateService", e))?
                .service;
        }
        if changed.iter().any(|c| c == "tags") {
            EcsTagging(&self.ecs)
                .sync_tags(&prior.id, &prior.tags(), &d.tags)
                .await?;
        }
        if !self.wait.enabled {
            tracing::warn!(
                "ECS service {}: still installing (no deployment of it has been healthy yet), so it keeps {} task and the {}s grace period; once `stackctl status` shows it healthy, run apply again to set {}",
                d.name,
                install.count,
                install.grace,
                install::rest(desired_count, grace, &install)
            );
            return self.read_back(&cluster, &prior.id).await;
        }
        let want = deployment::Want {
            revision: &d.task_definition,
            deployment: deployment::started(answer.as_ref()),
            desired: install.count,
        };
        // The install's deployment runs PrestaShop's installer: minutes more than a rolling one.
        let healthy = self
            .until_healthy(&cluster, &prior.id, &want, deployment::FIRST_TYPICAL)
            .await?;
        self.finish_install(&cluster, &prior.id, d, healthy).await
    }

    /// The error of this run's failed wait on the service `arn`, if one failed.
    fn failed_before(&self, arn: &str) -> Option<ResourceError> {
        self.failed.lock().ok()?.get(arn).cloned()
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
    if install::installing(s) {
        attrs.insert(install::ATTR.to_owned(), J::Bool(true));
    }
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

    /// Whether the service still installs changes when a deployment becomes healthy, without
    /// anyone changing the configuration: not drift.
    fn transient(&self) -> &'static [&'static str] {
        &[install::ATTR]
    }

    fn provider_values(
        &self,
        _type_name: &str,
        attrs: &stackctl_contract::provider::Object,
    ) -> stackctl_contract::provider::Object {
        provider::values(attrs, self.wait.enabled)
    }

    /// A service still installing keeps its one task and the installer's grace period until
    /// a deployment is healthy: the plan says so next to them.
    fn review_update(
        &self,
        live: &Instance,
        _desired: &Attrs,
        changed: &[String],
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let mut notes = BTreeMap::new();
        if !install::read_as_installing(live) {
            return Ok(notes);
        }
        for attr in ["desired_count", "health_check_grace_period_seconds"] {
            if changed.iter().any(|c| c == attr) {
                notes.insert(attr.to_owned(), install::note(attr));
            }
        }
        Ok(notes)
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
        // Install once (`install`): one task, the installer's grace period.
        let install = Install::of(desired_count, grace);
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
        if !self.wait.enabled {
            if !install.settled(desired_count, grace) {
                tracing::warn!(
                    "ECS service {}: started with {} task and a {}s health-check grace period, so PrestaShop's installer runs once; it stays so until a deployment is healthy: once `stackctl status` shows it healthy, run apply again to set {} (the plan shows it)",
                    d.name,
                    install.count,
                    install.grace,
                    install::rest(desired_count, grace, &install)
                );
            }
            return self.read_back(cluster, arn).await;
        }
        // A failed first deployment leaves the service in AWS, still installing: the next
        // plan finds it by its name and this stack's tags, and the update keeps the install.
        let want = deployment::Want {
            revision: &d.task_definition,
            deployment: deployment::started(out.service()),
            desired: install.count,
        };
        // The first deployment runs PrestaShop's installer: minutes more than a rolling one.
        let healthy = self
            .until_healthy(cluster, arn, &want, deployment::FIRST_TYPICAL)
            .await?;
        self.finish_install(cluster, arn, &d, healthy).await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        if let Some(e) = self.failed_before(&prior.id) {
            return Err(e);
        }
        let d = ServiceArgs::from_values(desired)?;
        let cluster = cluster_of(prior);
        if install::read_as_installing(prior) {
            let live = self.describe(&cluster, &prior.id).await?.ok_or_else(|| {
                ResourceError::vanished("DescribeServices", &format!("ECS service {}", prior.id))
            })?;
            if install::installing(&live) {
                return self.update_installing(prior, live, &d, changed).await;
            }
        }
        let changed = ServiceArgs::<Changed>::from_names(changed);
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
            let service = self
                .until_healthy(&cluster, &prior.id, &want, deployment::TYPICAL)
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
