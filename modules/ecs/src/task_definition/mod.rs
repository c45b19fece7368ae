//! `aws_ecs_task_definition`: one revision of the PrestaShop task, flattened into attributes.
//!
//! Revisions are immutable: any change but tags registers a new revision. The old one is not
//! deregistered then: the service still runs it until it moves, and a rollback is an
//! UpdateService to an earlier revision, which ECS refuses for an INACTIVE one. Once the
//! service's PRIMARY deployment runs the new revision, the service deregisters this stack's
//! revisions beyond the newest few ([`deregister_old`], in `retention`). Destroy deregisters
//! them all. None is ever deleted, and a revision of the family without this stack's tags is
//! never touched. `provider` folds the flat attributes back into the provider's
//! `container_definitions` and `volume` for Terraform's JSON.

mod provider;
mod retention;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, EfsTransitEncryption, EfsVolumeConfiguration, KeyValuePair,
    LogConfiguration, LogDriver, MountPoint, NetworkMode, PortMapping, Secret, SortOrder,
    TaskDefinition, TaskDefinitionField, TaskDefinitionStatus, TransportProtocol, Volume,
};
use aws_sdk_ecs::Client;
use serde_json::Value as J;
use stackctl_contract::value::to_i32;
use stackctl_contract::wait;
use stackctl_contract::{
    args, aws_error, Absent, Args, Changed, Field, Instance, Kind, ResourceError, TagApi, Tags,
    Values,
};

use crate::{ecs_tags, ecs_tags_of, EcsTagging};
pub use retention::KEEP_PREVIOUS;
use retention::{deregister, stack_revisions};
pub(crate) use retention::{deregister_old, family_of, marked_revisions};
use stackctl_contract::args::required;
use stackctl_contract::value::sorted_set;

/// The task's volume name, only used to tie the mount point to the EFS volume.
const VOLUME: &str = "efs";

const LOG_GROUP: &str = "awslogs-group";
const LOG_REGION: &str = "awslogs-region";
const LOG_STREAM_PREFIX: &str = "awslogs-stream-prefix";

args! {
    /// `aws_ecs_task_definition`'s arguments: the revision and its one container, flat. A
    /// revision is immutable, so everything but the tags forces a new one. What a revision
    /// AWS describes may lack (a revision registered elsewhere) is an `Option`: it reads back
    /// as null.
    pub struct TaskDefinitionArgs {
        [ForceNew] family: Option<String>,
        /// Fargate task size, as ECS spells it ("256", "512").
        [ForceNew] cpu: Option<String>,
        [ForceNew] memory: Option<String>,
        [ForceNew] network_mode: Option<String>,
        /// Sorted.
        [ForceNew] requires_compatibilities: Vec<String>,
        [ForceNew] execution_role_arn: Option<String>,
        [ForceNew] task_role_arn: Option<String>,
        [ForceNew] container_name: Option<String>,
        [ForceNew] image: Option<String>,
        [ForceNew] container_port: Option<i64>,
        /// The container's environment variables, by name.
        [ForceNew] environment: BTreeMap<String, String>,
        /// The container's secrets: variable name -> secret ARN (with an optional JSON key).
        [ForceNew] secrets: BTreeMap<String, String>,
        [ForceNew] efs_file_system_id: Option<String>,
        /// Where the EFS volume is mounted in the container.
        [ForceNew] mount_path: Option<String>,
        [ForceNew] transit_encryption: String,
        [ForceNew] log_group: Option<String>,
        [ForceNew] log_region: Option<String>,
        [ForceNew] log_stream_prefix: Option<String>,
        tags: Tags,
    }
}

/// `aws_ecs_task_definition`, identified by the revision's ARN.
pub struct TaskDefinitionKind {
    ecs: Client,
}

impl TaskDefinitionKind {
    /// The ACTIVE revisions of `desired`'s family that say exactly what it says, newest first.
    /// Only the newest few are looked at: a duplicate is always among the latest registered.
    async fn matching(&self, desired: &Values) -> Result<Vec<Instance>, ResourceError> {
        let d = TaskDefinitionArgs::from_values(desired)?;
        let family = required("family", &d.family)?.as_str();
        let container = d.container_name.as_deref();
        let out = self
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .sort(SortOrder::Desc)
            .max_results(5)
            .send()
            .await
            .map_err(|e| aws_error("ListTaskDefinitions", e))?;
        let mut found = Vec::new();
        for arn in out.task_definition_arns() {
            let Some((td, tags)) = describe(&self.ecs, arn).await? else {
                continue;
            };
            if td.family() != Some(family) || !is_live(&td) {
                continue;
            }
            let inst = to_instance(&td, &tags, container);
            if desired.iter().all(|(k, v)| inst.attrs.get(k) == Some(v)) {
                found.push(inst);
            }
        }
        Ok(found)
    }

    pub fn new(ecs: Client) -> Self {
        TaskDefinitionKind { ecs }
    }

    fn container(d: &TaskDefinitionArgs) -> Result<ContainerDefinition, ResourceError> {
        let port = to_i32(
            "container_port",
            *required("container_port", &d.container_port)?,
        )?;
        let environment = d
            .environment
            .iter()
            .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
            .collect();
        let secrets = d
            .secrets
            .iter()
            .map(|(k, v)| {
                Secret::builder()
                    .name(k)
                    .value_from(v)
                    .build()
                    .map_err(|e| ResourceError::internal(format!("task secret: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let logs = LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .options(LOG_GROUP, required("log_group", &d.log_group)?)
            .options(LOG_REGION, required("log_region", &d.log_region)?)
            .options(
                LOG_STREAM_PREFIX,
                required("log_stream_prefix", &d.log_stream_prefix)?,
            )
            .build()
            .map_err(|e| ResourceError::internal(format!("task log configuration: {e}")))?;
        Ok(ContainerDefinition::builder()
            .name(required("container_name", &d.container_name)?)
            .image(required("image", &d.image)?)
            .essential(true)
            .port_mappings(
                PortMapping::builder()
                    .container_port(port)
                    .host_port(port)
                    .protocol(TransportProtocol::Tcp)
                    .build(),
            )
            .set_environment(Some(environment))
            .set_secrets(Some(secrets))
            .mount_points(
                MountPoint::builder()
                    .source_volume(VOLUME)
                    .container_path(required("mount_path", &d.mount_path)?)
                    .build(),
            )
            .log_configuration(logs)
            .build())
    }

    fn volume(d: &TaskDefinitionArgs) -> Result<Volume, ResourceError> {
        let efs = EfsVolumeConfiguration::builder()
            .file_system_id(required("efs_file_system_id", &d.efs_file_system_id)?)
            .transit_encryption(EfsTransitEncryption::from(d.transit_encryption.as_str()))
            .build()
            .map_err(|e| ResourceError::internal(format!("task EFS volume: {e}")))?;
        Ok(Volume::builder()
            .name(VOLUME)
            .efs_volume_configuration(efs)
            .build())
    }
}

/// The revision whatever its status, with its tags, or `None` when ECS does not know it (any
/// more).
async fn describe(
    ecs: &Client,
    arn: &str,
) -> Result<Option<(TaskDefinition, Vec<aws_sdk_ecs::types::Tag>)>, ResourceError> {
    ecs.describe_task_definition()
        .task_definition(arn)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| aws_error("DescribeTaskDefinition", e))
        // ECS answers a revision it does not have with a plain ClientException
        // ("Unable to describe task definition").
        .absent_if(&["ClientException"])
        .map(|o| {
            o.and_then(|out| {
                out.task_definition()
                    .cloned()
                    .map(|td| (td, out.tags().to_vec()))
            })
        })
}

fn is_live(td: &TaskDefinition) -> bool {
    !matches!(
        td.status(),
        Some(TaskDefinitionStatus::Inactive | TaskDefinitionStatus::DeleteInProgress)
    )
}

/// The flat attributes of a revision. `container_name` picks the container when the prior
/// attributes name one; the stack's task has a single container either way.
fn to_instance(
    td: &TaskDefinition,
    tags: &[aws_sdk_ecs::types::Tag],
    container_name: Option<&str>,
) -> Instance {
    let arn = td.task_definition_arn().unwrap_or_default();
    let containers = td.container_definitions();
    let c = container_name
        .and_then(|n| containers.iter().find(|c| c.name() == Some(n)))
        .or_else(|| containers.first());
    let mount = c.and_then(|c| c.mount_points().first());
    let efs = mount
        .and_then(MountPoint::source_volume)
        .and_then(|v| td.volumes().iter().find(|vol| vol.name() == Some(v)))
        .and_then(Volume::efs_volume_configuration);
    let option = |k: &str| {
        c.and_then(ContainerDefinition::log_configuration)
            .and_then(LogConfiguration::options)
            .and_then(|o| o.get(k))
            .cloned()
    };
    let owned = |v: Option<&str>| v.map(str::to_owned);
    let mut attrs = TaskDefinitionArgs {
        family: owned(td.family()),
        cpu: owned(td.cpu()),
        memory: owned(td.memory()),
        network_mode: owned(td.network_mode().map(NetworkMode::as_str)),
        requires_compatibilities: sorted_set(
            td.requires_compatibilities()
                .iter()
                .map(Compatibility::as_str),
        ),
        execution_role_arn: owned(td.execution_role_arn()),
        task_role_arn: owned(td.task_role_arn()),
        container_name: owned(c.and_then(ContainerDefinition::name)),
        image: owned(c.and_then(ContainerDefinition::image)),
        container_port: c
            .and_then(|c| c.port_mappings().first())
            .and_then(PortMapping::container_port)
            .map(i64::from),
        environment: c
            .map(|c| {
                c.environment()
                    .iter()
                    .map(|kv| {
                        (
                            kv.name().unwrap_or_default().to_owned(),
                            kv.value().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        secrets: c
            .map(|c| {
                c.secrets()
                    .iter()
                    .map(|s| (s.name().to_owned(), s.value_from().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        efs_file_system_id: owned(efs.map(EfsVolumeConfiguration::file_system_id)),
        mount_path: owned(mount.and_then(MountPoint::container_path)),
        // AWS's default when the volume does not say.
        transit_encryption: efs
            .and_then(EfsVolumeConfiguration::transit_encryption)
            .map(EfsTransitEncryption::as_str)
            .unwrap_or("DISABLED")
            .to_owned(),
        log_group: option(LOG_GROUP),
        log_region: option(LOG_REGION),
        log_stream_prefix: option(LOG_STREAM_PREFIX),
        tags: ecs_tags_of(tags),
    }
    .to_values();
    attrs.insert("id".to_owned(), J::from(arn));
    attrs.insert("arn".to_owned(), J::from(arn));
    attrs.insert("revision".to_owned(), J::from(td.revision()));
    Instance::new(arn, attrs)
}

#[async_trait]
impl Kind for TaskDefinitionKind {
    fn type_name(&self) -> &'static str {
        "aws_ecs_task_definition"
    }

    fn fields(&self) -> &'static [Field] {
        TaskDefinitionArgs::FIELDS
    }

    fn create_before_destroy(&self) -> bool {
        true
    }

    fn keeps_replaced(&self) -> Option<&'static str> {
        Some("the old revision stays registered for a rollback")
    }

    fn provider_values(
        &self,
        _type_name: &str,
        attrs: &stackctl_contract::provider::Object,
    ) -> stackctl_contract::provider::Object {
        provider::values(attrs)
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        let container = prior.attrs.get("container_name").and_then(J::as_str);
        Ok(describe(&self.ecs, &prior.id)
            .await?
            .filter(|(td, _)| is_live(td))
            .map(|(td, tags)| to_instance(&td, &tags, container)))
    }

    /// Revisions have no name, so a revision is ours when it is ACTIVE in the family and says
    /// exactly what `desired` says: a run killed between RegisterTaskDefinition and writing the
    /// state then reuses it instead of registering a duplicate.
    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        Ok(self.matching(desired).await?.into_iter().next())
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = TaskDefinitionArgs::from_values(desired)?;
        let compat = d
            .requires_compatibilities
            .iter()
            .map(|c| Compatibility::from(c.as_str()))
            .collect();
        let request = self
            .ecs
            .register_task_definition()
            .family(required("family", &d.family)?)
            .cpu(required("cpu", &d.cpu)?)
            .memory(required("memory", &d.memory)?)
            .network_mode(NetworkMode::from(
                required("network_mode", &d.network_mode)?.as_str(),
            ))
            .set_requires_compatibilities(Some(compat))
            .execution_role_arn(required("execution_role_arn", &d.execution_role_arn)?)
            .task_role_arn(required("task_role_arn", &d.task_role_arn)?)
            .container_definitions(Self::container(&d)?)
            .volumes(Self::volume(&d)?)
            .set_tags(ecs_tags(&d.tags.0));
        // Roles created a moment ago are "not valid" to ECS until IAM has propagated them.
        let out = wait::eventually("ECS task definition", || async {
            request
                .clone()
                .send()
                .await
                .map_err(|e| crate::propagating(aws_error("RegisterTaskDefinition", e)))
        })
        .await?;
        let arn = out
            .task_definition()
            .and_then(TaskDefinition::task_definition_arn)
            .ok_or_else(|| {
                ResourceError::new("RegisterTaskDefinition", "AWS returned no revision ARN")
            })?;
        // RegisterTaskDefinition is not idempotent: when an attempt's answer is lost, the SDK's
        // retry registers a second, identical revision. Keep the one AWS answered with and
        // deregister its twins (nothing runs them), so nothing is left that the state does
        // not know.
        for twin in self.matching(desired).await? {
            if twin.id != arn {
                deregister(&self.ecs, &twin.id).await?;
            }
        }
        // A revision registered a moment ago may not be visible yet (seen under load):
        // read it back as AWS catches up, as every kind reads back what it created.
        let prior = Instance::new(arn, desired.clone());
        wait::eventually(arn, || async {
            self.read(&prior).await?.ok_or_else(|| {
                ResourceError::vanished("DescribeTaskDefinition", &format!("task definition {arn}"))
            })
        })
        .await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        // Everything but the tags forces a new revision.
        if TaskDefinitionArgs::<Changed>::from_names(changed).tags {
            let d = TaskDefinitionArgs::from_values(desired)?;
            EcsTagging(&self.ecs)
                .sync_tags(&prior.id, &prior.tags(), &d.tags)
                .await?;
        }
        self.read(prior).await?.ok_or_else(|| {
            ResourceError::vanished(
                "DescribeTaskDefinition",
                &format!("task definition {}", prior.id),
            )
        })
    }

    /// Destroy, after the service is gone: deregister the revision the state holds and every
    /// other ACTIVE revision of its family that carries this stack's tags (the ones kept for a
    /// rollback, and any a lost state forgot). Nothing is deleted: deregistering is what
    /// Terraform does too, and a revision without this stack's tags is never touched.
    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        let mut family = prior
            .attrs
            .get("family")
            .and_then(J::as_str)
            .map(str::to_owned);
        if let Some((td, _)) = describe(&self.ecs, &prior.id).await? {
            family = td.family().map(str::to_owned).or(family);
            // The state's own revision was registered by this stack whatever its tags say now.
            if td.status() == Some(&TaskDefinitionStatus::Active) {
                deregister(&self.ecs, &prior.id).await?;
            }
        }
        let Some(family) = family.or_else(|| family_of(&prior.id).map(str::to_owned)) else {
            return Ok(());
        };
        let stack = prior.tags();
        for arn in stack_revisions(&self.ecs, &family, &stack).await? {
            deregister(&self.ecs, &arn).await?;
        }
        Ok(())
    }
}
