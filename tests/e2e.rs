//! End to end: the real binary against moto, every resource read back through the SDK.

mod common;

use std::collections::BTreeMap;

use common::{assert_no_secrets, sorted, squash, Stack, ADMIN_PASSWORD, DB_PASSWORD};
use serde_json::Value as J;
use stackctl_testkit::{Event, FaultProxy, Faults, PLANNED_RESOURCES, STACK_RESOURCES};

/// Every resource of the stack (moto's default VPC has one subnet in each of three zones).
const ADDRESSES: &[&str] = &[
    "module.security.aws_security_group.alb",
    "module.security.aws_security_group.ecs",
    "module.security.aws_security_group.rds",
    "module.security.aws_security_group.efs",
    "module.alb.aws_lb.main",
    "module.alb.aws_lb_target_group.main",
    "module.alb.aws_lb_listener.http",
    "module.efs.aws_efs_file_system.main",
    "module.efs.aws_efs_mount_target.main[\"eu-west-3a\"]",
    "module.efs.aws_efs_mount_target.main[\"eu-west-3b\"]",
    "module.efs.aws_efs_mount_target.main[\"eu-west-3c\"]",
    "module.rds.aws_db_subnet_group.main",
    "module.rds.aws_db_instance.main",
    "module.secrets.aws_secretsmanager_secret.db_password",
    "module.secrets.aws_secretsmanager_secret.admin_credentials",
    "module.secrets.aws_secretsmanager_secret.db_config",
    "module.ecs.aws_cloudwatch_log_group.main",
    "module.ecs.aws_iam_role.execution",
    "module.ecs.aws_iam_role_policy_attachment.execution",
    "module.ecs.aws_iam_role_policy.execution_secrets",
    "module.ecs.aws_iam_role.task",
    "module.ecs.aws_ecs_cluster.main",
    "module.ecs.aws_ecs_task_definition.main",
    "module.ecs.aws_ecs_service.main",
];

#[test]
fn plan_on_an_empty_account_creates_everything() {
    // The list is the whole stack: the checks below cover every resource.
    assert_eq!(ADDRESSES.len(), STACK_RESOURCES);
    let stack = Stack::new();
    let plan = stack.cmd("plan").arg("-detailed-exitcode").run();
    assert_eq!(plan.code, 2, "{plan:?}");
    for address in ADDRESSES {
        assert!(
            plan.stdout
                .contains(&format!("# {address} will be created")),
            "{address} missing from:\n{}",
            plan.stdout
        );
    }
    plan.stdout_has(format!(
        "Plan: {PLANNED_RESOURCES} to add, 0 to change, 0 to destroy."
    ));
    // Values that depend on resources not yet created are shown as such, secrets masked.
    assert!(plan.stdout.contains("(known after apply)"));
    plan.stdout_has("secret_string = (sensitive value)");
    insta::with_settings!({filters => vec![
        (r"vpc-[0-9a-f]+", "vpc-[id]"),
        (r"subnet-[0-9a-f]+", "subnet-[id]"),
    ]}, {
        insta::assert_snapshot!("plan_empty_account", plan.stdout);
    });
    // A plan changes nothing: no state is written.
    assert!(!stack.state_path().exists());
    assert_no_secrets(&stack);
}

#[test]
fn single_dash_and_double_dash_flags_both_work() {
    let stack = Stack::new();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/dev.toml");
    for flag in ["-var-file", "--var-file"] {
        let run = stack
            .bare(&[
                "validate",
                flag,
                examples,
                "-var",
                "db_password=Abcdefgh1",
                "--var",
                "admin_password=Abcdefgh2",
            ])
            .run();
        run.success();
        run.stdout_has("Success!");
    }
}

#[test]
fn endpoint_url_flag_overrides_the_environment() {
    let stack = Stack::new();
    // The environment points at a closed port: only the flag can make this plan work.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let plan = stack
        .cmd("plan")
        .arg("-endpoint-url")
        .arg(stack.moto.endpoint.clone())
        .env("AWS_ENDPOINT_URL", &format!("http://{dead}"))
        .run();
    plan.success();
    plan.stdout_has(format!("Plan: {PLANNED_RESOURCES} to add"));
}

#[test]
fn apply_without_a_terminal_needs_auto_approve() {
    let stack = Stack::new();
    let run = stack.cmd("apply").run();
    assert_eq!(run.code, 1, "{run:?}");
    run.stderr_has("-auto-approve");
    assert!(
        !stack.state_path().exists()
            || stack.state()["resources"]
                .as_object()
                .is_none_or(|r| r.is_empty())
    );
}

/// The apply reports each resource as it starts and as it ends, with the time it took, and the
/// total; it prints no password.
#[test]
fn apply_reports_every_resource_it_creates() {
    let stack = Stack::new();
    let apply = stack.cmd("apply").arg("-auto-approve").run();
    apply.success();
    apply.stdout_has(format!(
        "Apply complete! Resources: {PLANNED_RESOURCES} added, 0 changed, 0 destroyed."
    ));
    for address in ADDRESSES {
        assert!(
            apply.stdout.contains(&format!("{address}: Creating...")),
            "{address}"
        );
        assert!(
            apply
                .stdout
                .contains(&format!("{address}: Creation complete after ")),
            "{address}"
        );
    }
    assert_no_secrets(&stack);
}

/// Each group lets in only what the stack needs (the world to the load balancer, the load
/// balancer to the tasks, the tasks to the database and to EFS); the database and EFS groups
/// send nothing out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_the_security_groups_with_only_the_stacks_paths() {
    let applied = Applied::new().await;
    let sg = &applied.groups;
    let (alb_sg, ecs_sg, rds_sg, efs_sg) = (
        &sg["prestashop-dev-alb-sg"],
        &sg["prestashop-dev-ecs-sg"],
        &sg["prestashop-dev-rds-sg"],
        &sg["prestashop-dev-efs-sg"],
    );
    assert_eq!(alb_sg.ingress, vec![("tcp".into(), 80, "0.0.0.0/0".into())]);
    assert_eq!(alb_sg.egress, vec![("-1".into(), 0, "0.0.0.0/0".into())]);
    assert_eq!(ecs_sg.ingress, vec![("tcp".into(), 80, alb_sg.id.clone())]);
    assert_eq!(ecs_sg.egress, vec![("-1".into(), 0, "0.0.0.0/0".into())]);
    assert_eq!(
        rds_sg.ingress,
        vec![("tcp".into(), 3306, ecs_sg.id.clone())]
    );
    assert!(
        rds_sg.egress.is_empty(),
        "RDS group keeps an egress rule: {:?}",
        rds_sg.egress
    );
    assert_eq!(
        efs_sg.ingress,
        vec![("tcp".into(), 2049, ecs_sg.id.clone())]
    );
    assert!(
        efs_sg.egress.is_empty(),
        "EFS group keeps an egress rule: {:?}",
        efs_sg.egress
    );
}

/// An internet-facing application load balancer in every default subnet, its target group of
/// task IPs with the health check, and the HTTP listener forwarding to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_the_load_balancer_target_group_and_listener() {
    let applied = Applied::new().await;
    let lb = load_balancer(&applied.sdk).await;
    assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internet-facing"));
    assert_eq!(lb.r#type().map(|s| s.as_str()), Some("application"));
    assert_eq!(
        sorted(
            lb.availability_zones()
                .iter()
                .filter_map(|z| z.subnet_id())
                .map(String::from)
        ),
        applied.subnets
    );
    assert_eq!(lb.security_groups(), [applied.group_id("alb")]);

    let tg = target_group(&applied.sdk).await;
    assert_eq!(
        (tg.port(), tg.protocol().map(|p| p.as_str())),
        (Some(80), Some("HTTP"))
    );
    assert_eq!(tg.target_type().map(|t| t.as_str()), Some("ip"));
    assert_eq!(tg.health_check_path(), Some("/"));
    assert_eq!(tg.health_check_interval_seconds(), Some(10));
    assert_eq!(tg.healthy_threshold_count(), Some(2));
    assert_eq!(tg.unhealthy_threshold_count(), Some(3));
    assert_eq!(tg.matcher().and_then(|m| m.http_code()), Some("200-399"));

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&applied.sdk);
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(lb.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    let l = &listeners.listeners()[0];
    assert_eq!(
        (l.port(), l.protocol().map(|p| p.as_str())),
        (Some(80), Some("HTTP"))
    );
    assert_eq!(
        l.default_actions()[0].r#type().map(|t| t.as_str()),
        Some("forward")
    );
    assert_eq!(
        l.default_actions()[0].target_group_arn(),
        Some(tg.target_group_arn().unwrap())
    );

    // The deregistration delay every rolling deploy waits out: 30 s, not AWS's 300 s; drift
    // in it shows and is put right.
    let delay = || async {
        elb.describe_target_group_attributes()
            .target_group_arn(tg.target_group_arn().unwrap())
            .send()
            .await
            .unwrap()
            .attributes()
            .iter()
            .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
            .and_then(|a| a.value().map(str::to_owned))
    };
    assert_eq!(delay().await.as_deref(), Some("30"));
    elb.modify_target_group_attributes()
        .target_group_arn(tg.target_group_arn().unwrap())
        .attributes(
            aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                .key("deregistration_delay.timeout_seconds")
                .value("300")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = applied.stack.cmd("plan").arg("-detailed-exitcode").run();
    assert_eq!(plan.code, 2, "{plan:?}");
    plan.stdout_has("~ deregistration_delay = 300 -> 30");
    applied
        .stack
        .cmd("apply")
        .arg("-auto-approve")
        .run()
        .success();
    assert_eq!(delay().await.as_deref(), Some("30"));
}

/// EFS: encrypted, general purpose, bursting, a mount target per subnet in the EFS group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_the_file_system_with_a_mount_target_per_subnet() {
    let applied = Applied::new().await;
    let fs = file_system(&applied.sdk).await;
    assert_eq!(fs.encrypted(), Some(true));
    assert_eq!(fs.performance_mode().as_str(), "generalPurpose");
    assert_eq!(fs.throughput_mode().map(|t| t.as_str()), Some("bursting"));
    let efs = aws_sdk_efs::Client::new(&applied.sdk);
    let mts = efs
        .describe_mount_targets()
        .file_system_id(fs.file_system_id())
        .send()
        .await
        .unwrap();
    assert_eq!(
        sorted(mts.mount_targets().iter().map(|m| m.subnet_id().to_owned())),
        applied.subnets
    );
    for mt in mts.mount_targets() {
        let groups = efs
            .describe_mount_target_security_groups()
            .mount_target_id(mt.mount_target_id())
            .send()
            .await
            .unwrap();
        assert_eq!(groups.security_groups(), [applied.group_id("efs")]);
    }
}

/// The database as the dev example specifies it, private, encrypted, in its subnet group over
/// every default subnet and in the RDS group only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_the_database_in_its_subnet_group() {
    let applied = Applied::new().await;
    let rds = aws_sdk_rds::Client::new(&applied.sdk);
    let sgroup = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name("prestashop-dev-db-subnet-group")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sorted(
            sgroup.db_subnet_groups()[0]
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_identifier())
                .map(String::from)
        ),
        applied.subnets
    );
    let db = db_instance(&applied.sdk).await;
    assert_eq!(db.engine(), Some("mysql"));
    assert!(
        db.engine_version().unwrap().starts_with("8.4"),
        "{:?}",
        db.engine_version()
    );
    assert_eq!(db.db_instance_class(), Some("db.t3.micro"));
    assert_eq!(db.allocated_storage(), Some(20));
    assert_eq!(db.storage_encrypted(), Some(true));
    assert_eq!(db.backup_retention_period(), Some(7));
    // dev's: one zone, deletable, no Performance Insights (db.t3.micro has none).
    assert_eq!(db.multi_az(), Some(false));
    assert_eq!(db.deletion_protection(), Some(false));
    assert_eq!(db.performance_insights_enabled(), Some(false));
    assert_eq!(db.max_allocated_storage(), None);
    assert_eq!(db.publicly_accessible(), Some(false));
    assert_eq!(db.db_name(), Some("prestashop"));
    assert_eq!(db.master_username(), Some("prestashop_user"));
    assert_eq!(
        db.vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect::<Vec<_>>(),
        [applied.group_id("rds")]
    );
    assert_eq!(
        db.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        Some("prestashop-dev-db-subnet-group")
    );
}

/// The prod example's database: multi-AZ, protected against deletion, 14 days of backups,
/// Performance Insights and storage autoscaling, read back through the SDK; a plan right after is empty, and destroy
/// refuses before it deletes anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prod_example_creates_a_protected_multi_az_database() {
    let stack = Stack::new();
    stack
        .cmd_for("apply", "prod")
        .arg("-auto-approve")
        .run()
        .success();
    let sdk = stack.sdk().await;
    let rds = aws_sdk_rds::Client::new(&sdk);
    let db = rds
        .describe_db_instances()
        .db_instance_identifier("prestashop-prod-db")
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .clone();
    assert_eq!(db.db_instance_class(), Some("db.t3.medium"));
    assert_eq!(db.multi_az(), Some(true));
    assert_eq!(db.deletion_protection(), Some(true));
    assert_eq!(db.backup_retention_period(), Some(14));
    assert_eq!(db.performance_insights_enabled(), Some(true));
    // Storage autoscaling up to twice the allocated 100 GiB.
    assert_eq!(db.allocated_storage(), Some(100));
    assert_eq!(db.max_allocated_storage(), Some(200));
    let plan = stack
        .cmd_for("plan", "prod")
        .arg("-detailed-exitcode")
        .run();
    assert_eq!(plan.code, 0, "{plan:?}");
    let before = common::account::snapshot(&sdk).await;
    let destroy = stack.cmd_for("destroy", "prod").arg("-auto-approve").run();
    assert_eq!(destroy.code, 1, "{destroy:?}");
    destroy.stderr_has("hint: set db_deletion_protection = false");
    assert_eq!(common::account::snapshot(&sdk).await, before);
    assert_no_secrets(&stack);
}

/// The secrets hold the values as specified (the only place the passwords may be), the
/// database's connection settings with its endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_stores_the_secrets_as_specified() {
    let applied = Applied::new().await;
    let sdk = &applied.sdk;
    let (_, db_pw) = secret(sdk, "prestashop-dev-db-password").await;
    assert_eq!(db_pw, DB_PASSWORD);
    let (_, admin) = secret(sdk, "prestashop-dev-admin-credentials").await;
    let admin: J = serde_json::from_str(&admin).unwrap();
    assert_eq!(
        admin,
        serde_json::json!({ "admin_email": "admin@example.com", "admin_password": ADMIN_PASSWORD })
    );
    let db_host = db_host(&db_instance(sdk).await);
    let (_, config) = secret(sdk, "prestashop-dev-db-config").await;
    let config: J = serde_json::from_str(&config).unwrap();
    assert_eq!(
        config,
        serde_json::json!({ "host": db_host, "port": 3306, "username": "prestashop_user", "password": DB_PASSWORD, "dbname": "prestashop" })
    );
}

/// The log group with the example's retention; the execution role, trusted by ECS tasks, with
/// the managed execution policy and an inline policy that reads this environment's secrets
/// only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_the_log_group_and_the_execution_role() {
    let applied = Applied::new().await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&applied.sdk);
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix("/ecs/prestashop-dev")
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups().len(), 1);
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(3));

    let iam = aws_sdk_iam::Client::new(&applied.sdk);
    let role = iam
        .get_role()
        .role_name(EXECUTION_ROLE)
        .send()
        .await
        .unwrap();
    let trust = common::decode_policy(role.role().unwrap().assume_role_policy_document().unwrap());
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        "ecs-tasks.amazonaws.com"
    );
    assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
    let attached = iam
        .list_attached_role_policies()
        .role_name(EXECUTION_ROLE)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
            .collect::<Vec<_>>(),
        ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]
    );
    let inline = iam
        .list_role_policies()
        .role_name(EXECUTION_ROLE)
        .send()
        .await
        .unwrap();
    assert_eq!(inline.policy_names().len(), 1);
    let doc = iam
        .get_role_policy()
        .role_name(EXECUTION_ROLE)
        .policy_name(&inline.policy_names()[0])
        .send()
        .await
        .unwrap();
    let doc = common::decode_policy(doc.policy_document());
    let statement = &doc["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    let mut actions: Vec<String> = serde_json::from_value(statement["Action"].clone()).unwrap();
    actions.sort();
    assert_eq!(
        actions,
        [
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue"
        ]
    );
    assert_eq!(
        statement["Resource"],
        "arn:aws:secretsmanager:eu-west-3:123456789012:secret:prestashop-dev-*"
    );
}

/// The cluster with Container Insights, and the Fargate service in every default subnet, in
/// the ECS group, behind the target group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_the_cluster_and_the_service() {
    let applied = Applied::new().await;
    let ecs = aws_sdk_ecs::Client::new(&applied.sdk);
    let clusters = ecs
        .describe_clusters()
        .clusters("prestashop-dev-cluster")
        .include(aws_sdk_ecs::types::ClusterField::Settings)
        .send()
        .await
        .unwrap();
    let cluster = &clusters.clusters()[0];
    assert_eq!(cluster.status(), Some("ACTIVE"));
    let insights = cluster
        .settings()
        .iter()
        .find(|s| s.name().map(|n| n.as_str()) == Some("containerInsights"))
        .and_then(|s| s.value());
    assert_eq!(insights, Some("enabled"));

    let service = service(&applied.sdk).await;
    assert_eq!(service.desired_count(), 1);
    assert_eq!(service.launch_type().map(|l| l.as_str()), Some("FARGATE"));
    let vpc = service
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .unwrap();
    assert_eq!(sorted(vpc.subnets().iter().cloned()), applied.subnets);
    assert_eq!(vpc.security_groups(), [applied.group_id("ecs")]);
    assert_eq!(vpc.assign_public_ip().map(|a| a.as_str()), Some("ENABLED"));
    let tg = target_group(&applied.sdk).await;
    let lbc = &service.load_balancers()[0];
    assert_eq!(
        (
            lbc.target_group_arn(),
            lbc.container_name(),
            lbc.container_port()
        ),
        (
            Some(tg.target_group_arn().unwrap()),
            Some("prestashop"),
            Some(80)
        )
    );
    assert_eq!(service.health_check_grace_period_seconds(), Some(120));
}

/// The revision the service runs: Fargate sizes, both roles, the container's environment
/// (database endpoint, load balancer name) and secrets (by ARN, never by value), the EFS
/// volume mounted over the web root, logs to the stack's group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_registers_the_task_definition_the_service_runs() {
    let applied = Applied::new().await;
    let sdk = &applied.sdk;
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let td = ecs
        .describe_task_definition()
        .task_definition(service(sdk).await.task_definition().unwrap())
        .send()
        .await
        .unwrap();
    let td = td.task_definition().unwrap();
    assert_eq!(td.family(), Some("prestashop-dev"));
    assert_eq!(
        td.requires_compatibilities()
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>(),
        ["FARGATE"]
    );
    assert_eq!(td.network_mode().map(|n| n.as_str()), Some("awsvpc"));
    assert_eq!((td.cpu(), td.memory()), (Some("256"), Some("512")));
    let exec_role_arn = role_arn(sdk, EXECUTION_ROLE).await;
    let task_role_arn = role_arn(sdk, "prestashop-dev-ecs-task-role").await;
    assert_eq!(td.execution_role_arn(), Some(exec_role_arn.as_str()));
    assert_eq!(td.task_role_arn(), Some(task_role_arn.as_str()));

    let c = &td.container_definitions()[0];
    assert_eq!(c.name(), Some("prestashop"));
    assert_eq!(c.image(), Some("prestashop/prestashop:latest"));
    assert_eq!(c.port_mappings()[0].container_port(), Some(80));
    let db_host = db_host(&db_instance(sdk).await);
    let dns = load_balancer(sdk).await.dns_name().unwrap().to_owned();
    let env: BTreeMap<&str, &str> = c
        .environment()
        .iter()
        .map(|kv| (kv.name().unwrap(), kv.value().unwrap()))
        .collect();
    let want_env = [
        ("DB_NAME", "prestashop"),
        ("DB_SERVER", db_host.as_str()),
        ("DB_USER", "prestashop_user"),
        ("PS_DOMAIN", dns.as_str()),
        ("PS_INSTALL_AUTO", "1"),
    ];
    assert_eq!(env, want_env.into_iter().collect());
    let (db_pw_arn, _) = secret(sdk, "prestashop-dev-db-password").await;
    let (admin_arn, _) = secret(sdk, "prestashop-dev-admin-credentials").await;
    let secrets: BTreeMap<&str, &str> = c
        .secrets()
        .iter()
        .map(|s| (s.name(), s.value_from()))
        .collect();
    let admin_mail = format!("{admin_arn}:admin_email::");
    let admin_pw = format!("{admin_arn}:admin_password::");
    let want_secrets = [
        ("ADMIN_MAIL", admin_mail.as_str()),
        ("ADMIN_PASSWD", admin_pw.as_str()),
        ("DB_PASSWD", db_pw_arn.as_str()),
    ];
    assert_eq!(secrets, want_secrets.into_iter().collect());

    assert_eq!(c.mount_points()[0].container_path(), Some("/var/www/html"));
    let volume = td
        .volumes()
        .iter()
        .find(|v| v.name() == c.mount_points()[0].source_volume())
        .unwrap();
    let efs_cfg = volume.efs_volume_configuration().unwrap();
    assert_eq!(
        efs_cfg.file_system_id(),
        file_system(sdk).await.file_system_id()
    );
    assert_eq!(
        efs_cfg.transit_encryption().map(|t| t.as_str()),
        Some("ENABLED")
    );
    let log = c.log_configuration().unwrap();
    assert_eq!(log.log_driver().as_str(), "awslogs");
    assert_eq!(
        log.options()
            .unwrap()
            .get("awslogs-group")
            .map(String::as_str),
        Some("/ecs/prestashop-dev")
    );
}

/// Every resource that takes tags carries the stack's three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_tags_every_resource_with_the_stacks_tags() {
    let applied = Applied::new().await;
    let sdk = &applied.sdk;
    // The groups are found by the project tag: all four must be.
    assert_eq!(
        applied.groups.len(),
        4,
        "{:?}",
        applied.groups.keys().collect::<Vec<_>>()
    );
    for (name, g) in &applied.groups {
        assert_stack_tags(name, g.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    let lb_tags = elb
        .describe_tags()
        .resource_arns(load_balancer(sdk).await.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_stack_tags(
        "the load balancer",
        lb_tags.tag_descriptions()[0]
            .tags()
            .iter()
            .map(|t| (t.key().unwrap(), t.value().unwrap_or_default())),
    );

    let fs = file_system(sdk).await;
    assert_stack_tags(
        "the file system",
        fs.tags().iter().map(|t| (t.key(), t.value())),
    );

    let db = db_instance(sdk).await;
    assert_stack_tags(
        "the database",
        db.tag_list()
            .iter()
            .map(|t| (t.key().unwrap(), t.value().unwrap_or_default())),
    );

    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    let described = sm
        .describe_secret()
        .secret_id("prestashop-dev-db-password")
        .send()
        .await
        .unwrap();
    assert_stack_tags(
        "the database password's secret",
        described
            .tags()
            .iter()
            .map(|t| (t.key().unwrap(), t.value().unwrap_or_default())),
    );
}

/// A plan right after the apply shows nothing to do.
#[test]
fn plan_right_after_apply_shows_no_changes() {
    let stack = Stack::applied();
    let plan = stack.cmd("plan").arg("-detailed-exitcode").run();
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    plan.stdout_has("No changes.");
    assert_no_secrets(&stack);
}

/// Outputs: all of them, sensitive ones masked; one by name, bare; all as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_after_apply_show_the_values_and_mask_the_sensitive_ones() {
    let applied = Applied::new().await;
    let stack = &applied.stack;
    let dns = load_balancer(&applied.sdk)
        .await
        .dns_name()
        .unwrap()
        .to_owned();
    let out = stack.bare(&["output"]).run();
    out.success();
    let listing = squash(&out.stdout);
    assert!(
        listing.contains(&format!("load_balancer_url = \"http://{dns}\"")),
        "{listing}"
    );
    for sensitive in [
        "database_endpoint",
        "db_password_secret_arn",
        "admin_credentials_secret_arn",
        "db_config_secret_arn",
    ] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(sensitive) && l.ends_with("= <sensitive>")),
            "{sensitive}: {}",
            out.stdout
        );
    }
    let fs_id = file_system(&applied.sdk).await.file_system_id().to_owned();
    assert!(
        listing.contains(&format!("efs_file_system_id = \"{fs_id}\"")),
        "{listing}"
    );
    assert!(listing.contains("database_port = 3306"), "{listing}");
    assert!(
        listing.contains(&format!(
            "rds_security_group_id = \"{}\"",
            applied.group_id("rds")
        )),
        "{listing}"
    );
    let url = stack.bare(&["output", "load_balancer_url"]).run();
    assert_eq!(url.stdout, format!("http://{dns}\n"));
    let json = stack.bare(&["output", "-json"]).run();
    let json: J = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["ecs_cluster_name"]["value"], "prestashop-dev-cluster");
    assert_eq!(json["ecs_service_name"]["value"], "prestashop-dev-service");
    assert_no_secrets(stack);
}

/// The state: format version, serial, lineage; no password anywhere stackctl wrote or said.
#[test]
fn the_state_after_apply_has_a_version_serial_and_lineage_and_no_password() {
    let stack = Stack::applied();
    let state = stack.state();
    assert_eq!(state["format_version"], 1);
    // At least one save per resource recorded.
    assert!(state["serial"].as_u64().unwrap() >= STACK_RESOURCES as u64);
    assert_eq!(state["lineage"].as_str().unwrap().len(), 36);
    assert_no_secrets(&stack);
}

/// The dev stack applied, then a rule added by hand to its RDS group: drift for the next plan.
async fn applied_with_a_hand_made_rds_rule() -> (Stack, aws_types::SdkConfig) {
    let stack = Stack::applied();
    let sdk = stack.sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let rds_sg = read_security_groups(&sdk).await["prestashop-dev-rds-sg"]
        .id
        .clone();
    ec2.authorize_security_group_ingress()
        .group_id(&rds_sg)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(3306)
                .to_port(3306)
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("10.0.0.0/8")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    (stack, sdk)
}

/// Variables that change the service in place, the log group in place and the task
/// definition by a new revision.
fn changed_variables(c: common::Cmd<'_>) -> common::Cmd<'_> {
    c.var("desired_count", 3)
        .var("ecs_cpu", 512)
        .var("ecs_memory", 1024)
        .var("log_retention_days", 14)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_variables_and_drift_are_planned_as_updates() {
    let (stack, _sdk) = applied_with_a_hand_made_rds_rule().await;
    let plan = changed_variables(stack.cmd("plan").arg("-detailed-exitcode")).run();
    assert_eq!(plan.code, 2, "{plan:?}");
    let out = &squash(&plan.stdout);
    assert!(
        out.contains("# module.ecs.aws_ecs_service.main will be updated in place"),
        "{out}"
    );
    assert!(out.contains("~ desired_count = 1 -> 3"), "{out}");
    assert!(
        out.contains("# module.ecs.aws_cloudwatch_log_group.main will be updated in place"),
        "{out}"
    );
    assert!(out.contains("~ retention_in_days = 3 -> 14"), "{out}");
    assert!(
        out.contains("# module.ecs.aws_ecs_task_definition.main must be replaced, but the existing object will not be destroyed (cpu, memory cannot change in place; the old revision stays registered for a rollback)"),
        "{out}"
    );
    assert!(
        out.contains("~ cpu = \"256\" -> \"512\" # forces replacement"),
        "{out}"
    );
    assert!(
        out.contains("# module.security.aws_security_group.rds will be updated in place"),
        "{out}"
    );
    assert!(
        out.contains("Plan: 1 to add, 3 to change, 0 to destroy."),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_variables_and_drift_are_applied_and_converge() {
    let (stack, sdk) = applied_with_a_hand_made_rds_rule().await;
    // With debug logs on: the secret search at the end covers them too.
    let apply = changed_variables(stack.cmd("apply").arg("-auto-approve"))
        .env("STACKCTL_LOG", "debug")
        .run();
    apply.success();
    assert!(
        apply.stderr.contains("changing"),
        "no debug log: {}",
        apply.stderr
    );
    let plan = changed_variables(stack.cmd("plan").arg("-detailed-exitcode")).run();
    assert_eq!(plan.code, 0, "{plan:?}");

    // Read back: AWS has converged to the new variables, and the hand-made rule is gone.
    let service = service(&sdk).await;
    assert_eq!(service.desired_count(), 3);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let td = ecs
        .describe_task_definition()
        .task_definition(service.task_definition().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(td.task_definition().unwrap().cpu(), Some("512"));
    assert_eq!(td.task_definition().unwrap().revision(), 2);
    // The replaced revision stays ACTIVE for a rollback (tests/updates.rs covers which go).
    let active = ecs
        .list_task_definitions()
        .family_prefix("prestashop-dev")
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    assert_eq!(
        active.task_definition_arns().len(),
        2,
        "{:?}",
        active.task_definition_arns()
    );
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix("/ecs/prestashop-dev")
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(14));
    let sg = read_security_groups(&sdk).await;
    assert_eq!(
        sg["prestashop-dev-rds-sg"].ingress,
        vec![("tcp".into(), 3306, sg["prestashop-dev-ecs-sg"].id.clone())]
    );
    assert_no_secrets(&stack);
}

/// `plan -detailed-exitcode` sent through `proxy`, which must exit with `code`: the requests
/// it made, and the same as a listing for assertion messages.
#[track_caller]
fn plan_through(stack: &Stack, proxy: &FaultProxy, code: i32) -> (Vec<Event>, String) {
    let plan = stack
        .cmd("plan")
        .arg("-detailed-exitcode")
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .run();
    assert_eq!(plan.code, code, "{plan:?}");
    let events = proxy.events();
    let listing = events
        .iter()
        .map(|e| format!("  {e}"))
        .collect::<Vec<_>>()
        .join("\n");
    (events, listing)
}

/// A first plan looks up, by unique name, every resource it is about to create (a killed run
/// may have made it), and sends those lookups together, those of resources that need another
/// one (a role's policy and attachment need the role) included: with 300 ms added to every
/// request, all of them are in flight at once.
#[test]
fn a_first_plan_sends_every_lookup_at_once() {
    let stack = Stack::new();
    let proxy = FaultProxy::start(
        &stack.moto.endpoint,
        Faults::none().with_latency(std::time::Duration::from_millis(300)),
    );
    let (events, listing) = plan_through(&stack, &proxy, 2);
    // Who the credentials are comes first (nothing is planned in an account the state does
    // not belong to), then the networking read: the lookups need the VPC.
    assert_eq!(events[0].operation, "GetCallerIdentity", "{listing}");
    assert_eq!(events[1].operation, "DescribeSubnets", "{listing}");
    let lookups = events.len() - 2;
    for op in ["GetRole", "GetRolePolicy", "ListAttachedRolePolicies"] {
        assert!(events.iter().any(|e| e.operation == op), "{op}:\n{listing}");
    }
    assert!(lookups >= 10, "{listing}");
    assert_eq!(
        proxy.take_peak_in_flight(),
        lookups as u64,
        "not every lookup was in flight at once:\n{listing}"
    );
}

/// Plan's refresh reads in batches: with nothing changed it makes at most one request per
/// resource, and the batched reads still see what was changed by hand (a secret value, a mount
/// target's groups), which apply then puts back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_change_plan_reads_in_batches_and_still_sees_drift() {
    let stack = Stack::applied();
    let sdk = stack.sdk().await;
    // A secret of someone else whose name starts with one of the stack's, even with the
    // stack's project tag: the secrets' one ListSecrets matches names by prefix, and this one
    // must be neither read into nor recorded in the state.
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let other = sm
        .create_secret()
        .name("prestashop-dev-db-password-copy")
        .secret_string("not the stack's")
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("stackctl:project")
                .value("prestashop")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let proxy = FaultProxy::start(&stack.moto.endpoint, Faults::none());
    let (events, listing) = plan_through(&stack, &proxy, 0);
    // At most one request per resource, plus the identity check every run starts with (issue
    // 20: the target group's attributes, which DescribeTargetGroups leaves out, fit in since
    // the three secrets take one ListSecrets).
    assert!(
        events.len() <= ADDRESSES.len() + 1,
        "{} requests for {} resources:\n{listing}",
        events.len(),
        ADDRESSES.len()
    );
    let count = |op: &str| events.iter().filter(|e| e.operation == op).count();
    for (op, n) in [
        // One for the four groups, one for the three mount targets and one for their groups,
        // one for the tags of the load balancer, target group and listener.
        ("DescribeSecurityGroups", 1),
        ("GET /2015-02-01/mount-targets", 1),
        ("DescribeNetworkInterfaces", 1),
        ("GET /2015-02-01/mount-targets/{id}/security-groups", 0),
        ("DescribeTags", 1),
        // The secrets' current versions are the recorded ones: no value is fetched, and one
        // ListSecrets answers for the three.
        ("GetSecretValue", 0),
        ("ListSecrets", 1),
        ("DescribeSecret", 0),
        // The default subnets name the default VPC.
        ("DescribeSubnets", 1),
        ("DescribeVpcs", 0),
        // Who the credentials are, checked against the state's account before anything else.
        ("GetCallerIdentity", 1),
    ] {
        assert_eq!(count(op), n, "{op}:\n{listing}");
    }

    let state = std::fs::read_to_string(stack.state_path()).unwrap();
    assert!(!state.contains(other.arn().unwrap()), "{state}");

    // Drift the batched reads must still see.
    let secret = "module.secrets.aws_secretsmanager_secret.db_password";
    // A value changed by hand is a change of the secret's value, its own provider resource.
    let secret_value = "module.secrets.aws_secretsmanager_secret_version.db_password";
    let mount_target = "module.efs.aws_efs_mount_target.main[\"eu-west-3b\"]";
    sm.put_secret_value()
        .secret_id(stack.id(secret))
        .secret_string("changed-by-hand")
        .send()
        .await
        .unwrap();
    let efs = aws_sdk_efs::Client::new(&sdk);
    efs.modify_mount_target_security_groups()
        .mount_target_id(stack.id(mount_target))
        .security_groups(stack.id("module.security.aws_security_group.alb"))
        .send()
        .await
        .unwrap();
    let plan = stack.cmd("plan").arg("-detailed-exitcode").run();
    assert_eq!(plan.code, 2, "{plan:?}");
    let out = squash(&plan.stdout);
    for address in [secret_value, mount_target] {
        assert!(
            out.contains(&format!("# {address} will be updated in place")),
            "{address}: {out}"
        );
    }
    assert!(
        out.contains("Plan: 0 to add, 2 to change, 0 to destroy"),
        "{out}"
    );

    stack.cmd("apply").arg("-auto-approve").run().success();
    let plan = stack.cmd("plan").arg("-detailed-exitcode").run();
    assert_eq!(plan.code, 0, "{plan:?}");
    let value = sm
        .get_secret_value()
        .secret_id(stack.id(secret))
        .send()
        .await
        .unwrap();
    assert_eq!(value.secret_string(), Some(DB_PASSWORD));
    let groups = efs
        .describe_mount_target_security_groups()
        .mount_target_id(stack.id(mount_target))
        .send()
        .await
        .unwrap();
    assert_eq!(
        groups.security_groups(),
        [stack.id("module.security.aws_security_group.efs")]
    );
    assert_no_secrets(&stack);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_removes_everything() {
    let stack = Stack::applied();
    // Destroy needs no password: only where the state is.
    let destroy = stack
        .bare(&[
            "destroy",
            "-var-file",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/dev.toml"),
            "-auto-approve",
        ])
        .run();
    destroy.success();
    destroy.stdout_has(format!(
        "Destroy complete! Resources: {PLANNED_RESOURCES} destroyed."
    ));
    // The service goes before what it uses, mount targets before the file system.
    let pos = |s: &str| {
        destroy
            .stdout
            .find(&format!("{s}: Destruction complete"))
            .unwrap_or_else(|| panic!("{s} not destroyed"))
    };
    assert!(pos("module.ecs.aws_ecs_service.main") < pos("module.alb.aws_lb_target_group.main"));
    assert!(pos("module.ecs.aws_ecs_service.main") < pos("module.security.aws_security_group.ecs"));
    assert!(
        pos("module.efs.aws_efs_mount_target.main[\"eu-west-3a\"]")
            < pos("module.efs.aws_efs_file_system.main")
    );

    let sdk = stack.sdk().await;
    assert_account_is_empty(&sdk).await;
    let state = stack.state();
    assert_eq!(state["resources"], serde_json::json!({}));
    assert_eq!(state["outputs"], serde_json::json!({}));
    // Nothing left to destroy, and the next plan would create it all again.
    let again = stack.cmd("plan").arg("-detailed-exitcode").run();
    assert_eq!(again.code, 2);
    again.stdout_has(format!(
        "Plan: {PLANNED_RESOURCES} to add, 0 to change, 0 to destroy."
    ));
    assert_no_secrets(&stack);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_resource_skips_only_its_dependents_and_the_next_apply_finishes() {
    let stack = Stack::new();
    let sdk = stack.sdk().await;
    // A secret of the same name made outside stackctl: creating ours fails for real.
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    sm.create_secret()
        .name("prestashop-dev-db-password")
        .secret_string("not ours")
        .send()
        .await
        .unwrap();

    let apply = stack.cmd("apply").arg("-auto-approve").run();
    assert_eq!(apply.code, 1, "{apply:?}");
    // The secret fails; the two that need it (task definition, service) never start.
    let (failed, not_started) = (1, 2);
    let done = STACK_RESOURCES - failed - not_started;
    // The error names the resource, AWS's code, and what to do.
    apply.stderr_has("Error: module.secrets.aws_secretsmanager_secret.db_password");
    // It is not this stack's (no tags): refused, never recorded.
    apply
        .stderr_has("NotThisStacks")
        .stderr_has("without this stack's tags");
    apply.stderr_has("hint:");
    apply.stderr_has(format!(
        "{done} done, {failed} failed, {not_started} not started"
    ));
    // Its dependents were not started; independent branches (RDS, ALB, EFS) completed.
    for skipped in [
        "module.ecs.aws_ecs_task_definition.main",
        "module.ecs.aws_ecs_service.main",
    ] {
        assert!(
            apply.stdout.contains(&format!("{skipped}: Skipped")),
            "{skipped}: {}",
            apply.stdout
        );
    }
    let state = stack.state();
    let resources = state["resources"].as_object().unwrap();
    assert_eq!(
        resources.len(),
        done,
        "{:?}",
        resources.keys().collect::<Vec<_>>()
    );
    for recorded in [
        "module.rds.aws_db_instance.main",
        "module.alb.aws_lb_listener.http",
        "module.secrets.aws_secretsmanager_secret.db_config",
    ] {
        assert!(
            resources.contains_key(recorded),
            "{recorded} missing from the state"
        );
    }
    assert!(!resources.contains_key("module.ecs.aws_ecs_service.main"));
    assert!(!resources.contains_key("module.secrets.aws_secretsmanager_secret.db_password"));
    // The other secret was left exactly as it was: its value, and no tag added.
    let theirs = sm
        .get_secret_value()
        .secret_id("prestashop-dev-db-password")
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.secret_string(), Some("not ours"));
    let described = sm
        .describe_secret()
        .secret_id("prestashop-dev-db-password")
        .send()
        .await
        .unwrap();
    assert!(described.tags().is_empty(), "{:?}", described.tags());

    // Once the conflict is removed, the next apply does only what is left.
    sm.delete_secret()
        .secret_id("prestashop-dev-db-password")
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let again = stack.cmd("apply").arg("-auto-approve").run();
    again.success();
    again.stdout_has(format!(
        "Apply complete! Resources: {} added, 0 changed, 0 destroyed.",
        // The secret counts with its value (aws_secretsmanager_secret_version).
        2 * failed + not_started
    ));
    let plan = stack.cmd("plan").arg("-detailed-exitcode").run();
    assert_eq!(plan.code, 0, "{plan:?}");
    assert_no_secrets(&stack);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_deleted_outside_is_planned_as_drift_and_recreated() {
    let stack = Stack::applied();
    let sdk = stack.sdk().await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    logs.delete_log_group()
        .log_group_name("/ecs/prestashop-dev")
        .send()
        .await
        .unwrap();

    let plan = stack.cmd("plan").arg("-detailed-exitcode").run();
    assert_eq!(plan.code, 2, "{plan:?}");
    plan.stdout_has("# module.ecs.aws_cloudwatch_log_group.main will be created (it was deleted outside stackctl)");
    plan.stdout_has("Plan: 1 to add, 0 to change, 0 to destroy.");
    stack.cmd("apply").arg("-auto-approve").run().success();
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix("/ecs/prestashop-dev")
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups().len(), 1);
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(3));
    assert_eq!(stack.cmd("plan").arg("-detailed-exitcode").run().code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_state_is_rebuilt_by_adoption_without_duplicates() {
    let stack = Stack::applied();
    let sdk = stack.sdk().await;
    let before = common::account::snapshot(&sdk).await;
    std::fs::remove_file(stack.state_path()).unwrap();
    std::fs::remove_file(format!("{}.backup", stack.state_path().display())).unwrap();

    // Everything is found by its unique name (or, for the task definition, its content).
    let plan = stack.cmd("plan").arg("-detailed-exitcode").run();
    assert_eq!(plan.code, 2, "{plan:?}");
    // Adopted as they are: AWS reports everything the configuration sets (the service's
    // health-check grace period is answered by the test kit's layer where moto drops it).
    plan.stdout_has(format!(
        "Plan: {PLANNED_RESOURCES} to adopt, 0 to add, 0 to change, 0 to destroy."
    ));
    plan.stdout_has("# module.rds.aws_db_instance.main will be adopted into the state (found in AWS, not in the state)");

    let apply = stack.cmd("apply").arg("-auto-approve").run();
    apply.success();
    assert_eq!(
        apply.stdout.matches(": Adoption complete").count(),
        STACK_RESOURCES,
        "{}",
        apply.stdout
    );
    apply.stdout_has(format!(
        "Apply complete! Resources: {PLANNED_RESOURCES} adopted, 0 added, 0 changed, 0 destroyed."
    ));
    assert_eq!(
        common::account::snapshot(&sdk).await,
        before,
        "adoption changed the account"
    );
    assert_eq!(
        stack.state()["resources"].as_object().unwrap().len(),
        STACK_RESOURCES
    );
    assert_eq!(stack.cmd("plan").arg("-detailed-exitcode").run().code, 0);
    // Outputs are back too.
    assert!(stack
        .bare(&["output", "load_balancer_url"])
        .run()
        .stdout
        .starts_with("http://"));
    assert_no_secrets(&stack);
}

/// A listing of the account by service shows nothing of the stack.
async fn assert_account_is_empty(sdk: &aws_types::SdkConfig) {
    let groups = read_security_groups(sdk).await;
    assert!(
        groups.is_empty(),
        "security groups left: {:?}",
        groups.keys().collect::<Vec<_>>()
    );
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    assert!(elb
        .describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancers()
        .is_empty());
    assert!(elb
        .describe_target_groups()
        .send()
        .await
        .unwrap()
        .target_groups()
        .is_empty());
    let efs = aws_sdk_efs::Client::new(sdk);
    assert!(efs
        .describe_file_systems()
        .send()
        .await
        .unwrap()
        .file_systems()
        .is_empty());
    let rds = aws_sdk_rds::Client::new(sdk);
    assert!(rds
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .is_empty());
    let subnet_groups = rds.describe_db_subnet_groups().send().await.unwrap();
    assert!(subnet_groups
        .db_subnet_groups()
        .iter()
        .all(|g| g.db_subnet_group_name() != Some("prestashop-dev-db-subnet-group")));
    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    assert!(sm
        .list_secrets()
        .send()
        .await
        .unwrap()
        .secret_list()
        .is_empty());
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    assert!(logs
        .describe_log_groups()
        .log_group_name_prefix("/ecs/prestashop-dev")
        .send()
        .await
        .unwrap()
        .log_groups()
        .is_empty());
    let iam = aws_sdk_iam::Client::new(sdk);
    let roles = iam.list_roles().send().await.unwrap();
    assert!(
        roles
            .roles()
            .iter()
            .all(|r| !r.role_name().starts_with("prestashop")),
        "roles left"
    );
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let clusters = ecs
        .describe_clusters()
        .clusters("prestashop-dev-cluster")
        .send()
        .await
        .unwrap();
    assert!(
        clusters
            .clusters()
            .iter()
            .all(|c| c.status() != Some("ACTIVE")),
        "cluster left"
    );
    let active = ecs
        .list_task_definitions()
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    assert!(
        active.task_definition_arns().is_empty(),
        "task definitions left: {:?}",
        active.task_definition_arns()
    );
}

const EXECUTION_ROLE: &str = "prestashop-dev-ecs-task-execution-role";

/// The dev stack applied, with what the checks of its resources compare with, read from AWS:
/// the default subnets and the stack's security groups by name.
struct Applied {
    stack: Stack,
    sdk: aws_types::SdkConfig,
    subnets: Vec<String>,
    groups: BTreeMap<String, Group>,
}

impl Applied {
    async fn new() -> Applied {
        let stack = Stack::applied();
        let sdk = stack.sdk().await;
        let subnets = default_subnets(&sdk).await;
        assert_eq!(subnets.len(), 3, "{subnets:?}");
        let groups = read_security_groups(&sdk).await;
        Applied {
            stack,
            sdk,
            subnets,
            groups,
        }
    }

    /// The id of the stack's `alb`, `ecs`, `rds` or `efs` group.
    fn group_id(&self, role: &str) -> &str {
        let name = format!("prestashop-dev-{role}-sg");
        match self.groups.get(&name) {
            Some(g) => &g.id,
            None => panic!(
                "no group {name} among {:?}",
                self.groups.keys().collect::<Vec<_>>()
            ),
        }
    }
}

async fn load_balancer(
    sdk: &aws_types::SdkConfig,
) -> aws_sdk_elasticloadbalancingv2::types::LoadBalancer {
    aws_sdk_elasticloadbalancingv2::Client::new(sdk)
        .describe_load_balancers()
        .names("prestashop-dev-alb")
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .clone()
}

async fn target_group(
    sdk: &aws_types::SdkConfig,
) -> aws_sdk_elasticloadbalancingv2::types::TargetGroup {
    aws_sdk_elasticloadbalancingv2::Client::new(sdk)
        .describe_target_groups()
        .names("prestashop-dev-tg")
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .clone()
}

async fn file_system(sdk: &aws_types::SdkConfig) -> aws_sdk_efs::types::FileSystemDescription {
    aws_sdk_efs::Client::new(sdk)
        .describe_file_systems()
        .creation_token("prestashop-dev-efs")
        .send()
        .await
        .unwrap()
        .file_systems()[0]
        .clone()
}

async fn db_instance(sdk: &aws_types::SdkConfig) -> aws_sdk_rds::types::DbInstance {
    aws_sdk_rds::Client::new(sdk)
        .describe_db_instances()
        .db_instance_identifier("prestashop-dev-db")
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .clone()
}

/// The address the database answers at.
fn db_host(db: &aws_sdk_rds::types::DbInstance) -> String {
    db.endpoint().and_then(|e| e.address()).unwrap().to_owned()
}

/// A secret's ARN and value.
async fn secret(sdk: &aws_types::SdkConfig, name: &str) -> (String, String) {
    let v = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .unwrap();
    (
        v.arn().unwrap().to_owned(),
        v.secret_string().unwrap().to_owned(),
    )
}

async fn role_arn(sdk: &aws_types::SdkConfig, name: &str) -> String {
    aws_sdk_iam::Client::new(sdk)
        .get_role()
        .role_name(name)
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_owned()
}

async fn service(sdk: &aws_types::SdkConfig) -> aws_sdk_ecs::types::Service {
    aws_sdk_ecs::Client::new(sdk)
        .describe_services()
        .cluster("prestashop-dev-cluster")
        .services("prestashop-dev-service")
        .send()
        .await
        .unwrap()
        .services()[0]
        .clone()
}

struct Group {
    id: String,
    /// (protocol, from port, source cidr or group)
    ingress: Vec<(String, i32, String)>,
    egress: Vec<(String, i32, String)>,
    tags: BTreeMap<String, String>,
}

/// The stack's security groups (by the project tag), by name.
async fn read_security_groups(sdk: &aws_types::SdkConfig) -> BTreeMap<String, Group> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let out = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:stackctl:project")
                .values("prestashop")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let rules = |perms: &[aws_sdk_ec2::types::IpPermission]| {
        let mut v = Vec::new();
        for p in perms {
            let proto = p.ip_protocol().unwrap_or_default().to_owned();
            let port = p.from_port().unwrap_or(0);
            for r in p.ip_ranges() {
                v.push((
                    proto.clone(),
                    if proto == "-1" { 0 } else { port },
                    r.cidr_ip().unwrap_or_default().to_owned(),
                ));
            }
            for g in p.user_id_group_pairs() {
                v.push((
                    proto.clone(),
                    port,
                    g.group_id().unwrap_or_default().to_owned(),
                ));
            }
        }
        v.sort();
        v
    };
    out.security_groups()
        .iter()
        .map(|g| {
            (
                g.group_name().unwrap_or_default().to_owned(),
                Group {
                    id: g.group_id().unwrap_or_default().to_owned(),
                    ingress: rules(g.ip_permissions()),
                    egress: rules(g.ip_permissions_egress()),
                    tags: g
                        .tags()
                        .iter()
                        .map(|t| {
                            (
                                t.key().unwrap_or_default().to_owned(),
                                t.value().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect(),
                },
            )
        })
        .collect()
}

async fn default_subnets(sdk: &aws_types::SdkConfig) -> Vec<String> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let out = ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("default-for-az")
                .values("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    sorted(
        out.subnets()
            .iter()
            .filter_map(|s| s.subnet_id())
            .map(String::from),
    )
}

/// `what` carries the stack's three tags.
#[track_caller]
fn assert_stack_tags<'a>(what: &str, tags: impl IntoIterator<Item = (&'a str, &'a str)>) {
    let tags: BTreeMap<&str, &str> = tags.into_iter().collect();
    for (key, value) in [
        ("ManagedBy", "stackctl"),
        ("stackctl:project", "prestashop"),
        ("stackctl:environment", "dev"),
    ] {
        assert_eq!(tags.get(key).copied(), Some(value), "{what}: {tags:?}");
    }
}
