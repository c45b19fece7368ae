//! The ecs module: PrestaShop on Fargate (cluster, task definition, service), its IAM roles and log group.
//!
//! The task definition is kept as flat attributes (image, environment, secrets, EFS volume, log
//! options...) rather than AWS's nested container definitions: the one container this stack runs
//! is fully described by them, and flat values diff key by key in a plan. Terraform's JSON shows
//! each kind as the AWS provider has it: every kind translates its attributes at the edge
//! (`provider_values`; the task definition's in `task_definition/provider.rs`, the service's
//! in `service/provider.rs`).

mod cluster;
mod deployment;
mod describe;
mod iam;
pub mod log_events;
mod log_group;
mod marks;
mod role;
mod role_policy;
mod role_policy_attachment;
pub mod rollback;
pub mod run_task;
mod service;
pub mod status;
mod task_definition;
#[cfg(test)]
mod testing;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value as J};
use stackctl_contract::target_health::TargetHealth;
use stackctl_contract::value::string_set;
use stackctl_contract::{
    aws_error, Kind, Planned, Ref, ResourceError, ResourceSpec, TagApi, Tags, Val,
};

pub use cluster::{ClusterArgs, ClusterKind};
pub use deployment::{redeploy, DeployWait, DEPLOYMENT_FAILED};
use log_events::LogReader;
pub use log_group::{LogGroupArgs, LogGroupKind};
pub use role::{RoleArgs, RoleKind};
pub use role_policy::{RolePolicyArgs, RolePolicyKind};
pub use role_policy_attachment::{RolePolicyAttachmentArgs, RolePolicyAttachmentKind};
pub use run_task::{run_task, Finished, OneOff, Seen};
pub use service::{ServiceArgs, ServiceKind};
pub use task_definition::{TaskDefinitionArgs, TaskDefinitionKind, KEEP_PREVIOUS};

pub const LOG_GROUP: &str = "module.ecs.aws_cloudwatch_log_group.main";
pub const EXECUTION_ROLE: &str = "module.ecs.aws_iam_role.execution";
pub const EXECUTION_ROLE_POLICY: &str = "module.ecs.aws_iam_role_policy_attachment.execution";
pub const EXECUTION_SECRETS_POLICY: &str = "module.ecs.aws_iam_role_policy.execution_secrets";
pub const TASK_ROLE: &str = "module.ecs.aws_iam_role.task";
pub const CLUSTER: &str = "module.ecs.aws_ecs_cluster.main";
pub const TASK_DEFINITION: &str = "module.ecs.aws_ecs_task_definition.main";
pub const SERVICE: &str = "module.ecs.aws_ecs_service.main";

/// The container the task runs and the load balancer sends traffic to.
pub const CONTAINER_NAME: &str = "prestashop";
pub const CONTAINER_PORT: i64 = 80;

/// AWS's managed policy that lets ECS pull images and write logs for a task, in `partition`
/// (`aws`, `aws-cn`, `aws-us-gov`): an `arn:aws:` literal does not exist in China or GovCloud.
pub fn execution_policy_arn(partition: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")
}

/// What the module needs from the root: Terraform's module variables, with the values other
/// modules produce passed as references to their attributes.
pub struct Inputs {
    /// `{project_name}-{environment}`: every AWS name starts with it, so two environments or
    /// projects in one account never share a name.
    pub name_prefix: String,
    pub region: String,
    /// The account and partition the credentials are for (STS GetCallerIdentity): the secrets
    /// policy names this stack's secrets by full ARN.
    pub account_id: String,
    pub partition: String,
    pub tags: Tags,
    pub log_retention_days: i64,
    /// Fargate task size, as ECS spells it ("256", "512").
    pub cpu: String,
    pub memory: String,
    pub desired_count: i64,
    pub image: String,
    pub db_name: String,
    pub db_user: String,
    /// The database host name: the rds instance's `address`.
    pub db_host: Ref,
    /// The public name of the shop: the load balancer's `dns_name`.
    pub alb_dns_name: Ref,
    /// The `arn` of the secret holding the database password.
    pub db_password_secret_arn: Ref,
    /// The `arn` of the secret holding `admin_email` and `admin_password`.
    pub admin_credentials_secret_arn: Ref,
    /// The `id` of the EFS file system mounted as the PrestaShop document root.
    pub efs_file_system_id: Ref,
    pub subnet_ids: Vec<String>,
    /// The `id` of the security group of the tasks.
    pub security_group: Ref,
    /// Whether apply waits for a healthy deployment, and how long.
    pub wait: DeployWait,
    /// The target group's health as the load balancer sees it, which the deployment wait
    /// checks and reports (the alb module reads it).
    pub targets: Option<Arc<dyn TargetHealth>>,
    /// The `arn` of the target group the service registers its tasks in.
    pub target_group_arn: Ref,
    /// Ordering dependencies of the service no attribute shows: the listener (ECS refuses a
    /// target group not attached to a load balancer) and the EFS mount targets (a task cannot
    /// mount the file system before they exist).
    pub wait_for: Vec<String>,
}

/// The clients, shared by `kinds` and `specs` so both hand out the same kinds.
struct Kinds {
    log_group: Arc<dyn Kind>,
    role: Arc<dyn Kind>,
    attachment: Arc<dyn Kind>,
    role_policy: Arc<dyn Kind>,
    cluster: Arc<dyn Kind>,
    task_definition: Arc<dyn Kind>,
    service: Arc<dyn Kind>,
}

impl Kinds {
    fn new(
        sdk: &aws_types::SdkConfig,
        wait: DeployWait,
        targets: Option<Arc<dyn TargetHealth>>,
    ) -> Self {
        let ecs = aws_sdk_ecs::Client::new(sdk);
        let iam = aws_sdk_iam::Client::new(sdk);
        let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
        Kinds {
            log_group: Arc::new(LogGroupKind::new(logs.clone())),
            role: Arc::new(RoleKind::new(iam.clone())),
            attachment: Arc::new(RolePolicyAttachmentKind::new(iam.clone())),
            role_policy: Arc::new(RolePolicyKind::new(iam)),
            cluster: Arc::new(ClusterKind::new(ecs.clone())),
            task_definition: Arc::new(TaskDefinitionKind::new(ecs.clone())),
            service: Arc::new(ServiceKind::new(
                ecs,
                LogReader::from_client(logs),
                wait,
                targets,
            )),
        }
    }
}

/// The kinds this module implements, for the engine's registry.
pub fn kinds(sdk: &aws_types::SdkConfig) -> Vec<Arc<dyn Kind>> {
    let k = Kinds::new(sdk, DeployWait::default(), None);
    vec![
        k.log_group,
        k.role,
        k.attachment,
        k.role_policy,
        k.cluster,
        k.task_definition,
        k.service,
    ]
}

/// The trust policy that lets ECS tasks assume a role.
fn ecs_tasks_trust_policy() -> J {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "ecs-tasks.amazonaws.com" },
            "Action": "sts:AssumeRole"
        }]
    })
}

/// Read access to this environment's secrets only (`{project}-{environment}-*` in this account
/// and region), for the execution role that injects them: staging's tasks cannot read prod's
/// database password. The trailing `-` keeps `shop-dev` from matching `shop-dev2`'s secrets.
fn secrets_access_policy(inputs: &Inputs) -> J {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": format!(
                "arn:{}:secretsmanager:{}:{}:secret:{}-*",
                inputs.partition, inputs.region, inputs.account_id, inputs.name_prefix
            )
        }]
    })
}

/// The eight resources: the log group, two roles and the execution role's policies, the
/// cluster, the task definition and the service.
pub fn specs(sdk: &aws_types::SdkConfig, inputs: &Inputs) -> Vec<ResourceSpec> {
    let k = Kinds::new(sdk, inputs.wait, inputs.targets.clone());
    let prefix = inputs.name_prefix.clone();
    let tags = inputs.tags.to_json();
    let log_group_name = format!("/ecs/{prefix}");

    let log_group = {
        let name = log_group_name.clone();
        let days = inputs.log_retention_days;
        let tags = tags.clone();
        ResourceSpec::new(LOG_GROUP, k.log_group.clone(), move |_| {
            LogGroupArgs::<Planned> {
                name: name.clone().into(),
                retention_in_days: days.into(),
                tags: tags.clone().into(),
            }
            .into()
        })
    };

    let role = |address: &str, name: String| {
        let tags = tags.clone();
        ResourceSpec::new(address, k.role.clone(), move |_| {
            RoleArgs::<Planned> {
                name: name.clone().into(),
                assume_role_policy: ecs_tasks_trust_policy().into(),
                tags: tags.clone().into(),
            }
            .into()
        })
    };
    let execution_role = role(EXECUTION_ROLE, format!("{prefix}-ecs-task-execution-role"));
    let task_role = role(TASK_ROLE, format!("{prefix}-ecs-task-role"));

    let execution_role_name = Ref::new(EXECUTION_ROLE, "name");
    let attachment = {
        let role = execution_role_name.clone();
        let policy_arn = execution_policy_arn(&inputs.partition);
        ResourceSpec::new(EXECUTION_ROLE_POLICY, k.attachment.clone(), move |r| {
            RolePolicyAttachmentArgs::<Planned> {
                role: role.get(r),
                policy_arn: policy_arn.clone().into(),
            }
            .into()
        })
    };

    let secrets_policy = {
        let role = execution_role_name;
        let name = format!("{prefix}-secrets-access");
        let policy = secrets_access_policy(inputs);
        ResourceSpec::new(EXECUTION_SECRETS_POLICY, k.role_policy.clone(), move |r| {
            RolePolicyArgs::<Planned> {
                role: role.get(r),
                name: name.clone().into(),
                policy: policy.clone().into(),
            }
            .into()
        })
    };

    let cluster = {
        let name = format!("{prefix}-cluster");
        let tags = tags.clone();
        ResourceSpec::new(CLUSTER, k.cluster.clone(), move |_| {
            ClusterArgs::<Planned> {
                name: name.clone().into(),
                container_insights: "enabled".into(),
                tags: tags.clone().into(),
            }
            .into()
        })
    };

    let task_definition = {
        let family = prefix.clone();
        let cpu = inputs.cpu.clone();
        let memory = inputs.memory.clone();
        let image = inputs.image.clone();
        let db_name = inputs.db_name.clone();
        let db_user = inputs.db_user.clone();
        let db_host = inputs.db_host.clone();
        let alb_dns_name = inputs.alb_dns_name.clone();
        let db_password = inputs.db_password_secret_arn.clone();
        let admin = inputs.admin_credentials_secret_arn.clone();
        let efs = inputs.efs_file_system_id.clone();
        let region = inputs.region.clone();
        let tags = tags.clone();
        ResourceSpec::new(TASK_DEFINITION, k.task_definition.clone(), move |r| {
            let environment = Val::all([&db_host.get(r), &alb_dns_name.get(r)], |[host, dns]| {
                json!({
                    "DB_SERVER": host,
                    "DB_NAME": db_name,
                    "DB_USER": db_user,
                    "PS_DOMAIN": dns,
                    "PS_INSTALL_AUTO": "1",
                })
            });
            let secrets = Val::all([&db_password.get(r), &admin.get(r)], |[db, admin]| {
                let admin = admin.as_str().unwrap_or_default();
                json!({
                    "DB_PASSWD": db,
                    "ADMIN_MAIL": format!("{admin}:admin_email::"),
                    "ADMIN_PASSWD": format!("{admin}:admin_password::"),
                })
            });
            TaskDefinitionArgs::<Planned> {
                family: family.clone().into(),
                cpu: cpu.clone().into(),
                memory: memory.clone().into(),
                network_mode: "awsvpc".into(),
                requires_compatibilities: string_set(["FARGATE"]).into(),
                execution_role_arn: Ref::new(EXECUTION_ROLE, "arn").get(r),
                task_role_arn: Ref::new(TASK_ROLE, "arn").get(r),
                container_name: CONTAINER_NAME.into(),
                image: image.clone().into(),
                container_port: CONTAINER_PORT.into(),
                environment,
                secrets,
                efs_file_system_id: efs.get(r),
                mount_path: "/var/www/html".into(),
                transit_encryption: "ENABLED".into(),
                // Read from the log group so the task definition waits for it: ECS does not
                // create the group, and tasks fail to start without it.
                log_group: Ref::new(LOG_GROUP, "name").get(r),
                log_region: region.clone().into(),
                log_stream_prefix: "ecs".into(),
                tags: tags.clone().into(),
            }
            .into()
        })
    };

    let mut service = {
        let name = format!("{prefix}-service");
        let desired_count = inputs.desired_count;
        let subnets = string_set(inputs.subnet_ids.clone());
        let security_group = inputs.security_group.clone();
        let target_group = inputs.target_group_arn.clone();
        let tags = tags.clone();
        ResourceSpec::new(SERVICE, k.service.clone(), move |r| {
            let security_groups = Val::all([&security_group.get(r)], |[id]| json!([id]));
            let load_balancer = Val::all([&target_group.get(r)], |[arn]| {
                json!({
                    "target_group_arn": arn,
                    "container_name": CONTAINER_NAME,
                    "container_port": CONTAINER_PORT,
                })
            });
            ServiceArgs::<Planned> {
                name: name.clone().into(),
                cluster: Ref::new(CLUSTER, "arn").get(r),
                task_definition: Ref::new(TASK_DEFINITION, "arn").get(r),
                desired_count: desired_count.into(),
                launch_type: "FARGATE".into(),
                subnets: subnets.clone().into(),
                security_groups,
                assign_public_ip: true.into(),
                load_balancer,
                // Long enough for an installed PrestaShop to answer after its container starts,
                // short enough that a broken image fails its deploy within minutes; a new
                // service's first task gets longer, for the installer (service/mod.rs).
                health_check_grace_period_seconds: 120.into(),
                deployment_circuit_breaker: json!({ "enable": true, "rollback": true }).into(),
                tags: tags.clone().into(),
            }
            .into()
        })
    };
    for address in &inputs.wait_for {
        service = service.depends_on(address.clone());
    }

    vec![
        log_group,
        execution_role,
        attachment,
        secrets_policy,
        task_role,
        cluster,
        task_definition,
        service,
    ]
}

/// ECS tags from a tag map.
fn ecs_tags(tags: &BTreeMap<String, String>) -> Option<Vec<aws_sdk_ecs::types::Tag>> {
    if tags.is_empty() {
        return None;
    }
    Some(
        tags.iter()
            .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
            .collect(),
    )
}

/// The tags an ECS resource has, from what ECS answers, but stackctl's own marks (`marks`).
fn ecs_tags_of(tags: &[aws_sdk_ecs::types::Tag]) -> Tags {
    Tags::from_sdk(
        tags.iter()
            .filter(|t| !t.key().is_some_and(|k| marks::KEYS.contains(&k)))
            .map(|t| (t.key(), t.value())),
    )
}

/// ECS's tag calls, for the cluster, the task definition and the service (named by ARN).
struct EcsTagging<'a>(&'a aws_sdk_ecs::Client);

impl TagApi for EcsTagging<'_> {
    async fn tag(&self, arn: &str, set: BTreeMap<String, String>) -> Result<(), ResourceError> {
        self.0
            .tag_resource()
            .resource_arn(arn)
            .set_tags(ecs_tags(&set))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("TagResource", e))
    }

    async fn untag(&self, arn: &str, keys: Vec<String>) -> Result<(), ResourceError> {
        self.0
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("UntagResource", e))
    }
}

/// CloudWatch Logs' tag calls, for the log group (named by ARN). Here rather than with the
/// log group's kind so that every service's tag calls of this crate sit side by side.
struct LogsTagging<'a>(&'a aws_sdk_cloudwatchlogs::Client);

impl TagApi for LogsTagging<'_> {
    async fn tag(&self, arn: &str, set: BTreeMap<String, String>) -> Result<(), ResourceError> {
        self.0
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(set.into_iter().collect()))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("TagResource", e))
    }

    async fn untag(&self, arn: &str, keys: Vec<String>) -> Result<(), ResourceError> {
        self.0
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("UntagResource", e))
    }
}

/// Marks as retryable the answers ECS gives while IAM has not propagated a role created a
/// moment ago, or a listener has not reached ECS yet: the same call succeeds seconds later
/// (Terraform's AWS provider retries the same messages).
pub(crate) fn propagating(e: ResourceError) -> ResourceError {
    const MESSAGES: [&str; 5] = [
        "Unable to assume the service linked role",
        "Role is not valid",
        "Unable to assume role",
        "Please verify that the ECS service role being passed has the proper permissions",
        "does not have an associated load balancer",
    ];
    if e.is(&["ClientException", "InvalidParameterException"])
        && MESSAGES.iter().any(|m| e.message.contains(m))
    {
        e.retryable()
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_propagation_answers_are_retried() {
        let e = |code: &str, msg: &str| {
            ResourceError::new("RegisterTaskDefinition", msg).with_code(code)
        };
        assert!(propagating(e("ClientException", "Role is not valid")).retryable);
        assert!(
            propagating(e(
                "InvalidParameterException",
                "Unable to assume the service linked role. Please verify that the ECS service linked role exists."
            ))
            .retryable
        );
        assert!(
            propagating(e(
                "InvalidParameterException",
                "The target group with targetGroupArn arn:x does not have an associated load balancer."
            ))
            .retryable
        );
        assert!(!propagating(e("ClientException", "Invalid memory value")).retryable);
        assert!(!propagating(e("AccessDeniedException", "Role is not valid")).retryable);
    }

    /// Every kind of the module answers `provider_values` with its own translation (the
    /// trait's default passes stackctl's names through, which the schema refuses), for the
    /// plan of every resource before anything exists.
    #[test]
    fn every_kind_speaks_the_providers_schema() {
        let specs = specs(&testing::offline_sdk(), &testing::inputs());
        let none = testing::resolved(&[]);
        for s in &specs {
            let type_name = s.kind.type_name();
            let attrs = testing::planned(&s.address, &none);
            let out = s.kind.provider_values(type_name, &attrs);
            stackctl_contract::provider::check(type_name, &out)
                .unwrap_or_else(|e| panic!("{}: {e}", s.address));
            assert!(!out.is_empty(), "{}", s.address);
        }
        assert_eq!(specs.len(), kinds(&testing::offline_sdk()).len() + 1);
    }

    #[tokio::test]
    async fn specs_wire_the_dependencies() {
        let specs = specs(&testing::offline_sdk(), &testing::inputs());
        let by = |a: &str| {
            specs
                .iter()
                .find(|s| s.address == a)
                .map(|s| s.dependencies())
                .unwrap_or_default()
        };
        let td = by(TASK_DEFINITION);
        for dep in [
            LOG_GROUP,
            EXECUTION_ROLE,
            TASK_ROLE,
            "module.rds.aws_db_instance.main",
            "module.efs.aws_efs_file_system.main",
        ] {
            assert!(td.contains(dep), "{dep} missing from {td:?}");
        }
        let svc = by(SERVICE);
        for dep in [
            CLUSTER,
            TASK_DEFINITION,
            "module.alb.aws_lb_listener.http",
            "module.alb.aws_lb_target_group.main",
        ] {
            assert!(svc.contains(dep), "{dep} missing from {svc:?}");
        }
        assert!(by(EXECUTION_SECRETS_POLICY).contains(EXECUTION_ROLE));
        let service = specs.iter().find(|s| s.address == SERVICE).unwrap();
        let d = service.desired(&testing::resolved(&[]));
        assert_eq!(d["subnets"], Val::from(json!(["subnet-a", "subnet-b"])));
        assert_eq!(d["load_balancer"], Val::Unknown);
    }
}
