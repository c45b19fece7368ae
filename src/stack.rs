//! The stack: wires the modules together from the variables, as the seed's root `main.tf` and
//! `outputs.tf` do, and lists every resource kind for the engine's registry.

use aws_types::SdkConfig;
use serde_json::Value as J;
use stackctl_contract::{Ref, Resolve, Tags, Val};
use stackctl_networking::Network;

use crate::aws::Identity;
use crate::engine::{Config, OutputDef, Registry};
use crate::vars::Vars;

/// Every kind any module implements.
pub fn registry(sdk: &SdkConfig) -> Registry {
    Registry::new(
        [
            stackctl_security::kinds(sdk),
            stackctl_alb::kinds(sdk),
            stackctl_efs::kinds(sdk),
            stackctl_rds::kinds(sdk),
            stackctl_secrets::kinds(sdk),
            stackctl_ecs::kinds(sdk),
        ]
        .into_iter()
        .flatten(),
    )
}

/// Every kind, for what only translates what the state holds (`show -json`) and reaches no AWS:
/// its clients are built but never called.
pub fn offline_registry() -> Registry {
    registry(
        &SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build(),
    )
}

/// The resources and outputs for these variables in this network.
pub fn config(
    sdk: &SdkConfig,
    vars: &Vars,
    net: &Network,
    identity: &Identity,
    wait: stackctl_ecs::DeployWait,
) -> Config {
    // Every AWS name starts with `{project}-{environment}`: dev, staging and prod of one
    // project live side by side in one account without ever sharing a name.
    let prefix = format!("{}-{}", vars.project_name, vars.environment);
    let tags = Tags::stack(&vars.project_name, &vars.environment);
    let subnet_ids = net.subnet_ids();
    let efs_subnets: Vec<(String, String)> = net
        .subnets
        .iter()
        .map(|s| (s.availability_zone.clone(), s.id.clone()))
        .collect();

    let mut specs = Vec::new();
    specs.extend(stackctl_security::specs(
        sdk,
        &stackctl_security::Inputs {
            name_prefix: prefix.clone(),
            vpc_id: net.vpc_id.clone(),
            tags: tags.clone(),
        },
    ));
    specs.extend(stackctl_alb::specs(
        sdk,
        &stackctl_alb::Inputs {
            name_prefix: prefix.clone(),
            vpc_id: net.vpc_id.clone(),
            subnet_ids: subnet_ids.clone(),
            security_group: Ref::new(stackctl_security::ALB, "id"),
            tags: tags.clone(),
        },
    ));
    let efs = stackctl_efs::specs(
        sdk,
        &stackctl_efs::Inputs {
            name_prefix: prefix.clone(),
            subnets: efs_subnets.clone(),
            security_group: Ref::new(stackctl_security::EFS, "id"),
            tags: tags.clone(),
            backup: vars.efs_backup,
        },
    );
    specs.extend(efs);
    specs.extend(stackctl_rds::specs(
        sdk,
        &stackctl_rds::Inputs {
            name_prefix: prefix.clone(),
            environment: vars.environment.clone(),
            engine_version: vars.db_engine_version.clone(),
            instance_class: vars.db_instance_class.clone(),
            allocated_storage: vars.db_allocated_storage,
            max_allocated_storage: vars.db_max_allocated_storage,
            db_name: vars.db_name.clone(),
            username: vars.db_username.clone(),
            password: vars.db_password.expose().to_owned(),
            apply_immediately: vars.apply_immediately,
            multi_az: vars.db_multi_az,
            deletion_protection: vars.db_deletion_protection,
            backup_retention_days: vars.db_backup_retention_days,
            performance_insights: vars.db_performance_insights,
            subnet_ids: subnet_ids.clone(),
            security_group: Ref::new(stackctl_security::RDS, "id"),
            tags: tags.clone(),
        },
    ));
    specs.extend(stackctl_secrets::specs(
        sdk,
        &stackctl_secrets::Inputs {
            project: vars.project_name.clone(),
            environment: vars.environment.clone(),
            db_password: vars.db_password.expose().to_owned(),
            admin_email: vars.admin_email.clone(),
            admin_password: vars.admin_password.expose().to_owned(),
            db_username: vars.db_username.clone(),
            db_name: vars.db_name.clone(),
            db_host: Ref::new(stackctl_rds::INSTANCE, "address"),
            db_port: Ref::new(stackctl_rds::INSTANCE, "port"),
            tags: tags.clone(),
        },
    ));
    // The service must not start before its target group is attached to the load balancer (the
    // listener), nor before tasks can mount EFS (the mount targets) or read their secrets.
    let mut wait_for = vec![
        stackctl_alb::LISTENER.to_owned(),
        stackctl_ecs::EXECUTION_ROLE_POLICY.to_owned(),
        stackctl_ecs::EXECUTION_SECRETS_POLICY.to_owned(),
    ];
    wait_for.extend(
        net.subnets
            .iter()
            .map(|s| stackctl_efs::mount_target_address(&s.availability_zone)),
    );
    specs.extend(stackctl_ecs::specs(
        sdk,
        &stackctl_ecs::Inputs {
            name_prefix: prefix.clone(),
            region: vars.aws_region.clone(),
            account_id: identity.account.clone(),
            partition: identity.partition.clone(),
            tags,
            log_retention_days: vars.log_retention_days,
            cpu: vars.ecs_cpu.clone(),
            memory: vars.ecs_memory.clone(),
            desired_count: vars.desired_count,
            image: vars.prestashop_image.clone(),
            db_name: vars.db_name.clone(),
            db_user: vars.db_username.clone(),
            db_host: Ref::new(stackctl_rds::INSTANCE, "address"),
            alb_dns_name: Ref::new(stackctl_alb::LB, "dns_name"),
            db_password_secret_arn: Ref::new(stackctl_secrets::DB_PASSWORD, "arn"),
            admin_credentials_secret_arn: Ref::new(stackctl_secrets::ADMIN_CREDENTIALS, "arn"),
            efs_file_system_id: Ref::new(stackctl_efs::FILE_SYSTEM, "id"),
            subnet_ids,
            security_group: Ref::new(stackctl_security::ECS, "id"),
            target_group_arn: Ref::new(stackctl_alb::TARGET_GROUP, "arn"),
            wait_for,
            wait,
            targets: Some(std::sync::Arc::new(stackctl_alb::status::Targets::new(sdk))),
        },
    ));
    Config {
        specs,
        outputs: outputs(),
    }
}

fn out(
    name: &'static str,
    sensitive: bool,
    address: &'static str,
    attr: &'static str,
) -> OutputDef {
    OutputDef {
        name,
        sensitive,
        value: Box::new(move |r: &dyn Resolve| r.get(address, attr)),
    }
}

/// The seed's outputs, with its sensitivity.
fn outputs() -> Vec<OutputDef> {
    vec![
        OutputDef {
            name: "load_balancer_url",
            sensitive: false,
            value: Box::new(|r: &dyn Resolve| {
                Val::all([&r.get(stackctl_alb::LB, "dns_name")], |[dns]| {
                    J::from(format!("http://{}", dns.as_str().unwrap_or_default()))
                })
            }),
        },
        out("load_balancer_dns", false, stackctl_alb::LB, "dns_name"),
        out("ecs_cluster_name", false, stackctl_ecs::CLUSTER, "name"),
        out("ecs_service_name", false, stackctl_ecs::SERVICE, "name"),
        out("efs_file_system_id", false, stackctl_efs::FILE_SYSTEM, "id"),
        out(
            "database_endpoint",
            true,
            stackctl_rds::INSTANCE,
            "endpoint",
        ),
        out("database_port", false, stackctl_rds::INSTANCE, "port"),
        out(
            "db_password_secret_arn",
            true,
            stackctl_secrets::DB_PASSWORD,
            "arn",
        ),
        out(
            "admin_credentials_secret_arn",
            true,
            stackctl_secrets::ADMIN_CREDENTIALS,
            "arn",
        ),
        out(
            "db_config_secret_arn",
            true,
            stackctl_secrets::DB_CONFIG,
            "arn",
        ),
        out("rds_security_group_id", false, stackctl_security::RDS, "id"),
        out("efs_security_group_id", false, stackctl_security::EFS, "id"),
    ]
}
