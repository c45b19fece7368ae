//! `aws_ecs_task_definition`: one revision of the PrestaShop task, flattened into attributes.
//!
//! Revisions are immutable: any change but tags registers a new revision (before the old one is
//! deregistered, so the service always has one to run).

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, EfsTransitEncryption, EfsVolumeConfiguration, KeyValuePair,
    LogConfiguration, LogDriver, MountPoint, NetworkMode, PortMapping, Secret, SortOrder,
    TaskDefinition, TaskDefinitionField, TaskDefinitionStatus, TransportProtocol, Volume,
};
use aws_sdk_ecs::Client;
use serde_json::Value as J;
use stackctl_contract::value::{string_map, string_set};
use stackctl_contract::wait;
use stackctl_contract::{
    aws_error, Absent, Instance, Kind, ResourceError, Tags, Values, ValuesExt,
};

use crate::{ecs_tags, ecs_tags_json, sync_ecs_tags, to_i32, vanished};

/// The task's volume name, only used to tie the mount point to the EFS volume.
const VOLUME: &str = "efs";

const LOG_GROUP: &str = "awslogs-group";
const LOG_REGION: &str = "awslogs-region";
const LOG_STREAM_PREFIX: &str = "awslogs-stream-prefix";

/// `aws_ecs_task_definition`, identified by the revision's ARN.
pub struct TaskDefinitionKind {
    ecs: Client,
}

impl TaskDefinitionKind {
    /// The ACTIVE revisions of `desired`'s family that say exactly what it says, newest first.
    /// Only the newest few are looked at: a duplicate is always among the latest registered.
    async fn matching(&self, desired: &Values) -> Result<Vec<Instance>, ResourceError> {
        let family = desired.get_str("family")?;
        let container = desired.get("container_name").and_then(J::as_str);
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
            let Some((td, tags)) = self.describe(arn).await? else {
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

    /// The revision whatever its status, or `None` when ECS does not know it (any more).
    async fn describe(
        &self,
        arn: &str,
    ) -> Result<Option<(TaskDefinition, Vec<aws_sdk_ecs::types::Tag>)>, ResourceError> {
        self.ecs
            .describe_task_definition()
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

    fn container(desired: &Values) -> Result<ContainerDefinition, ResourceError> {
        let port = to_i32("container_port", desired.get_i64("container_port")?)?;
        let environment = desired
            .get_map("environment")?
            .into_iter()
            .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
            .collect();
        let secrets = desired
            .get_map("secrets")?
            .into_iter()
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
            .options(LOG_GROUP, desired.get_str("log_group")?)
            .options(LOG_REGION, desired.get_str("log_region")?)
            .options(LOG_STREAM_PREFIX, desired.get_str("log_stream_prefix")?)
            .build()
            .map_err(|e| ResourceError::internal(format!("task log configuration: {e}")))?;
        Ok(ContainerDefinition::builder()
            .name(desired.get_str("container_name")?)
            .image(desired.get_str("image")?)
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
                    .container_path(desired.get_str("mount_path")?)
                    .build(),
            )
            .log_configuration(logs)
            .build())
    }

    fn volume(desired: &Values) -> Result<Volume, ResourceError> {
        let efs = EfsVolumeConfiguration::builder()
            .file_system_id(desired.get_str("efs_file_system_id")?)
            .transit_encryption(EfsTransitEncryption::from(
                desired.get_str("transit_encryption")?,
            ))
            .build()
            .map_err(|e| ResourceError::internal(format!("task EFS volume: {e}")))?;
        Ok(Volume::builder()
            .name(VOLUME)
            .efs_volume_configuration(efs)
            .build())
    }
}

fn is_live(td: &TaskDefinition) -> bool {
    !matches!(
        td.status(),
        Some(TaskDefinitionStatus::Inactive | TaskDefinitionStatus::DeleteInProgress)
    )
}

fn opt(v: Option<&str>) -> J {
    v.map(J::from).unwrap_or(J::Null)
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
    let mut a = Values::from([
        ("id".to_owned(), J::from(arn)),
        ("arn".to_owned(), J::from(arn)),
        ("revision".to_owned(), J::from(td.revision())),
        ("family".to_owned(), opt(td.family())),
        ("cpu".to_owned(), opt(td.cpu())),
        ("memory".to_owned(), opt(td.memory())),
        (
            "network_mode".to_owned(),
            opt(td.network_mode().map(NetworkMode::as_str)),
        ),
        (
            "requires_compatibilities".to_owned(),
            string_set(
                td.requires_compatibilities()
                    .iter()
                    .map(Compatibility::as_str),
            ),
        ),
        (
            "execution_role_arn".to_owned(),
            opt(td.execution_role_arn()),
        ),
        ("task_role_arn".to_owned(), opt(td.task_role_arn())),
        ("tags".to_owned(), ecs_tags_json(tags)),
    ]);
    let Some(c) = c else {
        return Instance::new(arn, a);
    };
    let mut put = |k: &str, v: J| {
        a.insert(k.to_owned(), v);
    };
    put("container_name", opt(c.name()));
    put("image", opt(c.image()));
    put(
        "container_port",
        c.port_mappings()
            .first()
            .and_then(PortMapping::container_port)
            .map(J::from)
            .unwrap_or(J::Null),
    );
    put(
        "environment",
        string_map(c.environment().iter().map(|kv| {
            (
                kv.name().unwrap_or_default(),
                kv.value().unwrap_or_default(),
            )
        })),
    );
    put(
        "secrets",
        string_map(c.secrets().iter().map(|s| (s.name(), s.value_from()))),
    );
    let mount = c.mount_points().first();
    put(
        "mount_path",
        opt(mount.and_then(MountPoint::container_path)),
    );
    let efs = mount
        .and_then(MountPoint::source_volume)
        .and_then(|v| td.volumes().iter().find(|vol| vol.name() == Some(v)))
        .and_then(Volume::efs_volume_configuration);
    put(
        "efs_file_system_id",
        opt(efs.map(EfsVolumeConfiguration::file_system_id)),
    );
    put(
        "transit_encryption",
        // AWS's default when the volume does not say.
        J::from(
            efs.and_then(EfsVolumeConfiguration::transit_encryption)
                .map(EfsTransitEncryption::as_str)
                .unwrap_or("DISABLED"),
        ),
    );
    let option = |k: &str| {
        opt(c
            .log_configuration()
            .and_then(LogConfiguration::options)
            .and_then(|o| o.get(k))
            .map(String::as_str))
    };
    put("log_group", option(LOG_GROUP));
    put("log_region", option(LOG_REGION));
    put("log_stream_prefix", option(LOG_STREAM_PREFIX));
    Instance::new(arn, a)
}

#[async_trait]
impl Kind for TaskDefinitionKind {
    fn type_name(&self) -> &'static str {
        "aws_ecs_task_definition"
    }

    fn force_new(&self) -> &'static [&'static str] {
        &[
            "family",
            "cpu",
            "memory",
            "network_mode",
            "requires_compatibilities",
            "execution_role_arn",
            "task_role_arn",
            "container_name",
            "image",
            "container_port",
            "environment",
            "secrets",
            "efs_file_system_id",
            "mount_path",
            "transit_encryption",
            "log_group",
            "log_region",
            "log_stream_prefix",
        ]
    }

    fn create_before_destroy(&self) -> bool {
        true
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        let container = prior.attrs.get("container_name").and_then(J::as_str);
        Ok(self
            .describe(&prior.id)
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
        let compat = desired
            .get_strs("requires_compatibilities")?
            .into_iter()
            .map(|c| Compatibility::from(c.as_str()))
            .collect();
        let request = self
            .ecs
            .register_task_definition()
            .family(desired.get_str("family")?)
            .cpu(desired.get_str("cpu")?)
            .memory(desired.get_str("memory")?)
            .network_mode(NetworkMode::from(desired.get_str("network_mode")?))
            .set_requires_compatibilities(Some(compat))
            .execution_role_arn(desired.get_str("execution_role_arn")?)
            .task_role_arn(desired.get_str("task_role_arn")?)
            .container_definitions(Self::container(desired)?)
            .volumes(Self::volume(desired)?)
            .set_tags(ecs_tags(&Tags::from_json(desired.get("tags")).0));
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
        // deregister its twins, so nothing is left that the state does not know.
        for twin in self.matching(desired).await? {
            if twin.id != arn {
                self.delete(&twin).await?;
            }
        }
        let prior = Instance::new(arn, desired.clone());
        self.read(&prior)
            .await?
            .ok_or_else(|| vanished("DescribeTaskDefinition", &format!("task definition {arn}")))
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        // Everything but the tags forces a new revision.
        if changed.iter().any(|c| c == "tags") {
            sync_ecs_tags(&self.ecs, &prior.id, prior, desired).await?;
        }
        self.read(prior).await?.ok_or_else(|| {
            vanished(
                "DescribeTaskDefinition",
                &format!("task definition {}", prior.id),
            )
        })
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        let Some((td, _)) = self.describe(&prior.id).await? else {
            return Ok(());
        };
        match td.status() {
            Some(TaskDefinitionStatus::DeleteInProgress) => return Ok(()),
            Some(TaskDefinitionStatus::Inactive) => {}
            _ => {
                self.ecs
                    .deregister_task_definition()
                    .task_definition(&prior.id)
                    .send()
                    .await
                    .map_err(|e| aws_error("DeregisterTaskDefinition", e))?;
            }
        }
        // Deregistered revisions stay listed forever unless deleted; a rerun after a failure
        // here finds the revision INACTIVE and only retries this step.
        let out = self
            .ecs
            .delete_task_definitions()
            .task_definitions(&prior.id)
            .send()
            .await
            .map_err(|e| aws_error("DeleteTaskDefinitions", e))?;
        if let Some(f) = out.failures().first() {
            // An INACTIVE revision can run nothing: a refused deletion is only clutter.
            tracing::warn!(
                arn = %prior.id,
                reason = f.reason().unwrap_or_default(),
                "ECS did not delete the deregistered task definition"
            );
        }
        Ok(())
    }
}
