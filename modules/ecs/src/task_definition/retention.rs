//! Which revisions are this stack's, and which of them stay ACTIVE: the ones the service runs
//! and the few before it a rollback may need (`deregister_old`); the others are deregistered,
//! never deleted, and a revision without this stack's tags is never touched.

use aws_sdk_ecs::types::{SortOrder, TaskDefinitionStatus};
use aws_sdk_ecs::Client;
use stackctl_contract::{aws_error, tags, ResourceError, Tags};

use super::describe;

/// How many of this stack's revisions before the one the service runs stay ACTIVE, so that a
/// rollback can go back that far (ECS does not update a service to an INACTIVE revision).
pub const KEEP_PREVIOUS: usize = 3;

/// The family of a revision ARN (`arn:...:task-definition/<family>:<revision>`).
pub(crate) fn family_of(arn: &str) -> Option<&str> {
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
pub(crate) async fn stack_revisions(
    ecs: &Client,
    family: &str,
    stack: &Tags,
) -> Result<Vec<String>, ResourceError> {
    Ok(marked_revisions(ecs, family, stack)
        .await?
        .into_iter()
        .map(|(arn, _)| arn)
        .collect())
}

/// [`stack_revisions`], each with whether it carries the mark of a healthy deployment
/// ([`crate::marks::HEALTHY`]).
pub(crate) async fn marked_revisions(
    ecs: &Client,
    family: &str,
    stack: &Tags,
) -> Result<Vec<(String, bool)>, ResourceError> {
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
            let healthy = crate::marks::has(&tags, crate::marks::HEALTHY);
            ours.push((td.revision(), arn, healthy));
        }
    }
    ours.sort_by_key(|(revision, _, _)| std::cmp::Reverse(*revision));
    Ok(ours
        .into_iter()
        .map(|(_, arn, healthy)| (arn, healthy))
        .collect())
}

/// Deregister one revision (it becomes INACTIVE: tasks still running it go on, nothing new
/// can start from it). Deregistering is all: a deleted revision can never be rolled back to.
pub(super) async fn deregister(ecs: &Client, arn: &str) -> Result<(), ResourceError> {
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

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition};
    use serde_json::Value as J;
    use stackctl_contract::{Instance, Kind, Values};

    use super::super::TaskDefinitionKind;
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
