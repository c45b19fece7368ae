//! Update paths end to end: the real binary changes a resource in place (or registers a new task
//! definition revision), and the SDK reads back that AWS got what the configuration says.

mod common;

use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinitionField, TaskDefinitionStatus};
use common::{assert_no_secrets, Stack};
use stackctl_testkit::{Event, FaultProxy, Faults};

const FAMILY: &str = "prestashop-dev";
const CLUSTER: &str = "prestashop-dev-cluster";
const SERVICE: &str = "prestashop-dev-service";
const TASK_DEFINITION: &str = "module.ecs.aws_ecs_task_definition.main";

/// How many revisions before the one the service runs stay ACTIVE (README, "Task definition
/// revisions are kept for a rollback").
const KEPT_PREVIOUS: usize = 3;

/// The revision the state records for the task definition.
fn recorded_revision(stack: &Stack) -> String {
    stack.state()["resources"][TASK_DEFINITION]["id"]
        .as_str()
        .expect("the task definition in the state")
        .to_owned()
}

/// The status of a revision, which ECS must still know: a deleted revision fails the test.
async fn status(ecs: &aws_sdk_ecs::Client, arn: &str) -> TaskDefinitionStatus {
    let out = ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{arn} is gone (deleted?): {e}"));
    out.task_definition()
        .and_then(|td| td.status())
        .cloned()
        .unwrap_or_else(|| panic!("{arn} has no status"))
}

/// The service's task definition and the one its PRIMARY deployment runs.
async fn service_revisions(ecs: &aws_sdk_ecs::Client) -> (String, Option<String>) {
    let out = ecs
        .describe_services()
        .cluster(CLUSTER)
        .services(SERVICE)
        .send()
        .await
        .unwrap();
    let service = &out.services()[0];
    let primary = service
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.task_definition())
        .map(str::to_owned);
    (
        service.task_definition().unwrap_or_default().to_owned(),
        primary,
    )
}

/// Register a revision in the stack's family with `tags`, as another tool or person might.
async fn register_outside(ecs: &aws_sdk_ecs::Client, image: &str, tags: &[(&str, &str)]) -> String {
    let out = ecs
        .register_task_definition()
        .family(FAMILY)
        .container_definitions(
            ContainerDefinition::builder()
                .name("other")
                .image(image)
                .memory(512)
                .build(),
        )
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    let arn = out
        .task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap();
    // Read back with its tags: the test relies on moto keeping them apart from ours.
    let back = ecs
        .describe_task_definition()
        .task_definition(arn)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .unwrap();
    assert_eq!(back.tags().len(), tags.len(), "{arn}");
    arn.to_owned()
}

/// The operations of `events`, in order.
fn operations(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.operation.as_str()).collect()
}

/// Each new image registers a revision and moves the service to it. The revision the service
/// ran before, and the ones before that up to three, stay ACTIVE: a rollback is an UpdateService
/// to one of them, which ECS refuses for an INACTIVE revision. Older ones of this stack are
/// deregistered, never deleted, and only once the service's PRIMARY deployment runs the new
/// revision. A revision someone else registered in the family is neither counted nor touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_revision_keeps_the_previous_ones_for_a_rollback() {
    let stack = Stack::applied();
    let sdk = stack.sdk().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let mut ours = vec![recorded_revision(&stack)];
    let theirs = register_outside(&ecs, "someone/else:1", &[("team", "shop-ops")]).await;

    let proxy = FaultProxy::start(&stack.moto.endpoint, Faults::none());
    for tag in ["8.0", "8.1", "8.2", "8.3"] {
        let image = format!("prestashop/prestashop:{tag}");
        let seen = proxy.events().len();
        let apply = stack
            .cmd("apply")
            .arg("-auto-approve")
            .var("prestashop_image", &image)
            .env("AWS_ENDPOINT_URL", &proxy.endpoint)
            .run();
        apply.success();
        // The new revision is added; the old one is not destroyed.
        assert!(
            apply.stdout.contains("1 added, 1 changed, 0 destroyed."),
            "{}",
            apply.stdout
        );
        let plan = stack
            .cmd("plan")
            .arg("-detailed-exitcode")
            .var("prestashop_image", &image)
            .run();
        assert_eq!(plan.code, 0, "{plan:?}");

        let newest = recorded_revision(&stack);
        assert!(!ours.contains(&newest), "{newest} registered twice");
        ours.push(newest.clone());
        let (service_td, primary) = service_revisions(&ecs).await;
        assert_eq!(
            service_td, newest,
            "the service does not run the new revision"
        );

        let events = proxy.events();
        let ops = operations(&events[seen..]);
        assert!(!ops.contains(&"DeleteTaskDefinitions"), "{ops:?}");
        // Nothing is deregistered before the service has moved.
        let moved = ops.iter().position(|o| *o == "UpdateService");
        if let Some(first) = ops.iter().position(|o| *o == "DeregisterTaskDefinition") {
            assert!(moved.is_some_and(|m| m < first), "{ops:?}");
        }

        let kept = ours.len().saturating_sub(KEPT_PREVIOUS + 1);
        if primary.as_deref() == Some(newest.as_str()) {
            // The deployment runs the new revision: the ones beyond the kept number go.
            for (i, arn) in ours.iter().enumerate() {
                let want = if i < kept {
                    TaskDefinitionStatus::Inactive
                } else {
                    TaskDefinitionStatus::Active
                };
                assert_eq!(status(&ecs, arn).await, want, "{arn} after {image}");
            }
        } else {
            // moto 5.2.5's UpdateService leaves the PRIMARY deployment on the service's first
            // revision. A service that has not moved must lose none of its revisions, and the
            // user is told why nothing was deregistered.
            eprintln!(
                "the PRIMARY deployment runs {primary:?}, not {newest}: checking that nothing was deregistered"
            );
            for arn in &ours {
                assert_eq!(
                    status(&ecs, arn).await,
                    TaskDefinitionStatus::Active,
                    "{arn}"
                );
            }
            assert!(!ops.contains(&"DeregisterTaskDefinition"), "{ops:?}");
            if kept > 0 {
                assert!(
                    apply
                        .stderr
                        .contains("no older task definition revision was deregistered"),
                    "no warning: {}",
                    apply.stderr
                );
            }
        }
        assert_eq!(status(&ecs, &theirs).await, TaskDefinitionStatus::Active);
    }

    // Destroy deregisters every revision of this stack once the service is gone, deletes
    // none, and leaves the other one alone.
    let seen = proxy.events().len();
    stack
        .cmd("destroy")
        .arg("-auto-approve")
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .run()
        .success();
    let events = proxy.events();
    let ops = operations(&events[seen..]);
    assert!(!ops.contains(&"DeleteTaskDefinitions"), "{ops:?}");
    let service_gone = ops.iter().rposition(|o| *o == "DeleteService").unwrap();
    let first = ops
        .iter()
        .position(|o| *o == "DeregisterTaskDefinition")
        .expect("no revision deregistered");
    assert!(service_gone < first, "{ops:?}");
    for arn in &ours {
        assert_eq!(
            status(&ecs, arn).await,
            TaskDefinitionStatus::Inactive,
            "{arn}"
        );
    }
    assert_eq!(status(&ecs, &theirs).await, TaskDefinitionStatus::Active);
    assert_no_secrets(&stack);
}

/// Revisions in the stack's family without this stack's tags (none, or another stack's) are
/// someone else's: neither a new revision nor destroy deregisters them, while this stack's own
/// older revision, kept ACTIVE for a rollback, goes with destroy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_without_the_stacks_tags_is_never_deregistered() {
    let stack = Stack::applied();
    let sdk = stack.sdk().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let first = recorded_revision(&stack);
    let untagged = register_outside(&ecs, "someone/else:1", &[]).await;
    let other_stack = register_outside(
        &ecs,
        "someone/else:2",
        &[
            ("ManagedBy", "stackctl"),
            ("stackctl:project", "prestashop"),
            ("stackctl:environment", "staging"),
        ],
    )
    .await;

    stack
        .cmd("apply")
        .arg("-auto-approve")
        .var("prestashop_image", "prestashop/prestashop:8.2")
        .run()
        .success();
    let second = recorded_revision(&stack);
    assert_ne!(first, second);
    assert_eq!(service_revisions(&ecs).await.0, second);
    for arn in [&first, &second, &untagged, &other_stack] {
        assert_eq!(
            status(&ecs, arn).await,
            TaskDefinitionStatus::Active,
            "{arn}"
        );
    }
    let plan = stack
        .cmd("plan")
        .arg("-detailed-exitcode")
        .var("prestashop_image", "prestashop/prestashop:8.2")
        .run();
    assert_eq!(plan.code, 0, "{plan:?}");

    stack.cmd("destroy").arg("-auto-approve").run().success();
    for arn in [&first, &second] {
        assert_eq!(
            status(&ecs, arn).await,
            TaskDefinitionStatus::Inactive,
            "{arn}"
        );
    }
    for arn in [&untagged, &other_stack] {
        assert_eq!(
            status(&ecs, arn).await,
            TaskDefinitionStatus::Active,
            "{arn}"
        );
    }
}
