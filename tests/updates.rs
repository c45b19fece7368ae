//! Update paths end to end: the real binary changes a resource in place (or registers a new task
//! definition revision), and the SDK reads back that AWS got what the configuration says.

mod common;

use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinitionField, TaskDefinitionStatus};
use common::{assert_no_secrets, sorted, squash, Stack};
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
        apply.stdout_has("1 added, 1 changed, 0 destroyed.");
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

// ---------------------------------------------------------------------------------------------
// In-place updates after drift: each test changes one thing on the AWS side with the SDK (no
// variable sets these), applies through a counting proxy to see which operation put it right,
// reads it back, and checks that the next plan is empty.

const LB: &str = "module.alb.aws_lb.main";
const LISTENER: &str = "module.alb.aws_lb_listener.http";
const TARGET_GROUP: &str = "module.alb.aws_lb_target_group.main";
const FILE_SYSTEM: &str = "module.efs.aws_efs_file_system.main";
const EXECUTION_ROLE: &str = "module.ecs.aws_iam_role.execution";
const SECRETS_POLICY: &str = "module.ecs.aws_iam_role_policy.execution_secrets";
const LOG_GROUP: &str = "module.ecs.aws_cloudwatch_log_group.main";

/// `plan -detailed-exitcode` with `vars` must exit 2 and update exactly `address` in place,
/// showing each of `attrs` changing.
#[track_caller]
fn plan_updates(stack: &Stack, vars: &[(&str, &str)], address: &str, attrs: &[&str]) {
    let mut cmd = stack.cmd("plan").arg("-detailed-exitcode");
    for (k, v) in vars {
        cmd = cmd.var(k, v);
    }
    let plan = cmd.run();
    assert_eq!(plan.code, 2, "{plan:?}");
    let out = squash(&plan.stdout);
    assert!(
        out.contains(&format!("# {address} will be updated in place")),
        "{out}"
    );
    for attr in attrs {
        assert!(out.contains(&format!("~ {attr} = ")), "{attr}: {out}");
    }
    assert!(
        out.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{out}"
    );
}

/// `apply -auto-approve` with `vars` through a counting proxy: the operations it sent.
#[track_caller]
fn apply_through_proxy(stack: &Stack, vars: &[(&str, &str)]) -> Vec<String> {
    let proxy = FaultProxy::start(&stack.moto.endpoint, Faults::none());
    let mut cmd = stack
        .cmd("apply")
        .arg("-auto-approve")
        .env("AWS_ENDPOINT_URL", &proxy.endpoint);
    for (k, v) in vars {
        cmd = cmd.var(k, v);
    }
    let apply = cmd.run();
    apply.success();
    apply.stdout_has("0 added, 1 changed, 0 destroyed.");
    proxy.events().into_iter().map(|e| e.operation).collect()
}

/// After the repair, `plan -detailed-exitcode` with the same variables exits 0.
#[track_caller]
fn plan_is_empty(stack: &Stack, vars: &[(&str, &str)]) {
    let mut cmd = stack.cmd("plan").arg("-detailed-exitcode");
    for (k, v) in vars {
        cmd = cmd.var(k, v);
    }
    let plan = cmd.run();
    assert_eq!(plan.code, 0, "{plan:?}");
}

async fn load_balancer(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
) -> aws_sdk_elasticloadbalancingv2::types::LoadBalancer {
    elb.describe_load_balancers()
        .names("prestashop-dev-alb")
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .clone()
}

fn lb_subnets(lb: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer) -> Vec<String> {
    sorted(
        lb.availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id())
            .map(str::to_owned),
    )
}

/// A load balancer moved out of one of its zones by hand is put back in all of them
/// (SetSubnets).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_subnets_are_set_back() {
    let stack = Stack::applied();
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&stack.sdk().await);
    let before = lb_subnets(&load_balancer(&elb).await);
    assert_eq!(before.len(), 3, "{before:?}");
    elb.set_subnets()
        .load_balancer_arn(stack.id(LB))
        .set_subnets(Some(before[..2].to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(lb_subnets(&load_balancer(&elb).await), before[..2]);

    plan_updates(&stack, &[], LB, &["subnets"]);
    let ops = apply_through_proxy(&stack, &[]);
    assert!(ops.iter().any(|o| o == "SetSubnets"), "{ops:?}");
    assert_eq!(lb_subnets(&load_balancer(&elb).await), before);
    plan_is_empty(&stack, &[]);
}

/// A load balancer given another security group by hand gets its own back (SetSecurityGroups).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_security_groups_are_set_back() {
    let stack = Stack::applied();
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&stack.sdk().await);
    let own = stack.id("module.security.aws_security_group.alb");
    assert_eq!(
        load_balancer(&elb).await.security_groups(),
        std::slice::from_ref(&own)
    );
    let other = stack.id("module.security.aws_security_group.ecs");
    elb.set_security_groups()
        .load_balancer_arn(stack.id(LB))
        .security_groups(&other)
        .security_groups(&own)
        .send()
        .await
        .unwrap();
    assert_eq!(load_balancer(&elb).await.security_groups().len(), 2);

    plan_updates(&stack, &[], LB, &["security_groups"]);
    let ops = apply_through_proxy(&stack, &[]);
    assert!(ops.iter().any(|o| o == "SetSecurityGroups"), "{ops:?}");
    assert_eq!(load_balancer(&elb).await.security_groups(), [own]);
    plan_is_empty(&stack, &[]);
}

/// A load balancer switched to dualstack by hand is switched back to IPv4 (SetIpAddressType).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_ip_address_type_is_set_back() {
    use aws_sdk_elasticloadbalancingv2::types::IpAddressType;
    let stack = Stack::applied();
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&stack.sdk().await);
    assert_eq!(
        load_balancer(&elb).await.ip_address_type(),
        Some(&IpAddressType::Ipv4)
    );
    elb.set_ip_address_type()
        .load_balancer_arn(stack.id(LB))
        .ip_address_type(IpAddressType::Dualstack)
        .send()
        .await
        .unwrap();
    assert_eq!(
        load_balancer(&elb).await.ip_address_type(),
        Some(&IpAddressType::Dualstack)
    );

    plan_updates(&stack, &[], LB, &["ip_address_type"]);
    let ops = apply_through_proxy(&stack, &[]);
    assert!(ops.iter().any(|o| o == "SetIpAddressType"), "{ops:?}");
    assert_eq!(
        load_balancer(&elb).await.ip_address_type(),
        Some(&IpAddressType::Ipv4)
    );
    plan_is_empty(&stack, &[]);
}

/// A listener moved to another port and pointed at another target group by hand listens on
/// port 80 and forwards to the stack's target group again (ModifyListener).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_port_and_action_are_set_back() {
    use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, ProtocolEnum};
    let stack = Stack::applied();
    let sdk = stack.sdk().await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let vpc = stack.state()["resources"][TARGET_GROUP]["attrs"]["vpc_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_tg = elb
        .create_target_group()
        .name("someone-elses-tg")
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .vpc_id(vpc)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_owned();
    let listener = stack.id(LISTENER);
    elb.modify_listener()
        .listener_arn(&listener)
        .port(8080)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&other_tg)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let read = || async {
        let out = elb
            .describe_listeners()
            .listener_arns(&listener)
            .send()
            .await
            .unwrap();
        let l = out.listeners()[0].clone();
        let tg = l.default_actions()[0]
            .target_group_arn()
            .unwrap_or_default()
            .to_owned();
        (l.port(), tg)
    };
    assert_eq!(read().await, (Some(8080), other_tg));

    plan_updates(&stack, &[], LISTENER, &["port", "default_action"]);
    let ops = apply_through_proxy(&stack, &[]);
    assert!(ops.iter().any(|o| o == "ModifyListener"), "{ops:?}");
    assert_eq!(read().await, (Some(80), stack.id(TARGET_GROUP)));
    plan_is_empty(&stack, &[]);
}

/// A file system switched to elastic throughput by hand goes back to bursting
/// (UpdateFileSystem).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_system_throughput_mode_is_set_back() {
    use aws_sdk_efs::types::ThroughputMode;
    let stack = Stack::applied();
    let efs = aws_sdk_efs::Client::new(&stack.sdk().await);
    let fs_id = stack.id(FILE_SYSTEM);
    let mode = || async {
        efs.describe_file_systems()
            .file_system_id(&fs_id)
            .send()
            .await
            .unwrap()
            .file_systems()[0]
            .throughput_mode()
            .cloned()
    };
    assert_eq!(mode().await, Some(ThroughputMode::Bursting));
    efs.update_file_system()
        .file_system_id(&fs_id)
        .throughput_mode(ThroughputMode::Elastic)
        .send()
        .await
        .unwrap();
    assert_eq!(mode().await, Some(ThroughputMode::Elastic));

    plan_updates(&stack, &[], FILE_SYSTEM, &["throughput_mode"]);
    let ops = apply_through_proxy(&stack, &[]);
    assert!(
        ops.iter().any(|o| o == "PUT /2015-02-01/file-systems/{id}"),
        "{ops:?}"
    );
    assert_eq!(mode().await, Some(ThroughputMode::Bursting));
    plan_is_empty(&stack, &[]);
}

/// An execution role whose trust policy was changed by hand (here: EC2 instead of ECS tasks)
/// trusts ECS tasks again (UpdateAssumeRolePolicy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_trust_policy_is_set_back() {
    let stack = Stack::applied();
    let iam = aws_sdk_iam::Client::new(&stack.sdk().await);
    let role = stack.id(EXECUTION_ROLE);
    let trust = || async {
        let out = iam.get_role().role_name(&role).send().await.unwrap();
        common::decode_policy(out.role().unwrap().assume_role_policy_document().unwrap())
    };
    let before = trust().await;
    assert_eq!(
        before["Statement"][0]["Principal"]["Service"],
        "ecs-tasks.amazonaws.com"
    );
    let mut drifted = before.clone();
    drifted["Statement"][0]["Principal"]["Service"] = "ec2.amazonaws.com".into();
    iam.update_assume_role_policy()
        .role_name(&role)
        .policy_document(drifted.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(trust().await, drifted);

    plan_updates(&stack, &[], EXECUTION_ROLE, &["assume_role_policy"]);
    let ops = apply_through_proxy(&stack, &[]);
    assert!(ops.iter().any(|o| o == "UpdateAssumeRolePolicy"), "{ops:?}");
    assert_eq!(trust().await, before);
    plan_is_empty(&stack, &[]);
}

/// The execution role's inline policy widened by hand (every secret of the account) is
/// narrowed back to this environment's secrets (PutRolePolicy replaces the document).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_role_policy_is_set_back() {
    let stack = Stack::applied();
    let iam = aws_sdk_iam::Client::new(&stack.sdk().await);
    let role = stack.id(EXECUTION_ROLE);
    let name = "prestashop-dev-secrets-access";
    let document = || async {
        let out = iam
            .get_role_policy()
            .role_name(&role)
            .policy_name(name)
            .send()
            .await
            .unwrap();
        common::decode_policy(out.policy_document())
    };
    let before = document().await;
    assert!(
        before["Statement"][0]["Resource"]
            .as_str()
            .unwrap()
            .ends_with(":secret:prestashop-dev-*"),
        "{before}"
    );
    let mut drifted = before.clone();
    drifted["Statement"][0]["Resource"] = "*".into();
    iam.put_role_policy()
        .role_name(&role)
        .policy_name(name)
        .policy_document(drifted.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(document().await, drifted);

    plan_updates(&stack, &[], SECRETS_POLICY, &["policy"]);
    let ops = apply_through_proxy(&stack, &[]);
    assert!(ops.iter().any(|o| o == "PutRolePolicy"), "{ops:?}");
    assert_eq!(document().await, before);
    plan_is_empty(&stack, &[]);
}

/// `log_retention_days = 0` means "never expire", as in Terraform: the group's retention
/// policy is removed (DeleteRetentionPolicy), and a later value sets one again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_retention_zero_removes_the_retention_policy() {
    let stack = Stack::applied();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&stack.sdk().await);
    let retention = || async {
        logs.describe_log_groups()
            .log_group_name_prefix("/ecs/prestashop-dev")
            .send()
            .await
            .unwrap()
            .log_groups()[0]
            .retention_in_days()
    };
    // The dev example's value.
    assert_eq!(retention().await, Some(3));

    let never = [("log_retention_days", "0")];
    plan_updates(&stack, &never, LOG_GROUP, &["retention_in_days"]);
    let ops = apply_through_proxy(&stack, &never);
    assert!(ops.iter().any(|o| o == "DeleteRetentionPolicy"), "{ops:?}");
    assert_eq!(retention().await, None);
    plan_is_empty(&stack, &never);

    // And back to a retention.
    let ops = apply_through_proxy(&stack, &[]);
    assert!(ops.iter().any(|o| o == "PutRetentionPolicy"), "{ops:?}");
    assert_eq!(retention().await, Some(3));
    plan_is_empty(&stack, &[]);
}
