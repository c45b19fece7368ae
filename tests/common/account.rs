//! A listing of everything the stack has in an account, without generated ids, so the account
//! after an interrupted-then-resumed run can be compared with the account after a clean run.

use std::collections::BTreeMap;

/// Resource kind -> sorted descriptions (names and the properties that matter, no ids).
pub type Snapshot = BTreeMap<&'static str, Vec<String>>;

pub async fn snapshot(sdk: &aws_types::SdkConfig) -> Snapshot {
    let mut s = Snapshot::new();
    let mut put = |k: &'static str, mut v: Vec<String>| {
        v.sort();
        s.insert(k, v);
    };

    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let groups = ec2.describe_security_groups().send().await.unwrap();
    let names: BTreeMap<String, String> = groups
        .security_groups()
        .iter()
        .map(|g| {
            (
                g.group_id().unwrap_or_default().to_owned(),
                g.group_name().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let rules = |perms: &[aws_sdk_ec2::types::IpPermission]| {
        let mut v: Vec<String> = Vec::new();
        for p in perms {
            let head = format!(
                "{}:{}-{}",
                p.ip_protocol().unwrap_or_default(),
                p.from_port().unwrap_or(-1),
                p.to_port().unwrap_or(-1)
            );
            v.extend(
                p.ip_ranges()
                    .iter()
                    .map(|r| format!("{head}<{}", r.cidr_ip().unwrap_or_default())),
            );
            v.extend(p.user_id_group_pairs().iter().map(|g| {
                format!(
                    "{head}<{}",
                    names
                        .get(g.group_id().unwrap_or_default())
                        .cloned()
                        .unwrap_or_default()
                )
            }));
        }
        v.sort();
        v.join(",")
    };
    put(
        "security_groups",
        groups
            .security_groups()
            .iter()
            .filter(|g| g.group_name() != Some("default"))
            .map(|g| {
                format!(
                    "{} in[{}] out[{}] tags={}",
                    g.group_name().unwrap_or_default(),
                    rules(g.ip_permissions()),
                    rules(g.ip_permissions_egress()),
                    g.tags().len()
                )
            })
            .collect(),
    );

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    let lbs = elb.describe_load_balancers().send().await.unwrap();
    put(
        "load_balancers",
        lbs.load_balancers()
            .iter()
            .map(|l| {
                format!(
                    "{} subnets={}",
                    l.load_balancer_name().unwrap_or_default(),
                    l.availability_zones().len()
                )
            })
            .collect(),
    );
    let mut listeners = Vec::new();
    for lb in lbs.load_balancers() {
        let ls = elb
            .describe_listeners()
            .load_balancer_arn(lb.load_balancer_arn().unwrap_or_default())
            .send()
            .await
            .unwrap();
        listeners.extend(ls.listeners().iter().map(|l| {
            format!(
                "{}:{}",
                lb.load_balancer_name().unwrap_or_default(),
                l.port().unwrap_or(0)
            )
        }));
    }
    put("listeners", listeners);
    let tgs = elb.describe_target_groups().send().await.unwrap();
    put(
        "target_groups",
        tgs.target_groups()
            .iter()
            .map(|t| t.target_group_name().unwrap_or_default().to_owned())
            .collect(),
    );

    let efs = aws_sdk_efs::Client::new(sdk);
    let fss = efs.describe_file_systems().send().await.unwrap();
    put(
        "file_systems",
        fss.file_systems()
            .iter()
            .map(|f| f.creation_token().to_owned())
            .collect(),
    );
    let mut mts = Vec::new();
    for fs in fss.file_systems() {
        let out = efs
            .describe_mount_targets()
            .file_system_id(fs.file_system_id())
            .send()
            .await
            .unwrap();
        mts.extend(out.mount_targets().iter().map(|m| {
            format!(
                "{}@{}",
                fs.creation_token(),
                m.availability_zone_name().unwrap_or(m.subnet_id())
            )
        }));
    }
    put("mount_targets", mts);
    // A file system's backup policy (`efs_backup`): listed while it is on.
    let mut backups = Vec::new();
    for fs in fss.file_systems() {
        let status = efs
            .describe_backup_policy()
            .file_system_id(fs.file_system_id())
            .send()
            .await
            .ok()
            .and_then(|o| o.backup_policy().map(|p| p.status().as_str().to_owned()));
        if status.as_deref() == Some("ENABLED") {
            backups.push(fs.creation_token().to_owned());
        }
    }
    put("efs_backup_policies", backups);

    let rds = aws_sdk_rds::Client::new(sdk);
    let dbs = rds.describe_db_instances().send().await.unwrap();
    put(
        "db_instances",
        dbs.db_instances()
            .iter()
            .map(|d| {
                format!(
                    "{} {}",
                    d.db_instance_identifier().unwrap_or_default(),
                    d.db_instance_class().unwrap_or_default()
                )
            })
            .collect(),
    );
    let sgs = rds.describe_db_subnet_groups().send().await.unwrap();
    put(
        "db_subnet_groups",
        sgs.db_subnet_groups()
            .iter()
            .map(|g| g.db_subnet_group_name().unwrap_or_default().to_owned())
            .collect(),
    );

    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    let secrets = sm.list_secrets().send().await.unwrap();
    put(
        "secrets",
        secrets
            .secret_list()
            .iter()
            .map(|x| x.name().unwrap_or_default().to_owned())
            .collect(),
    );

    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let lgs = logs.describe_log_groups().send().await.unwrap();
    put(
        "log_groups",
        lgs.log_groups()
            .iter()
            .map(|g| {
                format!(
                    "{} {}",
                    g.log_group_name().unwrap_or_default(),
                    g.retention_in_days().unwrap_or(0)
                )
            })
            .collect(),
    );

    let iam = aws_sdk_iam::Client::new(sdk);
    let roles = iam.list_roles().send().await.unwrap();
    let mut role_lines = Vec::new();
    for r in roles
        .roles()
        .iter()
        .filter(|r| !r.path().starts_with("/aws-service-role/"))
    {
        let attached = iam
            .list_attached_role_policies()
            .role_name(r.role_name())
            .send()
            .await
            .unwrap();
        let inline = iam
            .list_role_policies()
            .role_name(r.role_name())
            .send()
            .await
            .unwrap();
        role_lines.push(format!(
            "{} attached={:?} inline={:?}",
            r.role_name(),
            attached
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_name())
                .collect::<Vec<_>>(),
            inline.policy_names()
        ));
    }
    put("roles", role_lines);

    let ecs = aws_sdk_ecs::Client::new(sdk);
    let clusters = ecs.list_clusters().send().await.unwrap();
    let described = if clusters.cluster_arns().is_empty() {
        Vec::new()
    } else {
        ecs.describe_clusters()
            .set_clusters(Some(clusters.cluster_arns().to_vec()))
            .send()
            .await
            .unwrap()
            .clusters()
            .to_vec()
    };
    let active: Vec<_> = described
        .iter()
        .filter(|c| c.status() == Some("ACTIVE"))
        .collect();
    put(
        "clusters",
        active
            .iter()
            .map(|c| c.cluster_name().unwrap_or_default().to_owned())
            .collect(),
    );
    let mut services = Vec::new();
    for c in &active {
        let arns = ecs
            .list_services()
            .cluster(c.cluster_arn().unwrap_or_default())
            .send()
            .await
            .unwrap();
        if arns.service_arns().is_empty() {
            continue;
        }
        let out = ecs
            .describe_services()
            .cluster(c.cluster_arn().unwrap_or_default())
            .set_services(Some(arns.service_arns().to_vec()))
            .send()
            .await
            .unwrap();
        services.extend(
            out.services()
                .iter()
                .filter(|s| s.status() == Some("ACTIVE"))
                .map(|s| {
                    let td = s.task_definition().unwrap_or_default();
                    format!(
                        "{} desired={} td={}",
                        s.service_name().unwrap_or_default(),
                        s.desired_count(),
                        td.rsplit('/')
                            .next()
                            .unwrap_or_default()
                            .split(':')
                            .next()
                            .unwrap_or_default()
                    )
                }),
        );
    }
    put("services", services);
    let tds = ecs
        .list_task_definitions()
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    put(
        "task_definitions_active",
        tds.task_definition_arns()
            .iter()
            .map(|a| {
                a.rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect(),
    );
    s
}
