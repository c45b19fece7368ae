//! `aws_ecs_task_definition`: one revision of the PrestaShop task, flattened into attributes.
//!
//! Revisions are immutable: any change but tags registers a new revision. The old one is not
//! deregistered then: the service still runs it until it moves, and a rollback is an
//! UpdateService to an earlier revision, which ECS refuses for an INACTIVE one. Once the
//! service's PRIMARY deployment runs the new revision, the service deregisters this stack's
//! revisions beyond the newest few ([`deregister_old`]). Destroy deregisters them all. None is
//! ever deleted, and a revision of the family without this stack's tags is never touched.

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
    aws_error, tags, Absent, Field, Flag, Instance, Kind, ResourceError, Tags, Values, ValuesExt,
};

use crate::{ecs_tags, ecs_tags_json, sync_ecs_tags};
use stackctl_contract::value::to_i32;

/// The task's volume name, only used to tie the mount point to the EFS volume.
const VOLUME: &str = "efs";

const LOG_GROUP: &str = "awslogs-group";
const LOG_REGION: &str = "awslogs-region";
const LOG_STREAM_PREFIX: &str = "awslogs-stream-prefix";

/// How many of this stack's revisions before the one the service runs stay ACTIVE, so that a
/// rollback can go back that far (ECS does not update a service to an INACTIVE revision).
pub const KEEP_PREVIOUS: usize = 3;

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

/// The family of a revision ARN (`arn:...:task-definition/<family>:<revision>`).
fn family_of(arn: &str) -> Option<&str> {
    let (_, rest) = arn.rsplit_once(":task-definition/")?;
    let (family, revision) = rest.rsplit_once(':')?;
    revision.parse::<u32>().ok()?;
    Some(family)
}

/// Whether a revision's tags carry the stack's identity (`ManagedBy`, project, environment),
/// the mark of what this stack may change. A `stack` without them matches nothing, so a state
/// that lost its tags can never reach another stack's revisions.
fn carries(stack: &Tags, have: &[aws_sdk_ecs::types::Tag]) -> bool {
    [tags::MANAGED_BY, tags::PROJECT, tags::ENVIRONMENT]
        .iter()
        .all(|k| match stack.0.get(*k) {
            Some(want) => have
                .iter()
                .any(|t| t.key() == Some(*k) && t.value() == Some(want.as_str())),
            None => false,
        })
}

/// This stack's ACTIVE revisions of `family` (those that carry its tags), newest first.
async fn stack_revisions(
    ecs: &Client,
    family: &str,
    stack: &Tags,
) -> Result<Vec<String>, ResourceError> {
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let out = ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .sort(SortOrder::Desc)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| aws_error("ListTaskDefinitions", e))?;
        arns.extend(out.task_definition_arns().iter().cloned());
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let mut ours = Vec::new();
    for arn in arns {
        let Some((td, tags)) = describe(ecs, &arn).await? else {
            continue;
        };
        if td.family() == Some(family)
            && td.status() == Some(&TaskDefinitionStatus::Active)
            && carries(stack, &tags)
        {
            ours.push((td.revision(), arn));
        }
    }
    ours.sort_by_key(|(revision, _)| std::cmp::Reverse(*revision));
    Ok(ours.into_iter().map(|(_, arn)| arn).collect())
}

/// Deregister one revision (it becomes INACTIVE: tasks still running it go on, nothing new
/// can start from it). Deregistering is all: a deleted revision can never be rolled back to.
async fn deregister(ecs: &Client, arn: &str) -> Result<(), ResourceError> {
    ecs.deregister_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| aws_error("DeregisterTaskDefinition", e))?;
    Ok(())
}

/// Once the service's PRIMARY deployment runs `current`: deregister this stack's ACTIVE
/// revisions of its family but `current` and the [`KEEP_PREVIOUS`] newest others, which a
/// rollback may need. Revisions without the stack's tags (`stack`) are neither counted nor
/// touched. Returns the ARNs deregistered.
pub(crate) async fn deregister_old(
    ecs: &Client,
    current: &str,
    stack: &Tags,
) -> Result<Vec<String>, ResourceError> {
    let family = family_of(current).ok_or_else(|| {
        ResourceError::internal(format!(
            "the service's task definition `{current}` is not a revision ARN"
        ))
    })?;
    let old: Vec<String> = stack_revisions(ecs, family, stack)
        .await?
        .into_iter()
        .filter(|arn| arn != current)
        .skip(KEEP_PREVIOUS)
        .collect();
    for arn in &old {
        deregister(ecs, arn).await?;
    }
    Ok(old)
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

    fn fields(&self) -> &'static [Field] {
        &[
            Field {
                name: "family",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "cpu",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "memory",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "network_mode",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "requires_compatibilities",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "execution_role_arn",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "task_role_arn",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "container_name",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "image",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "container_port",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "environment",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "secrets",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "efs_file_system_id",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "mount_path",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "transit_encryption",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "log_group",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "log_region",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "log_stream_prefix",
                flags: &[Flag::ForceNew],
            },
        ]
    }

    fn create_before_destroy(&self) -> bool {
        true
    }

    fn keeps_replaced(&self) -> Option<&'static str> {
        Some("the old revision stays registered for a rollback")
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
        // deregister its twins (nothing runs them), so nothing is left that the state does
        // not know.
        for twin in self.matching(desired).await? {
            if twin.id != arn {
                deregister(&self.ecs, &twin.id).await?;
            }
        }
        let prior = Instance::new(arn, desired.clone());
        self.read(&prior).await?.ok_or_else(|| {
            ResourceError::vanished("DescribeTaskDefinition", &format!("task definition {arn}"))
        })
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        // Everything but the tags forces a new revision.
        if changed.iter().any(|c| c == "tags") {
            sync_ecs_tags(
                &self.ecs,
                &prior.id,
                prior,
                &Tags::from_json(desired.get("tags")),
            )
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
        let stack = Tags::from_json(prior.attrs.get("tags"));
        for arn in stack_revisions(&self.ecs, &family, &stack).await? {
            deregister(&self.ecs, &arn).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_comes_from_a_revision_arn() {
        assert_eq!(
            family_of("arn:aws:ecs:eu-west-3:123456789012:task-definition/shop-dev:12"),
            Some("shop-dev")
        );
        assert_eq!(family_of("shop-dev:12"), None);
        assert_eq!(
            family_of("arn:aws:ecs:eu-west-3:123456789012:task-definition/shop-dev"),
            None
        );
    }

    #[test]
    fn only_the_stacks_three_tags_make_a_revision_ours() {
        let tag = |k: &str, v: &str| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build();
        let stack = Tags::stack("shop", "dev");
        let ours = [
            tag(tags::MANAGED_BY, "stackctl"),
            tag(tags::PROJECT, "shop"),
            tag(tags::ENVIRONMENT, "dev"),
            tag("team", "ops"),
        ];
        assert!(carries(&stack, &ours));
        assert!(!carries(&stack, &ours[..2]));
        assert!(!carries(&Tags::stack("shop", "prod"), &ours));
        assert!(!carries(&stack, &[]));
        // A state without tags reaches nothing, not everything.
        assert!(!carries(&Tags::default(), &ours));
    }

    /// Register a bare revision of `family` with `tags`; its ARN.
    async fn register(ecs: &Client, family: &str, tags: &Tags) -> String {
        ecs.register_task_definition()
            .family(family)
            .container_definitions(
                ContainerDefinition::builder()
                    .name("c")
                    .image("nginx")
                    .memory(512)
                    .build(),
            )
            .set_tags(crate::ecs_tags(&tags.0))
            .send()
            .await
            .unwrap()
            .task_definition()
            .and_then(TaskDefinition::task_definition_arn)
            .unwrap()
            .to_owned()
    }

    async fn status(ecs: &Client, arn: &str) -> TaskDefinitionStatus {
        let (td, _) = describe(ecs, arn)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{arn} was deleted"));
        td.status().cloned().unwrap()
    }

    /// The retention rule against moto (whose UpdateService never moves the PRIMARY
    /// deployment, so the service's gate is not reached end to end): the revision the service
    /// runs and the three newest others of this stack stay ACTIVE, older ones of this stack
    /// become INACTIVE, none is deleted, and revisions without the stack's tags are neither
    /// counted nor touched, through a rollback to an older revision and a destroy.
    #[tokio::test]
    async fn old_revisions_of_this_stack_only_are_deregistered() {
        let moto = stackctl_testkit::Moto::start();
        let ecs = Client::new(&moto.sdk_config().await);
        let stack = Tags::stack("t", "dev");
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for i in 0..6 {
            ours.push(register(&ecs, "t-dev", &stack).await);
            if i % 2 == 0 {
                theirs.push(register(&ecs, "t-dev", &Tags::default()).await);
            } else {
                theirs.push(register(&ecs, "t-dev", &Tags::stack("t", "prod")).await);
            }
        }
        // Another family with the stack's tags is not this service's.
        let elsewhere = register(&ecs, "t-dev2", &stack).await;

        let done = deregister_old(&ecs, &ours[5], &stack).await.unwrap();
        // Newest first.
        assert_eq!(done, vec![ours[1].clone(), ours[0].clone()]);
        for (i, arn) in ours.iter().enumerate() {
            let want = if i < 2 {
                TaskDefinitionStatus::Inactive
            } else {
                TaskDefinitionStatus::Active
            };
            assert_eq!(status(&ecs, arn).await, want, "{arn}");
        }
        // Nothing more to do the second time.
        assert!(deregister_old(&ecs, &ours[5], &stack)
            .await
            .unwrap()
            .is_empty());

        // A rollback to an older revision keeps it and the three newest others.
        ours.push(register(&ecs, "t-dev", &stack).await);
        let done = deregister_old(&ecs, &ours[3], &stack).await.unwrap();
        assert_eq!(done, vec![ours[2].clone()]);
        for arn in &ours[3..] {
            assert_eq!(
                status(&ecs, arn).await,
                TaskDefinitionStatus::Active,
                "{arn}"
            );
        }

        // Destroy deregisters every revision of this stack in the family.
        let kind = TaskDefinitionKind::new(ecs.clone());
        let prior = Instance::new(
            ours[3].clone(),
            Values::from([
                ("family".to_owned(), J::from("t-dev")),
                ("tags".to_owned(), stack.to_json()),
            ]),
        );
        kind.delete(&prior).await.unwrap();
        for arn in &ours {
            assert_eq!(
                status(&ecs, arn).await,
                TaskDefinitionStatus::Inactive,
                "{arn}"
            );
        }
        for arn in theirs.iter().chain([&elsewhere]) {
            assert_eq!(
                status(&ecs, arn).await,
                TaskDefinitionStatus::Active,
                "{arn}"
            );
        }
        kind.delete(&prior).await.unwrap();
    }
}
